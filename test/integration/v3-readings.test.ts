// The v3 backend under every reading the emulator implements for an unconfirmed Smartcar behaviour
// (smartcar-v3.md §7): whichever reading is the real one, the owner connects, sees the right values,
// locks, and is told why a refused lock reverted. Proven tolerant, not tuned to one guess.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { READING_VALUES, type V3Readings } from '../emulator/v3/readings.js';
import { accessoryNamed, hap, read, startPlatform, tempStorage, waitFor, write } from '../helpers/homebridge-api.js';
import { connectAnswer, pluginConfigV3, startEmulator } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

/** Readings with their own suites below (what a read costs, where the data comes from). */
const OWN_SUITES = new Set<keyof V3Readings>(['billing', 'signalStore']);

async function scenario(readings: Partial<V3Readings>): Promise<void> {
  const emu: SmartcarEmulator = await startEmulator({ autoApprove: {}, readings });
  const world = await startPlatform(pluginConfigV3(), { storage: await tempStorage() });
  try {
    const user = emu.addUser({ email: 'owner@example.com', password: 'pw' });
    const bevId = emu.addVehicle(user.id, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: false,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    emu.addVehicle(user.id, { powertrain: 'ICE', make: 'FORD', model: 'F-150', locked: true, fuel: { percentRemaining: 0.4, amountRemainingLiters: 36, rangeKm: 420, tankLiters: 90 } });
    const answer = await connectAnswer(world.platform.authUrl('state'));
    const code = answer.get('code');
    await world.platform.completeAuthorization({ ...(code ? { code } : {}), userId: answer.get('user_id')! });

    const bev = accessoryNamed(world.api, 'Model 3');
    const ice = accessoryNamed(world.api, 'F-150');
    await waitFor('the BEV\'s values', async () => (await read(bev, Service.Battery, Characteristic.BatteryLevel)) === 76);
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNSECURED);
    assert.equal(await read(bev, Service.Battery, Characteristic.ChargingState), Characteristic.ChargingState.CHARGING);
    assert.equal(await read(bev, Service.ContactSensor, Characteristic.ContactSensorState), Characteristic.ContactSensorState.CONTACT_DETECTED);
    await waitFor('the F-150\'s fuel', async () => (await read(ice, Service.Battery, Characteristic.BatteryLevel)) === 40);
    assert.equal(await read(ice, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.SECURED);

    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    await waitFor('HomeKit to show it locked', async () => (await read(bev, Service.LockMechanism, Characteristic.LockCurrentState)) === Characteristic.LockCurrentState.SECURED);
    assert.equal(emu.vehicle(bevId).locked, true);
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.UNSECURED);
    await waitFor('HomeKit to show it unlocked', async () => (await read(bev, Service.LockMechanism, Characteristic.LockCurrentState)) === Characteristic.LockCurrentState.UNSECURED);

    emu.updateVehicle(bevId, { doors: { frontLeft: 'OPEN' } });
    await write(bev, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    await waitFor('the refusal in the log', () => /Could not lock: .*DOOR_OPEN/.test(world.logs.text('warn')));
    assert.equal(await read(bev, Service.LockMechanism, Characteristic.LockTargetState), Characteristic.LockTargetState.UNSECURED, 'the target reverts');
    assert.doesNotMatch(world.logs.text('error'), /failed unexpectedly/);
  } finally {
    await world.shutdown();
    await emu.close();
  }
}

describe('v3 under every reading of an unconfirmed behaviour', () => {
  for (const [name, values] of Object.entries(READING_VALUES) as [keyof V3Readings, readonly string[]][]) {
    if (OWN_SUITES.has(name)) {
      continue;
    }
    for (const value of values) {
      it(`${name}: ${value}`, () => scenario({ [name]: value }));
    }
  }
});

describe('v3 when Smartcar bills every signal of a list read (the other billing reading)', () => {
  it('the plugin counts one per read, so Smartcar refuses sooner: the owner sees an honest fault and the reason, nothing crashes', async () => {
    const emu = await startEmulator({ readings: { billing: 'per-signal' }, monthlyRequestLimit: 40 });
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
    emu.connect(userId);
    const world = await startPlatform(pluginConfigV3(), { storage: await tempStorage() });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('a first read', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) !== undefined);
      for (let i = 0; i < 6 && !/monthly Smartcar requests/.test(world.logs.text('warn')); i++) {
        await world.platform.refreshNow(carId);
        await new Promise((r) => setTimeout(r, 150));
      }
      await waitFor('the refusal named', () => /monthly Smartcar requests/.test(world.logs.text('warn')));
      assert.ok(emu.requests.some((r) => r.status === 430));
      assert.equal(car.getService(Service.Battery)!.getCharacteristic(Characteristic.StatusFault).value, Characteristic.StatusFault.GENERAL_FAULT);
      assert.doesNotMatch(world.logs.text('error'), /failed unexpectedly/);
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });
});
