// The fault matrix, through the platform directly (real HAP objects, the real SDK, the emulator):
// every documented Smartcar error plus timeout, dropped connection and malformed body, injected on
// a refresh read, a lock command, the code exchange and the token refresh. Each row proves: nothing
// throws or rejects unhandled, HomeKit shows an honest state, the owner reads one line naming the
// cause and the fix, and the plugin recovers by itself (or, when only the owner can help, stops
// polling until Connect is done again, which restores the same accessory).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, pushed, waitFor, write } from '../helpers/homebridge-api.js';
import type { LogLine } from '../helpers/log.js';
import { CLIENT_SECRET, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { connectViaSetupPage, crashRecorder, ERROR_ROWS, networkRows, sleep, type FaultRow } from './support.js';

const { Service, Characteristic } = hap;
const BOUND_SECONDS = 5; // the smallest requestTimeoutSeconds the config accepts
const ROWS: FaultRow[] = [...ERROR_ROWS, ...networkRows(BOUND_SECONDS * 1000 + 1500, BOUND_SECONDS)];
// The owner's next step, in whatever words the plugin uses for this kind of problem.
const FIX = /retry|try again|connect (?:it|the vehicle|\S+ \S+|\S+) again|setup page|Dashboard|grant it/i;
const UNSECURED = 0;
const SECURED = 1;

type World = Awaited<ReturnType<typeof startWithTokens>>;
const table: { fault: string; where: string; outcome: string }[] = [];
const failures: string[] = [];

/** Runs one row and puts its outcome in the table; a failed row is listed again under the table,
 * so CI output that keeps only the suite's tail still names which row failed and why. */
async function recorded(where: string, fault: string, body: () => Promise<string>): Promise<void> {
  try {
    table.push({ fault, where, outcome: await body() });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    table.push({ fault, where, outcome: `FAILED: ${message.split('\n')[0]!.slice(0, 120)}` });
    // The first line says what failed; the tail holds the newest log lines the assertions attach.
    failures.push(`${fault} on the ${where}: ${message.split('\n')[0]!}\n…${message.slice(-1500)}`);
    throw err;
  }
}
const crashes = crashRecorder();

describe('fault matrix through the platform', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;
  let world: World;
  let car: PlatformAccessory;
  let setupUrl: string;

  const lock = (c: Parameters<typeof pushed>[2]): unknown => pushed(car, Service.LockMechanism, c);
  const problemLines = (from: number): LogLine[] => world.logs.lines.slice(from).filter((l) => l.level === 'warn' || l.level === 'error');
  const needsReauth = (): boolean => world.platform.status()[0]?.needsReauth === true;

  async function calm(): Promise<void> {
    emu.faults.clear();
    if (needsReauth()) {
      await reconnect();
    }
    const reqFrom = emu.requests.length;
    await world.platform.refreshNow(bevId);
    // Calm = that read answered and nothing is failing...
    await waitFor('a calm car (no fault, read done)', () => emu.requests.slice(reqFrom).some((r) => r.path.endsWith('/batch') && r.status === 200)
      && lock(Characteristic.StatusFault) === 0, 15_000);
    // ...and stays quiet: no confirming read or retry still on its way.
    for (let quiet = emu.requests.length; ; quiet = emu.requests.length) {
      await sleep(250);
      if (emu.requests.length === quiet) {
        break;
      }
    }
  }

  async function reconnect(): Promise<void> {
    const uuid = car.UUID;
    const r = await connectViaSetupPage(setupUrl);
    assert.match(r.url, /connected=1/, `Connect again lands on the status page (${r.status} ${r.url})`);
    const again = accessoryNamed(world.api, 'Model 3');
    assert.equal(again.UUID, uuid, 'the same accessory is back');
    assert.equal(again, car, 'the very same accessory object, not a new one');
    assert.equal(needsReauth(), false);
  }

  /** Owner-only problems: the fault is shown, polling for the user stops, Connect again restores it. */
  async function expectStoppedThenReconnect(): Promise<string> {
    assert.equal(needsReauth(), true, 'the setup page asks to connect again');
    const page = await (await fetch(`${setupUrl}/`)).text();
    assert.match(page, /Connect again/);
    const waitFrom = emu.clock.now();
    await sleep(1200); // several backoff intervals (200 ms doubling)
    // Sent during the wait (a late answer to an earlier timed-out request is not one).
    const during = emu.requests.filter((r) => r.receivedAt >= waitFrom);
    assert.deepEqual(during.map((r) => r.path), [], `no request for that user while it waits for the owner: ${JSON.stringify(during)}\n${world.logs.lines.slice(-8).map((l) => l.message).join('\n')}`);
    await reconnect();
    await world.platform.refreshNow(bevId); // a command's failure is settled by the next read
    await waitFor('the fault to clear after Connect', () => lock(Characteristic.StatusFault) === 0, 15_000);
    return 'fault; polling stopped; Connect again restored it';
  }

  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: false }).id;
    world = await startWithTokens(emu, userId, { config: { requestTimeoutSeconds: BOUND_SECONDS, refreshIntervalMinutes: 30, requestsPerVehiclePerMonth: 1_000_000 } });
    car = accessoryNamed(world.api, 'Model 3');
    setupUrl = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
    await waitFor('first read', () => pushed(car, Service.LockMechanism, Characteristic.LockCurrentState) === UNSECURED);
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
    crashes.stop();
    const w = (s: string, n: number): string => s.padEnd(n).slice(0, n);
    const lines = table.map((r) => `| ${w(r.fault, 46)} | ${w(r.where, 14)} | ${r.outcome}`);
    console.log(['', `| ${w('fault', 46)} | ${w('injected on', 14)} | outcome`, `|${'-'.repeat(48)}|${'-'.repeat(16)}|${'-'.repeat(50)}`, ...lines,
      `${table.length - failures.length} of ${table.length} rows passed`, ...failures.map((f) => `FAILED ${f}`)].join('\n'));
  });

  describe('on a refresh read', () => {
    for (const row of ROWS) {
      it(row.label, () => recorded('refresh read', row.label, async () => {
        await calm();
        const from = world.logs.lines.length;
        const reqFrom = emu.requests.length;
        emu.inject({ target: 'read', vehicleId: bevId, path: '/batch' }, row.fault);
        await world.platform.refreshNow(bevId);
        let outcome: string;
        if (row.label === 'AUTHENTICATION') {
          await waitFor('the retried read', () => emu.requests.slice(reqFrom).some((r) => r.path.endsWith('/batch') && r.status === 200));
          assert.ok(emu.requests.slice(reqFrom).some((r) => r.path === '/oauth/token'), 'the 401 made the plugin refresh its token');
          assert.equal(lock(Characteristic.StatusFault), 0);
          assert.deepEqual(problemLines(from), [], 'nothing for the owner to do, nothing logged');
          outcome = 'token refreshed, read retried at once; no fault';
        } else {
          await waitFor('the fault flag', () => lock(Characteristic.StatusFault) === 1, 20_000);
          assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), 1, 'every service of the car shows it');
          assert.equal(lock(Characteristic.LockCurrentState), UNSECURED, 'the last known value stays, flagged');
          const lines = problemLines(from);
          assert.equal(lines.length, 1, `one line for the owner:\n${world.logs.text()}`);
          assert.match(lines[0]!.message, row.cause);
          assert.match(lines[0]!.message, FIX);
          if (row.label === 'CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED') {
            outcome = await expectStoppedThenReconnect();
          } else {
            assert.equal(needsReauth(), false);
            await waitFor('recovery without help', () => lock(Characteristic.StatusFault) === 0, 15_000);
            assert.equal(problemLines(from).length, 1, 'recovery adds no warning');
            outcome = 'fault flag, last value kept; recovered by itself';
          }
        }
        return outcome;
      }));
    }
  });

  describe('on a lock command', () => {
    for (const row of ROWS) {
      it(row.label, () => recorded('lock command', row.label, async () => {
        emu.updateVehicle(bevId, { locked: false });
        await calm();
        await waitFor('unlocked in HomeKit', () => lock(Characteristic.LockCurrentState) === UNSECURED);
        const from = world.logs.lines.length;
        emu.inject({ target: 'command', vehicleId: bevId }, row.fault);
        assert.equal(await write(car, Service.LockMechanism, Characteristic.LockTargetState, SECURED), undefined, 'HomeKit gets its answer at once');
        let outcome: string;
        if (row.label === 'AUTHENTICATION') {
          await waitFor('the car locked', () => lock(Characteristic.LockCurrentState) === SECURED);
          assert.equal(emu.vehicle(bevId).locked, true);
          assert.deepEqual(problemLines(from), []);
          outcome = 'token refreshed, command retried: locked';
        } else {
          await waitFor('the target reverted and flagged', () => lock(Characteristic.LockTargetState) === UNSECURED && lock(Characteristic.StatusFault) === 1, 20_000).catch((e: unknown) => { throw new Error(`${String(e)}: target ${String(lock(Characteristic.LockTargetState))} fault ${String(lock(Characteristic.StatusFault))}\n${world.logs.text()}`); });
          assert.equal(lock(Characteristic.LockCurrentState), UNSECURED, 'current state not claimed locked');
          const lines = problemLines(from);
          assert.equal(lines.length, 1, `one line for the owner:\n${world.logs.text()}`);
          assert.match(lines[0]!.message, row.cause);
          assert.match(lines[0]!.message, FIX);
          if (row.label === 'CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED') {
            outcome = `target reverted; ${await expectStoppedThenReconnect()}`;
          } else {
            // One refresh later HomeKit shows the truth (a timed-out command may have locked it after all).
            await world.platform.refreshNow(bevId);
            const truth = (): number => (emu.vehicle(bevId).locked ? SECURED : UNSECURED);
            await waitFor('the next refresh settles it', () => lock(Characteristic.StatusFault) === 0 && lock(Characteristic.LockCurrentState) === truth(), 15_000);
            outcome = `target reverted + fault; next refresh shows ${truth() === SECURED ? 'locked (car did it late)' : 'unlocked'}`;
          }
        }
        return outcome;
      }));
    }
  });

  describe('on the code exchange (Connect through the setup page)', () => {
    for (const row of ROWS) {
      it(row.label, () => recorded('code exchange', row.label, async () => {
        await calm();
        const from = world.logs.lines.length;
        emu.inject({ target: 'token', grant: 'authorization_code' }, row.fault);
        const r = await connectViaSetupPage(setupUrl);
        assert.equal(r.status, 502, `an error page, not a crash (${r.status} ${r.url})`);
        assert.match(r.body, /did not complete the connection/);
        const lines = problemLines(from);
        assert.equal(lines.length, 1, `one line for the owner:\n${world.logs.text()}`);
        assert.match(lines[0]!.message, row.cause);
        assert.match(lines[0]!.message, FIX);
        assert.equal(lock(Characteristic.StatusFault), 0, 'the connected car is not affected');
        // The owner tries again: it works and the same accessory stays.
        await reconnect();
        return 'error page, nothing stored; Connect again works';
      }));
    }
  });

  describe('on the token refresh', () => {
    for (const row of ROWS) {
      it(row.label, () => recorded('token refresh', row.label, async () => {
        await calm();
        const from = world.logs.lines.length;
        emu.inject({ target: 'token', grant: 'refresh_token' }, row.fault);
        emu.expireAccessTokens(userId);
        await world.platform.refreshNow(bevId);
        await waitFor('the fault flag', () => lock(Characteristic.StatusFault) === 1, 20_000);
        const lines = problemLines(from);
        assert.equal(lines.length, 1, `one line for the owner:\n${world.logs.text()}`);
        assert.match(lines[0]!.message, row.cause);
        assert.match(lines[0]!.message, FIX);
        const status = 'error' in row.fault ? row.fault.error.status : 0;
        // A 4xx from the token endpoint (other than 408/429) means the refresh token is refused.
        const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
        let outcome: string;
        if (refused) {
          outcome = await expectStoppedThenReconnect();
        } else {
          assert.equal(needsReauth(), false);
          await waitFor('recovery without help', () => lock(Characteristic.StatusFault) === 0, 15_000);
          assert.equal(problemLines(from).length, 1, 'recovery adds no warning');
          outcome = 'fault flag; recovered by itself (old token still valid)';
        }
        return outcome;
      }));
    }
  });

  it('nothing threw, nothing rejected unhandled, and no secret reached the log', () => {
    assert.deepEqual(crashes.rejections, []);
    assert.deepEqual(crashes.exceptions, []);
    const all = world.logs.text();
    for (const secret of [CLIENT_SECRET, ...emu.state.issuedTokens()]) {
      assert.ok(!all.includes(secret), `secret ${secret.slice(0, 4)}… in the log`);
    }
  });
});
