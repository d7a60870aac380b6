// Two small leaks of state between a car's lives: a lock command's billed request must be saved with
// the cached accessory when it is spent (a command-only lock has no read after it that would save it),
// and a car removed and connected again starts with a clean slate (its old failure is news again).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, read, waitFor, write } from '../helpers/homebridge-api.js';
import { connectCode, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

describe('state between a car\'s lives (v2)', () => {
  let emu: SmartcarEmulator;
  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
  });
  after(async () => emu?.close());

  it('a command-only lock\'s billed command is saved with the cached accessory at once', async () => {
    const userId = emu.addUser({ email: 'cmd@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: false }).id;
    const world = await startWithTokens(emu, userId, { scope: ['read_vehicle_info', 'control_security', 'read_battery'] });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('a first read', async () => typeof (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 'number');
      await new Promise((r) => setTimeout(r, 200));
      const saves = world.api.updates;
      await write(car, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
      await waitFor('the car to lock', () => emu.vehicle(carId).locked);
      assert.ok(world.api.updates > saves, 'the spent request reached Homebridge\'s cache');
    } finally {
      await world.shutdown();
    }
  });

  it('a car disconnected and connected again: the same failure is told again, not buried at debug', async () => {
    const userId = emu.addUser({ email: 'again@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
    // A fixed interval: every retry is the same full read, so the same failure is the same line.
    const world = await startWithTokens(emu, userId, { config: { refreshIntervalMinutes: 30 } });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('a first read', async () => typeof (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 'number');
      emu.inject({ target: 'read', vehicleId: carId, path: '/batch' }, { error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } }, 100);
      await world.platform.refreshNow(carId);
      const told = () => world.logs.lines.filter((l) => l.level === 'warn' && /Model 3: refresh failed/.test(l.message)).length;
      await waitFor('the failure told', () => told() === 1);
      await new Promise((r) => setTimeout(r, 600)); // retries meanwhile say it at debug only
      assert.equal(told(), 1);
      await world.platform.disconnect(carId);
      // Connect as this owner: auto-approval otherwise picks whichever account, maybe the first test's.
      emu.autoApprove = { email: 'again@example.com' };
      await world.platform.completeAuthorization({ code: await connectCode(world.platform.authUrl('s')) });
      await waitFor('the failure told again for the car connected anew', () => told() === 2, 5000);
    } finally {
      emu.faults.clear();
      await world.shutdown();
    }
  });
});
