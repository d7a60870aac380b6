// A real Homebridge Config UI X serving the plugin from the project folder, the way owners run it:
// `hb-service run`, which starts the UI and Homebridge under one supervisor, with a login (an admin whose
// password is made up per run). Two legs: 5.10.0 with Homebridge 1.11 on this Node (scripts/config-ui-x/),
// and the newest, 5.28.0, with Homebridge 2.x on Node 22 (scripts/config-ui-x-22/; it wants Node ^22.12).
// Each copy comes through scripts/test-copy.sh; without it that leg is skipped, or fails under
// HBSC_REQUIRE_ALL=1.
import { spawn, type ChildProcess } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Page } from 'playwright-core';

import { BRIDGE_PIN, PROJECT_DIR, randomUsername } from './homebridge-process.js';
import { NODE22 } from './homebridge2.js';
import { captureOutput } from './suite-capture.js';
import { testCopy } from './test-copy.js';

export interface ConfigUiXLeg {
  /** Config UI X, Homebridge and Node as the test titles name them. */
  title: string;
  /** The copy's folder under scripts/. */
  name: string;
  /** Where scripts/test-copy.sh installs it. */
  dir: string;
  /** What the copy holds, checked in hb-service's log at start. */
  versions: { ui: string; homebridge: string };
  /** The Node that installs it and runs hb-service. */
  node: string;
  /** The plugin card's menu (Plugin Config is in it): 5.10 draws it as a link, 5.28 as a button. */
  pluginActions: { role: 'link' | 'button'; name: string };
  /** Appended to screenshot names, so the legs keep their own. */
  shotSuffix: string;
}

export const CONFIG_UI_X_LEGS: readonly ConfigUiXLeg[] = [
  { title: 'Config UI X 5.10.0 (Homebridge 1.11, Node 20)', name: 'config-ui-x', dir: process.env.HBSC_CONFIG_UI_X ?? join(homedir(), '.cache/hbsc-config-ui-x'), node: process.execPath,
    versions: { ui: '5.10.0', homebridge: '1.11.4' },
    pluginActions: { role: 'link', name: 'Plugin Actions Dropdown' }, shotSuffix: '' },
  { title: 'Config UI X 5.28.0 (Homebridge 2.4, Node 22)', name: 'config-ui-x-22', dir: process.env.HBSC_CONFIG_UI_X_22 ?? join(homedir(), '.cache/hbsc-config-ui-x-22'), node: NODE22,
    versions: { ui: '5.28.0', homebridge: '2.4.0' },
    pluginActions: { role: 'button', name: 'Plugin Actions' }, shotSuffix: '-5.28' },
];

const found = new Map<string, { dir?: string; missing?: string }>();

/** The leg's Config UI X copy, installed now if need be, or why there is none. */
export function configUiX(leg: ConfigUiXLeg): { dir?: string; missing?: string } {
  let copy = found.get(leg.name);
  if (copy === undefined) {
    copy = testCopy(leg.name, leg.dir, leg.node);
    found.set(leg.name, copy);
  }
  if (copy.missing !== undefined && process.env.HBSC_REQUIRE_ALL === '1') {
    throw new Error(`${copy.missing} (HBSC_REQUIRE_ALL=1 requires the ${leg.title} tests)`);
  }
  return copy;
}

export class ConfigUiX {
  private output = '';
  private readonly exited: Promise<void>;
  private constructor(readonly leg: ConfigUiXLeg, private readonly child: ChildProcess, readonly root: string, readonly storage: string, readonly url: string,
    readonly login: { username: string; password: string }) {
    const suiteOutput = captureOutput(`config-ui-x-${child.pid ?? 'unspawned'}`);
    const append = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output += text;
      suiteOutput(text);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((done) => child.once('exit', () => done()));
  }

  /**
   * Starts hb-service with `platform` as the plugin's block of config.json and the project folder as its
   * only plugin; resolves once the UI listens and Homebridge runs.
   */
  static async start(leg: ConfigUiXLeg, dir: string, options: { platform: Record<string, unknown>; uiPort: number; bridgePort: number }): Promise<ConfigUiX> {
    const root = await mkdtemp(join(tmpdir(), 'hbsc-cux-'));
    const storage = join(root, 'storage');
    const plugins = join(root, 'plugins');
    await mkdir(storage);
    await mkdir(plugins);
    // The plugin folder as an installed plugin: Config UI X reads its package.json and config.schema.json.
    await symlink(PROJECT_DIR, join(plugins, 'homebridge-smartcar'));
    await writeFile(join(storage, 'config.json'), JSON.stringify({
      bridge: { name: 'HBSC Config UI', username: randomUsername(), port: options.bridgePort, pin: BRIDGE_PIN, bind: ['127.0.0.1'], advertiser: 'ciao' },
      accessories: [],
      platforms: [{ platform: 'config', name: 'Config', port: options.uiPort }, options.platform],
    }, null, 2));
    const login = { username: 'admin', password: randomBytes(12).toString('base64url') };
    await writeAdmin(storage, login);
    const hbService = join(dir, 'node_modules/homebridge-config-ui-x/dist/bin/hb-service.js');
    // Its own process group, so stop() ends the supervisor, the UI and Homebridge together.
    const child = spawn(leg.node, [hbService, 'run', '-U', storage, '-P', plugins, '--strict-plugin-resolution', '--allow-root', '--stdout'], {
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const ui = new ConfigUiX(leg, child, root, storage, `http://127.0.0.1:${options.uiPort}`, login);
    try {
      const dots = (v: string) => v.replaceAll('.', '\\.');
      await ui.waitForLog(new RegExp(`Homebridge UI v${dots(leg.versions.ui)} is listening`), 60_000);
      await ui.waitForLog(new RegExp(`Homebridge v${dots(leg.versions.homebridge)} .*is running on port \\d+`), 60_000);
    } catch (e) {
      await ui.stop();
      throw e;
    }
    return ui;
  }

  /** As an owner: log in, Plugins, the plugin card's menu, Plugin Config (the settings modal opens). */
  async openPluginConfig(page: Page): Promise<void> {
    await page.goto(`${this.url}/login`);
    await page.locator('#form-username').fill(this.login.username);
    await page.locator('#form-pass').fill(this.login.password);
    await page.locator('#submit-button').click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 30_000 });
    await page.goto(`${this.url}/plugins`);
    await page.getByRole(this.leg.pluginActions.role, { name: this.leg.pluginActions.name, exact: true }).click({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Plugin Config', exact: true }).click();
  }

  get logs(): string {
    return this.output;
  }

  /** The plugin's block of config.json as it is on disk now. */
  async pluginBlock(): Promise<Record<string, unknown> | undefined> {
    const config = JSON.parse(await readFile(join(this.storage, 'config.json'), 'utf8')) as { platforms: Record<string, unknown>[] };
    return config.platforms.find((p) => p.platform === 'Smartcar');
  }

  async waitForLog(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.output.match(pattern);
      if (found) {
        return found;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`hb-service exited before logging ${pattern}:\n${this.output}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${pattern} in hb-service output:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const group = this.child.pid;
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (group !== undefined) {
          process.kill(-group, signal);
        }
      } catch {
        // Already gone.
      }
    };
    if (this.child.exitCode === null && this.child.signalCode === null) {
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), 8_000);
      await this.exited;
      clearTimeout(timer);
    }
    // Homebridge may outlive the supervisor by its own forced-exit timer.
    kill('SIGKILL');
    await rm(this.root, { recursive: true, force: true });
  }
}

/** The admin account Config UI X's login checks (auth.json, hashed the way Config UI X hashes it). */
async function writeAdmin(storage: string, login: { username: string; password: string }): Promise<void> {
  const salt = randomBytes(32).toString('hex');
  const hashedPassword = pbkdf2Sync(login.password, salt, 1000, 64, 'sha512').toString('hex');
  await writeFile(join(storage, 'auth.json'), JSON.stringify([{ id: 1, username: login.username, name: 'Owner', hashedPassword, salt, admin: true }]));
}
