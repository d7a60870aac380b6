// `npm run bench`: prints the figures of issue 7 (not a test; no pass/fail exit code beyond crashes),
// Smartcar API v2 and v3 side by side.
// Month simulation: our adaptive policy vs a fixed interval spending the same budget, on each backend,
// through the real platform against the emulator's billing on a virtual clock. Then the HAP figures
// (bench/hap.ts): read latency, lock write answer time and memory, on a real Homebridge with a paired
// controller, for v3 and v2.
//   npm run bench                       everything
//   npm run bench -- --only month       the month simulations alone
//   npm run bench -- --only hap         the HAP and memory figures alone
//   npm run bench -- --only memory      the memory figures alone
//   npm run bench -- --memory-runs 2    repeat the memory measurement (RSS is noisy)
import { parseArgs } from 'node:util';

import { measureHap, pluginRssMib, printHap, PLUGIN_RSS_TARGET_MIB } from './hap.js';
import { FULL_READ_COST, HOME, sameSpendMinutes, simulateMonth, type Api, type LifeKind, type MonthResult, type Stats } from './month.js';

const BUDGET = 500;
const HELD_OUT_SEEDS = [19, 23, 29, 31, 37, 41, 43, 47];

interface Comparison {
  v2: MonthResult;
  v2Fixed: MonthResult;
  v3: MonthResult;
  v3Fixed: MonthResult;
  /** The fixed intervals (minutes) that spend what each adaptive run spent. */
  v2FixedMinutes: number;
  v3FixedMinutes: number;
}

/** Adaptive on each backend, then the fixed interval whose full reads cost the same there. */
async function compare(seed: number, life: LifeKind): Promise<Comparison> {
  const run = async (api: Api): Promise<[MonthResult, MonthResult, number]> => {
    const ours = await simulateMonth(`${api} adaptive (ours)`, api, {}, BUDGET, seed, life);
    const minutes = sameSpendMinutes(ours);
    const fixed = await simulateMonth(`${api} fixed every ${minutes} min`, api, { refreshIntervalMinutes: minutes }, BUDGET, seed, life);
    return [ours, fixed, minutes];
  };
  const [v2, v2Fixed, v2FixedMinutes] = await run('v2');
  const [v3, v3Fixed, v3FixedMinutes] = await run('v3');
  return { v2, v2Fixed, v3, v3Fixed, v2FixedMinutes, v3FixedMinutes };
}

const rowsOf = (c: Comparison): MonthResult[] => [c.v2, c.v2Fixed, c.v3, c.v3Fixed];
const f0 = (n: number): string => n.toFixed(0);
const h1 = (min: number): string => (min / 60).toFixed(1);
const pair = (s: Stats): string => `${f0(s.mean)} / ${f0(s.p95)}`;
const pct = (a: number, b: number): string => `${Math.round((100 * a) / b)} %`;
const ok = (b: boolean): string => (b ? 'MET' : 'NOT MET');

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const r of rows) {
    console.log(line(r));
  }
}

function monthTable(c: Comparison): void {
  table(
    ['policy', 'billed', 'reads', 'plug mean/p95', 'charge mean/p95', 'lock mean/p95', 'level mean/p95', 'lock read every mean/max (h)', 'level read every mean/max (h)', '430s'],
    rowsOf(c).map((r) => [
      r.label, String(r.billed), String(r.reads), pair(r.plugged), pair(r.charging), pair(r.lock), pair(r.level),
      `${h1(r.lockReads.mean)} / ${h1(r.lockReads.max)}`, `${h1(r.levelReads.mean)} / ${h1(r.levelReads.max)}`, String(r.refusedForBilling),
    ]),
  );
}

/** v3's lock and level no staler than v2's fixed interval: staleness mean and p95, and the longest gap between reads. */
function v3NoStalerThanV2Fixed(c: Comparison): boolean {
  const { v3, v2Fixed } = c;
  return v3.lock.mean <= v2Fixed.lock.mean && v3.lock.p95 <= v2Fixed.lock.p95
    && v3.level.mean <= v2Fixed.level.mean && v3.level.p95 <= v2Fixed.level.p95
    && v3.lockReads.max <= c.v2FixedMinutes && v3.levelReads.max <= c.v2FixedMinutes;
}

async function month(): Promise<void> {
  console.log(`Simulated month (March 2026, after a February warm-up), budget ${BUDGET} requests/vehicle/month, one BEV.`);
  console.log(`v2 bills each path: a full read is ${FULL_READ_COST.v2} (lock, battery, charge), a charge-only read 1 (2 while charging: + battery).`);
  console.log(`v3 bills one signals read as ${FULL_READ_COST.v3} whatever it holds: every read is full (lock and level included).`);
  console.log('The car\'s life: weekday commutes, evening charging, Saturday trips, a week away; unlocked on arriving home and locked');
  console.log('again 5–120 min later (one evening in four left unlocked until it drives off), Sunday-afternoon unlocks; the level drops');
  console.log('on every drive and climbs in half-hour steps while charging. Staleness (minutes) = from a change until HomeKit shows it.');
  const c = await compare(7, 'full');
  monthTable(c);
  const all = rowsOf(c);
  console.log(`budget never exceeded: ${ok(all.every((r) => r.billed <= BUDGET && r.refusedForBilling === 0))} (${all.map((r) => r.billed).join(', ')} of ${BUDGET})`);
  // Issue 7's target for the adaptive policy; on v3 it has no cheaper charge-only reads to spend between full ones.
  for (const [api, ours, fixed] of [['v2', c.v2, c.v2Fixed], ['v3', c.v3, c.v3Fixed]] as const) {
    console.log(`${api}: plugged-in staleness ≤ half of fixed: ${ok(ours.plugged.mean <= fixed.plugged.mean / 2)} (mean ${f0(ours.plugged.mean)} vs ${f0(fixed.plugged.mean)} min, ${pct(ours.plugged.mean, fixed.plugged.mean)}; p95 ${f0(ours.plugged.p95)} vs ${f0(fixed.plugged.p95)})`);
    console.log(`${api}: charging staleness ≤ half of fixed:   ${ok(ours.charging.mean <= fixed.charging.mean / 2)} (mean ${f0(ours.charging.mean)} vs ${f0(fixed.charging.mean)} min, ${pct(ours.charging.mean, fixed.charging.mean)}; p95 ${f0(ours.charging.p95)} vs ${f0(fixed.charging.p95)})`);
  }
  console.log(`v3 full reads for the same budget: ${c.v3.fullReadEquivalents} vs v2's ${c.v2.fullReadEquivalents} (${(c.v3.fullReadEquivalents / Math.max(1, c.v2.fullReadEquivalents)).toFixed(1)}×); same-spend fixed interval ${c.v3FixedMinutes} vs ${c.v2FixedMinutes} min`);
  console.log(`v3 adaptive lock and level no staler than v2 fixed (every ${c.v2FixedMinutes} min): ${ok(v3NoStalerThanV2Fixed(c))} `
    + `(lock ${pair(c.v3.lock)} vs ${pair(c.v2Fixed.lock)} min, level ${pair(c.v3.level)} vs ${pair(c.v2Fixed.level)} min; longest gap between lock reads ${h1(c.v3.lockReads.max)} h vs ${h1(c.v2FixedMinutes)} h)`);
  console.log(`v2 adaptive, the price of charge-only reads: lock ${pair(c.v2.lock)} vs fixed ${pair(c.v2Fixed.lock)} min, lock read every ${h1(c.v2.lockReads.mean)} h (at most ${h1(c.v2.lockReads.max)} h) vs ${h1(c.v2Fixed.lockReads.mean)} h`);
  console.log(`transitions measured in March: plug ${c.v2.plugged.n}, charging ${c.v2.charging.n}, lock ${c.v2.lock.n}, level ${c.v2.level.n}`);

  // Webhooks (v3): the same life, each change delivered to the plugin's receiver; polling steps back.
  const hooked = await simulateMonth('v3 webhooks', 'v3', {}, BUDGET, 7, 'full', { dropEvery: 0 });
  const lossy = await simulateMonth('v3 webhooks, 1 in 10 lost', 'v3', {}, BUDGET, 7, 'full', { dropEvery: 10 });
  console.log('\nThe same month on v3 with webhooks (the emulator delivers each change at once: Smartcar\'s delivery latency is not modelled;');
  console.log('"1 in 10 lost": every tenth change never arrives, so it shows with the next delivery or the poll after a silence):');
  table(['policy', 'billed', 'reads', 'plug mean/p95', 'charge mean/p95', 'lock mean/p95', 'level mean/p95', '430s'],
    [hooked, lossy, c.v3, c.v3Fixed].map((r) => [r.label, String(r.billed), String(r.reads), pair(r.plugged), pair(r.charging), pair(r.lock), pair(r.level), String(r.refusedForBilling)]));
  const bounded = [hooked.plugged, hooked.charging, hooked.lock, hooked.level].every((x) => x.p95 <= 1);
  console.log(`webhooks: every value's staleness bounded by delivery, not by the budget (p95 ≤ 1 min): ${ok(bounded)}; billed ${hooked.billed} vs polling's ${c.v3.billed}: ${ok(hooked.billed < c.v3.billed)}`);
  console.log(`webhooks with losses: billed ${lossy.billed}; plug mean ${f0(lossy.plugged.mean)} vs polling's ${f0(c.v3.plugged.mean)} min, level mean ${f0(lossy.level.mean)} vs ${f0(c.v3.level.mean)} min`);

  // At Home with a home point: v2 reads /location with every full read (one request more each), v3 has
  // the position in the same signals read. The car now also leaves and comes home with its commutes.
  const homePoint = { homeLatitude: HOME.latitude, homeLongitude: HOME.longitude };
  const v2Home = await simulateMonth('v2 adaptive, At Home on', 'v2', homePoint, BUDGET);
  const v3Home = await simulateMonth('v3 adaptive, At Home on', 'v3', homePoint, BUDGET);
  const v3HomeHooked = await simulateMonth('v3 webhooks, At Home on', 'v3', homePoint, BUDGET, 7, 'full', { dropEvery: 0 });
  console.log('\nThe same month with a home point (At Home on; the car leaves 2 min after it is unplugged and arrives 5 min before it is');
  console.log('plugged in): what At Home costs, and how late an arrival shows. The other services cost nothing more on either API');
  console.log('(Closed Up and the 12 V battery come with the lock and level reads, the charging switch reads /charge, the range with the level):');
  table(['policy', 'billed', 'reads', 'arriving mean/p95', 'leaving mean/p95', 'plug mean/p95', 'lock mean/p95', 'level mean/p95', 'lock read every mean/max (h)', '430s'],
    [v2Home, c.v2, v3Home, c.v3, v3HomeHooked].map((r) => [
      r.label, String(r.billed), String(r.reads), r.arrivals ? pair(r.arrivals) : '—', r.departures ? pair(r.departures) : '—', pair(r.plugged), pair(r.lock), pair(r.level),
      `${h1(r.lockReads.mean)} / ${h1(r.lockReads.max)}`, String(r.refusedForBilling),
    ]));
  console.log(`At Home within the budget: ${ok([v2Home, v3Home, v3HomeHooked].every((r) => r.billed <= BUDGET && r.refusedForBilling === 0))}; `
    + `v3 reads the same with it as without (${v3Home.reads} vs ${c.v3.reads}): ${ok(Math.abs(v3Home.reads - c.v3.reads) <= 2)}; v2 pays it in fewer full reads (lock read every ${h1(v2Home.lockReads.mean)} h vs ${h1(c.v2.lockReads.mean)} h)`);

  // The life earlier runs measured: only the plug and charge change, so nothing else moves the car's
  // data time (sc-data-age / oemUpdatedAt), which the policy takes as the time of a change it learns from.
  const still = await compare(7, 'charge-only');
  console.log('\nThe same month with the lock and the level held still (the charge-only life of earlier runs; lock/level not measured):');
  table(['policy', 'billed', 'reads', 'plug mean/p95', 'charge mean/p95', '430s'],
    rowsOf(still).map((r) => [r.label, String(r.billed), String(r.reads), pair(r.plugged), pair(r.charging), String(r.refusedForBilling)]));
}

/**
 * The policy's constants were chosen on seeds 1–17 of the script; these held-out seeds of the same life
 * pattern (other jitter, other skipped charges, other lock and level draws) show how much of the gain
 * is the policy and how much is the months it was tuned on.
 */
async function robustness(): Promise<void> {
  const results: { seed: number; c: Comparison }[] = [];
  for (const seed of HELD_OUT_SEEDS) {
    results.push({ seed, c: await compare(seed, 'full') });
  }
  const cell = (a: number, b: number): string => `${f0(a)} / ${f0(b)} ${pct(a, b).padStart(5)}`;
  for (const api of ['v2', 'v3'] as const) {
    console.log(`\n${api}: the same comparison on ${HELD_OUT_SEEDS.length} held-out scripted months (seeds the policy was not tuned on): ours / fixed, minutes`);
    const pick = (c: Comparison): [MonthResult, MonthResult] => (api === 'v2' ? [c.v2, c.v2Fixed] : [c.v3, c.v3Fixed]);
    table(['seed', 'billed', 'plug mean', 'plug p95', 'chg mean', 'chg p95', 'lock mean', 'level mean'],
      results.map(({ seed, c }) => {
        const [o, x] = pick(c);
        return [String(seed), String(o.billed), cell(o.plugged.mean, x.plugged.mean), cell(o.plugged.p95, x.plugged.p95), cell(o.charging.mean, x.charging.mean),
          cell(o.charging.p95, x.charging.p95), cell(o.lock.mean, x.lock.mean), cell(o.level.mean, x.level.mean)];
      }));
    const ratios = results.map(({ c }) => {
      const [o, x] = pick(c);
      return { plug: o.plugged.mean / x.plugged.mean, chg: o.charging.mean / x.charging.mean, plugP95: o.plugged.p95 / x.plugged.p95, chgP95: o.charging.p95 / x.charging.p95 };
    });
    const range = (xs: number[]): string => `${Math.round(100 * Math.min(...xs))}–${Math.round(100 * Math.max(...xs))} %`;
    const met = ratios.filter((r) => r.plug <= 0.5 && r.chg <= 0.5).length;
    console.log(`${api}: mean staleness, ours as a share of fixed: plugged-in ${range(ratios.map((r) => r.plug))}, charging ${range(ratios.map((r) => r.chg))}; `
      + `p95 plugged-in ${range(ratios.map((r) => r.plugP95))}, charging ${range(ratios.map((r) => r.chgP95))}; both means ≤ half in ${met} of ${HELD_OUT_SEEDS.length} months`);
  }
  console.log('\nv3 adaptive vs v2 fixed on the held-out months: lock and level staleness mean/p95 (minutes), longest gap between v3 lock reads');
  table(['seed', 'v3 lock', 'v2 fixed lock', 'v3 level', 'v2 fixed level', 'v3 max gap (h)', 'v2 fixed every (h)', 'no staler'],
    results.map(({ seed, c }) => [String(seed), pair(c.v3.lock), pair(c.v2Fixed.lock), pair(c.v3.level), pair(c.v2Fixed.level), h1(c.v3.lockReads.max), h1(c.v2FixedMinutes), ok(v3NoStalerThanV2Fixed(c))]));
  const met = results.filter(({ c }) => v3NoStalerThanV2Fixed(c)).length;
  console.log(`v3 adaptive lock and level no staler than v2 fixed: ${met} of ${results.length} months`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, 'memory-runs': { type: 'string' } } });
  const only = values.only;
  if (only !== undefined && only !== 'month' && only !== 'hap' && only !== 'memory') {
    throw new Error(`--only must be month, hap or memory, got ${only}`);
  }
  const started = Date.now();
  if (only === undefined || only === 'month') {
    await month();
    await robustness();
  }
  if (only !== 'month') {
    const figures = await measureHap({ latency: only !== 'memory', memoryRuns: Number(values['memory-runs'] ?? 1) });
    printHap(figures);
    const v3 = figures.find((f) => f.api === 'v3');
    if (v3) {
      const costs = (baseline: 'unconfigured' | 'paired'): string => v3.memory.map((m) => pluginRssMib(m, baseline).toFixed(1)).join(', ');
      console.log(`v3 plugin cost with 10 cars (RSS after a full GC, over the unconfigured Homebridge) < ${PLUGIN_RSS_TARGET_MIB} MiB: `
        + `${ok(v3.memory.every((m) => pluginRssMib(m) < PLUGIN_RSS_TARGET_MIB))} (${costs('unconfigured')} MiB; over it with a paired controller ${costs('paired')} MiB)`);
    }
  }
  console.log(`bench took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
