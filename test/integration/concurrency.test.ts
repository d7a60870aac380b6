// Things happening at once, each ending in a state the owner can see and trust, on both APIs: many
// cars hitting 401 together (one token refresh on v2; one new application token on v3, whose one token
// serves every car), a lock written while that token request is in flight, two lock writes in a row
// (the last one wins, car and Home agree), and a command racing the removal of its vehicle (no crash,
// nothing sent for it afterwards). Proven on the emulator's request log and on the values HomeKit was told.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import type { FaultMatch, RequestLogEntry, SmartcarEmulator } from '../emulator/index.js';
import { crashRecorder, sleep } from '../faults/support.js';
import { accessoryNamed, hap, pushed, told, waitFor, write } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service: S, Characteristic: C } = hap;
const SECURED = C.LockTargetState.SECURED;
const UNSECURED = C.LockTargetState.UNSECURED;
const CONFIG = { refreshIntervalMinutes: 30, requestsPerVehiclePerMonth: 1_000_000 };

type Api = 'v2' | 'v3';
type World = Awaited<ReturnType<typeof startWithTokens>>;

for (const api of ['v2', 'v3'] as const) {
  describe(`concurrency (API ${api})`, () => concurrencySuite(api));
}

function concurrencySuite(api: Api): void {
  const v3 = api === 'v3';
  let emu: SmartcarEmulator;
  let world: World | undefined;
  const crashes = crashRecorder();
  let n = 0;

  /** A fresh owner per test, so no test sees another's cars or tokens. */
  function owner(models: string[], locked = false): { userId: string; ids: string[] } {
    const userId = emu.addUser({ email: `owner${++n}@example.com`, password: 'pw' }).id;
    const ids = models.map((model) => emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model, year: 2022, locked }).id);
    return { userId, ids };
  }

  /** The owner's cars connected (v2: tokens seeded; v3: connections at Smartcar) and the plugin started. */
  async function start(userId: string): Promise<World> {
    world = v3 ? await startConnected(emu, userId, { config: CONFIG }) : await startWithTokens(emu, userId, { config: CONFIG });
    const w = world;
    await waitFor('every first read', () => w.platform.status()[0]?.vehicles.every((v) => v.lastRefreshAt !== undefined));
    return w;
  }

  /** v3 lists the application's connections every 400 ms (unbilled, no car's): not what quiet() waits out. */
  const listing = (r: RequestLogEntry): boolean => r.host === 'v3' && r.method === 'GET' && r.path === '/v3/connections';
  /** Waits until nothing more is sent (confirming reads, retries) for a quiet window. */
  async function quiet(windowMs = 300): Promise<void> {
    const count = (): number => emu.requests.filter((r) => !listing(r)).length;
    for (let seen = count(); ; seen = count()) {
      await sleep(windowMs);
      if (count() === seen) {
        return;
      }
    }
  }

  /** The tokens the plugin asked for: v2 refresh_token grants, v3 application tokens from IAM. */
  const tokenCalls = (): RequestLogEntry[] => emu.requests.filter((r) => r.method === 'POST' && (v3 ? r.host === 'iam' && r.path === '/oauth2/token' : r.path === '/oauth/token'));
  /** Lock and unlock commands: v2 POST /security, v3 POST /commands/security/lock|unlock. */
  const isCommand = (r: RequestLogEntry): boolean => r.method === 'POST' && (v3 ? /\/commands\/security\/(lock|unlock)$/.test(r.path) : r.path.endsWith('/security'));
  /** A car's reads: v2 batches, v3 signals requests (the list, or one signal after a command). */
  const isRead = (r: RequestLogEntry): boolean => (v3 ? r.host === 'v3' && r.method === 'GET' && /\/signals(\/[^/]+)?$/.test(r.path) : r.path.endsWith('/batch'));
  /** Every token the plugin holds is refused from now on (v2: that user's access token; v3: the app token). */
  const expireTokens = (userId: string): void => (v3 ? emu.expireAppTokens() : emu.expireAccessTokens(userId));
  const tokenMatch: FaultMatch = v3 ? { target: 'token', api: 'v3' } : { target: 'token', grant: 'refresh_token' };
  const commandMatch = (vehicleId: string): FaultMatch => (v3 ? { target: 'command', api: 'v3', vehicleId } : { target: 'command', vehicleId, path: '/security' });
  const token = v3 ? 'application token' : 'token refresh';

  // The redirectUri/port hint is about the test's port-0 setup page, not about the cars.
  const problems = (w: World): string => w.logs.lines.filter((l) => (l.level === 'warn' || l.level === 'error') && !/setup page listens on/.test(l.message))
    .map((l) => l.message).join('\n');

  before(async () => {
    emu = await startEmulator();
  });
  afterEach(async () => {
    await world?.shutdown();
    world = undefined;
    emu.faults.clear();
    // v3 serves every connection of the application: the next test's owner starts alone.
    for (const c of v3 ? emu.connections() : []) {
      emu.removeConnection(c.id);
    }
    emu.commandLatencyMs = 0;
    assert.deepEqual(crashes.rejections, [], 'no unhandled rejection');
    assert.deepEqual(crashes.exceptions, [], 'no uncaught exception');
  });
  after(async () => {
    crashes.stop();
    await emu?.close();
  });

  it(`five cars of one user get 401 at once: one ${token}, every car locks and reads fine`, async () => {
    const models = ['Model 3', 'Model Y', 'Model S', 'Model X', 'Cybertruck'];
    const { userId, ids } = owner(models);
    const w = await start(userId);
    const cars = models.map((m) => accessoryNamed(w.api, m));

    expireTokens(userId);
    emu.resetLog();
    // All five lock commands leave together with the expired token, and a refresh of every car is due.
    await Promise.all([w.platform.refreshNow(), ...cars.map((car) => write(car, S.LockMechanism, C.LockTargetState, SECURED))]);

    await waitFor('every car locked in HomeKit', () => cars.every((car) => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED));
    await waitFor('every car read with the new token', () => ids.every((id) => emu.requests.some((r) => r.vehicleId === id && isRead(r) && r.status === 200)));
    await quiet();

    assert.equal(tokenCalls().length, 1, `exactly one token request: ${JSON.stringify(emu.requests.filter((r) => !listing(r)).map((r) => `${r.method} ${r.path} ${r.status}`))}`);
    const refused = emu.requests.filter((r) => r.status === 401 && isCommand(r));
    assert.equal(refused.length, 5, 'the five commands really were refused together');
    for (const id of ids) {
      assert.equal(emu.vehicle(id).locked, true, 'the car itself is locked');
    }
    for (const car of cars) {
      assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED);
      assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);
      assert.equal(pushed(car, S.Battery, C.StatusFault), C.StatusFault.NO_FAULT);
    }
    assert.equal(problems(w), '', 'nothing for the owner to act on');
  });

  it(`a lock written while a${v3 ? 'n' : ''} ${token} is in flight uses the new token; Home never shows it unlocking`, async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    const car = accessoryNamed(w.api, 'Model 3');
    assert.equal(pushed(car, S.LockMechanism, C.LockCurrentState), C.LockCurrentState.UNSECURED);

    emu.inject(tokenMatch, { delayMs: 600 });
    emu.commandLatencyMs = 300; // the car takes a moment, as real ones do
    expireTokens(userId);
    emu.resetLog();
    const targets = told(car, S.LockMechanism, C.LockTargetState);
    const currents = told(car, S.LockMechanism, C.LockCurrentState);
    await w.platform.refreshNow(id);
    // The read was refused: the token request is now on its way (held 600 ms by the emulator).
    await waitFor('the read refused with the old token', () => emu.requests.some((r) => isRead(r) && r.status === 401));
    assert.equal(tokenCalls().length, 0, 'the token request has not answered yet');
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);

    await waitFor('LockCurrentState SECURED', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 5000);
    await quiet();

    assert.equal(emu.vehicle(id!).locked, true, 'the car is locked');
    assert.equal(tokenCalls().length, 1, 'one token for the read and the command');
    const commands = emu.requests.filter(isCommand);
    assert.equal(commands.filter((r) => r.status === 200).length, 1, 'the lock was sent once with a valid (the new) token');
    if (v3) {
      // One application token for every request: once the read found it refused, the lock waits for the new one.
      assert.equal(commands.filter((r) => r.status === 401).length, 0, `not even tried with the old one: ${JSON.stringify(emu.requests.filter((r) => !listing(r)))}`);
    }
    const tokenAt = emu.requests.indexOf(tokenCalls()[0]!);
    assert.ok(emu.requests.findIndex((r) => isCommand(r) && r.status === 200) > tokenAt, 'after the token came');
    // What the owner saw: target SECURED from the tap on, never flipping back to "Unlocking".
    assert.deepEqual(targets, [SECURED], `LockTargetState told to HomeKit: ${JSON.stringify(targets)}`);
    assert.deepEqual(currents, [C.LockCurrentState.SECURED], `LockCurrentState told to HomeKit: ${JSON.stringify(currents)}`);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);
    assert.equal(problems(w), '');
  });

  it('lock then unlock written at once: the car ends as last asked (unlocked), Home agrees, no fault', async () => {
    const { userId, ids: [id] } = owner(['Model 3']);
    const w = await start(userId);
    const car = accessoryNamed(w.api, 'Model 3');
    emu.resetLog();
    // The first command is slower on its way to the car (network, OEM): sent together, the unlock
    // would reach the car first and the lock would win there while Home shows unlocked.
    emu.inject(commandMatch(id!), { delayMs: 500 });
    emu.commandLatencyMs = 100;
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await write(car, S.LockMechanism, C.LockTargetState, UNSECURED);
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), UNSECURED, 'the target is what the owner asked last');

    await waitFor('both commands answered', () => emu.requests.filter(isCommand).length === 2, 5000);
    // In the order asked: the slow lock was answered before the unlock was sent.
    const [first, second] = emu.requests.filter(isCommand);
    assert.ok(first!.at <= second!.receivedAt, `the unlock left only after the lock was answered: ${JSON.stringify([first, second])}`);
    if (v3) {
      assert.deepEqual([first, second].map((r) => r!.path.split('/').pop()), ['lock', 'unlock']);
    }
    await quiet();
    assert.equal(emu.vehicle(id!).locked, false, 'the car did the last thing the owner asked');
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), UNSECURED);
    assert.equal(pushed(car, S.LockMechanism, C.LockCurrentState), C.LockCurrentState.UNSECURED, 'Home agrees with the car');
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);
    assert.equal(problems(w), '');

    // Three in a row, all at once: still the last one, car and Home agreeing.
    for (const target of [SECURED, UNSECURED, SECURED]) {
      await write(car, S.LockMechanism, C.LockTargetState, target);
    }
    await waitFor('locked', () => pushed(car, S.LockMechanism, C.LockCurrentState) === C.LockCurrentState.SECURED, 5000);
    await quiet();
    assert.equal(emu.vehicle(id!).locked, true);
    assert.equal(pushed(car, S.LockMechanism, C.LockTargetState), SECURED);
    assert.equal(pushed(car, S.LockMechanism, C.StatusFault), C.StatusFault.NO_FAULT);
  });

  it('a slow lock while the car is disconnected on the setup page: no crash, accessory gone, nothing more sent for it', async () => {
    const { userId, ids: [id, otherId] } = owner(['Model 3', 'Model Y']);
    const w = await start(userId);
    const car = accessoryNamed(w.api, 'Model 3');
    const uuid = car.UUID;
    emu.commandLatencyMs = 800;
    emu.resetLog();
    await write(car, S.LockMechanism, C.LockTargetState, SECURED);
    await sleep(100); // the command is at the car now
    await w.platform.disconnect(id!);
    assert.equal(w.api.accessories.has(uuid), false, 'unregistered at once');
    assert.ok(!w.platform.status().some((u) => u.vehicles.some((v) => v.vehicleId === id)), 'gone from the setup page');

    await waitFor('the slow command answered', () => emu.requests.some(isCommand), 5000);
    const after = emu.requests.length;
    // A HomeKit write that was already on its way to the removed accessory, a refresh of everything,
    // and time for any confirming read or retry: none of it may reach Smartcar for that car.
    await write(car, S.LockMechanism, C.LockTargetState, UNSECURED);
    await w.platform.refreshNow();
    await waitFor('the other car still refreshes', () => emu.requests.slice(after).some((r) => r.vehicleId === otherId && isRead(r) && r.status === 200));
    await quiet();
    const late = emu.requests.slice(after).filter((r) => r.vehicleId === id);
    assert.deepEqual(late.map((r) => `${r.method} ${r.path}`), [], 'no request for the removed car');
    assert.equal(w.api.accessories.has(uuid), false, 'not registered again');
    assert.equal(w.platform.status()[0]?.needsReauth, false, 'the other car of that user is unaffected');
    if (v3) {
      // The connection is gone at Smartcar, so the minute listings (400 ms here) do not bring it back.
      assert.ok(!emu.connections().some((c) => c.vehicleId === id), 'disconnected at Smartcar');
      const listings = emu.requests.filter(listing).length;
      await waitFor('two more listings', () => emu.requests.filter(listing).length >= listings + 2, 3000);
      assert.equal(w.api.accessories.has(uuid), false, 'still not registered again');
    }
  });
}
