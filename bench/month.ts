// A scripted month of car life (after a warm-up month the policy learns from) run through the real
// platform, policy, scheduler, SDK and the emulator's billing, on the emulator's clock with virtual
// timers. HomeKit's plugged-in and charging values are compared with the truth after every read.
import type { SmartcarEmulator } from '../test/emulator/index.js';
import { accessoryNamed, hap, pushed } from '../test/helpers/homebridge-api.js';
import { startEmulator, startWithTokens } from '../test/helpers/plugin-world.js';
import { VirtualTime } from '../test/helpers/virtual-time.js';

const { Service, Characteristic } = hap;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
export const WARMUP = Date.UTC(2026, 1, 1); // February: the policy learns the car's habits
export const MONTH = Date.UTC(2026, 2, 1); // March: measured
export const MONTH_END = Date.UTC(2026, 3, 1);

interface Truth {
  at: number;
  pluggedIn: boolean;
  state: 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING';
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

export interface MonthResult {
  label: string;
  billed: number;
  /** Reads sent in March (full or charge-only). */
  reads: number;
  /** How many full reads (3 paths) the same billed requests buy: what the fixed policy gets. */
  fullReadEquivalents: number;
  refusedForBilling: number;
  plugged: Stats;
  charging: Stats;
}

interface Stats {
  mean: number;
  p95: number;
  n: number;
  /** Every staleness in minutes, sorted (for tracing the policy). */
  all: number[];
}

function stats(latencies: number[]): Stats {
  const s = [...latencies].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  const p95 = s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? 0;
  return { mean: mean / MIN, p95: p95 / MIN, n: s.length, all: s.map((x) => Math.round(x / MIN)) };
}

/** Runs warm-up + measured month for one configuration; returns March's figures. */
export async function simulateMonth(label: string, config: Record<string, unknown>, budget: number, seed = 7): Promise<MonthResult> {
  const emu: SmartcarEmulator = await startEmulator({ monthlyRequestLimit: budget });
  const truth = scriptedLife(seed);
  emu.clock.set(WARMUP);
  const userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
  const carId = emu.addVehicle(userId, {
    powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
    battery: { percentRemaining: 0.8, rangeKm: 400, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'FULLY_CHARGED', limit: 0.9 },
  }).id;
  const time = new VirtualTime(emu);
  const uninstall = time.install();
  const world = await startWithTokens(emu, userId, { config: { requestsPerVehiclePerMonth: budget, ...config } });
  const car = accessoryNamed(world.api, 'Model 3');
  const hkPlugged = (): boolean => pushed(car, Service.ContactSensor, Characteristic.ContactSensorState) === Characteristic.ContactSensorState.CONTACT_DETECTED;
  const hkCharging = (): number => pushed(car, Service.Battery, Characteristic.ChargingState) as number;
  const chargingOf = (t: Truth): number => (t.state === 'CHARGING' ? Characteristic.ChargingState.CHARGING : Characteristic.ChargingState.NOT_CHARGING);

  // Open segments: a truth value waiting to show in HomeKit, with when it became true.
  let plugSeg: { since: number; value: boolean; done: boolean } | undefined;
  let chargeSeg: { since: number; value: number; done: boolean } | undefined;
  const plugLat: number[] = [];
  const chargeLat: number[] = [];
  const measuring = (at: number): boolean => at >= MONTH && at < MONTH_END;
  const check = (): void => {
    const now = time.now();
    if (plugSeg && !plugSeg.done && hkPlugged() === plugSeg.value) {
      plugSeg.done = true;
      if (measuring(plugSeg.since)) {
        if (process.env.BENCH_TRACE && now - plugSeg.since > 80 * MIN) {
          console.log(`late plug ${String(plugSeg.value)}: ${new Date(plugSeg.since).toISOString()} seen ${Math.round((now - plugSeg.since) / MIN)} min later`);
        }
        plugLat.push(now - plugSeg.since);
      }
    }
    if (chargeSeg && !chargeSeg.done && hkCharging() === chargeSeg.value) {
      chargeSeg.done = true;
      if (measuring(chargeSeg.since)) {
        chargeLat.push(now - chargeSeg.since);
      }
    }
  };
  let i = 0;
  const before = (t: number): void => {
    check();
    while (i < truth.length && truth[i]!.at <= t) {
      const ev = truth[i++]!;
      emu.clock.set(Math.max(ev.at, time.now()));
      emu.updateVehicle(carId, { charge: { isPluggedIn: ev.pluggedIn, state: ev.state, limit: 0.9 } });
      // A value superseded before HomeKit showed it counts with its whole life as staleness.
      if (plugSeg === undefined || plugSeg.value !== ev.pluggedIn) {
        if (plugSeg && !plugSeg.done && measuring(plugSeg.since)) {
          if (process.env.BENCH_TRACE) {
            console.log(`missed plug ${String(plugSeg.value)}: ${new Date(plugSeg.since).toISOString()} superseded ${Math.round((ev.at - plugSeg.since) / MIN)} min later`);
          }
          plugLat.push(ev.at - plugSeg.since);
        }
        plugSeg = { since: ev.at, value: ev.pluggedIn, done: false };
      }
      const c = chargingOf(ev);
      if (chargeSeg === undefined || chargeSeg.value !== c) {
        if (chargeSeg && !chargeSeg.done && measuring(chargeSeg.since)) {
          chargeLat.push(ev.at - chargeSeg.since);
        }
        chargeSeg = { since: ev.at, value: c, done: false };
      }
    }
  };
  try {
    await time.runUntil(MONTH - 1, before);
    emu.resetLog();
    await time.runUntil(MONTH_END - 1, before);
    check();
    if (process.env.BENCH_TRACE) {
      console.log(world.logs.lines.filter((l) => l.level === 'debug' && /next refresh/.test(l.message)).slice(-60).map((l) => l.message).join('\n'));
    }
    // From March's request log, not emu.billedCount(): the emulator's clock keeps running in real time
    // and may already stand in April here, which would make the month's count 0.
    const mine = emu.requests.filter((r) => r.vehicleId === carId && r.billed > 0);
    const billed = mine.reduce((sum, r) => sum + r.billed, 0);
    return {
      label,
      billed,
      reads: mine.length,
      // A full read of this BEV is 3 paths (the vehicle's attributes come from the cache).
      fullReadEquivalents: Math.round(billed / 3),
      refusedForBilling: emu.requests.filter((r) => r.status === 430).length,
      plugged: stats(plugLat),
      charging: stats(chargeLat),
    };
  } finally {
    await world.shutdown();
    uninstall();
    await emu.close();
  }
}
