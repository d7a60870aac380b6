// Honest, current state on every path, through the real platform and the emulator: data the car
// recorded long ago is stale however recently it was fetched (v2 sc-data-age, v3 oemUpdatedAt), and a
// problem is listed once on the setup page. What time alone changes (staleness, a command-only lock's
// last command growing old) is pushed when it happens, on the platform's clock and timers. A service
// is removed only on Smartcar's compatibility answer or three empty answers in a row, and comes back.
// A lock of unknown state claims no target nobody asked for; a refused command's fault ends with a look.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, read, requireHap, told, waitFor, write, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { VirtualTime } from '../helpers/virtual-time.js';

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
          assert.match(page, /<dt>Last refresh<\/dt><dd class="last-refresh">just now<\/dd>/);
          assert.match(page, /<dt>Data age<\/dt><dd class="data-age">the car reported 3 days ago<\/dd>/);

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

describe('what time alone changes is pushed when it happens (virtual time, API v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;
  let iceId: string;
  let time: VirtualTime;
  let uninstall: (() => void) | undefined;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
    iceId = emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150', year: 2021, locked: false }).id;
  });
  after(async () => {
    uninstall?.();
    await emu?.close();
  });

  const startVirtual = async (options: Parameters<typeof startWithTokens>[2]): Promise<StartedPlatform> => {
    uninstall?.();
    time = new VirtualTime(emu);
    uninstall = time.install();
    const world = await startWithTokens(emu, userId, options);
    await time.runUntil(time.now() + 1000);
    return world;
  };

  it('data turning stale between two reads shows a fault at that moment, cleared by the next read; nothing is left armed after shutdown', async () => {
    const world = await startVirtual({ vehicleIds: [bevId], config: { staleAfterMinutes: 60, refreshIntervalMinutes: 180 } });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      const readAt = world.platform.status()[0]!.vehicles[0]!.lastRefreshAt!;
      assert.ok(readAt !== undefined, 'read at start');
      const faults = SERVICES.map((s) => told(car, s, Characteristic.StatusFault));
      await time.runUntil(readAt + 59 * MIN);
      assert.deepEqual(faults, [[], [], []], 'fresh for the first hour');
      await time.runUntil(readAt + 61 * MIN);
      assert.deepEqual(faults, [[GENERAL_FAULT], [GENERAL_FAULT], [GENERAL_FAULT]], 'told at the moment the data turned an hour old');
      assert.equal(emu.requests.filter((r) => r.billed > 0).length, 3, 'no read for it: the one at start (3 paths)');

      // The car reports again; the next planned read brings current data and clears it.
      await time.runUntil(readAt + 170 * MIN);
      emu.updateVehicle(bevId, { battery: { percentRemaining: 0.7, rangeKm: 350, capacityKwh: 75 } });
      await time.runUntil(readAt + 185 * MIN);
      assert.deepEqual(faults, [[GENERAL_FAULT, NO_FAULT], [GENERAL_FAULT, NO_FAULT], [GENERAL_FAULT, NO_FAULT]]);
    } finally {
      await world.shutdown();
    }
    assert.equal(time.nextAt(), undefined, 'shutdown cleared every timer');
  });

  it('a command-only lock (no read_security) shows UNKNOWN the moment its last command grows too old', async () => {
    const world = await startVirtual({ vehicleIds: [iceId], scope: ['read_vehicle_info', 'control_security', 'read_fuel'], config: { staleAfterMinutes: 60, refreshIntervalMinutes: 180 } });
    try {
      const car = accessoryNamed(world.api, 'F-150');
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNKNOWN);
      await write(car, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
      await waitFor('the command', () => pushed(car, Service.LockMechanism, Characteristic.LockCurrentState) === Characteristic.LockCurrentState.SECURED);
      const lockedAt = time.now();
      const current = told(car, Service.LockMechanism, Characteristic.LockCurrentState);
      await time.runUntil(lockedAt + 59 * MIN);
      assert.deepEqual(current, []);
      await time.runUntil(lockedAt + 61 * MIN);
      assert.deepEqual(current, [Characteristic.LockCurrentState.UNKNOWN], 'told when the command is an hour old, not at the next read');
    } finally {
      await world.shutdown();
    }
  });

  it('a Battery left out after three empty answers is looked for a day later, without the owner pressing anything, and comes back', async () => {
    emu.updateVehicle(bevId, { battery: { percentRemaining: null as unknown as number } });
    const world = await startVirtual({ vehicleIds: [bevId], config: { refreshIntervalMinutes: 180 } });
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      const t0 = time.now();
      const battery = (): unknown => car.services.find((s) => s.UUID === Service.Battery.UUID);
      await time.runUntil(t0 + 7 * 60 * MIN, (t) => {
        emu.updateVehicle(bevId, { dataAt: t });
      });
      assert.equal(battery(), undefined, 'three empty answers in a row (at start, +3 h, +6 h): left out');
      const droppedAt = time.now();
      // A batch is logged once, billed per path: /security and /charge, plus /battery when it is asked for.
      const batteryReads = (): number => emu.requests.filter((r) => r.vehicleId === bevId && r.path.endsWith('/batch') && r.billed === 3).length;
      emu.updateVehicle(bevId, { battery: { percentRemaining: 0.6 } });
      emu.resetLog();
      await time.runUntil(droppedAt + 17 * 60 * MIN, (t) => {
        emu.updateVehicle(bevId, { dataAt: t });
      });
      assert.equal(batteryReads(), 0, 'not asked for within the day: it costs a request each time');
      assert.equal(battery(), undefined);
      await time.runUntil(droppedAt + 25 * 60 * MIN, (t) => {
        emu.updateVehicle(bevId, { dataAt: t });
      });
      assert.equal(batteryReads(), 1, 'looked for once, a day later');
      assert.ok(battery(), 'back');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 60);
    } finally {
      await world.shutdown();
      emu.updateVehicle(bevId, { battery: { percentRemaining: 0.76 } });
    }
  });
});

describe('services do not vanish on one odd answer (API v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
  });
  after(async () => emu?.close());

  const addBev = (model: string): string => emu.addVehicle(userId, {
    powertrain: 'BEV', make: 'TESLA', model, year: 2022, locked: true,
    battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'NOT_CHARGING', limit: 0.9 },
  }).id;
  const batteryService = (car: ReturnType<typeof accessoryNamed>) => car.services.find((s) => s.UUID === Service.Battery.UUID);
  // HAP's own id assignment, with one cache as a bridge keeps it across the run: HomeKit knows a service by its iid.
  type IdCache = new (username: string) => unknown;
  const { IdentifierCache } = requireHap('dist/lib/model/IdentifierCache') as { IdentifierCache: IdCache };
  const ids = new IdentifierCache('bridge');
  const batteryIids = (car: ReturnType<typeof accessoryNamed>): number[] => {
    (car as unknown as { _associatedHAPAccessory: { _assignIDs(cache: unknown): void } })._associatedHAPAccessory._assignIDs(ids);
    const s = batteryService(car)!;
    return [s.iid!, s.getCharacteristic(Characteristic.BatteryLevel).iid!];
  };
  /** The owner presses Refresh now and the read comes back. */
  const readNow = async (world: StartedPlatform, id: string): Promise<void> => {
    const before = world.platform.status()[0]!.vehicles.find((v) => v.vehicleId === id)!.lastRefreshAt!;
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(await world.platform.refreshNow(id), 'queued');
    await waitFor('the read', () => world.platform.status()[0]!.vehicles.find((v) => v.vehicleId === id)!.lastRefreshAt! > before);
  };

  it('one null battery level is a fault on the Battery, not a missing service; three in a row remove it; a later level brings it back under the same subtype', async () => {
    const id = addBev('Model S');
    const world = await startWithTokens(emu, userId, { vehicleIds: [id] });
    try {
      const car = accessoryNamed(world.api, 'Model S');
      await waitFor('the first read', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 76);
      const original = batteryService(car)!;
      assert.equal(original.subtype, 'battery');
      const originalIids = batteryIids(car);

      emu.updateVehicle(id, { battery: { percentRemaining: null as unknown as number } });
      await readNow(world, id);
      assert.equal(batteryService(car), original, 'one null: the very same service');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 76, 'the last level stays');
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), GENERAL_FAULT, 'flagged');
      assert.ok(world.platform.status()[0]!.vehicles[0]!.problems.some((p) => /no percentRemaining/.test(p)));

      emu.updateVehicle(id, { battery: { percentRemaining: 0.7 } });
      await readNow(world, id);
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 70);
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), NO_FAULT);

      // Nulls that are not in a row (a good read between) never add up; three in a row do.
      emu.updateVehicle(id, { battery: { percentRemaining: null as unknown as number } });
      for (let i = 1; i <= 3; i++) {
        await readNow(world, id);
        assert.equal(batteryService(car) === original, i < 3, `after ${i} empty answer(s) in a row`);
      }
      assert.equal(batteryService(car), undefined, 'three in a row: left out');
      assert.match(world.logs.text('info'), /no battery value 3 reads in a row/);
      assert.ok(!world.platform.status()[0]!.vehicles[0]!.problems.some((p) => /no percentRemaining/.test(p)), 'no fault listed for a service that is not there');

      // The level arrives again: the owner's Refresh now looks at it too, and the service is back as it was.
      emu.updateVehicle(id, { battery: { percentRemaining: 0.65 } });
      await readNow(world, id);
      const back = batteryService(car)!;
      assert.ok(back, 'the Battery is back');
      assert.equal(back.subtype, 'battery', 'under the same subtype');
      assert.deepEqual(batteryIids(car), originalIids, 'so HAP gives it, and its level, the same iids: the same service to HomeKit');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 65);
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), NO_FAULT);
      const cached = world.api.serializeCache() as { services: { UUID: string; subtype?: string }[] }[];
      assert.ok(cached[0]!.services.some((x) => x.UUID === Service.Battery.UUID && x.subtype === 'battery'), 'and in the cache Homebridge keeps');
    } finally {
      await world.shutdown();
    }
  });

  it('a Battery an earlier version removed for good after one empty answer is looked for again, and comes back', async () => {
    const id = addBev('Model Y');
    const first = await startWithTokens(emu, userId, { vehicleIds: [id] });
    await waitFor('the first read', () => first.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
    const cache = first.api.serializeCache() as { context: { notCapable?: string[] } }[];
    await first.shutdown();
    cache[0]!.context.notCapable = ['battery']; // what the earlier version stored on one null
    const world = await startWithTokens(emu, userId, { vehicleIds: [id], storage: first.storage, cache });
    try {
      const car = accessoryNamed(world.api, 'Model Y');
      assert.equal(batteryService(car), undefined, 'restored as it was left');
      await readNow(world, id);
      assert.equal(batteryService(car)?.subtype, 'battery', 'looked for at the next read, and back');
      assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 76);
    } finally {
      await world.shutdown();
    }
  });

  it('Smartcar\'s own compatibility answer (COMPATIBILITY:VEHICLE_NOT_CAPABLE) removes the Battery at once', async () => {
    const id = addBev('Model X');
    emu.updateVehicle(id, { battery: null });
    const world = await startWithTokens(emu, userId, { vehicleIds: [id] });
    try {
      const car = accessoryNamed(world.api, 'Model X');
      await waitFor('the answer', () => batteryService(car) === undefined);
      assert.match(world.logs.text('info'), /Smartcar cannot read battery for this car/);
    } finally {
      await world.shutdown();
    }
  });
});

describe('the lock says only what is known (API v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;
  let iceId: string;
  let time: VirtualTime | undefined;
  let uninstall: (() => void) | undefined;
  const { SECURED, UNSECURED } = Characteristic.LockTargetState;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: false,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
    iceId = emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150', year: 2021, locked: false }).id;
  });
  after(async () => {
    uninstall?.();
    await emu?.close();
  });

  it('a lock whose state is unknown never claims SECURED nobody asked for, and a refused lock goes back to what HomeKit had', async () => {
    const world = await startWithTokens(emu, userId, { vehicleIds: [iceId], scope: ['read_vehicle_info', 'control_security', 'read_fuel'] });
    try {
      const car = accessoryNamed(world.api, 'F-150');
      await waitFor('the first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
      const targets = told(car, Service.LockMechanism, Characteristic.LockTargetState);
      assert.equal(await read(car, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNKNOWN);
      const held = await read(car, Service.LockMechanism, Characteristic.LockTargetState);
      assert.notEqual(held, SECURED, 'no "Locking…" for a car nobody asked to lock');

      emu.updateVehicle(iceId, { reachable: false });
      await write(car, Service.LockMechanism, Characteristic.LockTargetState, SECURED);
      await waitFor('the refusal', () => /Could not lock/.test(world.logs.text('warn')));
      await waitFor('the target back', async () => (await read(car, Service.LockMechanism, Characteristic.LockTargetState)) === held);
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.LockTargetState), held, 'told too, not only answered');
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.StatusFault), GENERAL_FAULT);
      assert.deepEqual(targets, [SECURED, held], 'the tap, then back: never a SECURED left standing');
    } finally {
      await world.shutdown();
      emu.updateVehicle(iceId, { reachable: true });
    }
  });

  it('a lock refused for an open door stops showing its fault once a look at the car confirms the lock, without the owner trying again', async () => {
    time = new VirtualTime(emu);
    uninstall = time.install();
    const world = await startWithTokens(emu, userId, { vehicleIds: [bevId], config: { refreshIntervalMinutes: 360 } });
    try {
      await time.runUntil(time.now() + 1000);
      const car = accessoryNamed(world.api, 'Model 3');
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.LockCurrentState), Characteristic.LockCurrentState.UNSECURED);
      emu.updateVehicle(bevId, { doors: { frontLeft: 'OPEN' } });
      await write(car, Service.LockMechanism, Characteristic.LockTargetState, SECURED);
      await waitFor('the refusal', () => pushed(car, Service.LockMechanism, Characteristic.StatusFault) === GENERAL_FAULT);
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.LockTargetState), UNSECURED, 'the target reverted');
      const refusedAt = time.now();
      emu.updateVehicle(bevId, { doors: { frontLeft: 'CLOSED' } }); // the owner closes the door, and walks away
      emu.resetLog();
      await time.runUntil(refusedAt + 29 * MIN);
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.StatusFault), GENERAL_FAULT, 'long enough for the owner to see it');
      await time.runUntil(refusedAt + 31 * MIN);
      assert.equal(pushed(car, Service.LockMechanism, Characteristic.StatusFault), NO_FAULT, 'ended by the look, not hours later');
      const billed = emu.requests.filter((r) => r.billed > 0);
      assert.deepEqual(billed.map((r) => [r.path.replace(/.*\//, ''), r.billed]), [['batch', 1]], 'one cheap read of the lock alone');
      assert.ok(!world.platform.status()[0]!.vehicles[0]!.problems.some((p) => /Could not lock/.test(p)), 'and off the setup page');
    } finally {
      await world.shutdown();
      uninstall();
      uninstall = undefined;
    }
  });
});
