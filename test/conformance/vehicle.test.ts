// Conformance of the v2.0 vehicle endpoints with the real SDK: every Vehicle method, response
// shapes and sc-* metadata, imperial units, and the command rules driven by vehicle state.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet, PERMISSIONS } from '../emulator/index.js';
import type { SdkVehicle } from './support.js';
import { rejectsWith, sdk, startEmulator } from './support.js';

const SUCCESS = { message: 'Successfully sent request to vehicle', status: 'success' };

/** Drops `meta` so bodies can be compared exactly (extra fields must fail the test). */
function bodyOf<T extends { meta: unknown }>(r: T): Omit<T, 'meta'> {
  const { meta: _meta, ...rest } = r;
  return rest;
}

describe('Vehicle API v2.0', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;
  let token: string;
  let bev: SdkVehicle;
  let phev: SdkVehicle;
  let ice: SdkVehicle;

  before(async () => {
    emu = await startEmulator({ vehicleThrottle: null });
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    fleet = defaultFleet(emu, `owner-${Math.random()}@example.com`);
    token = emu.issueTokens(fleet.user.id, { scope: [...PERMISSIONS] }).accessToken;
    bev = new sdk.Vehicle(fleet.bev.id, token);
    phev = new sdk.Vehicle(fleet.phev.id, token);
    ice = new sdk.Vehicle(fleet.ice.id, token);
  });

  it('user and vehicles (SDK trailing-slash paths)', async () => {
    const user = await sdk.getUser(token);
    assert.equal(user.id, fleet.user.id);
    assert.match(user.meta.requestId!, /^[0-9a-f-]{36}$/);
    const list = await sdk.getVehicles(token);
    assert.deepEqual(bodyOf(list), { paging: { count: 3, offset: 0 }, vehicles: [fleet.bev.id, fleet.phev.id, fleet.ice.id] });
    const paged = await sdk.getVehicles(token, { limit: 1, offset: 2 });
    assert.deepEqual(bodyOf(paged), { paging: { count: 3, offset: 2 }, vehicles: [fleet.ice.id] });
    assert.ok(emu.requests.some((r) => r.path === '/v2.0/user/'), 'SDK calls /v2.0/user/');
    assert.ok(emu.requests.some((r) => r.path === '/v2.0/vehicles/'), 'SDK calls /v2.0/vehicles/');
  });

  it('attributes and vin', async () => {
    const attrs = await bev.attributes();
    assert.deepEqual(bodyOf(attrs), { id: fleet.bev.id, make: 'TESLA', model: 'Model 3', year: 2022 });
    assert.ok(emu.requests.some((r) => r.path === `/v2.0/vehicles/${fleet.bev.id}/`));
    assert.deepEqual(bodyOf(await bev.vin()), { vin: '5YJ3E1EA7NF000001' });
  });

  it('data responses carry request id, data age, fetched-at and unit system', async () => {
    const recorded = emu.clock.now() - 3_600_000;
    emu.updateVehicle(fleet.bev.id, { dataAt: recorded });
    const b = await bev.battery();
    assert.deepEqual(bodyOf(b), { percentRemaining: 0.76, range: 380 });
    assert.ok(b.meta.dataAge instanceof Date);
    assert.equal(b.meta.dataAge.getTime(), recorded);
    assert.ok(b.meta.fetchedAt instanceof Date);
    assert.ok(Math.abs(b.meta.fetchedAt.getTime() - emu.clock.now()) < 2000);
    assert.equal(b.meta.unitSystem, 'metric');
    assert.match(b.meta.requestId!, /^[0-9a-f-]{36}$/);
  });

  it('lock status shape', async () => {
    emu.updateVehicle(fleet.bev.id, { doors: { frontRight: 'OPEN' }, trunk: 'OPEN' });
    const s = await bev.lockStatus();
    assert.equal(s.isLocked, false);
    assert.deepEqual(Object.keys(bodyOf(s)).sort(), ['chargingPort', 'doors', 'isLocked', 'storage', 'sunroof', 'windows']);
    assert.deepEqual(s.doors.find((d) => d.type === 'frontRight'), { type: 'frontRight', status: 'OPEN' });
    assert.deepEqual(s.storage, [{ type: 'rear', status: 'OPEN' }, { type: 'front', status: 'CLOSED' }]);
    assert.equal(s.windows.length, 4);
    assert.deepEqual((await ice.lockStatus()).chargingPort, [], 'an ICE car has no charging port');
  });

  it('lock and unlock change the state and its data age', async () => {
    const t0 = emu.clock.now();
    emu.clock.advance(60_000);
    assert.deepEqual(bodyOf(await bev.lock()), SUCCESS);
    const after = await bev.lockStatus();
    assert.equal(after.isLocked, true);
    assert.ok(after.meta.dataAge!.getTime() >= t0 + 60_000, 'a command refreshes the data timestamp');
    assert.equal(emu.vehicle(fleet.bev.id).locked, true);
    assert.deepEqual(bodyOf(await bev.unlock()), SUCCESS);
    assert.equal((await bev.lockStatus()).isLocked, false);
  });

  it('lock refuses with an open door, hood or trunk; any command refuses in motion, unreachable, asleep', async () => {
    emu.updateVehicle(fleet.bev.id, { doors: { backLeft: 'OPEN' } });
    const door = await rejectsWith(bev.lock(), { type: 'VEHICLE_STATE', code: 'DOOR_OPEN', statusCode: 409 });
    assert.equal(door.suggestedUserMessage, 'Your vehicle was unable to lock. Please ensure that all doors and the trunk are fully closed.');
    assert.equal(door.docURL, 'https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#door-open');
    assert.deepEqual(bodyOf(await bev.unlock()), SUCCESS, 'unlocking with a door open is fine');
    emu.updateVehicle(fleet.bev.id, { doors: { backLeft: 'CLOSED' }, hood: 'OPEN' });
    await rejectsWith(bev.lock(), { type: 'VEHICLE_STATE', code: 'HOOD_OPEN', statusCode: 409 });
    emu.updateVehicle(fleet.bev.id, { hood: 'CLOSED', trunk: 'OPEN' });
    await rejectsWith(bev.lock(), { type: 'VEHICLE_STATE', code: 'TRUNK_OPEN', statusCode: 409 });
    emu.updateVehicle(fleet.bev.id, { trunk: 'CLOSED', motion: 'DRIVING' });
    const motion = await rejectsWith(bev.unlock(), { type: 'VEHICLE_STATE', code: 'IN_MOTION', statusCode: 409 });
    assert.equal(motion.suggestedUserMessage, 'Your vehicle is unable to perform the request while in motion.');
    emu.updateVehicle(fleet.bev.id, { motion: 'PARKED', reachable: false });
    const unreachable = await rejectsWith(bev.lock(), { type: 'VEHICLE_STATE', code: 'UNREACHABLE', statusCode: 409 });
    assert.equal(unreachable.suggestedUserMessage, 'Your vehicle is currently unreachable. Ensure the vehicle has adequate mobile coverage.');
    await rejectsWith(bev.battery(), { type: 'VEHICLE_STATE', code: 'UNREACHABLE', statusCode: 409 });
    emu.updateVehicle(fleet.bev.id, { reachable: true, asleep: true });
    await rejectsWith(bev.lock(), { type: 'VEHICLE_STATE', code: 'ASLEEP', statusCode: 409 });
    emu.updateVehicle(fleet.bev.id, { asleep: false });
    assert.equal(emu.vehicle(fleet.bev.id).locked, false, 'failed commands change nothing');
    assert.deepEqual(bodyOf(await bev.lock()), SUCCESS);
  });

  it('charge status, start and stop follow the documented rules', async () => {
    assert.deepEqual(bodyOf(await bev.charge()), { isPluggedIn: true, state: 'CHARGING' });
    await rejectsWith(bev.startCharge(), { type: 'VEHICLE_STATE', code: 'CHARGING_IN_PROGRESS', statusCode: 409 });
    assert.deepEqual(bodyOf(await bev.stopCharge()), SUCCESS);
    assert.deepEqual(bodyOf(await bev.charge()), { isPluggedIn: true, state: 'NOT_CHARGING' });
    await rejectsWith(bev.stopCharge(), { type: 'VEHICLE_STATE', code: 'NOT_CHARGING', statusCode: 409 });
    assert.deepEqual(bodyOf(await bev.startCharge()), SUCCESS);
    assert.equal((await bev.charge()).state, 'CHARGING');

    const unplugged = await rejectsWith(phev.startCharge(), { type: 'VEHICLE_STATE', code: 'CHARGING_PLUG_NOT_CONNECTED', statusCode: 409 });
    assert.equal(unplugged.suggestedUserMessage, 'Your vehicle is not plugged in.');
    await rejectsWith(phev.stopCharge(), { type: 'VEHICLE_STATE', code: 'CHARGING_PLUG_NOT_CONNECTED', statusCode: 409 });

    emu.updateVehicle(fleet.phev.id, { charge: { isPluggedIn: true, state: 'FULLY_CHARGED' }, battery: { percentRemaining: 1 } });
    await rejectsWith(phev.startCharge(), { type: 'VEHICLE_STATE', code: 'FULLY_CHARGED', statusCode: 409 });
    emu.updateVehicle(fleet.phev.id, { charge: { state: 'NOT_CHARGING', limit: 0.8 }, battery: { percentRemaining: 0.8 } });
    await rejectsWith(phev.startCharge(), { type: 'VEHICLE_STATE', code: 'FULLY_CHARGED', statusCode: 409 });
  });

  it('charge limit get and set (the SDK sends it as a string)', async () => {
    assert.deepEqual(bodyOf(await bev.getChargeLimit()), { limit: 0.9 });
    assert.deepEqual(bodyOf(await bev.setChargeLimit(0.7)), SUCCESS);
    assert.deepEqual(bodyOf(await bev.getChargeLimit()), { limit: 0.7 });
    await rejectsWith(bev.setChargeLimit(0.2), { type: 'VALIDATION', code: 'PARAMETER', statusCode: 400 });
  });

  it('fuel, odometer, location, tires, oil, battery capacity', async () => {
    assert.deepEqual(bodyOf(await ice.fuel()), { amountRemaining: 36.3, percentRemaining: 0.4, range: 420 });
    assert.deepEqual(bodyOf(await phev.fuel()), { amountRemaining: 33, percentRemaining: 0.6, range: 520 });
    assert.deepEqual(bodyOf(await bev.odometer()), { distance: 12345.6 });
    assert.deepEqual(bodyOf(await bev.location()), { latitude: 37.4292, longitude: -122.1381 });
    assert.deepEqual(bodyOf(await bev.tirePressure()), { frontLeft: 240, frontRight: 240, backLeft: 240, backRight: 240 });
    assert.deepEqual(bodyOf(await ice.engineOil()), { lifeRemaining: 0.8 });
    assert.deepEqual(bodyOf(await bev.batteryCapacity()), { capacity: 75 });
  });

  it('a capability the car lacks is never granted: ICE battery/charge → 403 PERMISSION', async () => {
    const err = await rejectsWith(ice.battery(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
    assert.equal(err.code, undefined, 'PERMISSION has a null code');
    await rejectsWith(ice.charge(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
    await rejectsWith(ice.startCharge(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
    await rejectsWith(bev.fuel(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
  });

  it('a car that grants control_security but not read_security can lock but not read the lock', async () => {
    const odd = emu.addVehicle(fleet.user.id, { capabilities: ['read_vehicle_info', 'control_security'] });
    const t = emu.issueTokens(fleet.user.id, { vehicleIds: [odd.id], scope: ['read_security', 'control_security'] });
    const v = new sdk.Vehicle(odd.id, t.accessToken);
    assert.deepEqual((await v.permissions()).permissions, ['control_security']);
    assert.deepEqual(bodyOf(await v.lock()), SUCCESS);
    await rejectsWith(v.lockStatus(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
  });

  it('permissions with paging', async () => {
    const all = await bev.permissions();
    assert.deepEqual(new Set(all.permissions), new Set(emu.vehicle(fleet.bev.id).capabilities));
    assert.deepEqual(all.paging, { count: all.permissions.length, offset: 0 });
    const page = await bev.permissions({ limit: 2, offset: 1 });
    assert.deepEqual(page.permissions, all.permissions.slice(1, 3));
    assert.deepEqual(page.paging, { count: all.permissions.length, offset: 1 });
    assert.ok(emu.requests.some((r) => r.path === `/v2.0/vehicles/${fleet.bev.id}/permissions`));
  });

  it('imperial units: miles, US gallons, psi', async () => {
    const imperial = new sdk.Vehicle(fleet.ice.id, token, { unitSystem: 'imperial' });
    const fuel = await imperial.fuel();
    assert.deepEqual(bodyOf(fuel), { amountRemaining: 9.59, percentRemaining: 0.4, range: 260.98 });
    assert.equal(fuel.meta.unitSystem, 'imperial');
    assert.deepEqual(bodyOf(await imperial.odometer()), { distance: 7671.2 });
    assert.equal((await imperial.tirePressure()).frontLeft, 34.81);
    const imperialBev = new sdk.Vehicle(fleet.bev.id, token, { unitSystem: 'imperial' });
    assert.deepEqual(bodyOf(await imperialBev.battery()), { percentRemaining: 0.76, range: 236.12 });
  });

  it('commands answer after commandLatencyMs', async () => {
    emu.commandLatencyMs = 150;
    try {
      const started = Date.now();
      await bev.lock();
      assert.ok(Date.now() - started >= 140, 'lock waited for the vehicle');
      const readStart = Date.now();
      await bev.odometer();
      assert.ok(Date.now() - readStart < 140, 'reads are not delayed');
    } finally {
      emu.commandLatencyMs = 0;
    }
  });

  it('disconnect removes the vehicle from this authorization only', async () => {
    const other = emu.issueTokens(fleet.user.id).accessToken;
    const res = await bev.disconnect();
    assert.deepEqual(bodyOf(res), { status: 'success' });
    assert.deepEqual((await sdk.getVehicles(token)).vehicles, [fleet.phev.id, fleet.ice.id]);
    await rejectsWith(bev.odometer(), { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'VEHICLE_MISSING', statusCode: 400 });
    await new sdk.Vehicle(fleet.bev.id, other).odometer();
  });

  it('unknown paths and versions are RESOURCE_NOT_FOUND; bad bodies are VALIDATION', async () => {
    await rejectsWith(bev.request('get', 'no/such/thing'), { type: 'RESOURCE_NOT_FOUND', code: 'PATH', statusCode: 404 });
    const res = await fetch(`${emu.origin}/vabc/vehicles/${fleet.bev.id}/odometer`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'VERSION');
    await rejectsWith(bev.request('post', 'security', { action: 'OPEN_SESAME' }), { type: 'VALIDATION', code: 'PARAMETER', statusCode: 400 });
  });

  it('every error is the §5.1 JSON with content-type application/json', async () => {
    const res = await fetch(`${emu.origin}/v2.0/vehicles/${fleet.ice.id}/battery`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    const body = await res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(),
      ['code', 'description', 'docURL', 'requestId', 'resolution', 'statusCode', 'suggestedUserMessage', 'type']);
    assert.equal(body.code, null);
    assert.equal(body.requestId, res.headers.get('sc-request-id'));
    assert.deepEqual(body.resolution, { type: 'REAUTHENTICATE' });
    const noAuth = await fetch(`${emu.origin}/v2.0/vehicles/${fleet.bev.id}/battery`);
    assert.equal(noAuth.status, 401);
    assert.deepEqual(((await noAuth.json()) as { resolution: unknown }).resolution, { type: null });
  });
});
