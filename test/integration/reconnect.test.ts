// Connecting again must bring the truth back at once: every Connect that returns cars (re-authorization,
// an added permission, the same car again) reads them within seconds, clears the faults from before,
// and a Connect whose discovery fails keeps the authorization and retries, saying so. And names never
// change under the owner: a second car of the same model never renames the first.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, accessoryNamed, hap, read, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { connectAnswer, connectCode, startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;
const FAULT = Characteristic.StatusFault.GENERAL_FAULT;
const NO_FAULT = Characteristic.StatusFault.NO_FAULT;

/** Far apart planned reads: whatever the test sees within seconds came from Connect, not from the plan. */
const CONFIG = { refreshIntervalMinutes: 720 };

for (const api of ['v2', 'v3'] as const) {
  describe(`Connect again reads the cars at once (${api})`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform;
    let userId: string;
    let carId: string;

    const start = (scope?: string[]): Promise<StartedPlatform> => (api === 'v2'
      ? startWithTokens(emu, userId, { config: CONFIG, ...(scope ? { scope } : {}) })
      : startConnected(emu, userId, { config: CONFIG, ...(scope ? { scope } : {}) }));

    const connectAgain = async (): Promise<Awaited<ReturnType<StartedPlatform['platform']['completeAuthorization']>>> => {
      const answer = await connectAnswer(world.platform.authUrl('again'));
      return world.platform.completeAuthorization({ ...(answer.get('code') ? { code: answer.get('code')! } : {}), ...(answer.get('user_id') ? { userId: answer.get('user_id')! } : {}) });
    };

    beforeEach(async () => {
      await world?.shutdown();
      await emu?.close();
      emu = await startEmulator({ autoApprove: {} });
      userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, {
        powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: true,
        battery: { percentRemaining: 0.8, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
      }).id;
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('after Smartcar refused the authorization: Connect again reads the car within seconds and the faults clear, without Refresh now', async () => {
      world = await start();
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('a first read', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 80);
      // The owner changed the car brand's password: Smartcar refuses, polling stops until Connect again.
      emu.inject({ target: 'read', vehicleId: carId }, { error: { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'AUTHENTICATION_FAILED', status: 400, resolution: 'REAUTHENTICATE' } }, 1);
      await world.platform.refreshNow(carId);
      await waitFor('the refusal to show', () => world.platform.status()[0]?.needsReauth === true
        && car.getService(Service.Battery)!.getCharacteristic(Characteristic.StatusFault).value === FAULT);
      const told = world.logs.lines.filter((l) => /connected again/.test(l.message));
      assert.equal(told.length, 1, 'the owner is told once');
      assert.equal((told[0]!.message.match(/connect\w* (?:\S+ ){0,3}again/g) ?? []).length, 1, `and in that line once: ${told[0]!.message}`);
      emu.updateVehicle(carId, { battery: { percentRemaining: 0.55 } });
      await connectAgain();
      await waitFor('the new level, read because of Connect', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 55, 3000);
      assert.equal(car.getService(Service.Battery)!.getCharacteristic(Characteristic.StatusFault).value, NO_FAULT);
      assert.equal(car.getService(Service.LockMechanism)!.getCharacteristic(Characteristic.StatusFault).value, NO_FAULT);
    });

    it('a permission added by Connect again: the new service has a value within seconds, not No Response', async () => {
      world = await start(['read_vehicle_info', 'read_security', 'control_security', 'read_battery']);
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('a first read', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 80);
      assert.equal(car.getServiceById(Service.ContactSensor, 'plugged-in'), undefined, 'no plugged-in sensor without read_charge');
      await connectAgain(); // Connect asks for every scope; the emulator grants what the car has
      await waitFor('the plugged-in sensor', () => car.getService(Service.ContactSensor) !== undefined);
      await waitFor('its value, read at once', async () => (await read(car, Service.ContactSensor, Characteristic.ContactSensorState)) === Characteristic.ContactSensorState.CONTACT_DETECTED, 3000);
    });
  });
}

describe('a Connect whose discovery fails (v2): the authorization is kept, discovery retried, and the owner told so', () => {
  it('the car appears by itself once Smartcar lists it, and the answer says the vehicles are on their way', async () => {
    const emu = await startEmulator({ autoApprove: {} });
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    const world = await startWithTokens(emu, emu.addUser({ email: 'other@example.com', password: 'pw' }).id);
    try {
      const code = await connectCode(world.platform.authUrl('s'));
      emu.inject({ target: 'read', path: '/vehicles' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } }, 1);
      const connected = await world.platform.completeAuthorization({ code });
      assert.equal(connected.vehicles.length, 0);
      assert.match(connected.pending ?? '', /stored.*tries again/i, 'the answer says what happened and what comes next');
      await waitFor('the car, found by the retry', () => accessories(world.api).some((a) => a.displayName === 'Model 3'), 8000);
      assert.equal(world.platform.status().find((u) => u.userId === userId)?.needsReauth, false);
    } finally {
      await world.shutdown();
      await emu.close();
    }
  });
});

describe('names never change under the owner', () => {
  let emu: SmartcarEmulator;
  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
  });
  after(async () => emu?.close());

  it('a second Model 3 connected later is "Model 3 2"; the first keeps "Model 3", whatever the ids', async () => {
    const userId = emu.addUser({ email: 'names@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { id: 'ffffffff-0000-4000-8000-000000000001', powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
    const world = await startWithTokens(emu, userId);
    try {
      const first = accessoryNamed(world.api, 'Model 3');
      // Sorts before the first car's id: a name assignment by id order would rename the first car.
      emu.addVehicle(userId, { id: '00000000-0000-4000-8000-000000000002', powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
      await world.platform.completeAuthorization({ code: await connectCode(world.platform.authUrl('s')) });
      assert.equal(first.displayName, 'Model 3', 'the first car keeps its name');
      assert.equal(first.getService(Service.LockMechanism)!.getCharacteristic(Characteristic.Name).value, 'Model 3');
      assert.ok(accessories(world.api).some((a) => a !== first && a.displayName === 'Model 3 2'));
    } finally {
      await world.shutdown();
    }
  });
});
