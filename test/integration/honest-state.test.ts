// Honest, current state on every path, through the real platform and the emulator: a problem is listed
// once on the setup page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, waitFor } from '../helpers/homebridge-api.js';
import { startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

describe('honest state (API v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
  });
  after(async () => emu?.close());

  it('one failed read is one problem on the setup page, not one per signal it asked for', async () => {
    emu.inject({ target: 'any', vehicleId: bevId, path: '/batch' }, { error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } });
    const world = await startWithTokens(emu, userId, { vehicleIds: [bevId] });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('the failed read', () => pushed(car, Service.Battery, Characteristic.StatusFault) === Characteristic.StatusFault.GENERAL_FAULT);
      const problems = world.platform.status()[0]!.vehicles[0]!.problems;
      const failed = problems.filter((p) => /UPSTREAM:NO_RESPONSE/.test(p));
      assert.equal(failed.length, 1, problems.join('\n'));
    } finally {
      await world.shutdown();
    }
  });
});
