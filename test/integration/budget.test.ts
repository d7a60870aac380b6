// The monthly request budget against the emulator's billing (each batch item bills one), over a
// simulated month: the platform's clock is the emulator's and the scheduler's timer is virtual, so a
// month of refreshes runs in seconds through the real policy, scheduler, client and SDK.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { timing } from '../../src/platform.js';
import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, read, write } from '../helpers/homebridge-api.js';
import { startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { VirtualTime } from '../helpers/virtual-time.js';

const { Service, Characteristic } = hap;
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const MARCH = Date.UTC(2026, 2, 1);
const APRIL = Date.UTC(2026, 3, 1);
const BUDGET = 150; // the smallest budget the config accepts; 30 of it kept for commands

describe('monthly request budget', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;
  let time: VirtualTime;
  let uninstall: () => void;

  before(async () => {
    // Smartcar's own cap equals ours: one request too many would come back as 430.
    emu = await startEmulator({ monthlyRequestLimit: BUDGET });
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.6, rangeKm: 300, capacityKwh: 75 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
  });
  after(async () => emu?.close());

  // Each test starts on a fresh month of its own, so the emulator's billing starts at zero.
  let month = 0;
  const startOfTestMonth = (): number => Date.UTC(2026, 2 + 2 * month++, 1);

  function useVirtualTime(at: number): void {
    emu.clock.set(at);
    emu.resetLog();
    time = new VirtualTime(emu);
    uninstall = time.install();
  }
  afterEach(() => uninstall?.());

  it('a month of adaptive refreshes and commands stays within the budget, and every billed request is counted', async () => {
    const start = startOfTestMonth();
    assert.equal(start, MARCH);
    useVirtualTime(start);
    const world = await startWithTokens(emu, userId, { config: { requestsPerVehiclePerMonth: BUDGET } });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await time.runUntil(start + 10 * DAY);
      // The owner unlocks and locks again: each command and its confirming read are billed.
      emu.updateVehicle(bevId, { charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 } });
      for (const target of [Characteristic.LockTargetState.UNSECURED, Characteristic.LockTargetState.SECURED]) {
        await write(car, Service.LockMechanism, Characteristic.LockTargetState, target);
        await new Promise((r) => setTimeout(r, 100));
        await time.runUntil(time.now() + HOUR);
      }
      await time.runUntil(start + 12 * DAY, (t) => {
        if (t > start + 10.2 * DAY) {
          emu.updateVehicle(bevId, { charge: { isPluggedIn: true, state: 'FULLY_CHARGED', limit: 0.9 } });
        }
      });
      await time.runUntil(APRIL - 60_000);

      const billed = emu.billedCount(bevId);
      const view = world.platform.status()[0]!.vehicles[0]!;
      assert.ok(billed <= BUDGET, `billed ${billed} of ${BUDGET}`);
      assert.ok(billed >= 60, `the budget is used, not hoarded: billed ${billed}`);
      assert.equal(view.requestsUsed, billed, 'the plugin counts exactly what Smartcar bills');
      assert.equal(view.requestBudget, BUDGET);
      assert.ok(!emu.requests.some((r) => r.status === 430), 'Smartcar never refused a request for billing');
      assert.equal(emu.vehicle(bevId).locked, true);
      const commands = emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/security') && r.billed > 0);
      assert.equal(commands.length, 2, JSON.stringify(commands));
    } finally {
      await world.shutdown();
    }
  });

  it('when the budget runs out: last values kept and flagged, said once, shown on the setup page; the next month resumes', async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    // A fixed 30-minute interval spends the 120 poll requests (40 reads of 3 paths) within a day.
    const world = await startWithTokens(emu, userId, { config: { requestsPerVehiclePerMonth: BUDGET, refreshIntervalMinutes: 30 } });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await time.runUntil(start + 3 * DAY);
      // Discovery read attributes and VIN (2), then reads of 3 paths until the next one would touch the reserve.
      assert.equal(emu.billedCount(bevId), 2 + 3 * Math.floor((BUDGET - 30 - 2) / 3), 'polls stop at the command reserve');
      assert.ok(!emu.requests.some((r) => r.status === 430));

      for (const s of [Service.LockMechanism, Service.Battery, Service.ContactSensor]) {
        assert.equal(pushed(car, s, Characteristic.StatusFault), Characteristic.StatusFault.GENERAL_FAULT, s.name);
      }
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 60, 'the last value is still served');
      const warnings = world.logs.lines.filter((l) => /request budget is used up/.test(l.message));
      assert.equal(warnings.length, 1, world.logs.text());
      const view = world.platform.status()[0]!.vehicles[0]!;
      assert.equal(view.requestsUsed, emu.billedCount(bevId));
      assert.ok(view.problems.some((p) => /request budget is used up/.test(p)), view.problems.join('\n'));
      const nextMonth = Date.UTC(2026, new Date(start).getUTCMonth() + 1, 1);
      assert.ok(view.nextRefreshAt! >= nextMonth && view.nextRefreshAt! < nextMonth + HOUR, `next refresh ${new Date(view.nextRefreshAt!).toISOString()}`);
      assert.equal(await world.platform.refreshNow(), 'budget', 'Refresh now is refused too');

      // Commands still work from the reserve.
      await write(car, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.UNSECURED);
      await new Promise((r) => setTimeout(r, 100));
      await time.runUntil(time.now() + HOUR);
      assert.equal(emu.vehicle(bevId).locked, false);

      // The month rolls: refreshes resume and the fault clears.
      emu.updateVehicle(bevId, { battery: { percentRemaining: 0.5, rangeKm: 250, capacityKwh: 75 }, locked: true });
      await time.runUntil(nextMonth + 2 * HOUR);
      assert.ok(emu.billedCount(bevId) > 0, 'billed again in the new month');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 50);
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), Characteristic.StatusFault.NO_FAULT);
      assert.match(world.logs.text(), /new month, a new request budget/);
    } finally {
      await world.shutdown();
    }
  });

  it('a restart with fresh cached data makes no Smartcar call at all, and the month\'s count survives it', async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    const first = await startWithTokens(emu, userId, { config: { requestsPerVehiclePerMonth: BUDGET } });
    await time.runUntil(start + 5 * 60_000);
    const usedBefore = first.platform.status()[0]!.vehicles[0]!.requestsUsed!;
    assert.ok(usedBefore >= 3);
    const cache = first.api.serializeCache();
    await first.shutdown();
    uninstall();

    useVirtualTime(start + 10 * 60_000);
    const second = await startWithTokens(emu, userId, { storage: first.storage, cache, config: { requestsPerVehiclePerMonth: BUDGET } });
    try {
      await time.runUntil(start + 20 * 60_000);
      await new Promise((r) => setTimeout(r, 100));
      // Not even the unbilled vehicle list or permissions: those wait for the first planned read.
      assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.path}`), [], 'no Smartcar request after the restart');
      const view = second.platform.status()[0]!.vehicles[0]!;
      assert.equal(view.requestsUsed, usedBefore, 'the count was persisted');
      assert.ok(view.nextRefreshAt! > start + 30 * 60_000, 'the next read is planned from the cached refresh time');

      // The first planned read asks for the vehicle list first (a car unshared meanwhile goes away).
      await time.runUntil(view.nextRefreshAt! + 60_000);
      await new Promise((r) => setTimeout(r, 100));
      const paths = emu.requests.map((r) => r.path);
      const list = paths.findIndex((p) => /^\/v2\.0\/vehicles\/?$/.test(p));
      assert.ok(list >= 0, `the vehicle list was asked for at the first read: ${paths.join(', ')}`);
      assert.ok(list < paths.findIndex((p) => p.endsWith('/batch')), 'before the read');
    } finally {
      await second.shutdown();
    }
  });

  it('Refresh now is debounced and counted', async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    const saved = timing.refreshNowDebounceMs;
    timing.refreshNowDebounceMs = 60_000;
    const world = await startWithTokens(emu, userId, { config: { requestsPerVehiclePerMonth: BUDGET } });
    try {
      await time.runUntil(start + 60_000);
      const used = world.platform.status()[0]!.vehicles[0]!.requestsUsed!;
      await time.runUntil(start + 30_000);
      assert.equal(await world.platform.refreshNow(bevId), 'recent', 'read under a minute ago: ignored');
      await time.runUntil(start + 80_000);
      assert.equal(world.platform.status()[0]!.vehicles[0]!.requestsUsed, used);

      await time.runUntil(start + 5 * 60_000);
      assert.equal(await world.platform.refreshNow(bevId), 'queued');
      await time.runUntil(start + 6 * 60_000);
      assert.equal(world.platform.status()[0]!.vehicles[0]!.requestsUsed, used + 3, 'one read of three paths, counted');
      assert.equal(emu.billedCount(bevId), used + 3);
    } finally {
      timing.refreshNowDebounceMs = saved;
      await world.shutdown();
    }
  });
});
