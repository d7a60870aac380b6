// A scripted month of car life (after a warm-up month the policy learns from) run through the real
// platform, policy, scheduler, backend (v2: the SDK and per-user tokens; v3: the application token and
// the signals read) and the emulator's billing, on the emulator's clock with virtual timers. HomeKit's
// plugged-in, charging, lock and level values are compared with the truth after every read.

import type { SmartcarEmulator } from '../test/emulator/index.js';
import { accessoryNamed, hap, pushed, waitFor } from '../test/helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../test/helpers/plugin-world.js';
import { VirtualTime } from '../test/helpers/virtual-time.js';
import { freePort } from '../test/helpers/free-port.js';

const { Service, Characteristic } = hap;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
export const WARMUP = Date.UTC(2026, 1, 1); // February: the policy learns the car's habits
export const MONTH = Date.UTC(2026, 2, 1); // March: measured
export const MONTH_END = Date.UTC(2026, 3, 1);

export type Api = 'v2' | 'v3';

/**
 * Billed requests of one read of every signal of this BEV: v2 bills each path of the batch (lock,
 * battery, charge; the attributes come from the cache), v3 one signals read whatever it holds.
 */
export const FULL_READ_COST: Record<Api, number> = { v2: 3, v3: 1 };

const CHARGE_LIMIT = 90;

interface Truth {
  at: number;
  pluggedIn: boolean;
  state: 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING';
}

/** One change of the car: its plug and charge state, its lock, its battery level (whole percent), or whether it is at home. */
export type LifeEvent =
  | ({ kind: 'charge' } & Truth)
  | { kind: 'lock'; at: number; locked: boolean }
  | { kind: 'level'; at: number; percent: number }
  | { kind: 'place'; at: number; home: boolean };

/** The home point of the At Home runs, and a place about 4 km off where the car is when it is away. */
export const HOME = { latitude: 52.2385, longitude: 0.1546 };
const AWAY = { latitude: 52.2053, longitude: 0.1218 };

/**
 * The same life with where the car is: it leaves home two minutes after it is unplugged and arrives five
 * minutes before it is plugged in again (the script charges at home only), so arrivals are the evening
 * commutes, Saturday trips and the end of the week away.
 */
export function withWhereabouts(life: LifeEvent[]): LifeEvent[] {
  const places: LifeEvent[] = life.flatMap((e): LifeEvent[] => {
    if (e.kind !== 'charge') {
      return [];
    }
    if (!e.pluggedIn) {
      return [{ kind: 'place', at: e.at + 2 * MIN, home: false }];
    }
    return e.state === 'CHARGING' ? [{ kind: 'place', at: e.at - 5 * MIN, home: true }] : [];
  });
  return [...life, ...places].sort((a, b) => a.at - b.at);
}

/** Deterministic: commutes on weekdays, evening charging, weekend trips, a week away in March. */
export function scriptedLife(seed = 7): Truth[] {
  let x = seed;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const jitter = (spreadMin: number): number => Math.round((rnd() * 2 - 1) * spreadMin * MIN);
  const out: Truth[] = [];
  let plugged = true;
  const plug = (at: number, hours: number): void => {
    out.push({ at, pluggedIn: true, state: 'CHARGING' });
    out.push({ at: at + Math.round(hours * HOUR), pluggedIn: true, state: 'FULLY_CHARGED' });
    plugged = true;
  };
  const unplug = (at: number): void => {
    out.push({ at, pluggedIn: false, state: 'NOT_CHARGING' });
    plugged = false;
  };
  const awayFrom = Date.UTC(2026, 2, 14);
  const awayTo = Date.UTC(2026, 2, 21);
  for (let day = WARMUP; day < MONTH_END; day += DAY) {
    const dow = new Date(day).getUTCDay();
    if (day >= awayFrom && day < awayTo) {
      if (day === awayFrom && plugged) {
        unplug(day + 9 * HOUR + jitter(30));
      }
      continue;
    }
    if (day === awayTo) {
      plug(day + 16 * HOUR + jitter(60), 3 + rnd() * 3);
      continue;
    }
    if (dow >= 1 && dow <= 5) {
      if (plugged) {
        unplug(day + 7.5 * HOUR + jitter(20));
      }
      if (rnd() < 0.85) {
        plug(day + 18.25 * HOUR + jitter(35), 1.5 + rnd() * 2.5);
      }
    } else if (dow === 6) {
      if (plugged) {
        unplug(day + 10 * HOUR + jitter(60));
      }
      plug(day + 17.5 * HOUR + jitter(60), 2 + rnd() * 3);
    } else if (!plugged) {
      plug(day + 11 * HOUR + jitter(60), 2 + rnd() * 2);
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/**
 * The plug and charge life of scriptedLife(seed) (unchanged, so the charge figures stay comparable
 * with earlier runs) plus, from their own deterministic draws, the lock and the level around it:
 *  - arriving home (a few minutes before plugging in) the owner unlocks; most evenings the car is
 *    locked again 5–120 min later, one in four it stays unlocked until it drives off next time;
 *    on Sundays at home it is unlocked for 20–90 min in the afternoon;
 *  - the level drops 4–8 points half an hour after leaving and again on arriving home, and 5–15
 *    points a day while away; while charging it climbs in half-hour steps to the 90 % limit.
 */
export function scriptedCarLife(seed = 7): LifeEvent[] {
  const charge = scriptedLife(seed);
  let x = (seed * 7919 + 104_729) % 2 ** 31;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const between = (lo: number, hi: number): number => lo + rnd() * (hi - lo);
  const out: LifeEvent[] = charge.map((t) => ({ kind: 'charge', ...t }));
  let level = CHARGE_LIMIT;
  const setLevel = (at: number, percent: number): void => {
    const p = Math.max(10, Math.min(100, Math.round(percent)));
    if (p !== level) {
      level = p;
      out.push({ kind: 'level', at, percent: p });
    }
  };
  let locked = true;
  const setLock = (at: number, value: boolean): void => {
    if (value !== locked) {
      locked = value;
      out.push({ kind: 'lock', at, locked: value });
    }
  };
  // Set when the owner left the car unlocked at home: it locks when it drives off.
  let unlockedAtHome = false;
  for (let i = 0; i < charge.length; i++) {
    const ev = charge[i]!;
    const next = charge[i + 1];
    if (!ev.pluggedIn) {
      // Leaving: locked as it drives off; the level drops on the way and while away.
      if (unlockedAtHome) {
        setLock(ev.at + MIN, true);
        unlockedAtHome = false;
      }
      setLevel(ev.at + 30 * MIN, level - between(4, 8));
      if (next) {
        for (let day = Math.floor(ev.at / DAY) * DAY + DAY + 12 * HOUR; day < next.at - 3 * HOUR; day += DAY) {
          setLevel(day, level - between(5, 15));
        }
        setLevel(next.at - 2 * MIN, level - between(4, 8));
      }
    } else if (ev.state === 'CHARGING') {
      // Arriving home: unlocked to get out, plugged in, then (usually) locked again.
      setLock(ev.at - 3 * MIN, false);
      const relock = ev.at + Math.round(between(5, 120) * MIN);
      if (rnd() < 0.75 && (next === undefined || relock < next.at || next.pluggedIn)) {
        setLock(relock, true);
      } else {
        unlockedAtHome = true;
      }
      const end = next?.at ?? ev.at + 4 * HOUR;
      const from = level;
      for (let t = ev.at + 30 * MIN; t < end; t += 30 * MIN) {
        setLevel(t, from + ((CHARGE_LIMIT - from) * (t - ev.at)) / (end - ev.at));
      }
      if (next?.state === 'FULLY_CHARGED') {
        setLevel(next.at, CHARGE_LIMIT);
      }
    }
  }
  // Sunday afternoons at home (plugged in: not on the trip away).
  for (let day = WARMUP; day < MONTH_END; day += DAY) {
    if (new Date(day).getUTCDay() !== 0) {
      continue;
    }
    const from = day + Math.round(between(12, 16) * HOUR);
    const to = from + Math.round(between(20, 90) * MIN);
    const plugState = [...charge].reverse().find((t) => t.at <= from);
    const lockState = out.filter((e) => e.kind === 'lock' && e.at <= from).sort((a, b) => a.at - b.at).pop();
    const lockedThen = lockState?.kind !== 'lock' || lockState.locked;
    const touched = out.some((e) => e.kind === 'lock' && e.at >= from - HOUR && e.at <= to + HOUR);
    if (plugState?.pluggedIn && lockedThen && !touched) {
      out.push({ kind: 'lock', at: from, locked: false }, { kind: 'lock', at: to, locked: true });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

export interface MonthResult {
  label: string;
  api: Api;
  billed: number;
  /** Reads sent in March (full or charge-only). */
  reads: number;
  /** How many full reads (every signal) the same billed requests buy: what the fixed policy gets. */
  fullReadEquivalents: number;
  refusedForBilling: number;
  plugged: Stats;
  charging: Stats;
  lock: Stats;
  level: Stats;
  /** With a home point (config homeLatitude/homeLongitude): the At Home sensor's staleness on arriving, and on leaving. */
  arrivals?: Stats;
  departures?: Stats;
  /** Time between two reads that included the lock, and the level (from March's request log). */
  lockReads: Intervals;
  levelReads: Intervals;
}

export interface Stats {
  mean: number;
  p95: number;
  n: number;
  /** Every staleness in minutes, sorted (for tracing the policy). */
  all: number[];
}

export interface Intervals {
  /** Minutes. */
  mean: number;
  max: number;
  n: number;
}

function stats(latencies: number[]): Stats {
  const s = [...latencies].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  const p95 = s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? 0;
  return { mean: mean / MIN, p95: p95 / MIN, n: s.length, all: s.map((x) => Math.round(x / MIN)) };
}

/** Gaps between reads in March, counting from March 1st to the first and from the last to the month's end. */
function intervals(times: number[]): Intervals {
  const s = [MONTH, ...times.filter((t) => t >= MONTH && t < MONTH_END).sort((a, b) => a - b), MONTH_END];
  const gaps = s.slice(1).map((t, i) => t - s[i]!);
  return { mean: (MONTH_END - MONTH) / gaps.length / MIN, max: Math.max(...gaps) / MIN, n: s.length - 2 };
}

const measuring = (at: number): boolean => at >= MONTH && at < MONTH_END;

/**
 * Staleness of a value that takes turns (plugged in or not, charging or not, locked or not): from the
 * change until HomeKit shows it; a value superseded before HomeKit showed it counts with its whole life.
 */
class Toggle<T> {
  readonly latencies: number[] = [];
  /** The same staleness per value taken (e.g. arrivals alone: at home = true). */
  readonly byValue = new Map<T, number[]>();
  private seg: { since: number; value: T; done: boolean } | undefined;

  constructor(private readonly shown: () => T, private readonly trace?: string) {}

  change(at: number, value: T): void {
    if (this.seg !== undefined && this.seg.value === value) {
      return;
    }
    if (this.seg && !this.seg.done && measuring(this.seg.since)) {
      if (this.trace && process.env.BENCH_TRACE) {
        console.log(`missed ${this.trace} ${String(this.seg.value)}: ${new Date(this.seg.since).toISOString()} superseded ${Math.round((at - this.seg.since) / MIN)} min later`);
      }
      this.note(this.seg.value, at - this.seg.since);
    }
    this.seg = { since: at, value, done: false };
  }

  check(now: number): void {
    if (this.seg && !this.seg.done && this.shown() === this.seg.value) {
      this.seg.done = true;
      if (measuring(this.seg.since)) {
        if (this.trace && process.env.BENCH_TRACE && now - this.seg.since > 80 * MIN) {
          console.log(`late ${this.trace} ${String(this.seg.value)}: ${new Date(this.seg.since).toISOString()} seen ${Math.round((now - this.seg.since) / MIN)} min later`);
        }
        this.note(this.seg.value, now - this.seg.since);
      }
    }
  }

  private note(value: T, ms: number): void {
    this.latencies.push(ms);
    this.byValue.set(value, [...(this.byValue.get(value) ?? []), ms]);
  }
}

/**
 * Staleness of the level, which moves on rather than back: a change counts until HomeKit shows it or
 * any later level of the car (a read that finds 62 % brings the 58 % and 60 % before it up to date).
 */
class Level {
  readonly latencies: number[] = [];
  private pending: { since: number; value: number }[] = [];

  constructor(private readonly shown: () => unknown) {}

  change(at: number, value: number): void {
    this.pending.push({ since: at, value });
  }

  check(now: number): void {
    const hk = this.shown();
    let j = -1;
    this.pending.forEach((p, i) => {
      if (p.value === hk) {
        j = i;
      }
    });
    for (const p of this.pending.splice(0, j + 1)) {
      if (measuring(p.since)) {
        this.latencies.push(now - p.since);
      }
    }
  }

  /** Changes HomeKit never caught up with by the end: staleness until then. */
  close(now: number): void {
    for (const p of this.pending.splice(0)) {
      if (measuring(p.since)) {
        this.latencies.push(now - p.since);
      }
    }
  }
}

/**
 * 'full': scriptedCarLife. 'charge-only': scriptedLife alone, the lock and the level never move (what
 * the bench measured before v3): nothing but the plug and charge changes moves the car's data time,
 * which the policy takes as the time of the change it learns habits from.
 */
export type LifeKind = 'full' | 'charge-only';

/**
 * Runs warm-up + measured month for one configuration on one backend; returns March's figures.
 * `webhooks` (v3): the emulator delivers each change of the car to the plugin's receiver (signed, over
 * loopback HTTP), and HomeKit is compared with the truth once the delivery is acknowledged; with
 * `dropEvery: n` every n-th change is never delivered (Smartcar's retries exhausted), the case polling covers.
 */
export async function simulateMonth(label: string, api: Api, config: Record<string, unknown>, budget: number, seed = 7, lifeKind: LifeKind = 'full',
  webhooks: { dropEvery: number } | undefined = undefined): Promise<MonthResult> {
  const managementToken = 'bench-management-token';
  const emu: SmartcarEmulator = await startEmulator({ monthlyRequestLimit: budget, ...(webhooks ? { managementToken, webhookTimeScale: 0.01 } : {}) });
  let webhookConfig: Record<string, unknown> = {};
  if (webhooks) {
    const port = await freePort();
    const webhookUrl = `http://127.0.0.1:${port}/smartcar`;
    emu.addWebhook({ name: 'Homebridge', callbackUri: webhookUrl });
    webhookConfig = { webhookUrl, managementToken, webhookPort: port, webhookBind: '127.0.0.1' };
  }
  const plain = lifeKind === 'full' ? scriptedCarLife(seed) : scriptedLife(seed).map((t): LifeEvent => ({ kind: 'charge', ...t }));
  // Only runs with a home point move the car about: the others keep the figures of earlier runs.
  const home = typeof config.homeLatitude === 'number';
  const life = home ? withWhereabouts(plain) : plain;
  emu.clock.set(WARMUP);
  const userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
  const carId = emu.addVehicle(userId, {
    powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true, location: HOME,
    battery: { percentRemaining: CHARGE_LIMIT / 100, rangeKm: 400, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'FULLY_CHARGED', limit: CHARGE_LIMIT / 100 },
  }).id;
  const time = new VirtualTime(emu);
  const uninstall = time.install();
  const options = { config: { requestsPerVehiclePerMonth: budget, ...webhookConfig, ...config } };
  const world = api === 'v2' ? await startWithTokens(emu, userId, options) : await startConnected(emu, userId, options);
  try {
    // v2 restores the car from its tokens' vehicle list at launch; v3 finds it among the connections.
    const car = await waitFor('the Model 3 accessory', () => {
      try {
        return accessoryNamed(world.api, 'Model 3');
      } catch {
        return undefined;
      }
    });
    const plugged = new Toggle(() => pushed(car, Service.ContactSensor, Characteristic.ContactSensorState) === Characteristic.ContactSensorState.CONTACT_DETECTED, 'plug');
    const charging = new Toggle(() => pushed(car, Service.Battery, Characteristic.ChargingState) as number);
    const lock = new Toggle(() => pushed(car, Service.LockMechanism, Characteristic.LockCurrentState) === Characteristic.LockCurrentState.SECURED, 'lock');
    const level = new Level(() => pushed(car, Service.Battery, Characteristic.BatteryLevel));
    const atHome = new Toggle(() => pushed(car, Service.OccupancySensor, Characteristic.OccupancyDetected) === Characteristic.OccupancyDetected.OCCUPANCY_DETECTED, 'at home');
    const trackers = home ? [plugged, charging, lock, level, atHome] : [plugged, charging, lock, level];
    const chargingOf = (t: Truth): number => (t.state === 'CHARGING' ? Characteristic.ChargingState.CHARGING : Characteristic.ChargingState.NOT_CHARGING);
    let i = 0;
    let changes = 0;
    const before = async (t: number): Promise<void> => {
      const now = time.now();
      trackers.forEach((k) => k.check(now));
      while (i < life.length && life[i]!.at <= t) {
        const ev = life[i++]!;
        emu.clock.set(Math.max(ev.at, time.now()));
        if (webhooks !== undefined && webhooks.dropEvery > 0 && ++changes % webhooks.dropEvery === 0) {
          emu.injectDelivery({ kind: 'drop' }, { times: 1, vehicleId: carId });
        }
        if (ev.kind === 'charge') {
          emu.updateVehicle(carId, { charge: { isPluggedIn: ev.pluggedIn, state: ev.state, limit: CHARGE_LIMIT / 100 } });
          plugged.change(ev.at, ev.pluggedIn);
          charging.change(ev.at, chargingOf(ev));
        } else if (ev.kind === 'lock') {
          emu.updateVehicle(carId, { locked: ev.locked });
          lock.change(ev.at, ev.locked);
        } else if (ev.kind === 'level') {
          emu.updateVehicle(carId, { battery: { percentRemaining: ev.percent / 100, rangeKm: 4.5 * ev.percent, capacityKwh: 75 } });
          level.change(ev.at, ev.percent);
        } else {
          emu.updateVehicle(carId, { location: ev.home ? HOME : AWAY });
          atHome.change(ev.at, ev.home);
        }
        if (webhooks) {
          // The delivery is real HTTP in real time while the month's clock stands still: its staleness is
          // the delivery's own time (the emulator does not model Smartcar's latency, so about zero here).
          await emu.settleDeliveries();
          trackers.forEach((k) => k.check(time.now()));
        }
      }
    };
    await time.runUntil(MONTH - 1, before);
    emu.resetLog();
    await time.runUntil(MONTH_END - 1, before);
    trackers.forEach((k) => k.check(time.now()));
    level.close(MONTH_END);
    if (process.env.BENCH_TRACE) {
      console.log(world.logs.lines.filter((l) => l.level === 'debug' && /next refresh/.test(l.message)).slice(-60).map((l) => l.message).join('\n'));
    }
    // From March's request log, not emu.billedCount(): the emulator's clock keeps running in real time
    // and may already stand in April here, which would make the month's count 0.
    const mine = emu.requests.filter((r) => r.vehicleId === carId && r.billed > 0);
    const billed = mine.reduce((sum, r) => sum + r.billed, 0);
    // Which reads held the lock and the level: v3's signals read holds every signal; v2's full batch
    // bills 3 paths (lock, battery, charge), a charge-only read 2 while charging (charge, battery) or 1.
    const ok = mine.filter((r) => r.status === 200);
    const lockTimes = (api === 'v3' ? ok.filter((r) => r.path.endsWith('/signals')) : ok.filter((r) => r.billed >= 3)).map((r) => r.receivedAt);
    const levelTimes = (api === 'v3' ? ok.filter((r) => r.path.endsWith('/signals')) : ok.filter((r) => r.billed >= 2)).map((r) => r.receivedAt);
    return {
      label,
      api,
      billed,
      reads: mine.length,
      fullReadEquivalents: Math.round(billed / FULL_READ_COST[api]),
      refusedForBilling: emu.requests.filter((r) => r.status === 430).length,
      plugged: stats(plugged.latencies),
      charging: stats(charging.latencies),
      lock: stats(lock.latencies),
      level: stats(level.latencies),
      ...(home ? { arrivals: stats(atHome.byValue.get(true) ?? []), departures: stats(atHome.byValue.get(false) ?? []) } : {}),
      lockReads: intervals(lockTimes),
      levelReads: intervals(levelTimes),
    };
  } finally {
    await world.shutdown();
    uninstall();
    await emu.close();
  }
}

/** The fixed interval (minutes) whose full reads cost what `adaptive` spent: the same-spend comparison. */
export function sameSpendMinutes(adaptive: MonthResult): number {
  return Math.max(30, Math.round((MONTH_END - MONTH) / MIN / Math.max(1, adaptive.fullReadEquivalents)));
}
