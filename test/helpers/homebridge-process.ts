// Runs a real Homebridge process (1.x on this Node, 2.x on Node 22 from the npm registry) with the
// built plugin loaded from the project folder, in a temporary storage folder. Recipe:
// shared/reference/homebridge.md §6.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { homebridge2, NODE22 } from './homebridge2.js';
import { captureOutput, recordTokenFiles } from './suite-capture.js';

export const PROJECT_DIR = resolve(import.meta.dirname, '../..');
export const BRIDGE_PIN = '031-45-154';

export interface HomebridgeLeg {
  name: string;
  node: string;
  bin: string;
}

/**
 * The Homebridge versions we prove the plugin on. The 2.x leg needs Node 22 and the Homebridge 2.x copy
 * scripts/test-copy.sh installs outside node_modules (see .ci/run and ./homebridge2.ts).
 */
export function homebridgeLegs(): { legs: HomebridgeLeg[]; missing: string[] } {
  const legs: HomebridgeLeg[] = [
    { name: 'Homebridge 1.11 / Node 20', node: process.execPath, bin: join(PROJECT_DIR, 'node_modules/homebridge/bin/homebridge') },
  ];
  const missing: string[] = [];
  if (!existsSync(NODE22)) {
    missing.push(`Node 22 not found at ${NODE22} (set HBSC_NODE22 or run .ci/run): Homebridge 2.x leg not run`);
  } else {
    const hb2 = homebridge2();
    if (hb2.copy) {
      legs.push({ name: 'Homebridge 2.4 / Node 22', node: NODE22, bin: hb2.copy.bin });
    } else {
      missing.push(`${hb2.missing}: Homebridge 2.x leg not run`);
    }
  }
  if (missing.length > 0 && process.env.HBSC_REQUIRE_ALL === '1') {
    throw new Error(missing.join('; '));
  }
  return { legs, missing };
}

export async function makeStorage(platform: Record<string, unknown> | undefined, username = randomUsername()): Promise<string> {
  const storage = await mkdtemp(join(tmpdir(), 'hbsc-hb-'));
  await writeConfig(storage, platform, username);
  return storage;
}

export async function writeConfig(storage: string, platform: Record<string, unknown> | undefined, username: string): Promise<void> {
  const config = {
    bridge: { name: 'HBSC Test', username, pin: BRIDGE_PIN, bind: ['127.0.0.1'], advertiser: 'ciao' },
    accessories: [],
    platforms: platform === undefined ? [] : [platform],
  };
  await writeFile(join(storage, 'config.json'), JSON.stringify(config, null, 2));
}

export function randomUsername(): string {
  const hex = () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0').toUpperCase();
  return ['0E', hex(), hex(), hex(), hex(), hex()].join(':');
}

export class HomebridgeProcess {
  private output = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;

  private constructor(leg: HomebridgeLeg, readonly storage: string, env: Record<string, string>) {
    this.child = spawn(leg.node, [leg.bin, '-U', storage, '-P', PROJECT_DIR, '--strict-plugin-resolution', '-I', '-D', '-Q', '-T'], {
      env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Also kept for the whole-suite secrets check (test/zz-suite), with the token files' modes at exit.
    const suiteOutput = captureOutput(`homebridge-${this.child.pid ?? 'unspawned'}`);
    const append = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output += text;
      suiteOutput(text);
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.exited = new Promise((done) => this.child.once('exit', (code, signal) => {
      recordTokenFiles(storage);
      done({ code, signal });
    }));
  }

  static async start(leg: HomebridgeLeg, storage: string, env: Record<string, string> = {}): Promise<HomebridgeProcess> {
    const hb = new HomebridgeProcess(leg, storage, env);
    const match = await hb.waitForLog(/is running on port (\d+)/, 30_000);
    hb.port = Number(match[1]);
    return hb;
  }

  get logs(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the first match of `pattern` in the output so far or to come. */
  async waitForLog(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.output.match(pattern);
      if (found) {
        return found;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`Homebridge exited before logging ${pattern}:\n${this.output}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${pattern} in Homebridge output:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops Homebridge and reports how long it took to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    const result = await this.exited;
    clearTimeout(timer);
    return { ...result, ms: Date.now() - started };
  }
}
