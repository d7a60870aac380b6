// `npm run bench`: prints the figures of issue 7 (not a test; no pass/fail exit code beyond crashes).
// Month simulation: our adaptive policy vs a fixed interval spending the same budget, both through the
// real platform against the emulator's billing on a virtual clock. Then the HAP figures (bench/hap.ts):
// read latency, lock write answer time and memory, on a real Homebridge with a paired controller.
import { measureHap, printHap } from './hap.js';
import { simulateMonth, type MonthResult } from './month.js';

const BUDGET = 500;
const MONTH_MIN = 31 * 24 * 60;

function row(r: MonthResult): string {
  const f = (n: number): string => n.toFixed(0).padStart(6);
  return `${r.label.padEnd(28)} ${String(r.billed).padStart(6)} ${String(r.reads).padStart(6)} ${f(r.plugged.mean)} ${f(r.plugged.p95)} ${f(r.charging.mean)} ${f(r.charging.p95)}   ${r.refusedForBilling}`;
}

/**
 * The policy's constants were chosen on seeds 1–17 of the script; these held-out seeds of the same life
 * pattern (other jitter, other skipped charges) show how much of the gain is the policy and how much
 * is the months it was tuned on.
 */
async function robustness(): Promise<void> {
  const seeds = [19, 23, 29, 31, 37, 41, 43, 47];
  console.log(`\nSame comparison on ${seeds.length} held-out scripted months (seeds the policy was not tuned on): ours / fixed, minutes`);
  console.log('seed  billed   plug mean        plug p95         chg mean         chg p95');
  const ratios: { plug: number; chg: number }[] = [];
  for (const seed of seeds) {
    const ours = await simulateMonth('ours', {}, BUDGET, seed);
    const fixedMinutes = Math.max(30, Math.round(MONTH_MIN / Math.max(1, ours.fullReadEquivalents)));
    const fixed = await simulateMonth('fixed', { refreshIntervalMinutes: fixedMinutes }, BUDGET, seed);
    const pair = (a: number, b: number): string => `${a.toFixed(0).padStart(4)} / ${b.toFixed(0).padEnd(4)} ${`${Math.round((100 * a) / b)} %`.padStart(5)}`;
    console.log(`${String(seed).padStart(4)}  ${String(ours.billed).padStart(6)}  ${pair(ours.plugged.mean, fixed.plugged.mean)}  ${pair(ours.plugged.p95, fixed.plugged.p95)}  ${pair(ours.charging.mean, fixed.charging.mean)}  ${pair(ours.charging.p95, fixed.charging.p95)}`);
    ratios.push({ plug: ours.plugged.mean / fixed.plugged.mean, chg: ours.charging.mean / fixed.charging.mean });
  }
  const range = (xs: number[]): string => `${Math.round(100 * Math.min(...xs))}–${Math.round(100 * Math.max(...xs))} %`;
  const met = ratios.filter((r) => r.plug <= 0.5 && r.chg <= 0.5).length;
  console.log(`mean staleness, ours as a share of fixed: plugged-in ${range(ratios.map((r) => r.plug))}, charging ${range(ratios.map((r) => r.chg))}; both ≤ half in ${met} of ${seeds.length} months`);
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`Simulated month (March 2026, after a February warm-up), budget ${BUDGET} requests/vehicle/month, BEV: a full read is 3 paths, a charge-only read 1 (2 while charging)`);
  const ours = await simulateMonth('adaptive policy (ours)', {}, BUDGET);
  // Same spend: the fixed interval whose full reads cost as many requests as our policy spent.
  const fixedMinutes = Math.max(30, Math.round(MONTH_MIN / Math.max(1, ours.fullReadEquivalents)));
  const fixed = await simulateMonth(`fixed every ${fixedMinutes} min`, { refreshIntervalMinutes: fixedMinutes }, BUDGET);
  console.log('policy                       billed  reads  plug-mean plug-p95 chg-mean chg-p95 (min)  430s');
  console.log(row(ours));
  console.log(row(fixed));
  const ok = (b: boolean): string => (b ? 'MET' : 'NOT MET');
  console.log(`budget never exceeded: ${ok(ours.billed <= BUDGET && fixed.billed <= BUDGET && ours.refusedForBilling === 0)} (${ours.billed} and ${fixed.billed} of ${BUDGET})`);
  console.log(`plugged-in staleness ≤ half of fixed: ${ok(ours.plugged.mean <= fixed.plugged.mean / 2)} (mean ${ours.plugged.mean.toFixed(0)} vs ${fixed.plugged.mean.toFixed(0)} min, p95 ${ours.plugged.p95.toFixed(0)} vs ${fixed.plugged.p95.toFixed(0)})`);
  console.log(`charging staleness ≤ half of fixed:   ${ok(ours.charging.mean <= fixed.charging.mean / 2)} (mean ${ours.charging.mean.toFixed(0)} vs ${fixed.charging.mean.toFixed(0)} min, p95 ${ours.charging.p95.toFixed(0)} vs ${fixed.charging.p95.toFixed(0)})`);
  console.log(`transitions measured: plug ${ours.plugged.n}, charging ${ours.charging.n}`);
  await robustness();
  printHap(await measureHap());
  console.log(`bench took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
