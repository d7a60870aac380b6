// Crash safety of tokens: a real Homebridge is SIGKILLed at random moments while it refreshes its
// Smartcar tokens, again and again. After every kill the restarted plugin must refresh with what it
// stored, and Smartcar (the emulator, rotating refresh tokens with its grace window) must accept it.
// v2 only: a v3 install keeps no per-user tokens on disk (one client-credentials app token, in memory, fetched again after any restart), so a kill has nothing to lose.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { defaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, PROJECT_DIR } from '../helpers/homebridge-process.js';
import { freePort } from '../browser/support.js';
import { captureOutput } from '../helpers/suite-capture.js';
import { connectViaSetupPage, sleep } from './support.js';

const CLIENT_ID = 'kill-client';
const CLIENT_SECRET = 'kill-secret-do-not-log';
const KILLS = Number(process.env.HBSC_KILLS ?? 50);
const { legs } = homebridgeLegs();
// The 2.x leg starts in about half a second; 1.x is the fallback.
const leg = legs.find((l) => l.name.includes('2.')) ?? legs[0]!;

describe(`tokens survive SIGKILL during refreshes (${leg.name})`, () => {
  let emu: SmartcarEmulator;
  let storage: string;
  let setupUrl: string;
  let env: Record<string, string>;
  let hb: HomebridgeProcess | undefined;
  let output = '';

  before(async () => {
    const setupPort = await freePort();
    emu = await SmartcarEmulator.start({
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`http://localhost:${setupPort}/callback`],
      autoApprove: { email: 'owner@example.com' }, vehicleThrottle: null,
    });
    defaultFleet(emu);
    setupUrl = `http://127.0.0.1:${setupPort}`;
    storage = await makeStorage({
      platform: 'Smartcar', name: 'Smartcar', api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET,
      mode: 'simulated', setupPort, setupBind: '127.0.0.1',
    });
    env = { SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin };
  });

  after(async () => {
    if (hb) {
      await hb.stop('SIGTERM');
      output += hb.logs;
    }
    await emu?.close();
  });

  async function start(): Promise<HomebridgeProcess> {
    const p = await HomebridgeProcess.start(leg, storage, env);
    await p.waitForLog(/Setup page: /);
    return p;
  }

  /** A bare Homebridge process we can kill at any moment, even before it finished starting. */
  function spawnBare(): ChildProcess {
    const child = spawn(leg.node, [leg.bin, '-U', storage, '-P', PROJECT_DIR, '--strict-plugin-resolution', '-I', '-D', '-Q', '-T'], {
      env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Also into the whole-suite secrets check (HomebridgeProcess does this for the started ones).
    const suite = captureOutput(`homebridge-bare-${child.pid ?? 'unspawned'}`);
    const take = (c: Buffer): void => {
      const text = c.toString('utf8');
      output += text;
      suite(text);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    return child;
  }

  it(`0 lost authorizations out of ${KILLS} kills`, { timeout: 300_000 }, async () => {
    hb = await start();
    const connected = await connectViaSetupPage(setupUrl);
    assert.match(connected.url, /connected=3/);
    await hb.stop('SIGTERM');
    output += hb.logs;
    hb = undefined;
    // "Refresh now" is debounced in a real Homebridge; start-up discovery with an expired access
    // token is the honest way to make the plugin refresh its tokens at once, every start.
    let refused = 0;
    let afterRotation = 0;
    let beforeRotation = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      emu.expireAccessTokens();
      const from = emu.requests.length;
      const child = spawnBare();
      const exited = new Promise((r) => child.once('exit', r));
      // Wait for the first Smartcar request of this start (the 401), then kill somewhere in the refresh.
      const deadline = Date.now() + 20_000;
      while (emu.requests.length === from && Date.now() < deadline) {
        await sleep(2);
      }
      await sleep(Math.random() * 40);
      child.kill('SIGKILL');
      await exited;
      const mine = emu.requests.slice(from);
      refused += mine.filter((r) => r.path === '/oauth/token' && r.status >= 400).length;
      if (mine.some((r) => r.path === '/oauth/token' && r.status === 200)) {
        afterRotation++;
      } else {
        beforeRotation++;
      }
    }
    // The last word: a normal start refreshes with what is on disk and reads the cars.
    emu.expireAccessTokens();
    const from = emu.requests.length;
    hb = await start();
    await sleep(500);
    const last = emu.requests.slice(from);
    const accepted = last.some((r) => r.path === '/oauth/token' && r.status === 200) && !/connected again/.test(hb.logs);
    refused += last.filter((r) => r.path === '/oauth/token' && r.status >= 400).length;
    const lost = refused > 0 || !accepted ? Math.max(1, refused) : 0;
    console.log(`${lost} lost authorizations out of ${KILLS} kills (${afterRotation} killed after Smartcar rotated the token, ${beforeRotation} before)`);
    assert.equal(lost, 0, output.slice(-3000));
    assert.ok(afterRotation > 0 && beforeRotation > 0, 'kills landed on both sides of the rotation');
    const mode = (await stat(join(storage, 'smartcar'))).mode & 0o777;
    assert.equal(mode, 0o700, 'token folder owner-only');
    for (const name of await readdir(join(storage, 'smartcar'))) {
      assert.equal((await stat(join(storage, 'smartcar', name))).mode & 0o777, 0o600, `${name} is owner-only`);
    }
    output += hb.logs;
    for (const secret of [CLIENT_SECRET, ...emu.state.issuedTokens()]) {
      assert.ok(!output.includes(secret), `secret ${secret.slice(0, 4)}… in the Homebridge output`);
    }
  });
});
