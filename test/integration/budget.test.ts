// The monthly request budget against the emulator's billing, over a simulated month, on both APIs:
// the platform's clock is the emulator's and the scheduler's timer is virtual, so a month of refreshes
// runs in seconds through the real policy, scheduler and backend. v2 bills each batch path (a BEV read
// is 3), v3 one signals read (1); the emulator bills both the same way Smartcar does, per vehicle.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { timing } from '../../src/platform.js';
import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, read, startPlatform, write, type StartedPlatform } from '../helpers/homebridge-api.js';
import { pluginConfig, pluginConfigV3, seedTokens, startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { VirtualTime } from '../helpers/virtual-time.js';

const { Service, Characteristic } = hap;
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const MARCH = Date.UTC(2026, 2, 1);
const APRIL = Date.UTC(2026, 3, 1);
const BUDGET = 150; // the smallest budget the config accepts; 30 of it kept for commands

type World = StartedPlatform & { storage: string };

/** What differs between the APIs; the test bodies are the same. */
interface Leg {
  api: 'v2' | 'v3';
  /** The owner's car connected (v2: tokens seeded; v3: a connection at Smartcar), the plugin started. */
  start(emu: SmartcarEmulator, userId: string, config: Record<string, unknown>): Promise<World>;
  /** Homebridge restarted on the same storage with its accessory cache (nothing connected again). */
  restart(emu: SmartcarEmulator, userId: string, storage: string, cache: unknown[], config: Record<string, unknown>): Promise<StartedPlatform>;
  /** Billed requests of one full read of the BEV: v2 /security, /battery, /charge; v3 one signals read. */
  readCost: number;
  /** Billed requests discovery spends on a new car: v2 attributes and VIN; v3 nothing (the connection listing carries them). */
  discoveryCost: number;
  /** A lock or unlock command as the emulator logs its path. */
  command: RegExp;
}

const LEGS: Leg[] = [
  {
    api: 'v2',
    start: (emu, userId, config) => startWithTokens(emu, userId, { config }),
    restart: async (emu, userId, storage, cache, config) => {
      // Fresh tokens in the store, as the first run left them (the test is about calls, not token age).
      await seedTokens(storage, userId, emu.issueTokens(userId));
      return startPlatform(pluginConfig(config), { storage, cache });
    },
    readCost: 3,
    discoveryCost: 2,
    command: /^\/v2\.0\/vehicles\/[^/]+\/security$/,
  },
  {
    api: 'v3',
    start: (emu, userId, config) => startConnected(emu, userId, { config }),
    restart: (_emu, _userId, storage, cache, config) => startPlatform(pluginConfigV3(config), { storage, cache }),
    readCost: 1,
    discoveryCost: 0,
    command: /^\/v3\/vehicles\/[^/]+\/commands\/security\/(lock|unlock)$/,
  },
];

for (const leg of LEGS) {
  describe(`monthly request budget (API ${leg.api})`, () => budgetSuite(leg));
}

function budgetSuite(leg: Leg): void {
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
    const world = await leg.start(emu, userId, { requestsPerVehiclePerMonth: BUDGET });
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
      const commands = emu.requests.filter((r) => r.method === 'POST' && leg.command.test(r.path) && r.billed > 0);
      assert.equal(commands.length, 2, JSON.stringify(commands));
    } finally {
      await world.shutdown();
    }
  });

  it('when the budget runs out: last values kept and flagged, said once, shown on the setup page; the next month resumes', async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    // A fixed 30-minute interval spends the 120 poll requests within three days (v2: 40 reads of 3
    // paths, within a day; v3: 120 reads of 1, in two and a half).
    const world = await leg.start(emu, userId, { requestsPerVehiclePerMonth: BUDGET, refreshIntervalMinutes: 30 });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await time.runUntil(start + 3 * DAY);
      // Discovery (v2: attributes and VIN), then full reads until the next one would touch the reserve.
      const { readCost, discoveryCost } = leg;
      assert.equal(emu.billedCount(bevId), discoveryCost + readCost * Math.floor((BUDGET - 30 - discoveryCost) / readCost), 'polls stop at the command reserve');
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

      // The month rolls: refreshes resume and the fault clears (the car reports again: data it recorded
      // weeks ago would be stale however fresh the read).
      emu.updateVehicle(bevId, { battery: { percentRemaining: 0.5, rangeKm: 250, capacityKwh: 75 }, locked: true });
      await time.runUntil(nextMonth + 2 * HOUR, (t) => {
        if (t >= nextMonth) {
          emu.updateVehicle(bevId, { dataAt: t });
        }
      });
      assert.ok(emu.billedCount(bevId) > 0, 'billed again in the new month');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 50);
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), Characteristic.StatusFault.NO_FAULT);
      assert.match(world.logs.text(), /new month, a new request budget/);
    } finally {
      await world.shutdown();
    }
  });

  const restartTitle = leg.api === 'v2'
    ? 'a restart with fresh cached data makes no Smartcar call at all, and the month\'s count survives it'
    : 'a restart with fresh cached data makes no billed Smartcar call (only the unbilled connection listing and its app token), and the month\'s count survives it';
  it(restartTitle, async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    emu.updateVehicle(bevId, {}); // the car reported just now: the cached data is fresh by its own age too
    const first = await leg.start(emu, userId, { requestsPerVehiclePerMonth: BUDGET });
    await time.runUntil(start + 5 * 60_000);
    const usedBefore = first.platform.status()[0]!.vehicles[0]!.requestsUsed!;
    assert.ok(usedBefore >= leg.readCost);
    assert.equal(usedBefore, emu.billedCount(bevId));
    const cache = first.api.serializeCache();
    await first.shutdown();
    uninstall();

    useVirtualTime(start + 10 * 60_000);
    const second = await leg.restart(emu, userId, first.storage, cache, { requestsPerVehiclePerMonth: BUDGET });
    try {
      await time.runUntil(start + 20 * 60_000);
      // Long enough (real time) for a few of v3's minute listings (400 ms in the tests).
      await new Promise((r) => setTimeout(r, 1000));
      const seen = emu.requests.map((r) => `${r.host} ${r.method} ${r.path}`);
      if (leg.api === 'v2') {
        // Not even the unbilled vehicle list or permissions: those wait for the first planned read.
        assert.deepEqual(seen, [], 'no Smartcar request after the restart');
      } else {
        // v3 lists the application's connections (to find cars connected elsewhere), with the app token
        // fetched once for it; neither is billed, and nothing else is asked.
        assert.deepEqual(emu.requests.filter((r) => r.billed > 0).map((r) => `${r.method} ${r.path}`), [], 'nothing billed after the restart');
        assert.deepEqual(seen.filter((x) => x !== 'v3 GET /v3/connections' && x !== 'iam POST /oauth2/token'), [], 'nothing but the listing and its token');
        assert.ok(seen.filter((x) => x === 'v3 GET /v3/connections').length >= 2, `the connections are listed: ${seen.join(', ')}`);
        assert.equal(seen.filter((x) => x === 'iam POST /oauth2/token').length, 1, 'one app token serves every listing');
      }
      const view = second.platform.status()[0]!.vehicles[0]!;
      assert.equal(view.requestsUsed, usedBefore, 'the count was persisted');
      assert.ok(view.nextRefreshAt! > start + 30 * 60_000, 'the next read is planned from the cached refresh time');

      await time.runUntil(view.nextRefreshAt! + 60_000);
      await new Promise((r) => setTimeout(r, 100));
      const paths = emu.requests.map((r) => r.path);
      if (leg.api === 'v2') {
        // The first planned read asks for the vehicle list first (a car unshared meanwhile goes away).
        const list = paths.findIndex((p) => /^\/v2\.0\/vehicles\/?$/.test(p));
        assert.ok(list >= 0, `the vehicle list was asked for at the first read: ${paths.join(', ')}`);
        assert.ok(list < paths.findIndex((p) => p.endsWith('/batch')), 'before the read');
      } else {
        const billed = emu.requests.filter((r) => r.billed > 0);
        assert.deepEqual(billed.map((r) => `${r.method} ${r.path}`), [`GET /v3/vehicles/${bevId}/signals`], 'the first planned read is one signals read');
      }
      // (v2 may read the charge alone here: a charge-only read between full reads costs less.)
      const used = second.platform.status()[0]!.vehicles[0]!.requestsUsed!;
      assert.ok(used > usedBefore, 'counted on top of the persisted count');
      assert.equal(used, emu.billedCount(bevId), 'as Smartcar bills it');
    } finally {
      await second.shutdown();
    }
  });

  it('Refresh now is debounced and counted', async () => {
    const start = startOfTestMonth();
    useVirtualTime(start);
    const saved = timing.refreshNowDebounceMs;
    timing.refreshNowDebounceMs = 60_000;
    const world = await leg.start(emu, userId, { requestsPerVehiclePerMonth: BUDGET });
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
      assert.equal(world.platform.status()[0]!.vehicles[0]!.requestsUsed, used + leg.readCost, 'one full read, counted');
      assert.equal(emu.billedCount(bevId), used + leg.readCost);
    } finally {
      timing.refreshNowDebounceMs = saved;
      await world.shutdown();
    }
  });
}
