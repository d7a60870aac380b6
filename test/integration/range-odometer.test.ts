// Range and odometer through the real platform on both APIs: shown on the setup page in the owner's
// units, brought by reads made anyway (no request of their own), the odometer only where a read
// carries it for free (v3: every signal comes in one listing; v2 would bill /odometer on every read).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

for (const api of ['v3', 'v2'] as const) {
  describe(`range and odometer on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let userId: string;
    let bevId: string;
    let phevId: string;
    const view = (id: string) => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === id);
    const start = (config: Record<string, unknown> = {}) => (api === 'v3' ? startConnected(emu, userId, { config }) : startWithTokens(emu, userId, { config }));

    before(async () => {
      emu = await startEmulator();
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      bevId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, odometerKm: 12_345.6, battery: { rangeKm: 312.4 } }).id;
      phevId = emu.addVehicle(userId, { powertrain: 'PHEV', make: 'TOYOTA', model: 'RAV4', year: 2023, battery: { rangeKm: 61 }, fuel: { rangeKm: 540 } }).id;
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('metric: the range with the level, the odometer where it is free, at no extra request', async () => {
      world = await start();
      await waitFor('the range', () => view(bevId)?.range === '312 km');
      // Refresh now reads again, once the first read is done: what one read costs.
      await waitFor('the first reads done', () => view(bevId)?.lastRefreshAt !== undefined && emu.requests.every((r) => r.status !== 0));
      const from = emu.requests.length;
      const readAt = view(bevId)!.lastRefreshAt!;
      await world.platform.refreshNow(bevId);
      await waitFor('the read after Refresh now', () => (view(bevId)?.lastRefreshAt ?? 0) > readAt, 15_000);
      assert.equal(view(bevId)!.odometer, api === 'v3' ? '12,346 km' : undefined);
      const billed = emu.requests.slice(from).filter((r) => r.vehicleId === bevId).reduce((n, r) => n + r.billed, 0);
      assert.equal(billed, api === 'v3' ? 1 : 3, 'a read costs what it did before');
      assert.ok(!emu.requests.some((r) => r.path.endsWith('/odometer')), 'v2 never bills /odometer for it');
      await world.platform.refreshNow(phevId);
      // v3 lists the tank's range with everything else; v2 would bill /fuel for it, so only the battery's.
      await waitFor('the plug-in hybrid\'s range', () => view(phevId)?.range === (api === 'v3' ? '61 km electric, 540 km fuel' : '61 km'));
    });

    it('imperial: miles', async () => {
      await world.shutdown();
      world = await start({ unitSystem: 'imperial' });
      await world.platform.refreshNow(bevId);
      await waitFor('the range in miles', () => view(bevId)?.range === '194 mi');
      assert.equal(view(bevId)!.odometer, api === 'v3' ? '7,671 mi' : undefined);
    });

    it('the car drives: the next read shows the new figures', async () => {
      emu.updateVehicle(bevId, { odometerKm: 12_445.6, battery: { rangeKm: 250 } });
      await world.platform.refreshNow(bevId);
      await waitFor('the new range', () => view(bevId)?.range === '155 mi');
      if (api === 'v3') {
        assert.equal(view(bevId)!.odometer, '7,733 mi');
      }
    });
  });
}
