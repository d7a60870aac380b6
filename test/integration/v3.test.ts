// Smartcar API v3 through the real platform and the emulator's v3 hosts: a new owner with only a v3
// application (Application ID, API client id and secret) connects, sees the values, locks and unlocks;
// a car connected anywhere appears by itself and one removed at Smartcar goes only on a conclusive
// answer; a v2 install switched to v3 keeps its accessories and its month's count.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, accessoryNamed, hap, read, startPlatform, tempStorage, waitFor, write, service, type StartedPlatform } from '../helpers/homebridge-api.js';
import { connectAnswer, pluginConfigV3, startConnected, startEmulator, startWithTokens, V3_CLIENT_SECRET } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

const v3Requests = (emu: SmartcarEmulator, vehicleId?: string) =>
  emu.requests.filter((r) => r.host === 'v3' && (vehicleId === undefined || r.vehicleId === vehicleId));

describe('v3: a new owner with only a v3 application', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform;
  let bevId: string;
  let iceId: string;

  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
    const user = emu.addUser({ email: 'owner@example.com', password: 'pw' });
    bevId = emu.addVehicle(user.id, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, vin: '5YJ3E1EA7NF000001', locked: false,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    iceId = emu.addVehicle(user.id, {
      powertrain: 'ICE', make: 'FORD', model: 'F-150', year: 2021, vin: '1FTFW1E50MF000003', locked: true,
      fuel: { percentRemaining: 0.4, amountRemainingLiters: 36, rangeKm: 420, tankLiters: 90 },
    }).id;
    world = await startPlatform(pluginConfigV3());
    // Connect as the setup page does: the redirect carries user_id (and a code v3 does not need).
    const answer = await connectAnswer(world.platform.authUrl('state-1'));
    assert.ok(answer.get('user_id'), 'Connect sends user_id back');
    const connected = await world.platform.completeAuthorization({ userId: answer.get('user_id')!, code: answer.get('code') ?? undefined });
    assert.deepEqual(connected.vehicles.map((v) => v.name).sort(), ['F-150', 'Model 3']);
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('Connect asks for the Application ID as client_id on the Connect host', () => {
    const url = new URL(world.platform.authUrl('s'));
    assert.equal(url.origin, new URL(emu.origins.connect).origin);
    assert.equal(url.searchParams.get('client_id'), 'test-client-id');
    assert.equal(url.searchParams.get('response_type'), 'code');
  });

  it('the BEV shows unlocked, 76 %, charging, plugged in, with its VIN as serial number', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    await waitFor('first refresh', async () => (await read(bev, Service.Battery, Characteristic.BatteryLevel)) === 76);
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNSECURED);
    assert.equal(await read(bev, Service.Battery, Characteristic.ChargingState), Characteristic.ChargingState.CHARGING);
    assert.equal(await read(bev, Service.ContactSensor, Characteristic.ContactSensorState), Characteristic.ContactSensorState.CONTACT_DETECTED);
    await waitFor('the VIN from the signals', () => service(bev, Service.AccessoryInformation)!.getCharacteristic(Characteristic.SerialNumber).value === '5YJ3E1EA7NF000001');
    assert.equal(service(bev, Service.AccessoryInformation)!.getCharacteristic(Characteristic.Manufacturer).value, 'Tesla');
  });

  it('the ICE car shows locked, fuel 40 %, not chargeable, no plugged-in sensor', async () => {
    const ice = accessoryNamed(world.api, 'F-150');
    await waitFor('first refresh', async () => (await read(ice, Service.Battery, Characteristic.BatteryLevel)) === 40);
    assert.equal(await read(ice, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.SECURED);
    assert.equal(await read(ice, Service.Battery, Characteristic.ChargingState), Characteristic.ChargingState.NOT_CHARGEABLE);
    assert.equal(ice.getServiceById(Service.ContactSensor, 'plugged-in'), undefined);
  });

  it('each read is one signals request with sc-user-id, billed once; one application token serves them all', () => {
    const reads = v3Requests(emu, iceId).filter((r) => r.method === 'GET' && r.path.endsWith('/signals'));
    assert.ok(reads.length >= 1, JSON.stringify(v3Requests(emu)));
    assert.ok(reads.every((r) => r.userId !== undefined && r.status === 200));
    assert.equal(emu.billedCount(iceId), reads.length, 'billed exactly what the plugin read');
    assert.equal(emu.requests.filter((r) => r.host === 'iam').length, 1, 'the application token is cached for its hour');
    assert.ok(!emu.requests.some((r) => r.host === 'api' && r.path.startsWith('/v2.0')), 'nothing on v2');
  });

  it('a HomeKit lock write reaches the car as a v3 command, and the current state follows', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    const started = Date.now();
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    assert.ok(Date.now() - started < 500, 'onSet answers at once');
    await waitFor('the car to lock', () => emu.vehicle(bevId).locked);
    await waitFor('HomeKit to show it', async () => (await read(bev, Service.LockMechanism, Characteristic.LockCurrentState)) === Characteristic.LockCurrentState.SECURED);
    assert.ok(v3Requests(emu, bevId).some((r) => r.method === 'POST' && r.path.endsWith('/commands/security/lock') && r.status === 200));
    // The confirming read reads the lock alone: one single-signal request.
    await waitFor('the confirming read', () => v3Requests(emu, bevId).some((r) => r.method === 'GET' && r.path.endsWith('/signals/closure-islocked')));
  });

  it('a door open makes the lock revert, with Smartcar\'s reason in the log', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.UNSECURED);
    await waitFor('HomeKit to show it unlocked', async () => (await read(bev, Service.LockMechanism, Characteristic.LockCurrentState)) === Characteristic.LockCurrentState.UNSECURED);
    emu.updateVehicle(bevId, { doors: { frontLeft: 'OPEN' } });
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    await waitFor('the log line', () => /Could not lock: .*DOOR_OPEN/.test(world.logs.text('warn')));
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockTargetState), Characteristic.LockTargetState.UNSECURED, 'the target reverts');
    assert.equal(emu.vehicle(bevId).locked, false);
    emu.updateVehicle(bevId, { doors: { frontLeft: 'CLOSED' } });
  });

  it('never logs the API secret or an application token', () => {
    assert.ok(!world.logs.text().includes(V3_CLIENT_SECRET));
  });
});

describe('v3: cars appear however they were connected, and go only on a conclusive answer', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform;
  let userId: string;

  beforeEach(async () => {
    await world?.shutdown();
    await emu?.close();
    emu = await startEmulator();
    userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('a car connected elsewhere (a phone, the Dashboard) appears without a restart, and one removed at Smartcar goes', async () => {
    const first = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    world = await startConnected(emu, userId);
    await waitFor('the first car', () => accessories(world.api).length === 1);
    const second = emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150' });
    emu.connect(userId, { vehicleIds: [second.id] });
    await waitFor('the car connected elsewhere', () => accessories(world.api).length === 2, 5000);
    const gone = emu.connections().find((c) => c.vehicleId === first.id)!;
    emu.removeConnection(gone.id);
    await waitFor('the removed car to go', () => accessories(world.api).length === 1, 5000);
    assert.equal(accessories(world.api)[0]!.displayName, 'F-150');
  });

  it('a listing that fails, or comes back empty, removes nothing', async () => {
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    world = await startConnected(emu, userId);
    await waitFor('the car', () => accessories(world.api).length === 1);
    emu.inject({ target: 'read', api: 'v3', path: '/connections' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } }, 3);
    const listings = () => emu.requests.filter((r) => r.host === 'v3' && r.path === '/v3/connections').length;
    const before = listings();
    await waitFor('three failed listings', () => listings() >= before + 3, 5000);
    assert.equal(accessories(world.api).length, 1);
    // An empty listing (every connection gone at once, or a glitch) is not proof enough either.
    for (const c of emu.connections()) {
      emu.removeConnection(c.id);
    }
    const now = listings();
    await waitFor('two empty listings', () => listings() >= now + 2, 5000);
    assert.equal(accessories(world.api).length, 1, 'kept: an empty listing proves nothing');
  });

  it('a throttled listing waits as long as Smartcar asks before the next one', async () => {
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    world = await startConnected(emu, userId);
    await waitFor('the car', () => accessories(world.api).length === 1);
    emu.inject({ target: 'read', api: 'v3', path: '/connections' }, { error: { type: 'RATE_LIMIT', code: 'SMARTCAR_API', status: 429, retryAfter: 2 } }, 1);
    const listings = () => emu.requests.filter((r) => r.host === 'v3' && r.path === '/v3/connections');
    await waitFor('the throttled listing', () => listings().some((r) => r.status === 429), 5000);
    const throttledAt = Date.now();
    const after429 = listings().length;
    await waitFor('the next listing', () => listings().length > after429, 6000);
    assert.ok(Date.now() - throttledAt >= 1800, `waited ${Date.now() - throttledAt} ms, Smartcar asked for 2 s`);
    assert.equal(accessories(world.api).length, 1);
  });

  it('a signals read refused for its paging parameters is asked the other way; a connection already gone disconnects cleanly', async () => {
    const car = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    emu.inject({ target: 'read', api: 'v3', vehicleId: car.id, path: '/signals' }, { error: { type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT', status: 400 } }, 1);
    world = await startConnected(emu, userId);
    await waitFor('a read despite the refused paging', () => v3Requests(emu, car.id).some((r) => r.path.endsWith('/signals') && r.status === 200));
    assert.ok(v3Requests(emu, car.id).some((r) => r.status === 400));
    const connection = emu.connections().find((c) => c.vehicleId === car.id)!;
    emu.inject({ target: 'command', api: 'v3', path: `/connections/${connection.id}` }, { error: { type: 'RESOURCE_NOT_FOUND', code: 'PATH', status: 404 } }, 1);
    await world.platform.disconnect(car.id);
    assert.ok(emu.requests.some((r) => r.method === 'DELETE' && r.status === 404), 'Smartcar answered that the connection was gone');
    assert.equal(accessories(world.api).length, 0, 'gone at Smartcar already: disconnected for us too');
  });

  it('a v2 install switched to v3 keeps its accessories, names and this month\'s count, without connecting again', async () => {
    const car = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: true });
    const v2 = await startWithTokens(emu, userId);
    const bev = accessoryNamed(v2.api, 'Model 3');
    await waitFor('a v2 read', async () => (await read(bev, Service.Battery, Characteristic.BatteryLevel)) !== undefined);
    const uuid = bev.UUID;
    const used = v2.platform.status()[0]!.vehicles[0]!.requestsUsed!;
    assert.ok(used > 0);
    const cache = v2.api.serializeCache();
    await v2.shutdown();
    emu.resetLog();

    world = await startPlatform(pluginConfigV3(), { storage: v2.storage, cache });
    const after = accessoryNamed(world.api, 'Model 3');
    assert.equal(after.UUID, uuid, 'same accessory, so the owner\'s automations keep working');
    emu.updateVehicle(car.id, { locked: false });
    await world.platform.refreshNow();
    await waitFor('a v3 read', async () => (await read(after, Service.LockMechanism, Characteristic.LockCurrentState)) === Characteristic.LockCurrentState.UNSECURED);
    assert.ok(v3Requests(emu, car.id).some((r) => r.path.endsWith('/signals')));
    assert.ok(world.platform.status()[0]!.vehicles[0]!.requestsUsed! > used, 'the month\'s count goes on from where v2 left it');
    assert.equal(world.platform.status()[0]!.vehicles[0]!.requestsUsed, emu.billedCount(car.id), 'and matches Smartcar\'s count');
  });

  it('an expired application token is replaced once, and the read goes through', async () => {
    const car = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    world = await startConnected(emu, userId);
    await waitFor('the car', () => accessories(world.api).length === 1);
    await waitFor('a first read', () => v3Requests(emu, car.id).some((r) => r.path.endsWith('/signals') && r.status === 200));
    const tokens = () => emu.requests.filter((r) => r.host === 'iam').length;
    const before = tokens();
    emu.expireAppTokens();
    emu.resetLog();
    await world.platform.refreshNow();
    await waitFor('a read with a new token', () => v3Requests(emu, car.id).some((r) => r.path.endsWith('/signals') && r.status === 200));
    assert.ok(v3Requests(emu, car.id).some((r) => r.status === 401), 'the old token was refused');
    assert.equal(tokens(), 1, `one new token, not one per request (before: ${before})`);
  });
});

describe('v3: configuration', () => {
  it('an API client secret Smartcar refuses is named with the fix, once, and nothing crashes', async () => {
    const emu = await startEmulator();
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { powertrain: 'BEV' });
    emu.connect(userId);
    const world = await startPlatform(pluginConfigV3({ clientSecret: 'wrong-secret' }), { storage: await tempStorage() });
    try {
      await waitFor('the log line', () => /API Credentials tab/.test(world.logs.text('warn')), 5000);
      await new Promise((r) => setTimeout(r, 1500));
      const said = world.logs.text('warn').split('\n').filter((l) => /API Credentials tab/.test(l));
      assert.equal(said.length, 1, said.join('\n'));
      assert.match(said[0]!, /Smartcar refused this application, so no car is read or listed until that is fixed/);
      assert.ok(!world.logs.text().includes('wrong-secret'));
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });
});

describe('v3: honest freshness when Smartcar serves a stored copy, or nothing', () => {
  it('a daily-refreshed store: said once in the log and on the page, and the next read waits for Smartcar\'s next refresh', async () => {
    const emu = await startEmulator({ readings: { signalStore: 'daily' } });
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
    const world = await startConnected(emu, userId);
    try {
      const reads = () => v3Requests(emu, carId).filter((r) => r.path.endsWith('/signals') && r.status === 200).length;
      await waitFor('a first read', () => reads() === 1);
      // The store does not change within the day: the second read gets the same copy.
      emu.clock.advance(2 * 3600_000);
      await world.platform.refreshNow(carId);
      await waitFor('the second read', () => reads() === 2);
      await waitFor('the log line', () => /Model 3: Smartcar serves a stored copy of this car's data, refreshed about once a day/.test(world.logs.text('info')));
      const view = world.platform.status()[0]!.vehicles[0]!;
      assert.ok(view.problems.some((p) => /stored copy .* without a webhook subscription it cannot be fresher/.test(p)), view.problems.join('\n'));
      assert.ok(view.nextRefreshAt! >= emu.clock.now() + 20 * 3600_000, `the next read waits for Smartcar's next refresh (${new Date(view.nextRefreshAt!).toISOString()})`);
      assert.equal((world.logs.text('info').match(/stored copy/g) ?? []).length, 1, 'said once');
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });

  it('an empty store until subscribed: the owner is told there is no data yet, HomeKit says No Response instead of a guess', async () => {
    const emu = await startEmulator({ readings: { signalStore: 'empty-until-subscribed' } });
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
    const world = await startConnected(emu, userId);
    try {
      await waitFor('the log line', () => /Model 3: Smartcar has no data for this car yet/.test(world.logs.text('info')));
      const car = accessoryNamed(world.api, 'Model 3');
      assert.deepEqual(await read(car, Service.Battery, Characteristic.BatteryLevel), { status: -70402 }, 'no value to answer with: No Response');
      const view = world.platform.status()[0]!.vehicles[0]!;
      assert.ok(view.problems.some((p) => /no data for this car yet/.test(p)));
      assert.ok(view.nextRefreshAt! >= emu.clock.now() + 23 * 3600_000, 'looked at once a day, not spent on');
      assert.equal(v3Requests(emu, carId).filter((r) => r.path.endsWith('/signals')).length, 1);
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });
});

describe('v3: a car cached from v2 that the v3 connections do not list', () => {
  it('is kept, with its automations, and the owner is told in one sentence to connect it once more; Connect brings it back', async () => {
    const emu = await startEmulator({ autoApprove: {} });
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
    const other = emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150' }).id;
    const v2 = await startWithTokens(emu, userId);
    await waitFor('the v2 cars', () => accessories(v2.api).length === 2);
    const cache = v2.api.serializeCache();
    await v2.shutdown();
    // At Smartcar the Model 3's connection did not carry over to v3; the F-150's did.
    emu.removeConnection(emu.connections().find((c) => c.vehicleId === carId)!.id);
    const world = await startPlatform(pluginConfigV3(), { storage: v2.storage, cache });
    try {
      const listings = () => emu.requests.filter((r) => r.host === 'v3' && r.path === '/v3/connections' && r.status === 200).length;
      await waitFor('three listings', () => listings() >= 3, 5000);
      assert.equal(accessories(world.api).length, 2, 'nothing removed');
      assert.match(world.logs.text('error'), /Model 3 was connected before the plugin switched to Smartcar API v3.*connect it once more on the setup page/);
      assert.equal(world.platform.status().find((u) => u.userId === userId)?.needsReauth, true);
      const answer = await connectAnswer(world.platform.authUrl('s'));
      await world.platform.completeAuthorization({ userId: answer.get('user_id')! });
      assert.equal(world.platform.status().find((u) => u.userId === userId)?.needsReauth, false);
      await waitFor('a v3 read of the Model 3', () => v3Requests(emu, carId).some((r) => r.path.endsWith('/signals') && r.status === 200));
      assert.ok(other);
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });
});
