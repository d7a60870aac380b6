// HAP figures of issue 7, measured on a real Homebridge process with a paired HomeKit controller and the
// emulator as Smartcar (same recipe as test/e2e/homebridge.test.ts), once per Smartcar API (v3, the
// default, then v2):
//  - read latency of our BatteryLevel vs a constant-value accessory on the same bridge;
//  - how long a lock write takes to be answered while the car's command takes 3 s, and when the
//    LockCurrentState event follows;
//  - Homebridge RSS and V8 heap with 10 connected vehicles vs the same Homebridge without the platform
//    configured (the plugin is still loaded there; only its platform is not started), without and
//    with a paired controller.
// Our plugin is built from the current source into a temporary plugin folder (the project's dist/ is
// left alone), next to a tiny constant-value plugin written there too, and Homebridge loads the folder.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

import { defaultFleet, SmartcarEmulator } from '../test/emulator/index.js';
import { freePort } from '../test/browser/support.js';
import { carsOf, characteristicId, findCharacteristic, HAP, HapController, type HapAccessory } from '../test/helpers/hap-controller.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, PROJECT_DIR, randomUsername, type HomebridgeLeg } from '../test/helpers/homebridge-process.js';
import { connectThroughSetupPage, refreshNow } from '../test/helpers/setup-page.js';
import { until } from '../test/helpers/wait.js';
import { REFRESH_NOW_DEBOUNCE_SECONDS, REFRESH_SPREAD_SECONDS } from '../src/settings.js';

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-secret';
/** v3: the API Credentials tab's client id and secret; the Application ID is CLIENT_ID. */
const V3_CLIENT_ID = 'client_bench';
const V3_CLIENT_SECRET = 'bench-v3-secret';
const READS = 300;
const LOCK_SAMPLES = 6;
const COMMAND_LATENCY_MS = 3_000;
const FLEET_SIZE = 10;

export type Api = 'v3' | 'v2';

export interface LatencyFigures {
  ours: { median: number; p95: number };
  constant: { median: number; p95: number };
  readRatio: { median: number; p95: number };
  smartcarRequestsDuringReads: number;
  lockWriteMs: number[];
  lockEventMs: number[];
}

/** kB right after a full GC inside Homebridge: V8 heap used and committed (heapTotal), and RSS. */
export interface AfterGc { heapKb: number; heapTotalKb: number; rssKb: number }

export interface MemoryFigures {
  rssWithFleetKb: number;
  rssUnconfiguredKb: number;
  gcWithFleet: AfterGc;
  /** The Homebridge without the platform and without a controller: the baseline the figure is over. */
  gcUnconfigured: AfterGc;
  /**
   * The same unconfigured Homebridge with a controller paired and its accessories listed, as the fleet's
   * Homebridge has: HAP's own sessions are then not counted as the plugin's.
   */
  gcUnconfiguredPaired: AfterGc;
  vehiclesConnected: number;
}

/** One API's figures: latency and lock (unless skipped) and one memory measurement per run. */
export interface HapFigures {
  leg: string;
  api: Api;
  latency?: LatencyFigures;
  memory: MemoryFigures[];
}

/** The plugin's RSS cost after a full GC with the fleet, over the unconfigured Homebridge: the memory figure. */
export const PLUGIN_RSS_TARGET_MIB = 15;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) {
    return NaN;
  }
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}
export const median = (values: number[]): number => quantile(values, 0.5);


function byModel(accessories: HapAccessory[], model: string): HapAccessory {
  const found = accessories.find((a) => {
    const m = findCharacteristic(a, HAP.AccessoryInformation, HAP.Model)?.value;
    return typeof m === 'string' && m.includes(model);
  });
  if (!found) {
    throw new Error(`bench: no accessory for ${model} (have ${accessories.map((a) => a.name).join(', ')})`);
  }
  return found;
}

const CONSTANT_PACKAGE = {
  name: 'homebridge-bench-constant',
  version: '1.0.0',
  description: 'Bench fixture: one accessory whose BatteryLevel is a constant.',
  private: true,
  type: 'commonjs',
  main: 'index.js',
  keywords: ['homebridge-plugin'],
  engines: { homebridge: '^1.8.0 || ^2.0.0', node: '>=20' },
};

// A dynamic platform with one accessory whose Battery/BatteryLevel onGet returns 50: the floor a HAP
// read costs on this bridge (Homebridge + HAP-NodeJS + the controller's session, no plugin logic).
const CONSTANT_INDEX = `'use strict';
const PLUGIN = 'homebridge-bench-constant';
const PLATFORM = 'BenchConstant';
class BenchConstantPlatform {
  constructor(log, _config, api) {
    this.log = log; this.api = api; this.cached = [];
    api.on('didFinishLaunching', () => this.publish());
  }
  configureAccessory(accessory) { this.cached.push(accessory); }
  publish() {
    const { Service, Characteristic, uuid } = this.api.hap;
    const id = uuid.generate('homebridge-bench-constant:battery');
    let accessory = this.cached.find((a) => a.UUID === id);
    const isNew = accessory === undefined;
    if (isNew) { accessory = new this.api.platformAccessory('Constant Battery', id); }
    accessory.getService(Service.AccessoryInformation).setCharacteristic(Characteristic.Model, 'Bench Constant');
    const battery = accessory.getService(Service.Battery) || accessory.addService(Service.Battery, 'Constant Battery');
    battery.getCharacteristic(Characteristic.BatteryLevel).onGet(() => 50);
    if (isNew) { this.api.registerPlatformAccessories(PLUGIN, PLATFORM, [accessory]); }
    this.log.info('constant accessory ready');
  }
}
module.exports = (api) => { api.registerPlatform(PLUGIN, PLATFORM, BenchConstantPlatform); };
`;

// Homebridge 1.11 keeps only the last -P it is given, and a -P folder loads every homebridge-* plugin in
// it. This launcher appends -P <our folder> to the arguments HomebridgeProcess passes, so the helper
// runs unchanged with both plugins.
// RSS alone moved by ~10 MiB between runs (it follows GC timing). On SIGUSR2 the launcher runs a full
// GC (node started with --expose-gc) and writes process.memoryUsage() next to the storage, so the bench
// compares live heap and RSS after collection, not whatever garbage happened to be around.
const LAUNCHER = `'use strict';
process.argv.push('-P', process.env.HBSC_BENCH_PLUGIN_DIR);
process.on('SIGUSR2', () => {
  for (let i = 0; i < 3; i++) global.gc();
  require('node:fs').writeFileSync(process.env.HBSC_BENCH_MEMORY_FILE + '.' + process.pid, JSON.stringify(process.memoryUsage()));
});
require(process.env.HBSC_BENCH_HOMEBRIDGE_BIN);
`;

interface PluginFolder { dir: string; leg: HomebridgeLeg; env: Record<string, string> }

/** Builds our plugin from src into <tmp>/plugins/homebridge-smartcar and writes the constant plugin. */
async function preparePlugins(base: HomebridgeLeg): Promise<PluginFolder> {
  const root = await mkdtemp(join(tmpdir(), 'hbsc-bench-'));
  const plugins = join(root, 'plugins');
  const ours = join(plugins, 'homebridge-smartcar');
  const constant = join(plugins, 'homebridge-bench-constant');
  await mkdir(ours, { recursive: true });
  await mkdir(constant, { recursive: true });
  await promisify(execFile)(process.execPath, [join(PROJECT_DIR, 'node_modules/typescript/bin/tsc'), '-p', join(PROJECT_DIR, 'tsconfig.json'), '--outDir', join(ours, 'dist')]);
  await writeFile(join(ours, 'package.json'), await readFile(join(PROJECT_DIR, 'package.json')));
  await writeFile(join(ours, 'config.schema.json'), await readFile(join(PROJECT_DIR, 'config.schema.json')));
  await symlink(join(PROJECT_DIR, 'node_modules'), join(ours, 'node_modules'), 'dir');
  await writeFile(join(constant, 'package.json'), JSON.stringify(CONSTANT_PACKAGE, null, 2));
  await writeFile(join(constant, 'index.js'), CONSTANT_INDEX);
  const launcher = join(root, 'homebridge-launcher.cjs');
  await writeFile(launcher, LAUNCHER);
  return {
    dir: root,
    leg: { name: base.name, node: base.node, bin: launcher },
    env: {
      HBSC_BENCH_PLUGIN_DIR: plugins, HBSC_BENCH_HOMEBRIDGE_BIN: base.bin, HBSC_BENCH_MEMORY_FILE: join(root, 'memory'),
      NODE_OPTIONS: [process.env.NODE_OPTIONS, '--expose-gc'].filter(Boolean).join(' '),
    },
  };
}

async function rssKb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) {
    throw new Error('bench: no VmRSS in /proc status');
  }
  return Number(m[1]);
}

/** Median of a few RSS samples a second apart. */
async function sampleRss(pid: number | undefined, samples = 5): Promise<number> {
  const kb: number[] = [];
  for (let i = 0; i < samples; i++) {
    kb.push(await rssKb(pid));
    await sleep(1_000);
  }
  return median(kb);
}

/** Heap used and RSS right after a full GC inside Homebridge (see LAUNCHER), in kB. */
async function afterGc(plugins: PluginFolder, pid: number | undefined): Promise<AfterGc> {
  if (pid === undefined) {
    throw new Error('bench: Homebridge has no pid');
  }
  const file = `${plugins.env.HBSC_BENCH_MEMORY_FILE}.${pid}`;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      await rm(file);
      const m = JSON.parse(text) as { heapUsed: number; heapTotal: number; rss: number };
      return { heapKb: m.heapUsed / 1024, heapTotalKb: m.heapTotal / 1024, rssKb: m.rss / 1024 };
    }
  }
  throw new Error('bench: Homebridge did not report its memory after SIGUSR2');
}

interface Rig { emu: SmartcarEmulator; hb: HomebridgeProcess; setupUrl: string; username: string }

/** `api` undefined: the platform is not configured (Homebridge still loads the plugin). */
async function startRig(plugins: PluginFolder, constantPlatform: boolean, emuOptions: Partial<Parameters<typeof SmartcarEmulator.start>[0]>, api: Api | undefined): Promise<Rig> {
  const setupPort = await freePort();
  const emu = await SmartcarEmulator.start({
    clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`http://localhost:${setupPort}/callback`],
    v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }, ...emuOptions,
  });
  const username = randomUsername();
  const credentials = api === 'v3'
    ? { applicationId: CLIENT_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }
    : { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
  const storage = await makeStorage(api !== undefined ? {
    platform: 'Smartcar', name: 'Smartcar', ...credentials, mode: 'simulated', setupPort, setupBind: '127.0.0.1',
  } : undefined, username);
  if (constantPlatform) {
    const path = join(storage, 'config.json');
    const config = JSON.parse(await readFile(path, 'utf8'));
    config.platforms.push({ platform: 'BenchConstant', name: 'Bench Constant' });
    await writeFile(path, JSON.stringify(config, null, 2));
  }
  // Both APIs' hosts, as test/helpers/plugin-world.ts emulatorEnv() sets them.
  const hb = await HomebridgeProcess.start(plugins.leg, storage, {
    ...plugins.env, SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin, SMARTCAR_CONNECT_ORIGIN: emu.origins.connect,
    SMARTCAR_IAM_ORIGIN: emu.origins.iam, SMARTCAR_API_V3_ORIGIN: emu.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
  });
  if (api !== undefined) {
    await hb.waitForLog(/Setup page: /);
  }
  return { emu, hb, setupUrl: `http://127.0.0.1:${setupPort}`, username };
}

async function stopRig(rig: Rig, hap?: HapController): Promise<void> {
  await hap?.close().catch(() => undefined);
  await rig.hb.stop('SIGKILL');
  await rig.emu.close();
  await rm(rig.hb.storage, { recursive: true, force: true });
}

/** Read latency (ours vs constant, interleaved) and lock timings on one bridge. */
async function latencyAndLock(plugins: PluginFolder, api: Api): Promise<LatencyFigures> {
  const rig = await startRig(plugins, true, { autoApprove: { email: 'owner@example.com' }, commandLatencyMs: COMMAND_LATENCY_MS }, api);
  let hap: HapController | undefined;
  try {
    const fleet = defaultFleet(rig.emu);
    await rig.hb.waitForLog(/constant accessory ready/);
    hap = await HapController.pair(rig.username, rig.hb.port);
    const controller = hap;
    await connectThroughSetupPage(rig.setupUrl);
    const accessories = await until('3 cars + constant accessory', async () => {
      const list = await controller.accessories();
      return carsOf(list).length === 4 ? list : undefined;
    });
    const bev = byModel(accessories, 'Model 3');
    const constant = byModel(accessories, 'Bench Constant');
    const oursId = characteristicId(bev, HAP.Battery, HAP.BatteryLevel);
    const constantId = characteristicId(constant, HAP.Battery, HAP.BatteryLevel);
    await until('the Model 3\'s battery level', async () => ((await controller.read([oursId]))[oursId] === 76 ? true : undefined));
    // Let the first refresh of all three cars finish so reads do not race it.
    await sleep(2_000);

    const timeRead = async (id: string): Promise<number> => {
      const t0 = performance.now();
      await controller.read([id]);
      return performance.now() - t0;
    };
    for (let i = 0; i < 20; i++) {
      await timeRead(oursId);
      await timeRead(constantId);
    }
    const oursMs: number[] = [];
    const constantMs: number[] = [];
    const requestsBefore = rig.emu.requests.length;
    for (let i = 0; i < READS; i++) {
      // Alternate which goes first so neither always follows the other.
      if (i % 2 === 0) {
        oursMs.push(await timeRead(oursId));
        constantMs.push(await timeRead(constantId));
      } else {
        constantMs.push(await timeRead(constantId));
        oursMs.push(await timeRead(oursId));
      }
    }
    const smartcarRequestsDuringReads = rig.emu.requests.length - requestsBefore;
    const ours = { median: median(oursMs), p95: quantile(oursMs, 0.95) };
    const constantStats = { median: median(constantMs), p95: quantile(constantMs, 0.95) };

    // Lock: subscribe once (hap-controller 0.10 spins on a second subscribe), then alternate lock/unlock.
    const current = characteristicId(bev, HAP.LockMechanism, HAP.LockCurrentState);
    const target = characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState);
    await controller.subscribe([current, target]);
    const lockWriteMs: number[] = [];
    const lockEventMs: number[] = [];
    let locked = rig.emu.vehicle(fleet.bev.id).locked;
    for (let i = 0; i < LOCK_SAMPLES; i++) {
      const want = locked ? 0 : 1;
      controller.clearEvents();
      const t0 = performance.now();
      await controller.write({ [target]: want });
      lockWriteMs.push(performance.now() - t0);
      await controller.waitForEvent(current, (v) => v === want, 20_000);
      lockEventMs.push(performance.now() - t0);
      locked = !locked;
      if (rig.emu.vehicle(fleet.bev.id).locked !== locked) {
        throw new Error('bench: the emulator\'s car did not follow the lock write');
      }
      await sleep(500);
    }
    return {
      ours, constant: constantStats,
      readRatio: { median: ours.median / constantStats.median, p95: ours.p95 / constantStats.p95 },
      smartcarRequestsDuringReads, lockWriteMs, lockEventMs,
    };
  } finally {
    await stopRig(rig, hap);
  }
}

/** RSS of Homebridge with FLEET_SIZE vehicles connected, after a settle and refreshes, vs unconfigured. */
/** A car's data read that reached it: v2's batch of paths, v3's signals read (not attributes or listings). */
const isDataRead = (api: Api, r: { path: string; status: number }): boolean => r.status === 200 && (api === 'v3' ? r.path.endsWith('/signals') : r.path.endsWith('/batch'));

async function memory(plugins: PluginFolder, api: Api): Promise<MemoryFigures> {
  const email = 'ten@example.com';
  const rig = await startRig(plugins, false, { autoApprove: { email } }, api);
  let hap: HapController | undefined;
  let rssWithFleetKb: number;
  let gcWithFleet: MemoryFigures['gcWithFleet'];
  let vehiclesConnected: number;
  try {
    const user = rig.emu.addUser({ email, password: 'password' });
    const ids: string[] = [];
    for (let i = 0; i < FLEET_SIZE; i++) {
      ids.push(rig.emu.addVehicle(user.id, {
        powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, vin: `5YJ3E1EA7NF1000${String(i).padStart(2, '0')}`,
        locked: i % 2 === 0, battery: { percentRemaining: 0.5 + i / 100, rangeKm: 300, capacityKwh: 75 },
        charge: { isPluggedIn: i % 3 === 0, state: i % 3 === 0 ? 'CHARGING' : 'NOT_CHARGING', limit: 0.9 },
      }).id);
    }
    hap = await HapController.pair(rig.username, rig.hb.port);
    const controller = hap;
    await connectThroughSetupPage(rig.setupUrl);
    const accessories = await until(`${FLEET_SIZE} cars`, async () => {
      const list = await controller.accessories();
      return carsOf(list).length === FLEET_SIZE ? list : undefined;
    });
    vehiclesConnected = carsOf(accessories).length;
    const everyCarRead = (): boolean => ids.every((id) => rig.emu.requests.some((r) => r.vehicleId === id && isDataRead(api, r)));
    // The scheduler spreads the cars' reads REFRESH_SPREAD_SECONDS apart.
    const allReadMs = (FLEET_SIZE * REFRESH_SPREAD_SECONDS + 30) * 1_000;
    await until('a first read of every car', () => (everyCarRead() ? true : undefined), allReadMs);
    // A few refreshes: the first one after Connect, then "Refresh now" twice, each after its debounce.
    for (let round = 0; round < 2; round++) {
      await sleep(REFRESH_NOW_DEBOUNCE_SECONDS * 1_000 + 1_500);
      const before = rig.emu.requests.length;
      await refreshNow(rig.setupUrl);
      await until('the refresh reaching Smartcar', () => (rig.emu.requests.slice(before).filter((r) => isDataRead(api, r)).length >= FLEET_SIZE ? true : undefined), allReadMs);
      // HAP reads of every battery level, as a Home app opening would.
      await controller.read(accessories.filter((a) => findCharacteristic(a, HAP.Battery, HAP.BatteryLevel)).map((a) => characteristicId(a, HAP.Battery, HAP.BatteryLevel)));
    }
    await sleep(5_000);
    rssWithFleetKb = await sampleRss(rig.hb.pid);
    gcWithFleet = await afterGc(plugins, rig.hb.pid);
  } finally {
    await stopRig(rig, hap);
  }

  const unconfigured = await bare(plugins, false);
  const paired = await bare(plugins, true);
  return {
    rssWithFleetKb, rssUnconfiguredKb: unconfigured.rssKb, gcWithFleet, gcUnconfigured: unconfigured.gc, gcUnconfiguredPaired: paired.gc, vehiclesConnected,
  };
}

/** Homebridge with the plugin loaded but its platform not configured; `pair`: with a controller paired as above. */
async function bare(plugins: PluginFolder, pair: boolean): Promise<{ rssKb: number; gc: AfterGc }> {
  const rig = await startRig(plugins, false, {}, undefined);
  let hap: HapController | undefined;
  try {
    if (pair) {
      hap = await HapController.pair(rig.username, rig.hb.port);
      await hap.accessories();
    }
    // The same settle as above, measured from start: the unconfigured Homebridge has nothing to refresh.
    await sleep(10_000);
    const rssKb = await sampleRss(rig.hb.pid);
    return { rssKb, gc: await afterGc(plugins, rig.hb.pid) };
  } finally {
    await stopRig(rig, hap);
  }
}

export interface HapOptions {
  apis?: readonly Api[];
  /** Measure read latency and the lock (false: memory only). */
  latency?: boolean;
  /** Memory measurements per API (RSS is noisy on a shared machine). */
  memoryRuns?: number;
}

/** v3 (the default) and v2 on the first Homebridge leg; each memory run measures every API in turn. */
export async function measureHap(options: HapOptions = {}): Promise<HapFigures[]> {
  const apis = options.apis ?? ['v3', 'v2'];
  const leg = homebridgeLegs().legs[0]!;
  const plugins = await preparePlugins(leg);
  try {
    const figures: HapFigures[] = apis.map((api) => ({ leg: leg.name, api, memory: [] }));
    if (options.latency ?? true) {
      for (const f of figures) {
        f.latency = await latencyAndLock(plugins, f.api);
      }
    }
    for (let run = 0; run < (options.memoryRuns ?? 1); run++) {
      for (const f of figures) {
        f.memory.push(await memory(plugins, f.api));
      }
    }
    return figures;
  } finally {
    await rm(plugins.dir, { recursive: true, force: true });
  }
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);

/** The plugin's RSS cost after a full GC, in MiB: over the unconfigured Homebridge (the figure), or over it with a controller paired. */
export const pluginRssMib = (m: MemoryFigures, baseline: 'unconfigured' | 'paired' = 'unconfigured'): number =>
  (m.gcWithFleet.rssKb - (baseline === 'paired' ? m.gcUnconfiguredPaired : m.gcUnconfigured).rssKb) / 1024;

export function printHap(figures: readonly HapFigures[]): void {
  const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
  const mark = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const apis = figures.map((f) => f.api);
  type Row = [string, string[], string, string];
  const rows: Row[] = [];
  const withLatency = figures.filter((f) => f.latency);
  if (withLatency.length === figures.length) {
    const lat = (f: HapFigures): LatencyFigures => f.latency!;
    const results = (ok: (l: LatencyFigures) => boolean): string => figures.map((f) => mark(ok(lat(f)))).join(' / ');
    rows.push(
      ['HAP read, BatteryLevel: ours / constant (median)', figures.map((f) => `${lat(f).readRatio.median.toFixed(2)} (${ms(lat(f).ours.median)} / ${ms(lat(f).constant.median)})`), '≤ 1.1', results((l) => l.readRatio.median <= 1.1)],
      ['HAP read, BatteryLevel: ours / constant (p95)', figures.map((f) => `${lat(f).readRatio.p95.toFixed(2)} (${ms(lat(f).ours.p95)} / ${ms(lat(f).constant.p95)})`), '≤ 1.1', results((l) => l.readRatio.p95 <= 1.1)],
      [`Lock write answered over HAP, ${COMMAND_LATENCY_MS / 1000} s command (median of ${LOCK_SAMPLES})`, figures.map((f) => ms(median(lat(f).lockWriteMs))), '≤ 100 ms', results((l) => median(l.lockWriteMs) <= 100)],
      ['LockCurrentState event after the write (median)', figures.map((f) => ms(median(lat(f).lockEventMs))), '(command + confirm)', '-'],
      [`Smartcar requests caused by the ${READS * 2} HAP reads`, figures.map((f) => String(lat(f).smartcarRequestsDuringReads)), '0', results((l) => l.smartcarRequestsDuringReads === 0)],
    );
  }
  // Several memory runs: each cell lists them in order.
  const each = (fn: (m: MemoryFigures) => string): string[] => figures.map((f) => f.memory.map(fn).join(', '));
  const n = figures[0]?.memory[0]?.vehiclesConnected ?? FLEET_SIZE;
  rows.push(
    [`Homebridge RSS, ${n} vehicles connected`, each((m) => `${mib(m.rssWithFleetKb)} MiB`), '-', '-'],
    ['Homebridge RSS, platform not configured', each((m) => `${mib(m.rssUnconfiguredKb)} MiB`), '-', '-'],
    [`RSS cost of the plugin with ${n} vehicles`, each((m) => `${mib(m.rssWithFleetKb - m.rssUnconfiguredKb)} MiB`), '-', '-'],
    [`After a full GC: V8 heap used, ${n} vehicles / not configured`, each((m) => `${mib(m.gcWithFleet.heapKb)} / ${mib(m.gcUnconfigured.heapKb)} MiB`), '-', '-'],
    [`After a full GC: V8 heap committed, ${n} vehicles / not configured`, each((m) => `${mib(m.gcWithFleet.heapTotalKb)} / ${mib(m.gcUnconfigured.heapTotalKb)} MiB`), '-', '-'],
    [`After a full GC: RSS, ${n} vehicles / not configured`, each((m) => `${mib(m.gcWithFleet.rssKb)} / ${mib(m.gcUnconfigured.rssKb)} MiB`), '-', '-'],
    ['After a full GC: RSS, not configured with a paired controller', each((m) => `${mib(m.gcUnconfiguredPaired.rssKb)} MiB`), '-', '-'],
    [`Heap cost of the plugin with ${n} vehicles (after GC)`, each((m) => `${mib(m.gcWithFleet.heapKb - m.gcUnconfigured.heapKb)} MiB`), '-', '-'],
    [`RSS cost of the plugin with ${n} vehicles (after GC)`, each((m) => `${pluginRssMib(m).toFixed(1)} MiB`), `< ${PLUGIN_RSS_TARGET_MIB} MiB (v3)`,
      figures.map((f) => f.memory.map((m) => mark(pluginRssMib(m) < PLUGIN_RSS_TARGET_MIB)).join(', ')).join(' / ')],
    ['  the same over the unconfigured Homebridge with a paired controller', each((m) => `${pluginRssMib(m, 'paired').toFixed(1)} MiB`), '-', '-'],
  );
  const leg = figures[0]?.leg ?? '?';
  const what = withLatency.length > 0 ? `${READS} interleaved reads each, ` : '';
  console.log(`\nHAP and memory on ${leg}, Smartcar API ${apis.join(' and ')} side by side (real Homebridge, paired controller, emulator as Smartcar; ${what}${figures[0]?.memory.length ?? 0} memory run(s) per API)`);
  const w = Math.max(...rows.map((r) => r[0].length));
  const widths = apis.map((api, i) => Math.max(api.length, ...rows.map((r) => r[1][i]!.length)));
  const t = Math.max(6, ...rows.map((r) => r[2].length));
  console.log(`${'figure'.padEnd(w)}  ${apis.map((api, i) => api.padEnd(widths[i]!)).join('  ')}  ${'target'.padEnd(t)}  result (${apis.join(' / ')})`);
  for (const [name, values, target, result] of rows) {
    console.log(`${name.padEnd(w)}  ${values.map((v, i) => v.padEnd(widths[i]!)).join('  ')}  ${target.padEnd(t)}  ${result}`);
  }
  for (const f of withLatency) {
    const l = f.latency!;
    console.log(`${f.api} lock write samples (ms): ${l.lockWriteMs.map((x) => x.toFixed(1)).join(', ')}; event samples (ms): ${l.lockEventMs.map((x) => x.toFixed(0)).join(', ')}`);
  }
}
