// Every Smartcar call is bounded, and what comes back too late changes nothing, on both APIs: a read
// that Smartcar does not answer gives up at requestTimeoutSeconds with a fault and one line naming the
// bound, without holding the other cars' refreshes; a lock gives up at that bound on v2, and on v3 at
// max(requestTimeoutSeconds, 180 s), because a v3 command may hold its connection ~175 s and then stream
// its outcome (smartcar-v3.md §3.4; V3_COMMAND_TIMEOUT_SECONDS); an answer that arrives after the plugin
// gave up (or after a newer command) never overwrites newer state; a slow token endpoint costs no
// authorization; and an owner Smartcar wants back in Connect (v2: a refused refresh token; v3:
// AUTHENTICATION_FAILED) stops every request for that user alone, over several refresh intervals,
// until Connect again restores the same accessories.
//
// On v3 the plugin reaches the vehicle host through a pass-through proxy (test/helpers/late-proxy.ts)
// so that an answer Smartcar computed at once can reach the plugin late, carrying the state of then.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import { V3_COMMAND_TIMEOUT_SECONDS } from '../../src/settings.js';
import { DEFAULT_LONG_RUNNING_AFTER_MS, type RequestLogEntry, type SmartcarEmulator } from '../emulator/index.js';
import { connectViaSetupPage, crashRecorder, sleep } from '../faults/support.js';
import { accessoryNamed, hap, pushed, told, tempStorage, waitFor, write } from '../helpers/homebridge-api.js';
import { LateProxy } from '../helpers/late-proxy.js';
import { seedTokens, startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { VirtualTime } from '../helpers/virtual-time.js';

const { Service: S, Characteristic: C } = hap;
const BOUND_S = 5; // the smallest requestTimeoutSeconds the config accepts
const STUCK_MS = 20_000; // how long Smartcar "takes" when it is stuck
const MIN = 60_000;
const CONFIG = { requestTimeoutSeconds: BOUND_S, refreshIntervalMinutes: 30, requestsPerVehiclePerMonth: 1_000_000 };
const SECURED = C.LockTargetState.SECURED;
const UNSECURED = C.LockTargetState.UNSECURED;

type Api = 'v2' | 'v3';
type World = Awaited<ReturnType<typeof startWithTokens>>;

const FAULT_SERVICES = [S.LockMechanism, S.Battery, S.ContactSensor];
const faults = (car: PlatformAccessory): unknown[] => FAULT_SERVICES.map((s) => pushed(car, s, C.StatusFault));

for (const api of ['v2', 'v3'] as const) {
  describe(`bounded calls and late answers (API ${api})`, () => boundedSuite(api));
}

function boundedSuite(api: Api): void {
  let emu: SmartcarEmulator;
  let world: World | undefined;
  let uninstallTime: (() => void) | undefined;
  /** v3: the vehicle host as the plugin reaches it (answers can be held on their way back). */
  let proxy: LateProxy | undefined;
  const crashes = crashRecorder();
  let n = 0;
  const v3 = api === 'v3';
  /** A scenario that exists on one API only. */
  const itOn = (which: Api): typeof it => (which === api ? it : ((() => undefined) as unknown as typeof it));

  function owner(models: string[]): { userId: string; email: string; ids: string[] } {
    const email = `owner${++n}@example.com`;
    const userId = emu.addUser({ email, password: 'pw' }).id;
    const ids = models.map((model) => emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model, year: 2022, locked: false }).id);
    return { userId, email, ids };
  }

  /** The owner's cars connected (v2: tokens seeded; v3: connections at Smartcar) and the plugin started. */
  async function start(userId: string, options: { storage?: string } = {}): Promise<World> {
    world = v3 ? await startConnected(emu, userId, { config: CONFIG, ...options }) : await startWithTokens(emu, userId, { config: CONFIG, ...options });
    return world;
  }

  async function firstReads(w: World): Promise<void> {
    await waitFor('every first read', () => w.platform.status().every((u) => u.vehicles.every((v) => v.lastRefreshAt !== undefined)));
  }

  /** The reads of one car: v2 batches, v3 signals requests (the list, or one signal after a command). */
  const readsOf = (id: string, from = 0): RequestLogEntry[] => emu.requests.slice(from)
    .filter((r) => r.vehicleId === id && (v3 ? r.host === 'v3' && r.method === 'GET' && /\/signals(\/[^/]+)?$/.test(r.path) : r.path.endsWith('/batch')));
  /** Smartcar does not answer the car's next full read for `ms`. */
  const stallRead = (id: string, ms: number): void => emu.inject(v3 ? { target: 'read', api: 'v3', vehicleId: id, path: '/signals' } : { target: 'read', vehicleId: id, path: '/batch' }, { delayMs: ms });
  /**
   * Smartcar reads the car's lock now, but its answer reaches the plugin only after `ms`. v2: the batch
   * answers /security first, then hangs on /battery. v3: one signals request, held by the proxy on its
   * way back (the emulator's own delays act before the car is read).
   */
  function lateRead(id: string, ms: number): void {
    if (v3) {
      proxy!.hold((method, path) => method === 'GET' && path === `/v3/vehicles/${id}/signals`, ms);
    } else {
      emu.inject({ target: 'read', vehicleId: id, path: '/battery' }, { delayMs: ms });
    }
  }
  /** v3: what the held answer said of the lock (closure-islocked), as Smartcar computed it. */
  function heldLock(): unknown {
    const body = JSON.parse(proxy!.held[0] ?? '{}') as { data?: { id?: string; attributes?: { body?: { value?: unknown } } }[] };
    return body.data?.find((d) => d.id === 'closure-islocked')?.attributes?.body?.value;
  }
  /** The late answer of lateRead has come back (into a connection the plugin may have given up on). */
  const lateAnswered = (id: string): boolean => (v3 ? proxy!.delivered >= 1 : readsOf(id).length >= 2 && readsOf(id).every((r) => r.status === 200));

  before(async () => {
    emu = await startEmulator();
    if (v3) {
      proxy = await LateProxy.start(emu.origins.v3);
      // Read by the v3 backend when the platform launches.
      process.env.SMARTCAR_API_V3_ORIGIN = proxy.origin;
    }
  });
  afterEach(async () => {
    await world?.shutdown();
    world = undefined;
    uninstallTime?.();
    uninstallTime = undefined;
    emu.faults.clear();
    // v3 serves every connection of the application: the next test's owner starts alone.
    for (const c of v3 ? emu.connections() : []) {
      emu.removeConnection(c.id);
    }
    emu.commandLatencyMs = 0;
    emu.longRunningAfterMs = DEFAULT_LONG_RUNNING_AFTER_MS;
    if (proxy) {
      proxy.clear();
      proxy.delivered = 0;
      proxy.undeliverable = 0;
      proxy.held = [];
    }
    assert.deepEqual(crashes.rejections, [], 'no unhandled rejection');
    assert.deepEqual(crashes.exceptions, [], 'no uncaught exception');
  });
  after(async () => {
    crashes.stop();
    await proxy?.close();
    await emu?.close();
  });

  it(`a read Smartcar does not answer gives up at ${BOUND_S} s with a fault, and holds no other refresh for ${STUCK_MS / 1000} s`, async () => {
    const { userId, ids: [stuckId, otherId] } = owner(['Model 3', 'Model Y']);
    const w = await start(userId);
    await firstReads(w);
    const stuck = accessoryNamed(w.api, 'Model 3');
    const stuckFaults = told(stuck, S.LockMechanism, C.StatusFault);
    const from = emu.requests.length;
    stallRead(stuckId!, STUCK_MS);
    const t0 = Date.now();
    await w.platform.refreshNow();

    await waitFor('the fault flag', () => stuckFaults.includes(C.StatusFault.GENERAL_FAULT), (BOUND_S + 3) * 1000);
    const gaveUpAfter = Date.now() - t0;
    assert.ok(gaveUpAfter >= BOUND_S * 1000 - 200 && gaveUpAfter < 8000, `gave up after ${gaveUpAfter} ms`);
    const line = w.logs.lines.find((l) => l.level === 'warn' && l.message.startsWith('Model 3: refresh failed'));
    assert.ok(line, w.logs.text());
    assert.match(line.message, new RegExp(`no answer from Smartcar within ${BOUND_S} s`));
    assert.equal(pushed(stuck, S.Battery, C.StatusFault), C.StatusFault.GENERAL_FAULT, 'every service of the car shows it');

    // Refreshes run one at a time, so the other car waits at most for the bound, not for Smartcar.
    await waitFor('the other car read', () => readsOf(otherId!, from).some((r) => r.status === 200), 8000 - (Date.now() - t0));
    // The stuck car's next attempt (the backoff) is not blocked by the request still hanging at Smartcar.
    await waitFor('the stuck car read again and the fault cleared', () => pushed(stuck, S.LockMechanism, C.StatusFault) === C.StatusFault.NO_FAULT
      && readsOf(stuckId!, from).some((r) => r.status === 200), 8000 - (Date.now() - t0));
    assert.ok(Date.now() - t0 < 8000, 'all of it long before Smartcar would have answered');
  });

  // v3 commands are bounded by max(requestTimeoutSeconds, 180 s): their own tests are below.
  itOn('v2')(`a lock Smartcar does not answer gives up at ${BOUND_S} s: target reverted, fault, and reads go on meanwhile`, async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    const targets = told(car, S.LockMechanism, C.LockTargetState);
    emu.inject({ target: 'command', vehicleId: id!, path: '/security' }, { delayMs: STUCK_MS });
    const from = emu.requests.length;
    const t0 = Date.now();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED, 'the tap shows at once');

    // The command does not hold the scheduler: a refresh while it hangs is read, and the target stays.
    await w.platform.refreshNow(id);
    await waitFor('a read while the command hangs', () => readsOf(id!, from).some((r) => r.status === 200), 3000);
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED, 'still "Locking…" while the command is out');

    await waitFor('the target reverted', () => pushed(car, S.LockMechanism, C.LockTargetState) === UNSECURED, (BOUND_S + 3) * 1000);
    const revertedAfter = Date.now() - t0;
    assert.ok(revertedAfter >= BOUND_S * 1000 - 200 && revertedAfter < 8000, `reverted after ${revertedAfter} ms`);
    assert.deepEqual(targets, [SECURED, UNSECURED]);
    assert.equal(pushed(car, S.LockMechanism, C.LockCurrentState), C.LockCurrentState.UNSECURED);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.GENERAL_FAULT);
    const line = w.logs.lines.find((l) => l.level === 'warn' && /Could not lock/.test(l.message));
    assert.ok(line, w.logs.text());
    assert.match(line.message, new RegExp(`no answer from Smartcar within ${BOUND_S} s`));
  });

  it('an answer arriving after the plugin gave up never overwrites the newer state', async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    const currents = told(car, S.LockMechanism, C.LockCurrentState);
    emu.resetLog();
    // Smartcar reads the lock now (the car is unlocked): its answer, "unlocked", reaches the plugin
    // only after 8 s.
    lateRead(id!, 8000);
    await w.platform.refreshNow(id);
    await waitFor('the plugin gives up', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.GENERAL_FAULT, (BOUND_S + 3) * 1000);
    // Meanwhile the owner locked the car with its key; the plugin's next read sees it.
    emu.updateVehicle(id!, { locked: true });
    await waitFor('HomeKit shows locked', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 3000);
    await waitFor('the late answer came back', () => lateAnswered(id!), 6000);
    if (v3) {
      assert.equal(heldLock(), false, 'the late answer said "unlocked"');
      assert.equal(proxy!.undeliverable, 1, 'and came after the plugin had hung up');
    }
    await sleep(200);
    assert.deepEqual(currents, [C.LockCurrentState.SECURED], `LockCurrentState told to HomeKit: ${JSON.stringify(currents)}`);
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);
  });

  it('a read answered after a lock succeeded never shows the car unlocked again', async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    const currents = told(car, S.LockMechanism, C.LockCurrentState);
    const targets = told(car, S.LockMechanism, C.LockTargetState);
    emu.resetLog();
    // A read whose lock value Smartcar took before the lock, delivered after it (within the bound).
    lateRead(id!, 800);
    await w.platform.refreshNow(id);
    await sleep(150);
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await waitFor('locked', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 3000);
    await waitFor('the slow read and the confirming read answered', () => readsOf(id!).length >= 2 && lateAnswered(id!), 4000);
    if (v3) {
      assert.equal(heldLock(), false, 'the slow read said "unlocked"');
      assert.equal(proxy!.undeliverable, 0, 'and reached the plugin (within the bound), after the lock');
    }
    await sleep(200);
    assert.equal(emu.vehicle(id!).locked, true);
    assert.deepEqual(currents, [C.LockCurrentState.SECURED], `LockCurrentState told to HomeKit: ${JSON.stringify(currents)}`);
    assert.deepEqual(targets, [SECURED], `LockTargetState told to HomeKit: ${JSON.stringify(targets)}`);
  });

  // v3 has no refresh token to rotate: its slow token endpoint (IAM) has its own test below.
  itOn('v2')('a token refresh Smartcar answers after the bound is kept: a slow token endpoint does not cost the authorization', async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    // Smartcar rotates the refresh token when it answers and keeps the used one alive only briefly
    // (reference: one minute; here one second, against the tests' 200 ms backoff).
    emu.refreshGraceMs = 1000;
    // Its token endpoint is slow twice: each refresh answers 2 s after the plugin gave up on it.
    emu.inject({ target: 'token', grant: 'refresh_token' }, { delayMs: (BOUND_S + 2) * 1000 }, 2);
    emu.expireAccessTokens(userId);
    emu.resetLog();
    const t0 = Date.now();
    try {
      await w.platform.refreshNow(id);
      await waitFor('the first refresh given up', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.GENERAL_FAULT, (BOUND_S + 3) * 1000);
      // The late answers (the rotated pair at 7 s, then invalid_grant for the reused token at 12 s) have
      // come and gone; the plugin must still hold a working authorization and read the car.
      await waitFor('both late token answers', () => emu.requests.filter((r) => r.path === '/oauth/token' && Date.now() - t0 > (2 * BOUND_S + 2) * 1000).length >= 2, 20_000);
      await sleep(300);
      assert.equal(w.platform.status()[0]!.needsReauth, false, `still authorized: ${w.logs.text('error')}`);
      await waitFor('the car read again', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.NO_FAULT && readsOf(id!).some((r) => r.status === 200), 3000);
      const from = emu.requests.length;
      emu.expireAccessTokens(userId);
      await w.platform.refreshNow(id);
      await waitFor('a later refresh works too', () => readsOf(id!, from).some((r) => r.status === 200), 3000);
      assert.equal(w.platform.status()[0]!.needsReauth, false);
      assert.equal(w.logs.lines.filter((l) => l.level === 'error').length, 0, w.logs.text('error'));
    } finally {
      emu.refreshGraceMs = 60_000;
    }
  });

  const refusal = v3 ? 'CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED on a read' : 'a refused refresh token';
  it(`${refusal}: that user's cars show a fault and get no request over hours; the other user polls on; Connect again restores them`, async () => {
    const a = owner(['Model 3', 'Model Y']);
    const b = owner(['Cybertruck']);
    emu.autoApprove = { email: a.email };
    const storage = await tempStorage();
    if (v3) {
      emu.connect(b.userId);
    } else {
      await seedTokens(storage, b.userId, emu.issueTokens(b.userId));
    }
    // Several 30-minute refresh intervals in seconds: the scheduler runs on the emulator's clock.
    const time = new VirtualTime(emu);
    uninstallTime = time.install();
    const t0 = emu.clock.now();
    const w = await start(a.userId, { storage });
    await time.runUntil(t0 + 1000);
    await firstReads(w);
    const aCars = ['Model 3', 'Model Y'].map((m) => accessoryNamed(w.api, m));
    const bCar = accessoryNamed(w.api, 'Cybertruck');
    const setupUrl = /Setup page: (http:\/\/\S+)/.exec(w.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
    const statusOf = (userId: string): ReturnType<typeof w.platform.status>[number] => w.platform.status().find((u) => u.userId === userId)!;
    const errorLines = (): string[] => w.logs.lines.filter((l) => l.level === 'error').map((l) => l.message);

    if (v3) {
      // A changed the password of the car's account: Smartcar answers every read of A's cars with
      // AUTHENTICATION_FAILED (resolution REAUTHENTICATE) until A signs in again in Connect.
      for (const id of a.ids) {
        emu.inject({ target: 'read', api: 'v3', vehicleId: id }, { error: { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'AUTHENTICATION_FAILED', status: 400 } }, 100);
      }
    } else {
      // Smartcar refuses A's refresh token (revoked: invalid_grant) at A's next planned refresh.
      emu.revokeTokens(a.userId);
    }
    await time.runUntil(t0 + 31 * MIN);
    for (const car of aCars) {
      assert.deepEqual(faults(car), [1, 1, 1], `${car.displayName}: every service shows the fault`);
    }
    assert.deepEqual(faults(bCar), [0, 0, 0], 'the other user\'s car is fine');
    assert.equal(statusOf(a.userId).needsReauth, true);
    assert.equal(statusOf(b.userId).needsReauth, false);
    assert.match(await (await fetch(`${setupUrl}/`)).text(), /href="\/connect">Connect again</);
    assert.equal(errorLines().length, 1, w.logs.text());
    assert.match(errorLines()[0]!, /Model 3, Model Y.*connected again.*setup page/);

    // Two more refresh intervals, with the owner pressing Refresh (all, and the car itself) in each.
    emu.resetLog();
    for (let round = 0; round < 2; round++) {
      // The cars keep reporting to their makers: data recorded hours ago would be stale however fresh the read.
      [...a.ids, ...b.ids].forEach((id) => emu.updateVehicle(id, {}));
      await w.platform.refreshNow();
      assert.equal(await w.platform.refreshNow(a.ids[0]), 'reconnect', 'the setup page is told to ask for Connect again');
      await time.runUntil(emu.clock.now() + 30 * MIN + 5000); // B: the pressed refresh, then its planned one
    }
    // v3's application token and connection listing serve every user: they are not A's.
    const forA = emu.requests.filter((r) => a.ids.includes(r.vehicleId ?? '') || r.userId === a.userId || r.path === '/oauth/token');
    assert.deepEqual(forA.map((r) => `${r.method} ${r.path} ${r.status}`), [], 'nothing is sent for that user, not even a token refresh');
    const bReads = readsOf(b.ids[0]!);
    assert.ok(bReads.length >= 4 && bReads.every((r) => r.status === 200), `the other user keeps polling: ${bReads.length} reads`);
    assert.deepEqual(faults(bCar), [0, 0, 0]);
    assert.equal(errorLines().length, 1, 'told once, not at every refresh');

    // Connect again on the setup page (the emulator signs in as A): the same accessories come back.
    emu.faults.clear(); // v3: A signed in to the car's account again
    const r = await connectViaSetupPage(setupUrl);
    assert.match(r.url, /connected=2/, `both cars connected again: ${r.status} ${r.url}`);
    await time.runUntil(emu.clock.now() + 1000);
    for (const [i, m] of ['Model 3', 'Model Y'].entries()) {
      const again = accessoryNamed(w.api, m);
      assert.equal(again, aCars[i], `${m}: the very same accessory object`);
      assert.equal(again.UUID, aCars[i]!.UUID);
      await waitFor(`${m}: the fault cleared`, () => faults(again).every((f) => f === 0));
    }
    assert.equal(statusOf(a.userId).needsReauth, false);
    for (const id of a.ids) {
      assert.ok(readsOf(id).some((x) => x.status === 200), 'polling resumed for that user');
    }
    assert.doesNotMatch(await (await fetch(`${setupUrl}/`)).text(), />Connect again</);
  });

  // ---- v3: commands wait for Smartcar's long-running answers ---------------------------------------

  itOn('v3')(`a lock Smartcar holds 12 s is not cut at ${BOUND_S} s (v3 commands wait max(requestTimeoutSeconds, ${V3_COMMAND_TIMEOUT_SECONDS} s)): it locks, no fault, reads go on meanwhile`, async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    const targets = told(car, S.LockMechanism, C.LockTargetState);
    const currents = told(car, S.LockMechanism, C.LockCurrentState);
    const lockFaults = told(car, S.LockMechanism, C.StatusFault);
    emu.commandLatencyMs = 12_000; // the car takes 12 s; Smartcar holds the connection (a 200 at the end)
    const from = emu.requests.length;
    const t0 = Date.now();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await w.platform.refreshNow(id);
    await waitFor('a read while the command is out', () => readsOf(id!, from).some((r) => r.status === 200), 3000);

    await sleep(t0 + (BOUND_S + 2) * 1000 - Date.now());
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED, `still "Locking…" ${BOUND_S + 2} s in`);
    assert.deepEqual(lockFaults, [], 'no fault while Smartcar is still carrying the command out');
    assert.equal(w.logs.lines.filter((l) => /Could not lock/.test(l.message)).length, 0, w.logs.text());

    await waitFor('HomeKit shows locked', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 10_000);
    const lockedAfter = Date.now() - t0;
    assert.ok(lockedAfter >= 12_000 - 200, `locked after ${lockedAfter} ms, when the car did it`);
    assert.equal(emu.vehicle(id!).locked, true);
    await sleep(300); // the confirming read
    assert.deepEqual(targets, [SECURED], `LockTargetState told to HomeKit: ${JSON.stringify(targets)}`);
    assert.deepEqual(currents, [C.LockCurrentState.SECURED], `LockCurrentState told to HomeKit: ${JSON.stringify(currents)}`);
    assert.deepEqual(lockFaults, [], 'never flagged');
    assert.equal(w.logs.lines.filter((l) => l.level === 'warn' || l.level === 'error').filter((l) => !/setup page listens on/.test(l.message)).length, 0, w.logs.text());
  });

  itOn('v3')(`a long-running lock (202, outcome streamed 9 s later) is waited for past ${BOUND_S} s, and the streamed outcome decides: a door open reverts it, a closed door locks`, async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    // Smartcar answers 202 at once and writes the outcome when the car is done (smartcar-v3.md §3.4).
    emu.longRunningAfterMs = 1000;
    emu.commandLatencyMs = 9000;
    emu.updateVehicle(id!, { doors: { frontLeft: 'OPEN' } });
    let t0 = Date.now();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await waitFor('the target reverted', () => pushed(car, S.LockMechanism, C.LockTargetState) === UNSECURED, 12_000);
    const refusedAfter = Date.now() - t0;
    assert.ok(refusedAfter >= 9000 - 200, `refused after ${refusedAfter} ms, when Smartcar streamed the refusal`);
    const line = w.logs.lines.find((l) => l.level === 'warn' && /Could not lock/.test(l.message));
    assert.ok(line, w.logs.text());
    assert.match(line.message, /DOOR_OPEN/, 'the streamed reason, not a timeout');
    assert.doesNotMatch(line.message, /no answer from Smartcar/);
    assert.ok(emu.requests.some((r) => r.method === 'POST' && r.vehicleId === id && r.status === 202), 'Smartcar did answer 202');

    emu.updateVehicle(id!, { doors: { frontLeft: 'CLOSED' } });
    t0 = Date.now();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await waitFor('HomeKit shows locked', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 12_000);
    assert.ok(Date.now() - t0 >= 9000 - 200, `locked after ${Date.now() - t0} ms`);
    assert.equal(emu.vehicle(id!).locked, true);
    await waitFor('the fault cleared', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.NO_FAULT, 3000);
  });

  itOn('v3')(`a lock Smartcar never answers gives up at ${V3_COMMAND_TIMEOUT_SECONDS} s, not at ${BOUND_S} s: target reverted, fault, one line naming the bound; reads go on meanwhile`, async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    const targets = told(car, S.LockMechanism, C.LockTargetState);
    // No answer at all (not even the 202's headers) until a little after the bound.
    emu.inject({ target: 'command', api: 'v3', vehicleId: id! }, { delayMs: (V3_COMMAND_TIMEOUT_SECONDS + 5) * 1000 });
    const from = emu.requests.length;
    const t0 = Date.now();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await w.platform.refreshNow(id);
    await waitFor('a read while the command hangs', () => readsOf(id!, from).some((r) => r.status === 200), 3000);
    await sleep(t0 + (BOUND_S + 2) * 1000 - Date.now());
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED, `not given up at ${BOUND_S} s`);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);

    await waitFor('the target reverted', () => pushed(car, S.LockMechanism, C.LockTargetState) === UNSECURED, (V3_COMMAND_TIMEOUT_SECONDS + 5) * 1000);
    const revertedAfter = Date.now() - t0;
    assert.ok(revertedAfter >= V3_COMMAND_TIMEOUT_SECONDS * 1000 - 200 && revertedAfter < (V3_COMMAND_TIMEOUT_SECONDS + 3) * 1000, `reverted after ${revertedAfter} ms`);
    assert.deepEqual(targets, [SECURED, UNSECURED]);
    assert.equal(pushed(car, S.LockMechanism, C.LockCurrentState), C.LockCurrentState.UNSECURED);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.GENERAL_FAULT);
    const lines = w.logs.lines.filter((l) => l.level === 'warn' && /Could not lock/.test(l.message));
    assert.equal(lines.length, 1, w.logs.text());
    assert.match(lines[0]!.message, new RegExp(`no answer from Smartcar within ${V3_COMMAND_TIMEOUT_SECONDS} s`));
  });

  itOn('v3')('an application token Smartcar answers after the bound: that read fails once with a fault, the next gets a token and reads; nothing for the owner to do', async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    await firstReads(w);
    const car = accessoryNamed(w.api, 'Model 3');
    emu.inject({ target: 'token', api: 'v3' }, { delayMs: (BOUND_S + 2) * 1000 });
    emu.expireAppTokens();
    emu.resetLog();
    const tokens = (): RequestLogEntry[] => emu.requests.filter((r) => r.host === 'iam');
    const t0 = Date.now();
    await w.platform.refreshNow(id);
    await waitFor('the read given up', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.GENERAL_FAULT, (BOUND_S + 3) * 1000);
    assert.ok(Date.now() - t0 >= BOUND_S * 1000 - 200, `gave up after ${Date.now() - t0} ms`);
    const line = w.logs.lines.find((l) => l.level === 'warn' && l.message.startsWith('Model 3: refresh failed'));
    assert.ok(line, w.logs.text());
    assert.match(line.message, new RegExp(`no answer from Smartcar within ${BOUND_S} s`));
    await waitFor('the car read again with a new token', () => pushed(car, S.LockMechanism, C.StatusFault) === C.StatusFault.NO_FAULT
      && readsOf(id!).some((r) => r.status === 200), 3000);
    // The late token answer comes and goes; the plugin keeps the one it has.
    await waitFor('the late token answer', () => tokens().length >= 2, 5000);
    const from = emu.requests.length;
    await w.platform.refreshNow(id);
    await waitFor('a later read works too', () => readsOf(id!, from).some((r) => r.status === 200), 3000);
    assert.equal(emu.requests.slice(from).filter((r) => r.host === 'iam').length, 0, 'no token asked for again');
    assert.equal(w.platform.status()[0]!.needsReauth, false);
    assert.equal(w.logs.lines.filter((l) => l.level === 'error').length, 0, w.logs.text('error'));
  });
}
