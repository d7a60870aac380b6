// Issue 3's acceptance scenario, end to end: the real SDK against the emulator, the plugin in a fake
// Homebridge with real HAP. A BEV (unlocked, 76 %, plugged in, charging) and an ICE car (locked,
// fuel 40 %, no read_battery) show exactly those values; a lock write reaches the car; a door open
// makes the target revert with Smartcar's reason in the log; token files are owner-only.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, read, startPlatform, waitFor, write, service, type StartedPlatform } from '../helpers/homebridge-api.js';
import { CLIENT_SECRET, connectCode, pluginConfig, startEmulator } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

describe('Done when: a BEV and an ICE car in HomeKit', () => {
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
    world = await startPlatform(pluginConfig());
    // Connect through the platform's SetupHost, as the setup page does: no restart needed.
    const code = await connectCode(world.platform.authUrl('state-1'));
    const connected = await world.platform.completeAuthorization({ code });
    assert.deepEqual(connected.vehicles.map((v) => v.name).sort(), ['F-150', 'Model 3']);
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('the BEV shows unlocked, 76 %, charging, plugged in', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    await waitFor('first refresh', async () => (await read(bev, Service.Battery, Characteristic.BatteryLevel)) === 76);
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNSECURED);
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockTargetState), Characteristic.LockTargetState.UNSECURED);
    assert.equal(await read(bev, Service.Battery, Characteristic.ChargingState), Characteristic.ChargingState.CHARGING);
    assert.equal(await read(bev, Service.Battery, Characteristic.StatusLowBattery), Characteristic.StatusLowBattery.BATTERY_LEVEL_NORMAL);
    assert.equal(await read(bev, Service.ContactSensor, Characteristic.ContactSensorState), Characteristic.ContactSensorState.CONTACT_DETECTED);
    // Pushed too, not only answered on request.
    assert.equal(pushed(bev, Service.Battery, Characteristic.BatteryLevel), 76);
    const info = service(bev, Service.AccessoryInformation)!;
    assert.equal(info.getCharacteristic(Characteristic.Manufacturer).value, 'Tesla');
    assert.equal(info.getCharacteristic(Characteristic.Model).value, 'Model 3 2022');
    assert.equal(info.getCharacteristic(Characteristic.SerialNumber).value, '5YJ3E1EA7NF000001');
    assert.equal(service(bev, Service.LockMechanism)!.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3');
    assert.equal(service(bev, Service.ContactSensor)!.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3 Plugged In');
  });

  it('the ICE car shows locked, fuel 40 %, not chargeable, and has no plugged-in sensor', async () => {
    const ice = accessoryNamed(world.api, 'F-150');
    await waitFor('first refresh', async () => (await read(ice, Service.Battery, Characteristic.BatteryLevel)) === 40);
    assert.equal(await read(ice, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.SECURED);
    assert.equal(await read(ice, Service.Battery, Characteristic.ChargingState), Characteristic.ChargingState.NOT_CHARGEABLE);
    assert.equal(ice.getServiceById(Service.ContactSensor, 'plugged-in'), undefined);
    // Its refresh read only what its services need: /security and /fuel, in one batch.
    const batches = emu.requests.filter((r) => r.vehicleId === iceId && r.method === 'POST' && r.path.endsWith('/batch'));
    assert.ok(batches.length >= 1);
    assert.ok(!emu.requests.some((r) => r.vehicleId === iceId && /\/(battery|charge)$/.test(r.path)));
  });

  it('a HomeKit lock write reaches the car as LOCK and the current state follows', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    const started = Date.now();
    assert.equal(await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED), undefined);
    assert.ok(Date.now() - started < 500, 'onSet answers at once');
    await waitFor('the car to lock', () => emu.vehicle(bevId).locked);
    assert.ok(emu.requests.some((r) => r.vehicleId === bevId && r.method === 'POST' && r.path.endsWith('/security') && r.status === 200));
    await waitFor('current state to follow', () => pushed(bev, Service.LockMechanism, Characteristic.LockCurrentState) === Characteristic.LockCurrentState.SECURED);
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.SECURED);
    assert.equal(pushed(bev, Service.LockMechanism, Characteristic.StatusFault), Characteristic.StatusFault.NO_FAULT);
    // Confirmed by one read of /security right after the command (one billed request, not a full refresh).
    const commandAt = emu.requests.findIndex((r) => r.vehicleId === bevId && r.method === 'POST' && r.path.endsWith('/security'));
    const confirm = await waitFor('the confirming read', () => emu.requests.slice(commandAt).find((r) => r.vehicleId === bevId && r.path.endsWith('/batch')));
    assert.equal(confirm.billed, 1);
  });

  it('with a door open, locking fails: the target reverts, the lock shows a fault, and the log says why', async () => {
    const bev = accessoryNamed(world.api, 'Model 3');
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.UNSECURED);
    await waitFor('unlock', () => pushed(bev, Service.LockMechanism, Characteristic.LockCurrentState) === Characteristic.LockCurrentState.UNSECURED);
    emu.updateVehicle(bevId, { doors: { frontLeft: 'OPEN' } });
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    await waitFor('target to revert', () => pushed(bev, Service.LockMechanism, Characteristic.LockTargetState) === Characteristic.LockTargetState.UNSECURED);
    assert.equal(emu.vehicle(bevId).locked, false);
    assert.equal(pushed(bev, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNSECURED);
    assert.equal(pushed(bev, Service.LockMechanism, Characteristic.StatusFault), Characteristic.StatusFault.GENERAL_FAULT);
    const warning = world.logs.lines.find((l) => l.level === 'warn' && l.message.includes('Could not lock'));
    assert.ok(warning, world.logs.text());
    assert.match(warning.message, /Model 3/);
    assert.match(warning.message, /DOOR_OPEN/);
    assert.match(warning.message, /door/i);
    // The setup page hears the same reason.
    const view = world.platform.status()[0]!.vehicles.find((v) => v.vehicleId === bevId)!;
    assert.ok(view.problems.some((p) => /DOOR_OPEN/.test(p)));
  });

  it('token files are owner-only, and no secret reached the log', async () => {
    const dir = join(world.api.storage, 'smartcar');
    const files = (await readdir(dir)).filter((f) => f.startsWith('tokens-'));
    assert.equal(files.length, 1);
    assert.equal((await stat(join(dir, files[0]!))).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const { readFile } = await import('node:fs/promises');
    const stored = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as { accessToken: string; refreshToken: string };
    const all = world.logs.text();
    for (const secret of [CLIENT_SECRET, stored.accessToken, stored.refreshToken]) {
      assert.ok(!all.includes(secret), 'a secret is in the log');
    }
  });
});
