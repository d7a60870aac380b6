// Honest, current state on every path, through the real platform and the emulator: data the car
// recorded long ago is stale however recently it was fetched (v2 sc-data-age, v3 oemUpdatedAt), and a
// problem is listed once on the setup page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;
const { GENERAL_FAULT, NO_FAULT } = Characteristic.StatusFault;
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const SERVICES = [Service.LockMechanism, Service.Battery, Service.ContactSensor];

type Start = (emu: SmartcarEmulator, userId: string, options: { vehicleIds?: string[]; config?: Record<string, unknown> }) => Promise<StartedPlatform>;
const LEGS: { api: 'v2' | 'v3'; start: Start; age: string }[] = [
  { api: 'v2', start: startWithTokens, age: 'sc-data-age' },
  { api: 'v3', start: startConnected, age: 'oemUpdatedAt' },
];

const setupUrl = (world: StartedPlatform): string =>
  /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');

for (const leg of LEGS) {
  describe(`old data from the car (API ${leg.api})`, () => {
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

    for (const threshold of [{ name: 'staleAfterMinutes', config: { staleAfterMinutes: 60 } }, { name: 'the automatic threshold', config: {} }]) {
      it(`data the car recorded three days ago (${leg.age}) is stale under ${threshold.name}, though just fetched: every service shows a fault, the setup page both ages`, async () => {
        const recorded = emu.clock.now() - 3 * DAY;
        emu.updateVehicle(bevId, { dataAt: recorded });
        const world = await leg.start(emu, userId, { config: threshold.config });
        try {
          const car = accessoryNamed(world.api, 'Model 3');
          const view = await waitFor('the first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt !== undefined && world.platform.status()[0]!.vehicles[0]!);
          assert.ok(Math.abs(view.lastRefreshAt! - Date.now()) < 10_000, 'fetched just now');
          assert.ok(Math.abs(view.dataAt! - recorded) < 1000, `recorded three days ago: ${new Date(view.dataAt!).toISOString()}`);
          for (const s of SERVICES) {
            assert.equal(pushed(car, s, Characteristic.StatusFault), GENERAL_FAULT, s.name);
          }
          assert.ok(view.problems.some((p) => /the car last reported it at .* although Smartcar answered at/.test(p)), view.problems.join('\n'));
          // "Last refresh" is when the plugin fetched; "Data age" when the car recorded what it got.
          const page = await (await fetch(`${setupUrl(world)}/`)).text();
          assert.match(page, /<dt>Last refresh<\/dt><dd>just now<\/dd>/);
          assert.match(page, /<dt>Data age<\/dt><dd>the car reported 3 days ago<\/dd>/);

          // The car wakes up and reports: the next read is current again.
          emu.updateVehicle(bevId, { locked: true });
          assert.equal(await world.platform.refreshNow(bevId), 'queued');
          await waitFor('the fault to clear', () => SERVICES.every((s) => pushed(car, s, Characteristic.StatusFault) === NO_FAULT));
        } finally {
          await world.shutdown();
        }
      });
    }
  });
}

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
