// Every documented v2 error (reference §5.2) reaches the SDK as a SmartcarError with the right
// type, code, statusCode, resolution and retryAfter; plus network faults, throttling (429),
// the monthly billing cap (430) and the billed-request accounting.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet, PERMISSIONS } from '../emulator/index.js';
import type { SdkVehicle } from './support.js';
import { authClient, rejectsWith, sdk, startEmulator } from './support.js';

const TABLE: [type: string, code: string | null, status: number, resolution: string | null][] = [
  ['AUTHENTICATION', null, 401, null],
  ['PERMISSION', null, 403, 'REAUTHENTICATE'],
  ['VALIDATION', null, 400, null],
  ['VALIDATION', 'PARAMETER', 400, null],
  ['RESOURCE_NOT_FOUND', 'PATH', 404, null],
  ['RESOURCE_NOT_FOUND', 'VERSION', 404, null],
  ...(['VEHICLE_LIMIT', 'INVALID_PLAN', 'VEHICLE_REQUEST_LIMIT'] as const).map((c): [string, string, number, string] => ['BILLING', c, 430, 'CONTACT_SUPPORT']),
  ['BILLING', 'ACCOUNT_SUSPENDED', 430, 'FINANCE'],
  ...(['MAKE_NOT_COMPATIBLE', 'SMARTCAR_NOT_CAPABLE', 'VEHICLE_NOT_CAPABLE'] as const).map((c): [string, string, number, null] => ['COMPATIBILITY', c, 501, null]),
  ['COMPATIBILITY', 'PLATFORM_NOT_CAPABLE', 501, 'REAUTHENTICATE'],
  ...(['ACCOUNT_ISSUE', 'NO_VEHICLES', 'SUBSCRIPTION', 'VEHICLE_MISSING'] as const).map((c): [string, string, number, null] => ['CONNECTED_SERVICES_ACCOUNT', c, 400, null]),
  ['CONNECTED_SERVICES_ACCOUNT', 'AUTHENTICATION_FAILED', 400, 'REAUTHENTICATE'],
  ['CONNECTED_SERVICES_ACCOUNT', 'PERMISSION', 400, 'REAUTHENTICATE'],
  ['CONNECTED_SERVICES_ACCOUNT', 'VIRTUAL_KEY_REQUIRED', 400, 'ACTION_REQUIRED'],
  ['RATE_LIMIT', 'SMARTCAR_API', 429, 'RETRY_LATER'],
  ['RATE_LIMIT', 'VEHICLE', 429, 'RETRY_LATER'],
  ['SERVER', 'INTERNAL', 500, 'RETRY_LATER'],
  ['SERVER', 'RECORD_NOT_FOUND', 500, 'CONTACT_SUPPORT'],
  ['SERVER', 'MULTIPLE_RECORDS_FOUND', 500, 'CONTACT_SUPPORT'],
  ...(['INVALID_DATA', 'KNOWN_ISSUE', 'NO_RESPONSE', 'RATE_LIMIT', 'UNKNOWN_ISSUE'] as const).map((c): [string, string, number, string] => ['UPSTREAM', c, 502, 'RETRY_LATER']),
  ...(['ASLEEP', 'CHARGING_IN_PROGRESS', 'CHARGING_PLUG_CONNECTED', 'CHARGING_PLUG_NOT_CONNECTED', 'DOOR_OPEN', 'FULLY_CHARGED',
    'NOT_CHARGING', 'CHARGE_FAULT', 'HOOD_OPEN', 'IGNITION_ON', 'IN_MOTION', 'REMOTE_ACCESS_DISABLED', 'TRUNK_OPEN', 'UNREACHABLE',
    'VEHICLE_OFFLINE_FOR_SERVICE'] as const).map((c): [string, string, number, null] => ['VEHICLE_STATE', c, 409, null]),
  ['VEHICLE_STATE', 'UNKNOWN', 409, 'RETRY_LATER'],
  ['VEHICLE_STATE', 'LOW_BATTERY', 409, 'RETRY_LATER'],
];

describe('errors, faults and limits', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;
  let token: string;
  let bev: SdkVehicle;

  before(async () => {
    emu = await startEmulator({ vehicleThrottle: null });
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.faults.clear();
    emu.limits.throttle = null;
    emu.limits.monthlyRequestLimit = null;
    fleet = defaultFleet(emu, `owner-${Math.random()}@example.com`);
    token = emu.issueTokens(fleet.user.id, { scope: [...PERMISSIONS] }).accessToken;
    bev = new sdk.Vehicle(fleet.bev.id, token);
  });

  it('every §5.2 type/code arrives as a SmartcarError with the documented status and resolution', async () => {
    for (const [type, code, status, resolution] of TABLE) {
      const retry = status === 429 ? { retryAfter: 17 } : {};
      emu.inject({ target: 'read', vehicleId: fleet.bev.id, path: '/odometer' }, { error: { type, code, status, ...retry } });
      const err = await rejectsWith(bev.odometer(), {
        type, code: code ?? undefined, statusCode: status, resolution, ...(status === 429 ? { retryAfter: '17' } : {}),
      });
      const slug = (s: string) => s.toLowerCase().replace(/_/g, '-');
      assert.equal(err.docURL, `https://smartcar.com/docs/errors/api-errors/${slug(type)}-errors#${code ? slug(code) : 'null'}`);
      assert.ok(err.description && err.description.length > 10, `${type}:${code} has a description`);
      assert.equal(typeof err.suggestedUserMessage, 'string');
      assert.equal(err.message, `${type}:${code ?? 'null'} - ${err.description}`, 'null codes print as null (reference §4.4)');
    }
  });

  it('injected errors can override description, message and resolution; commands match target command', async () => {
    emu.inject({ target: 'command', path: '/security', method: 'POST' }, {
      error: {
        type: 'CONNECTED_SERVICES_ACCOUNT', code: 'VIRTUAL_KEY_REQUIRED', status: 400, description: 'Add the key.',
        suggestedUserMessage: 'Add the virtual key in the Tesla app.', resolution: { type: 'ACTION_REQUIRED', url: 'https://example.test/key' },
      },
    });
    await bev.lockStatus();
    const err = await rejectsWith(bev.lock(), { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'VIRTUAL_KEY_REQUIRED', statusCode: 400, description: 'Add the key.' });
    assert.deepEqual(err.resolution, { type: 'ACTION_REQUIRED', url: 'https://example.test/key' });
    assert.equal(err.suggestedUserMessage, 'Add the virtual key in the Tesla app.');
    assert.equal(emu.vehicle(fleet.bev.id).locked, false, 'the failed command changed nothing');
  });

  it('times: the next N matching calls fail, then it recovers', async () => {
    emu.inject({ target: 'any', vehicleId: fleet.bev.id }, { error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } }, 2);
    await rejectsWith(bev.battery(), { type: 'UPSTREAM', code: 'NO_RESPONSE', statusCode: 502 });
    await rejectsWith(bev.startCharge(), { type: 'UPSTREAM', code: 'NO_RESPONSE', statusCode: 502 });
    assert.equal((await bev.battery()).percentRemaining, 0.76);
  });

  it('token endpoint faults come back OAuth-shaped', async () => {
    const client = authClient();
    const t = emu.issueTokens(fleet.user.id);
    emu.inject({ target: 'token', grant: 'refresh_token' }, { error: { type: 'server_error', code: null, status: 500, description: 'Try again.' } });
    await rejectsWith(client.exchangeRefreshToken(t.refreshToken), { type: 'server_error', statusCode: 500, description: 'Try again.' });
    const ok = await client.exchangeRefreshToken(t.refreshToken);
    assert.ok(ok.accessToken);
  });

  it('dropped connections, malformed bodies and delays', async () => {
    emu.inject({ target: 'read', path: '/battery' }, { drop: true });
    await assert.rejects(bev.battery(), (err: Error) => err.name !== 'SmartcarError' && /fetch failed|socket|terminated/i.test(`${err.message} ${String(err.cause)}`));

    emu.inject({ target: 'read', path: '/battery' }, { malformed: true });
    const res = await fetch(`${emu.origin}/v2.0/vehicles/${fleet.bev.id}/battery`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.throws(() => JSON.parse(text) as unknown, SyntaxError);

    emu.inject({ target: 'read', path: '/battery' }, { delayMs: 150 });
    const started = Date.now();
    await bev.battery();
    assert.ok(Date.now() - started >= 140);

    emu.inject({ target: 'token' }, { drop: true });
    await assert.rejects(authClient().exchangeRefreshToken('x'), (err: Error) => err.name !== 'SmartcarError');
  });

  it('401 after the access token expires on the emulator clock; 403 on a missing permission', async () => {
    const limited = emu.issueTokens(fleet.user.id, { scope: ['read_odometer'] });
    const v = new sdk.Vehicle(fleet.bev.id, limited.accessToken);
    await v.odometer();
    await rejectsWith(v.battery(), { type: 'PERMISSION', statusCode: 403, resolution: 'REAUTHENTICATE' });
    emu.clock.advance(2 * 3600_000);
    await rejectsWith(v.odometer(), { type: 'AUTHENTICATION', statusCode: 401, resolution: null });
    await rejectsWith(sdk.getVehicles(limited.accessToken), { type: 'AUTHENTICATION', statusCode: 401 });
  });

  it('per-vehicle throttle: 429 RATE_LIMIT/VEHICLE with retry-after, per vehicle, recovering after the window', async () => {
    emu.limits.throttle = { limit: 3, windowMs: 60_000 };
    await bev.battery();
    emu.clock.advance(10_000);
    await bev.charge();
    await bev.odometer();
    const err = await rejectsWith(bev.battery(), { type: 'RATE_LIMIT', code: 'VEHICLE', statusCode: 429, retryAfter: '50', resolution: 'RETRY_LATER' });
    assert.ok(err.suggestedUserMessage);
    // App-level calls and other vehicles are not throttled by this vehicle's limit.
    await bev.permissions();
    await new sdk.Vehicle(fleet.phev.id, token).battery();
    emu.clock.advance(50_000);
    await bev.battery();
    assert.equal(emu.billedCount(fleet.bev.id), 4, 'throttled requests are not billed');
  });

  it('monthly cap: 430 BILLING/VEHICLE_REQUEST_LIMIT until the next calendar month', async () => {
    emu.clock.set(Date.UTC(2030, 0, 31, 23, 0, 0));
    token = emu.issueTokens(fleet.user.id, { scope: [...PERMISSIONS] }).accessToken;
    bev = new sdk.Vehicle(fleet.bev.id, token);
    emu.limits.monthlyRequestLimit = 3;
    await bev.battery();
    await bev.lock();
    await new sdk.Vehicle(fleet.bev.id, token).batch(['/charge']);
    await rejectsWith(bev.battery(), { type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT', statusCode: 430, resolution: 'CONTACT_SUPPORT' });
    await rejectsWith(bev.unlock(), { type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT', statusCode: 430 });
    const res = await new sdk.Vehicle(fleet.bev.id, token).batch(['/battery']);
    await rejectsWith(() => res.battery!(), { type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT', statusCode: 200 });
    assert.equal(emu.billedCount(fleet.bev.id), 3);
    // Unbilled endpoints keep working; other vehicles have their own budget.
    await bev.permissions();
    await sdk.getVehicles(token);
    await new sdk.Vehicle(fleet.phev.id, token).battery();
    emu.clock.advance(3600_000);
    assert.equal(emu.billedCount(fleet.bev.id), 0, 'a new calendar month');
    await bev.battery();
  });

  it('billed counts and the request log', async () => {
    emu.resetLog();
    await sdk.getUser(token);
    await sdk.getVehicles(token);
    await bev.permissions();
    await bev.battery();
    await bev.lock();
    await rejectsWith(new sdk.Vehicle(fleet.ice.id, token).battery(), { type: 'PERMISSION', statusCode: 403 });
    await rejectsWith(new sdk.Vehicle(fleet.bev.id, 'bogus').battery(), { type: 'AUTHENTICATION', statusCode: 401 });
    emu.updateVehicle(fleet.bev.id, { asleep: true });
    await rejectsWith(bev.odometer(), { type: 'VEHICLE_STATE', code: 'ASLEEP', statusCode: 409 });
    emu.updateVehicle(fleet.bev.id, { asleep: false });
    await bev.disconnect();

    assert.deepEqual(emu.requests.map((r) => [r.method, r.path.replace(/[0-9a-f-]{36}/g, 'ID'), r.status, r.billed]), [
      ['GET', '/v2.0/user/', 200, 0],
      ['GET', '/v2.0/vehicles/', 200, 0],
      ['GET', '/v2.0/vehicles/ID/permissions', 200, 0],
      ['GET', '/v2.0/vehicles/ID/battery', 200, 1],
      ['POST', '/v2.0/vehicles/ID/security', 200, 1],
      ['GET', '/v2.0/vehicles/ID/battery', 403, 0],
      ['GET', '/v2.0/vehicles/ID/battery', 401, 0],
      // The car was asked and answered with an error: that reached the vehicle and counts.
      ['GET', '/v2.0/vehicles/ID/odometer', 409, 1],
      ['DELETE', '/v2.0/vehicles/ID/application', 200, 0],
    ]);
    assert.equal(emu.billedCount(fleet.bev.id), 3);
    assert.equal(emu.billedCount(fleet.ice.id), 0);
    const battery = emu.requests[3]!;
    assert.equal(battery.vehicleId, fleet.bev.id);
    assert.equal(battery.userId, fleet.user.id);
    assert.equal(typeof battery.at, 'number');
  });
});
