// A fake Homebridge API around the real HAP library (hap-nodejs from the installed homebridge 1.11, or
// with HBSC_HAP=2 Homebridge 2.4's) and Homebridge's real PlatformAccessory class: the plugin builds real
// services and characteristics, tests read and write them like a controller would (handleGetRequest /
// handleSetRequest).
// Reference: shared/reference/homebridge.md §6.4.
import { EventEmitter } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { API, Characteristic, PlatformAccessory, PlatformConfig, Service, WithUUID } from 'homebridge';

import plugin from '../../src/index.js';
import type { SmartcarPlatform } from '../../src/platform.js';
import { homebridge2 } from './homebridge2.js';
import { captureLog, type CapturedLog } from './log.js';
import { recordTokenFiles } from './suite-capture.js';

type PlatformAccessoryStatic = API['platformAccessory'] & {
  serialize(a: PlatformAccessory): unknown;
  deserialize(json: unknown): PlatformAccessory;
};

/** HBSC_HAP=2 runs the same tests on Homebridge 2.4's HAP (@homebridge/hap-nodejs 2.x) and PlatformAccessory. */
export const HAP_GENERATION = process.env.HBSC_HAP === '2' ? 2 : 1;
// Homebridge 2.x is not in node_modules (it wants Node 22): its copy lives where scripts/test-copy.sh
// installed it, and HAP 2.x is resolved from there too, the very module its PlatformAccessory uses.
const require = HAP_GENERATION === 2 ? createRequire(join(homebridge2Dir(), 'package.json')) : createRequire(import.meta.url);
const HAP_PACKAGE = HAP_GENERATION === 2 ? '@homebridge/hap-nodejs' : 'hap-nodejs';

function homebridge2Dir(): string {
  const { copy, missing } = homebridge2();
  if (!copy) {
    throw new Error(`HBSC_HAP=2 needs Homebridge 2.x: ${missing}`);
  }
  return copy.dir;
}

/** A module of the HAP library under test, e.g. 'dist/lib/model/IdentifierCache'. */
export function requireHap(subpath: string): unknown {
  return require(`${HAP_PACKAGE}/${subpath}`);
}

async function loadHomebridge(): Promise<{ hap: API['hap']; PlatformAccessoryClass: PlatformAccessoryStatic }> {
  if (HAP_GENERATION === 2) {
    // Homebridge 2.x exports PlatformAccessory as a type only; load the runtime class by path.
    const dir = dirname(require.resolve('homebridge'));
    const mod = await import(pathToFileURL(join(dir, 'platformAccessory.js')).href) as { PlatformAccessory: PlatformAccessoryStatic };
    const hap = await import(pathToFileURL(require.resolve(HAP_PACKAGE)).href) as unknown as API['hap'];
    return { hap, PlatformAccessoryClass: mod.PlatformAccessory };
  }
  const { PlatformAccessory } = require('homebridge/lib/platformAccessory') as { PlatformAccessory: PlatformAccessoryStatic };
  return { hap: require(HAP_PACKAGE) as API['hap'], PlatformAccessoryClass: PlatformAccessory };
}
const loaded = await loadHomebridge();
export const hap = loaded.hap;
const PlatformAccessoryClass = loaded.PlatformAccessoryClass;

export class FakeHomebridge extends EventEmitter {
  readonly hap = hap;
  readonly platformAccessory = PlatformAccessoryClass;
  readonly version = 2.7;
  readonly serverVersion = '1.11.4';
  readonly accessories = new Map<string, PlatformAccessory>();
  updates = 0;
  platformClass: (new (log: unknown, config: PlatformConfig, api: API) => SmartcarPlatform) | undefined;

  constructor(readonly storage: string) {
    super();
  }

  readonly user = {
    storagePath: (): string => this.storage,
    persistPath: (): string => join(this.storage, 'persist'),
    cachedAccessoryPath: (): string => join(this.storage, 'accessories'),
    configPath: (): string => join(this.storage, 'config.json'),
  };

  registerPlatform(_name: string, ctor: unknown): void {
    this.platformClass = ctor as typeof this.platformClass;
  }

  registerPlatformAccessories(plugin: string, platform: string, list: PlatformAccessory[]): void {
    for (const a of list) {
      // Homebridge stamps these on registration; 2.x refuses to serialize an accessory without them.
      Object.assign(a, { _associatedPlugin: plugin, _associatedPlatform: platform });
      if (this.accessories.has(a.UUID)) {
        throw new Error(`accessory ${a.UUID} registered twice`);
      }
      this.accessories.set(a.UUID, a);
    }
  }

  updatePlatformAccessories(_list: PlatformAccessory[]): void {
    this.updates++;
  }

  unregisterPlatformAccessories(_plugin: string, _platform: string, list: PlatformAccessory[]): void {
    for (const a of list) {
      this.accessories.delete(a.UUID);
    }
  }

  /** What Homebridge writes to cachedAccessories and hands back on the next start. */
  serializeCache(): unknown[] {
    return [...this.accessories.values()].map((a) => JSON.parse(JSON.stringify(PlatformAccessoryClass.serialize(a))) as unknown);
  }
}

export interface StartedPlatform {
  api: FakeHomebridge;
  platform: SmartcarPlatform;
  logs: CapturedLog;
  shutdown(): Promise<void>;
}

export async function tempStorage(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'hbsc-unit-'));
}

/** Loads the plugin like Homebridge: register, construct, restore the cache, then didFinishLaunching. */
export async function startPlatform(config: Record<string, unknown>, options: { storage?: string; cache?: unknown[] } = {}): Promise<StartedPlatform> {
  const api = new FakeHomebridge(options.storage ?? await tempStorage());
  plugin(api as unknown as API);
  const logs = captureLog();
  const Platform = api.platformClass!;
  const platform = new Platform(logs.log, { platform: 'Smartcar', name: 'Smartcar', ...config }, api as unknown as API);
  for (const json of options.cache ?? []) {
    const acc = PlatformAccessoryClass.deserialize(json);
    api.accessories.set(acc.UUID, acc);
    platform.configureAccessory(acc);
  }
  api.emit('didFinishLaunching');
  await platform.whenLaunched();
  return {
    api, platform, logs,
    shutdown: async () => {
      api.emit('shutdown');
      // Let the platform's shutdown (abort + setup server stop) settle.
      await new Promise((r) => setTimeout(r, 20));
      // For the whole-suite check: the token files' modes as the plugin left them.
      recordTokenFiles(api.user.storagePath());
    },
  };
}

/** The cars the platform registered (the plugin's one Smartcar Connection sensor is connectionSensor()). */
export function accessories(api: FakeHomebridge): PlatformAccessory[] {
  return [...api.accessories.values()].filter((a) => (a.context as { kind?: unknown } | undefined)?.kind !== 'connection-health');
}

/** The plugin's Smartcar Connection accessory (platform/health.ts), when registered. */
export function connectionSensor(api: FakeHomebridge): PlatformAccessory | undefined {
  return [...api.accessories.values()].find((a) => (a.context as { kind?: unknown } | undefined)?.kind === 'connection-health');
}

export function accessoryNamed(api: FakeHomebridge, name: string): PlatformAccessory {
  const a = accessories(api).find((x) => x.displayName === name);
  if (!a) {
    throw new Error(`no accessory "${name}"; have ${accessories(api).map((x) => x.displayName).join(', ')}`);
  }
  return a;
}

export function service(a: PlatformAccessory, type: WithUUID<typeof Service>): Service | undefined {
  return a.services.find((s) => s.UUID === type.UUID);
}

export function characteristic(a: PlatformAccessory, sType: WithUUID<typeof Service>, cType: WithUUID<typeof Characteristic>): Characteristic {
  const s = service(a, sType);
  if (!s) {
    throw new Error(`${a.displayName} has no ${sType.name} service`);
  }
  if (!s.testCharacteristic(cType)) {
    throw new Error(`${a.displayName} ${sType.name} has no ${cType.name}`);
  }
  return s.getCharacteristic(cType as unknown as WithUUID<new () => Characteristic>);
}

/** A controller's read: the handler's answer, or the HAP status number it failed with. */
export async function read(a: PlatformAccessory, sType: WithUUID<typeof Service>, cType: WithUUID<typeof Characteristic>): Promise<unknown> {
  const c = characteristic(a, sType, cType);
  try {
    return await (c as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest();
  } catch (status) {
    return { status };
  }
}

export async function write(a: PlatformAccessory, sType: WithUUID<typeof Service>, cType: WithUUID<typeof Characteristic>, value: unknown): Promise<unknown> {
  const c = characteristic(a, sType, cType);
  try {
    await (c as unknown as { handleSetRequest(v: unknown): Promise<unknown> }).handleSetRequest(value);
    return undefined;
  } catch (status) {
    return { status };
  }
}

/** Every value HomeKit is told from now on (changes only, as a controller would see them). */
export function told(a: PlatformAccessory, sType: WithUUID<typeof Service>, cType: WithUUID<typeof Characteristic>): unknown[] {
  const values: unknown[] = [];
  characteristic(a, sType, cType).on('change', (c: { oldValue: unknown; newValue: unknown }) => {
    if (c.oldValue !== c.newValue) {
      values.push(c.newValue);
    }
  });
  return values;
}

/** The value last pushed (or set) on the characteristic, what HomeKit was told. */
export function pushed(a: PlatformAccessory, sType: WithUUID<typeof Service>, cType: WithUUID<typeof Characteristic>): unknown {
  return characteristic(a, sType, cType).value;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) {
      return v;
    }
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
