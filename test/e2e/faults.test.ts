// A representative subset of the fault matrices (test/faults/matrix.test.ts, matrix-v3.test.ts) through
// a real Homebridge (1.x and 2.x), on Smartcar API v2 and v3: one car connected through the setup page, a
// HomeKit controller paired over SRP, faults injected in the emulator. Each row proves that Homebridge
// stays up and answers HAP, HomeKit shows an honest state, the owner reads exactly one warn/error line
// naming the cause and the fix, and the plugin recovers by itself (or, when Smartcar wants the owner back
// in Connect — v2: a refused refresh token; v3: AUTHENTICATION_FAILED — once the owner connects again).
// v2 and v3 differ in two rows: a 401 costs v2 a token refresh and v3 a new application token.
//
// Reads are started the way an owner can: Refresh now on the setup page. It is debounced for a minute
// after a good read, but not while HomeKit shows a failure, so a fault and its recovery cost no wait;
// only a fault injected on a healthy car waits out that minute (up to three times per leg). The four
// legs (two Homebridges × two APIs) run side by side.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { SmartcarEmulator, type RequestLogEntry } from '../emulator/index.js';
import type { Fault } from '../emulator/faults.js';
import { freePort } from '../browser/support.js';
import { carsOf, characteristicId, HAP, HapController, type HapAccessory } from '../helpers/hap-controller.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, randomUsername, type HomebridgeLeg } from '../helpers/homebridge-process.js';
import { connectThroughSetupPage, refreshNow as refreshNowOnPage } from '../helpers/setup-page.js';
import { stderrLines, stderrTagEnv } from '../helpers/stderr-tag.js';
import { until } from '../helpers/wait.js';
import { REFRESH_NOW_DEBOUNCE_SECONDS } from '../../src/settings.js';

const CLIENT_ID = 'e2e-faults-client';
const CLIENT_SECRET = 'e2e-faults-secret-do-not-log';
const V3_CLIENT_ID = 'client_e2e-faults';
const V3_CLIENT_SECRET = 'e2e-faults-v3-secret-do-not-log';
const EMAIL = 'owner@example.com';
const RETRY_AFTER_SECONDS = 8;
const UNSECURED = 0;
const SECURED = 1;
const UNKNOWN = 3;
const NO_VALUE = { status: -70402 }; // HAP "service communication failure": no honest value to give
// What would take a Homebridge down, or show that something nearly did.
const CRASH = /unhandled ?rejection|uncaught ?exception|UnhandledPromiseRejection|FATAL ERROR|^\[stderr\] +at .+:\d+:\d+\)?$/im;

type Api = 'v2' | 'v3';
const { legs, missing } = homebridgeLegs();
const table: { api: Api; leg: string; fault: string; where: string; outcome: string; line: string }[] = [];

for (const note of missing) {
  void describe(note, { skip: true }, () => undefined);
}

// The Homebridge processes idle most of the time (waiting out the debounce): run the legs together.
describe('faults through a real Homebridge', { concurrency: true }, () => {
  after(() => {
    const w = (s: string, n: number): string => s.padEnd(n).slice(0, n);
    for (const api of ['v2', 'v3'] as const) {
      const rows = table.filter((r) => r.api === api).sort((a, b) => a.leg.localeCompare(b.leg)); // stable: each leg in its run order
      console.log(['', `Smartcar API ${api}:`, `| ${w('leg', 5)} | ${w('fault', 48)} | ${w('injected on', 30)} | outcome`, `|${'-'.repeat(7)}|${'-'.repeat(50)}|${'-'.repeat(32)}|${'-'.repeat(60)}`,
        ...rows.map((r) => `| ${w(r.leg, 5)} | ${w(r.fault, 48)} | ${w(r.where, 30)} | ${r.outcome}`), `${rows.length} rows, all asserted`,
        '', `The one line the owner read for each (Homebridge ${rows[0]?.leg ?? '-'}, API ${api}):`,
        ...rows.filter((r) => r.leg === rows[0]?.leg).map((r) => `  ${w(r.fault, 48)} ${r.line || '(none)'}`)].join('\n'));
    }
  });
  for (const leg of legs) {
    for (const api of ['v2', 'v3'] as const) {
      describe(`on ${leg.name}, Smartcar API ${api}`, { concurrency: false }, () => runLeg(leg, api));
    }
  }
});

function runLeg(leg: HomebridgeLeg, api: Api): void {
  const short = /Homebridge (\d+\.\d+)/.exec(leg.name)?.[1] ?? leg.name;
  const v3 = api === 'v3';
  /** A scenario as one API meets it (the other API has its own version of the row). */
  const itOn = (which: Api): typeof it => (which === api ? it : ((() => undefined) as unknown as typeof it));
  let emu: SmartcarEmulator;
  let hb: HomebridgeProcess;
  let hap: HapController;
  let setupUrl: string;
  let userId: string;
  let carId: string;
  let car: HapAccessory;
  const username = randomUsername();

  const id = {
    current: () => characteristicId(car, HAP.LockMechanism, HAP.LockCurrentState),
    target: () => characteristicId(car, HAP.LockMechanism, HAP.LockTargetState),
    lockFault: () => characteristicId(car, HAP.LockMechanism, HAP.StatusFault),
    level: () => characteristicId(car, HAP.Battery, HAP.BatteryLevel),
    batteryFault: () => characteristicId(car, HAP.Battery, HAP.StatusFault),
  };
  /** What HomeKit shows, read over HAP like the Home app does. */
  async function shown(): Promise<{ current: unknown; target: unknown; level: unknown; faults: [unknown, unknown] }> {
    const v = await hap.read([id.current(), id.target(), id.level(), id.lockFault(), id.batteryFault()]);
    return { current: v[id.current()], target: v[id.target()], level: v[id.level()], faults: [v[id.lockFault()], v[id.batteryFault()]] };
  }
  /** The car's truth in the emulator, as HomeKit should show it. */
  /** A battery level the car has not shown yet (for a change HomeKit can only learn from a read). */
  function nextLevel(): number {
    const now = emu.vehicle(carId).battery!.percentRemaining;
    return now > 0.5 ? now - 0.11 : now + 0.11;
  }

  function truth(): { current: number; level: number } {
    const v = emu.vehicle(carId);
    return { current: v.locked ? SECURED : UNSECURED, level: Math.round(v.battery!.percentRemaining * 100) };
  }
  const waitShown = (what: string, ok: (s: Awaited<ReturnType<typeof shown>>) => boolean, timeoutMs = 20_000): Promise<Awaited<ReturnType<typeof shown>>> => {
    let last = '';
    return until(() => `${what} (HomeKit shows ${last})`, async () => {
      const s = await shown();
      last = JSON.stringify(s);
      return ok(s) ? s : undefined;
    }, timeoutMs);
  };
  const mark = (): { log: number; req: number } => ({ log: hb.logs.length, req: emu.requests.length });
  /** The warn/error lines Homebridge printed since `from`. */
  const problems = (from: { log: number }): string[] => stderrLines(hb.logs.slice(from.log));
  const oneLine = (from: { log: number }, cause: RegExp, fix: RegExp): string => {
    const lines = problems(from);
    assert.equal(lines.length, 1, `exactly one warn/error line for the owner, got:\n${lines.join('\n')}`);
    assert.match(lines[0]!, cause, 'the line names the cause');
    assert.match(lines[0]!, fix, 'the line names the fix');
    return lines[0]!;
  };
  async function stillUp(): Promise<void> {
    assert.ok(hb.pid !== undefined && process.kill(hb.pid, 0), 'the Homebridge process is running');
    assert.equal(typeof (await hap.read([id.current()]))[id.current()], 'number', 'it still answers HAP');
    assert.doesNotMatch(hb.logs, CRASH, 'nothing crashed or went unhandled in Homebridge');
  }
  /** The car's reads: v2 batches, v3 signals requests (the list, or one signal after a command). */
  const isRead = (r: RequestLogEntry): boolean => (v3 ? r.host === 'v3' && r.method === 'GET' && /\/signals(\/[^/]+)?$/.test(r.path) : r.path.endsWith('/batch'));
  const goodReads = () => emu.requests.filter((r) => r.vehicleId === carId && isRead(r) && r.status === 200);

  const refreshNow = (): ReturnType<typeof refreshNowOnPage> => refreshNowOnPage(setupUrl);
  /** A healthy car is read at most once a minute on request: press once that minute has passed. */
  async function refreshNowOnHealthyCar(): Promise<void> {
    const last = goodReads().at(-1)?.at ?? 0;
    const wait = last + REFRESH_NOW_DEBOUNCE_SECONDS * 1000 + 250 - emu.clock.now();
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
    }
    await until('Refresh now to be taken (the debounce minute over)', async () => ((await refreshNow()) === 'queued' ? true : undefined), 5_000);
  }
  /** The car's next read fails so (v3: whichever read it is, the signals list or one signal). */
  const injectOnRead = (fault: Fault): void => emu.inject(v3 ? { target: 'read', api: 'v3', vehicleId: carId } : { target: 'read', vehicleId: carId, path: '/batch' }, fault);

  before(async () => {
    const setupPort = await freePort();
    emu = await SmartcarEmulator.start({
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET,
      redirectUris: [`http://localhost:${setupPort}/callback`],
      autoApprove: { email: EMAIL },
      v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET },
    });
    userId = emu.addUser({ email: EMAIL, password: 'pw' }).id;
    carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: false }).id;
    setupUrl = `http://127.0.0.1:${setupPort}`;
    const credentials = v3
      ? { applicationId: CLIENT_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }
      : { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    const storage = await makeStorage({
      platform: 'Smartcar', name: 'Smartcar', ...credentials, mode: 'simulated', setupPort, setupBind: '127.0.0.1',
    }, username);
    const origins: Record<string, string> = { SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin };
    if (v3) {
      Object.assign(origins, {
        SMARTCAR_CONNECT_ORIGIN: emu.origins.connect, SMARTCAR_IAM_ORIGIN: emu.origins.iam,
        SMARTCAR_API_V3_ORIGIN: emu.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
      });
    }
    hb = await HomebridgeProcess.start(leg, storage, { ...origins, ...stderrTagEnv() });
    await hb.waitForLog(/Setup page: /);
    hap = await HapController.pair(username, hb.port);
  });

  after(async () => {
    await hap?.close().catch(() => undefined);
    await hb?.stop('SIGKILL');
    await emu?.close();
  });

  it('429 RATE_LIMIT:VEHICLE on the first read after Connect: nothing sent before retry-after, then it recovers by itself', async () => {
    injectOnRead({ error: { type: 'RATE_LIMIT', code: 'VEHICLE', status: 429, retryAfter: RETRY_AFTER_SECONDS } });
    const from = mark();
    assert.match(await connectThroughSetupPage(setupUrl), /connected=1/, 'the owner lands on the status page with the car connected');
    car = await until('the car over HAP', async () => carsOf(await hap.accessories())[0]);
    const limited = await until('the rate-limited read', () => emu.requests.find((r) => r.vehicleId === carId && r.status === 429));
    const s = await waitShown('the fault flag', (x) => x.faults[0] === 1 && x.faults[1] === 1);
    assert.equal(s.current, UNKNOWN, 'never read: the lock is unknown, not guessed');
    assert.deepEqual(s.level, NO_VALUE, 'never read: no battery level is made up');
    const line = oneLine(from, /RATE_LIMIT/, new RegExp(`retry in ${RETRY_AFTER_SECONDS} s`));
    // The owner presses Refresh now meanwhile: it is held until Smartcar's retry-after has passed.
    assert.equal(await refreshNow(), 'queued');
    const retried = await until('the retry', () => emu.requests.find((r) => r.vehicleId === carId && r.at > limited.at), (RETRY_AFTER_SECONDS + 10) * 1000);
    const waited = retried.at - limited.at;
    assert.ok(waited >= RETRY_AFTER_SECONDS * 1000, `no request for the car before retry-after (${waited} ms)`);
    await waitShown('recovery', (x) => x.faults[0] === 0 && x.faults[1] === 0 && x.current === truth().current && x.level === truth().level);
    assert.equal(problems(from).length, 1, 'recovery adds no warning');
    await stillUp();
    table.push({ api, leg: short, fault: `RATE_LIMIT:VEHICLE 429, retry-after ${RETRY_AFTER_SECONDS} s`, where: 'first read after Connect',
      outcome: `fault, values unknown; nothing sent for ${(waited / 1000).toFixed(1)} s (Refresh now held); retried itself: recovered`, line });
  });

  it('VEHICLE_STATE:DOOR_OPEN on a lock command: the target reverts, the line names the door, Refresh now right away clears it', async () => {
    emu.updateVehicle(carId, { doors: { frontLeft: 'OPEN' } });
    const from = mark();
    await hap.write({ [id.target()]: SECURED });
    const s = await waitShown('the target reverted and the lock flagged', (x) => x.target === UNSECURED && x.faults[0] === 1);
    assert.equal(s.current, UNSECURED, 'not claimed locked');
    assert.equal(s.faults[1], 0, 'the battery is not affected');
    assert.equal(emu.vehicle(carId).locked, false);
    const line = oneLine(from, /door/i, /fix that at the car|close/i);
    // The owner closes the door and presses Refresh now: the last good read was seconds ago, yet a car
    // showing a failure is read again at once.
    emu.updateVehicle(carId, { doors: { frontLeft: 'CLOSED' } });
    const sinceGoodRead = emu.clock.now() - goodReads().at(-1)!.at;
    assert.ok(sinceGoodRead < REFRESH_NOW_DEBOUNCE_SECONDS * 1000, `within the debounce minute (${sinceGoodRead} ms)`);
    assert.equal(await refreshNow(), 'queued', 'not debounced while HomeKit shows the failed command');
    await waitShown('recovery', (x) => x.faults[0] === 0 && x.faults[1] === 0 && x.current === UNSECURED && x.target === UNSECURED);
    assert.equal(problems(from).length, 1, 'recovery adds no warning');
    await stillUp();
    table.push({ api, leg: short, fault: 'VEHICLE_STATE:DOOR_OPEN', where: 'lock command', outcome: 'target reverted, lock flagged; Refresh now at once: recovered', line });
  });

  itOn('v2')('401 AUTHENTICATION on a read (the lock\'s confirming read): the token is refreshed, no fault, nothing logged', async () => {
    const from = mark();
    injectOnRead({ error: { type: 'AUTHENTICATION', status: 401 } });
    await hap.write({ [id.target()]: SECURED });
    const mine = () => emu.requests.slice(from.req);
    const rejected = await until('the 401 on the confirming read', () => mine().find((r) => r.path.endsWith('/batch') && r.status === 401));
    const refreshed = await until('the token refresh', () => mine().find((r) => r.path === '/oauth/token' && r.status === 200 && r.at >= rejected.at));
    await until('the read retried', () => mine().find((r) => r.path.endsWith('/batch') && r.status === 200 && r.at >= refreshed.at));
    await waitShown('locked, no fault', (x) => x.current === SECURED && x.target === SECURED && x.faults[0] === 0 && x.faults[1] === 0);
    assert.equal(emu.vehicle(carId).locked, true);
    assert.deepEqual(problems(from), [], 'nothing for the owner to do, nothing logged as warn/error');
    await stillUp();
    table.push({ api, leg: short, fault: 'AUTHENTICATION 401', where: 'read (lock\'s confirming read)', outcome: 'token refreshed, read retried at once; no fault, no warning', line: '' });
  });

  itOn('v3')('401 AUTHENTICATION:UNAUTHORIZED on a read (the lock\'s confirming read): a new application token, the read retried, no fault, nothing logged', async () => {
    const from = mark();
    injectOnRead({ error: { type: 'AUTHENTICATION', code: 'UNAUTHORIZED', status: 401 } });
    await hap.write({ [id.target()]: SECURED });
    const mine = () => emu.requests.slice(from.req);
    const rejected = await until('the 401 on the confirming read', () => mine().find((r) => isRead(r) && r.vehicleId === carId && r.status === 401));
    const token = await until('a new application token', () => mine().find((r) => r.host === 'iam' && r.path === '/oauth2/token' && r.status === 200 && r.at >= rejected.at));
    await until('the read retried', () => mine().find((r) => isRead(r) && r.vehicleId === carId && r.status === 200 && r.at >= token.at));
    await waitShown('locked, no fault', (x) => x.current === SECURED && x.target === SECURED && x.faults[0] === 0 && x.faults[1] === 0);
    assert.equal(emu.vehicle(carId).locked, true);
    assert.equal(mine().filter((r) => r.host === 'iam').length, 1, 'one new token, nothing else asked of IAM');
    assert.ok(!mine().some((r) => r.host === 'api'), 'nothing on v2 (no per-user token to refresh)');
    assert.deepEqual(problems(from), [], 'nothing for the owner to do, nothing logged as warn/error');
    await stillUp();
    table.push({ api, leg: short, fault: 'AUTHENTICATION:UNAUTHORIZED 401', where: 'read (lock\'s confirming read)', outcome: 'new application token, read retried at once; no fault, no warning', line: '' });
  });

  itOn('v2')('refresh token refused (400 invalid_grant): fault, "Connect again", no polling; Connect again restores the same accessory', async () => {
    const aid = car.aid;
    emu.expireAccessTokens(userId);
    emu.inject({ target: 'token', grant: 'refresh_token' }, { error: { type: 'invalid_grant', status: 400, description: 'Invalid refresh_token.' } });
    const from = mark();
    await refreshNowOnHealthyCar();
    await waitShown('the fault flag', (x) => x.faults[0] === 1 && x.faults[1] === 1);
    assert.ok(emu.requests.slice(from.req).some((r) => r.path === '/oauth/token' && r.status === 400), 'the refresh token was refused');
    const line = oneLine(from, /invalid_grant|no longer accepts/i, /connect/i);
    const page = await (await fetch(`${setupUrl}/`)).text();
    assert.match(page, /Connect again/, 'the setup page asks to connect again');
    assert.doesNotMatch(page, /Next refresh/, 'and plans no refresh');
    // No polling for that user until then, not even when the owner presses Refresh now (a car still
    // scheduled would be read at once: this is what would catch a retry).
    const quiet = mark();
    assert.equal(await refreshNow(), 'reconnect', 'the page says to connect again instead of "Refresh requested"');
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(emu.requests.slice(quiet.req).map((r) => `${r.method} ${r.path}`), [], 'no request while it waits for the owner');
    // The car moved on meanwhile: Connect again must show it without the owner pressing Refresh now.
    emu.updateVehicle(carId, { battery: { ...emu.vehicle(carId).battery!, percentRemaining: nextLevel() } });
    assert.match(await connectThroughSetupPage(setupUrl), /connected=1/);
    const again = await hap.accessories();
    assert.equal(carsOf(again).length, 1, 'no duplicate accessory');
    car = carsOf(again)[0]!;
    assert.equal(car.aid, aid, 'the same accessory over HAP (same aid)');
    await waitShown('the new level read by Connect again, the fault cleared', (x) => x.faults[0] === 0 && x.faults[1] === 0 && x.current === truth().current && x.level === truth().level, 10_000);
    assert.equal(problems(from).length, 1, 'Connect again adds no warning');
    await stillUp();
    table.push({ api, leg: short, fault: 'invalid_grant 400 (refresh token)', where: 'token refresh on a read', outcome: 'fault; "Connect again"; no request; Connect again: same aid, no fault', line });
  });

  itOn('v3')('CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED on a read: fault, "Connect again", no request for the car; Connect again restores the same accessory', async () => {
    const aid = car.aid;
    // The owner changed the car account's password: every read is refused until they sign in again.
    emu.inject({ target: 'read', api: 'v3', vehicleId: carId }, { error: { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'AUTHENTICATION_FAILED', status: 400 } }, 50);
    const from = mark();
    await refreshNowOnHealthyCar();
    await waitShown('the fault flag', (x) => x.faults[0] === 1 && x.faults[1] === 1);
    assert.ok(emu.requests.slice(from.req).some((r) => r.vehicleId === carId && r.status === 400), 'the read was refused');
    const line = oneLine(from, /AUTHENTICATION_FAILED|sign in|credentials|password/i, /connect/i);
    const page = await (await fetch(`${setupUrl}/`)).text();
    assert.match(page, /Connect again/, 'the setup page asks to connect again');
    assert.doesNotMatch(page, /Next refresh/, 'and plans no refresh');
    // No request for that car until then, not even when the owner presses Refresh now. (The
    // application's connection listing and its token serve every user: they are not this car's.)
    const quiet = mark();
    assert.equal(await refreshNow(), 'reconnect', 'the page says to connect again instead of "Refresh requested"');
    await new Promise((r) => setTimeout(r, 3_000));
    const forCar = emu.requests.slice(quiet.req).filter((r) => r.vehicleId === carId || r.userId === userId);
    assert.deepEqual(forCar.map((r) => `${r.method} ${r.path}`), [], 'no request for the car while it waits for the owner');
    emu.faults.clear(); // the owner signs in to the car's account again in Connect
    // The car moved on meanwhile: Connect again must show it without the owner pressing Refresh now.
    emu.updateVehicle(carId, { battery: { ...emu.vehicle(carId).battery!, percentRemaining: nextLevel() } });
    assert.match(await connectThroughSetupPage(setupUrl), /connected=1/);
    const again = await hap.accessories();
    assert.equal(carsOf(again).length, 1, 'no duplicate accessory');
    car = carsOf(again)[0]!;
    assert.equal(car.aid, aid, 'the same accessory over HAP (same aid)');
    await waitShown('the new level read by Connect again, the fault cleared', (x) => x.faults[0] === 0 && x.faults[1] === 0 && x.current === truth().current && x.level === truth().level, 10_000);
    assert.equal(problems(from).length, 1, 'Connect again adds no warning');
    await stillUp();
    table.push({ api, leg: short, fault: 'CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED', where: 'read (Refresh now)', outcome: 'fault; "Connect again"; no request; Connect again: same aid, no fault', line });
  });

  it('502 UPSTREAM:NO_RESPONSE on a read: fault with the last values kept, one line; the next refresh recovers', async () => {
    // Connect again may read every car it brings back at once (a good read): press once the debounce
    // minute since the last good read allows, which is at once when Connect again read nothing.
    await readFaultThenRecover({ error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } }, 'UPSTREAM:NO_RESPONSE 502', /UPSTREAM|NO_RESPONSE/, true);
  });

  it('dropped connection on a read: fault with the last values kept, one line; the next refresh recovers', async () => {
    await readFaultThenRecover({ drop: true }, 'dropped connection', /fetch failed|socket|closed|network|ECONNRESET|terminated/i, true);
  });

  it('Homebridge never crashed and never printed a token or the client secret', async () => {
    await stillUp();
    assert.ok(!hb.logs.includes(CLIENT_SECRET), 'client secret never printed');
    assert.ok(!hb.logs.includes(V3_CLIENT_SECRET), 'v3 API client secret never printed');
    assert.ok(!hb.logs.includes(Buffer.from(`${V3_CLIENT_ID}:${V3_CLIENT_SECRET}`).toString('base64')), 'nor its Basic form');
    // v2: the per-user tokens; v3: the application tokens (the emulator keeps them for its own secrets check).
    const appTokens = (emu as unknown as { appTokens: { all(): string[] } }).appTokens.all();
    const tokens = v3 ? appTokens : emu.state.issuedTokens();
    assert.ok(tokens.length >= (v3 ? 2 : 4), v3 ? 'the emulator issued application tokens (the first, the one after the 401)' : 'the emulator issued tokens (Connect, refresh, Connect again)');
    assert.deepEqual(tokens.filter((t) => hb.logs.includes(t)), [], 'no issued token in the Homebridge output');
    assert.doesNotMatch(hb.logs, /access_token|refresh_token|Bearer [\w-]{10,}/i);
  });

  async function readFaultThenRecover(fault: Fault, label: string, cause: RegExp, healthyBefore: boolean): Promise<void> {
    const before = await shown();
    assert.deepEqual(before.faults, [0, 0], 'a healthy car to start from');
    const from = mark();
    injectOnRead(fault);
    if (healthyBefore) {
      await refreshNowOnHealthyCar();
    } else {
      assert.equal(await refreshNow(), 'queued');
    }
    const s = await waitShown('the fault flag', (x) => x.faults[0] === 1 && x.faults[1] === 1);
    assert.equal(s.current, before.current, 'the last lock state stays, flagged');
    assert.equal(s.level, before.level, 'the last level stays, flagged');
    const line = oneLine(from, cause, /retry/i);
    // The fault is gone; the owner presses Refresh now at once (a failed read is no reason to wait).
    assert.equal(await refreshNow(), 'queued', 'not debounced after a failed read');
    await waitShown('recovery', (x) => x.faults[0] === 0 && x.faults[1] === 0 && x.current === truth().current && x.level === truth().level);
    assert.equal(problems(from).length, 1, 'recovery adds no warning');
    await stillUp();
    table.push({ api, leg: short, fault: label, where: 'read (Refresh now)', outcome: 'fault flag, last values kept; next refresh recovered', line });
  }
}
