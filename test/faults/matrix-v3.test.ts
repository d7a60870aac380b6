// The fault matrix on Smartcar API v3, through the platform directly (real HAP objects, the v3
// backend, the emulator's v3 hosts): every error type/code of the v3 catalogue (smartcar-v3.md §5)
// plus timeout, dropped connection and malformed body, injected on the signals read, a lock command,
// the IAM token request and the connections listing; and per-signal failures inside a 200 signals
// answer. Each row proves: nothing throws or rejects unhandled, HomeKit shows an honest state (fault
// flag, reverted lock target, or the value it really has), the owner reads one line naming the cause
// and the fix, and the plugin recovers by itself, or, when only the owner can help (AUTHENTICATION_FAILED,
// resolution REAUTHENTICATE), stops polling that user until Connect again restores the same accessory.
// v3 has no per-user token: a 401 means "a new application token, once, and the same request again".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import type { Fault } from '../emulator/faults.js';
import { timing } from '../../src/platform.js';
import { accessories, accessoryNamed, hap, pushed, waitFor, write } from '../helpers/homebridge-api.js';
import type { LogLine } from '../helpers/log.js';
import { startConnected, startEmulator, V3_CLIENT_SECRET } from '../helpers/plugin-world.js';
import { connectViaSetupPage, crashRecorder, networkRows, sleep, V3_ERROR_ROWS, type FaultRow } from './support.js';

const { Service, Characteristic } = hap;
const BOUND_SECONDS = 5; // the smallest requestTimeoutSeconds the config accepts
const TIMEOUT_DELAY_MS = BOUND_SECONDS * 1000 + 1500;
const ROWS: FaultRow[] = [...V3_ERROR_ROWS, ...networkRows(TIMEOUT_DELAY_MS, BOUND_SECONDS)];
// The owner's next step, in whatever words the plugin uses for this kind of problem.
const FIX = /retry|try again|tried again|connect (?:it|the vehicle|\S+ \S+|\S+) again|setup page|Dashboard|grant it/i;
const UNSECURED = 0;
const SECURED = 1;
const CONFIG = { requestTimeoutSeconds: BOUND_SECONDS, refreshIntervalMinutes: 30, requestsPerVehiclePerMonth: 1_000_000 };

type World = Awaited<ReturnType<typeof startConnected>>;
type Char = Parameters<typeof pushed>[2];
const table: { fault: string; where: string; outcome: string }[] = [];
const crashes = crashRecorder();

/** What a row should lead to on a vehicle request (signals read, lock command). */
type Expect = 'new-token' | 'owner' | 'self';
function expectOf(row: FaultRow): Expect {
  if (!('error' in row.fault)) {
    return 'self';
  }
  if (row.fault.error.type === 'AUTHENTICATION') {
    return 'new-token';
  }
  return row.fault.error.code === 'AUTHENTICATION_FAILED' || row.resolution === 'REAUTHENTICATE' ? 'owner' : 'self';
}
const statusOf = (f: Fault): number => ('error' in f ? f.error.status : 0);

/** One platform with one BEV, and what every section needs of it. */
function carWorld(discoveryIntervalMs: number) {
  const w = {
    emu: undefined as unknown as SmartcarEmulator,
    world: undefined as unknown as World,
    car: undefined as unknown as PlatformAccessory,
    userId: '',
    bevId: '',
    setupUrl: '',
  };
  const of = (s: Parameters<typeof pushed>[1], c: Char): unknown => pushed(w.car, s, c);
  const lock = (c: Char): unknown => of(Service.LockMechanism, c);
  const problemLines = (from: number): LogLine[] => w.world.logs.lines.slice(from).filter((l) => l.level === 'warn' || l.level === 'error');
  const needsReauth = (): boolean => w.world.platform.status().some((u) => u.userId === w.userId && u.needsReauth);
  const faults = (): number[] => [Service.LockMechanism, Service.Battery, Service.ContactSensor].map((s) => of(s, Characteristic.StatusFault) as number);
  const carRequests = (from: number) => w.emu.requests.slice(from).filter((r) => r.vehicleId === w.bevId || r.userId === w.userId || r.host === 'iam');
  const signalReads = (from: number) => w.emu.requests.slice(from).filter((r) => r.vehicleId === w.bevId && r.method === 'GET' && r.path.endsWith('/signals'));

  async function quiet(): Promise<void> {
    // Nothing for this car still on its way: no confirming read, retry or late answer.
    for (let n = carRequests(0).length; ; n = carRequests(0).length) {
      await sleep(250);
      if (carRequests(0).length === n) {
        return;
      }
    }
  }

  async function reconnect(): Promise<void> {
    const uuid = w.car.UUID;
    const r = await connectViaSetupPage(w.setupUrl);
    assert.match(r.url, /connected=1/, `Connect again lands on the status page (${r.status} ${r.url})`);
    const again = accessoryNamed(w.world.api, 'Model 3');
    assert.equal(again.UUID, uuid, 'the same accessory is back');
    assert.equal(again, w.car, 'the very same accessory object, not a new one');
    assert.equal(needsReauth(), false);
  }

  /** No fault pending, the last read answered in one request, all services clear, and nothing on its way. */
  async function calm(): Promise<void> {
    w.emu.faults.clear();
    await quiet(); // a Refresh now while a read is still being applied would be folded into it
    if (needsReauth()) {
      await reconnect();
    }
    const from = w.emu.requests.length;
    const sentFrom = w.emu.clock.now();
    const answer = await w.world.platform.refreshNow(w.bevId);
    await waitFor('a calm car (no fault, read done)', () => signalReads(from).some((r) => r.status === 200) && faults().every((f) => f === 0), 15_000)
      .catch((e: unknown) => { throw new Error(`${String(e)}: refresh now ${answer}, faults ${JSON.stringify(faults())}, requests ${JSON.stringify(w.emu.requests.slice(from))}\n${w.world.logs.text().split('\n').slice(-6).join('\n')}`); });
    await quiet();
    // Sent for this read (a late answer to an earlier timed-out request is not one of them).
    const reads = signalReads(from).filter((r) => r.receivedAt >= sentFrom);
    assert.equal(reads.length, 1, `one read of the signals is one request (paging kept): ${JSON.stringify(reads)}`);
  }

  /** Owner-only problems: the fault is shown, polling for the user stops, Connect again restores it. */
  async function expectStoppedThenReconnect(): Promise<string> {
    assert.equal(needsReauth(), true, 'the setup page asks to connect again');
    const page = await (await fetch(`${w.setupUrl}/`)).text();
    assert.match(page, /Connect again/);
    const waitFrom = w.emu.clock.now();
    await sleep(1200); // several backoff intervals (200 ms doubling)
    const during = w.emu.requests.filter((r) => r.receivedAt >= waitFrom && (r.vehicleId === w.bevId || r.userId === w.userId));
    assert.deepEqual(during.map((r) => r.path), [], 'no request for that user while it waits for the owner');
    await reconnect();
    await w.world.platform.refreshNow(w.bevId); // a command's failure is settled by the next read
    await waitFor('the fault to clear after Connect', () => faults().every((f) => f === 0), 15_000);
    return 'fault; polling stopped; Connect again restored it';
  }

  /** One line for the owner, naming the cause and the fix. */
  function oneLine(from: number, cause: RegExp): LogLine {
    const lines = problemLines(from);
    assert.equal(lines.length, 1, `one line for the owner:\n${lines.map((l) => `${l.level}: ${l.message}`).join('\n')}`);
    assert.match(lines[0]!.message, cause);
    assert.match(lines[0]!.message, FIX);
    return lines[0]!;
  }

  async function start(): Promise<void> {
    Object.assign(timing, { discoveryIntervalMs });
    w.emu = await startEmulator({ autoApprove: {} });
    w.userId = w.emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    w.bevId = w.emu.addVehicle(w.userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: false,
      battery: { percentRemaining: 0.5, rangeKm: 300, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    w.world = await startConnected(w.emu, w.userId, { config: CONFIG });
    await waitFor('the car', () => accessories(w.world.api).length === 1);
    w.car = accessoryNamed(w.world.api, 'Model 3');
    w.setupUrl = /Setup page: (http:\/\/\S+)/.exec(w.world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
    await waitFor('first read', () => lock(Characteristic.LockCurrentState) === UNSECURED && of(Service.Battery, Characteristic.BatteryLevel) === 50, 10_000);
  }

  async function stop(): Promise<void> {
    await w.world?.shutdown();
    await w.emu?.close();
    const all = w.world?.logs.text() ?? '';
    assert.ok(!all.includes(V3_CLIENT_SECRET), 'the API secret never reaches the log');
    assert.ok(!/Bearer\s+\S/.test(all), 'no application token in the log');
  }

  return { w, of, lock, faults, problemLines, needsReauth, signalReads, carRequests, calm, quiet, reconnect, expectStoppedThenReconnect, oneLine, start, stop };
}

describe('v3 fault matrix through the platform', () => {
  const t = carWorld(3_600_000); // the listing only at start and on Connect: nothing races the rows
  const { w, lock, of, faults, problemLines, needsReauth, signalReads, calm, oneLine, expectStoppedThenReconnect } = t;

  before(() => t.start());
  after(() => t.stop());

  describe('on the signals read', () => {
    for (const row of ROWS) {
      it(row.label, async () => {
        await calm();
        const known = [lock(Characteristic.LockCurrentState), of(Service.Battery, Characteristic.BatteryLevel)];
        const from = w.world.logs.lines.length;
        const reqFrom = w.emu.requests.length;
        w.emu.inject({ target: 'read', api: 'v3', vehicleId: w.bevId, path: '/signals' }, row.fault);
        await w.world.platform.refreshNow(w.bevId);
        let outcome: string;
        const expect = expectOf(row);
        if (expect === 'new-token') {
          await waitFor('the retried read', () => signalReads(reqFrom).some((r) => r.status === 200));
          assert.equal(w.emu.requests.slice(reqFrom).filter((r) => r.host === 'iam').length, 1, 'one new application token');
          assert.deepEqual(faults(), [0, 0, 0]);
          assert.deepEqual(problemLines(from), [], 'nothing for the owner to do, nothing logged');
          outcome = 'new application token, read retried at once; no fault';
        } else {
          await waitFor('the fault flag', () => lock(Characteristic.StatusFault) === 1, 20_000);
          assert.deepEqual(faults(), [1, 1, 1], 'every service of the car shows it');
          assert.deepEqual([lock(Characteristic.LockCurrentState), of(Service.Battery, Characteristic.BatteryLevel)], known, 'the last known values stay, flagged');
          oneLine(from, row.cause);
          if (expect === 'owner') {
            outcome = await expectStoppedThenReconnect();
          } else {
            assert.equal(needsReauth(), false);
            await waitFor('recovery without help', () => faults().every((f) => f === 0), 15_000);
            assert.equal(problemLines(from).length, 1, 'recovery adds no warning');
            outcome = 'fault flag, last value kept; recovered by itself';
          }
        }
        table.push({ fault: row.label, where: 'signals read', outcome });
      });
    }
  });

  describe('per signal, inside a 200 signals answer', () => {
    type Part = 'lock' | 'battery' | 'charge';
    const PARTS: Part[] = ['lock', 'battery', 'charge'];
    const CODES: Record<Part, string[]> = {
      lock: ['closure-islocked'],
      battery: ['tractionbattery-stateofcharge'],
      charge: ['charge-ischargingcableconnected', 'charge-detailedchargingstatus', 'charge-ischarging'],
    };
    const SERVICE = { lock: Service.LockMechanism, battery: Service.Battery, charge: Service.ContactSensor };
    const VALUE = { lock: Characteristic.LockCurrentState, battery: Characteristic.BatteryLevel, charge: Characteristic.ContactSensorState };
    const NAME = { lock: 'Lock', battery: 'Battery', charge: 'Plugged In' };
    const err = (type: string, code: string | null) => ({ type, code });
    const errors = (codes: string[], e: { type: string; code: string | null }, keepBody = false): Fault =>
      ({ signalErrors: Object.fromEntries(codes.map((c) => [c, e])), ...(keepBody ? { keepBody } : {}) });
    interface SignalRow {
      label: string;
      /** The services that must fault; the others must update. */
      faulted: Part[];
      fault?: Fault;
      /** Instead of a fault: the car itself in a state, under a reading. */
      car?: { asleep: true; offlineRead: 'cached-signal-errors' };
      cause: RegExp;
    }
    const SIGNAL_ROWS: SignalRow[] = [
      ...PARTS.flatMap((part): SignalRow[] => [
        { label: `${part}: ERROR VEHICLE_STATE:ASLEEP`, faulted: [part], fault: errors(CODES[part], err('VEHICLE_STATE', 'ASLEEP')), cause: /ASLEEP/ },
        { label: `${part}: ERROR UPSTREAM:NO_RESPONSE`, faulted: [part], fault: errors(CODES[part], err('UPSTREAM', 'NO_RESPONSE')), cause: /UPSTREAM|NO_RESPONSE/ },
        { label: `${part}: ERROR SERVER:INTERNAL (last body kept)`, faulted: [part], fault: errors(CODES[part], err('SERVER', 'INTERNAL'), true), cause: /SERVER|INTERNAL/ },
        { label: `${part}: ERROR PERMISSION`, faulted: [part], fault: errors(CODES[part], err('PERMISSION', null)), cause: /permission/i },
        { label: `${part}: UNAVAILABLE`, faulted: [part], fault: { signalUnavailable: CODES[part] }, cause: /unavailable/i },
      ]),
      // The cable alone: the charge state still arrives, but "plugged in" must not pass for fresh.
      { label: 'charge: cable ERROR VEHICLE_STATE:UNREACHABLE, state delivered', faulted: ['charge'],
        fault: errors(['charge-ischargingcableconnected'], err('VEHICLE_STATE', 'UNREACHABLE')), cause: /UNREACHABLE/ },
      { label: 'charge: cable UNAVAILABLE, state delivered', faulted: ['charge'], fault: { signalUnavailable: ['charge-ischargingcableconnected'] }, cause: /unavailable/i },
      // Every signal refused for one state of the car is the car's answer, said once (as a 409 would be).
      { label: 'all: ERROR VEHICLE_STATE:UNREACHABLE on every signal', faulted: PARTS,
        fault: errors(PARTS.flatMap((p) => CODES[p]), err('VEHICLE_STATE', 'UNREACHABLE')), cause: /UNREACHABLE/ },
      { label: 'all: car asleep, reading offlineRead=cached-signal-errors', faulted: PARTS,
        car: { asleep: true, offlineRead: 'cached-signal-errors' }, cause: /ASLEEP/ },
    ];
    let flip = false;

    for (const row of SIGNAL_ROWS) {
      it(row.label, async () => {
        await calm();
        const before = Object.fromEntries(PARTS.map((p) => [p, of(SERVICE[p], VALUE[p])])) as Record<Part, unknown>;
        // Every value changes at the car, so "the rest updates" is visible.
        flip = !flip;
        w.emu.updateVehicle(w.bevId, {
          locked: flip, battery: { percentRemaining: flip ? 0.6 : 0.5 },
          charge: flip ? { isPluggedIn: false, state: 'NOT_CHARGING' } : { isPluggedIn: true, state: 'CHARGING' },
        });
        const from = w.world.logs.lines.length;
        const reqFrom = w.emu.requests.length;
        if (row.fault) {
          w.emu.inject({ target: 'read', api: 'v3', vehicleId: w.bevId, path: '/signals' }, row.fault);
        }
        if (row.car) {
          w.emu.readings.offlineRead = row.car.offlineRead;
          w.emu.updateVehicle(w.bevId, { asleep: true });
        }
        try {
          await w.world.platform.refreshNow(w.bevId);
          await waitFor('the read', () => signalReads(reqFrom).some((r) => r.status === 200));
          await waitFor('its services to fault', () => row.faulted.every((p) => of(SERVICE[p], Characteristic.StatusFault) === 1), 5000)
            .catch((e: unknown) => { throw new Error(`${String(e)}: faults ${JSON.stringify(faults())}\n${w.world.logs.text().split('\n').slice(-4).join('\n')}`); });
          for (const p of PARTS) {
            if (row.faulted.includes(p)) {
              assert.equal(of(SERVICE[p], VALUE[p]), before[p], `${p}: the last known value stays, flagged`);
            } else {
              assert.equal(of(SERVICE[p], Characteristic.StatusFault), 0, `${p}: no fault`);
              assert.notEqual(of(SERVICE[p], VALUE[p]), before[p], `${p}: updated`);
            }
          }
          oneLine(from, row.cause);
          assert.equal(needsReauth(), false);
        } finally {
          if (row.car) {
            w.emu.updateVehicle(w.bevId, { asleep: false });
            w.emu.readings.offlineRead = 'request-error';
          }
        }
        await w.world.platform.refreshNow(w.bevId);
        await waitFor('recovery at the next read', () => faults().every((f) => f === 0), 15_000);
        for (const p of row.faulted) {
          assert.notEqual(of(SERVICE[p], VALUE[p]), before[p], `${p}: and the value arrives`);
        }
        assert.equal(problemLines(from).length, 1, 'recovery adds no warning');
        const which = row.faulted.length === PARTS.length ? 'every service faults, one line' : `only ${row.faulted.map((p) => NAME[p]).join(', ')} faults, the rest updates`;
        table.push({ fault: row.label, where: 'signal in 200', outcome: `${which}; recovered` });
      });
    }
  });

  describe('on a lock command', () => {
    for (const row of ROWS) {
      it(row.label, async () => {
        w.emu.updateVehicle(w.bevId, { locked: false });
        await calm();
        await waitFor('unlocked in HomeKit', () => lock(Characteristic.LockCurrentState) === UNSECURED);
        const from = w.world.logs.lines.length;
        w.emu.inject({ target: 'command', api: 'v3', vehicleId: w.bevId, path: '/commands/security/lock' }, row.fault);
        assert.equal(await write(w.car, Service.LockMechanism, Characteristic.LockTargetState, SECURED), undefined, 'HomeKit gets its answer at once');
        let outcome: string;
        const expect = expectOf(row);
        if (expect === 'new-token' || row.label === 'timeout') {
          // A command may take minutes (§3.4): it is bounded by the command timeout, not requestTimeoutSeconds.
          await waitFor('the car locked', () => lock(Characteristic.LockCurrentState) === SECURED, TIMEOUT_DELAY_MS + 5000);
          assert.equal(w.emu.vehicle(w.bevId).locked, true);
          assert.deepEqual(problemLines(from), []);
          outcome = expect === 'new-token' ? 'new application token, command retried: locked' : `answer after ${TIMEOUT_DELAY_MS / 1000} s awaited (command bound, not ${BOUND_SECONDS} s): locked`;
        } else {
          await waitFor('the target reverted and flagged', () => lock(Characteristic.LockTargetState) === UNSECURED && lock(Characteristic.StatusFault) === 1, 20_000)
            .catch((e: unknown) => { throw new Error(`${String(e)}: target ${String(lock(Characteristic.LockTargetState))} fault ${String(lock(Characteristic.StatusFault))}\n${w.world.logs.text()}`); });
          assert.equal(lock(Characteristic.LockCurrentState), UNSECURED, 'current state not claimed locked');
          oneLine(from, row.cause);
          if (expect === 'owner') {
            outcome = `target reverted; ${await expectStoppedThenReconnect()}`;
          } else {
            assert.equal(needsReauth(), false);
            // One refresh later HomeKit shows the truth.
            await w.world.platform.refreshNow(w.bevId);
            const truth = (): number => (w.emu.vehicle(w.bevId).locked ? SECURED : UNSECURED);
            await waitFor('the next refresh settles it', () => lock(Characteristic.StatusFault) === 0 && lock(Characteristic.LockCurrentState) === truth(), 15_000);
            outcome = `target reverted + fault; next refresh shows ${truth() === SECURED ? 'locked (car did it)' : 'unlocked'}`;
          }
        }
        table.push({ fault: row.label, where: 'lock command', outcome });
      });
    }
  });

  describe('on the IAM token request', () => {
    interface IamRow extends FaultRow { times: number }
    const persistent = (error: string, status: number): IamRow => ({
      label: `${status} ${error} (until it answers again)`, times: 10_000, fault: { error: { type: error, code: null, status } },
      cause: /clientId.*clientSecret.*API Credentials tab/,
    });
    const IAM_ROWS: IamRow[] = [
      ...ROWS.map((row) => ({
        ...row, times: 1,
        cause: 'error' in row.fault ? new RegExp(`application token.*(?:HTTP ${row.fault.error.status}|${row.fault.error.type})`) : new RegExp(`application token.*(?:${row.cause.source})`, 'i'),
      })),
      persistent('invalid_client', 401),
      persistent('invalid_request', 400),
    ];
    for (const row of IAM_ROWS) {
      it(row.label, async () => {
        await calm();
        const known = [lock(Characteristic.LockCurrentState), of(Service.Battery, Characteristic.BatteryLevel)];
        const from = w.world.logs.lines.length;
        const reqFrom = w.emu.requests.length;
        const iam = () => w.emu.requests.slice(reqFrom).filter((r) => r.host === 'iam');
        w.emu.inject({ target: 'token', api: 'v3', grant: 'client_credentials' }, row.fault, row.times);
        w.emu.expireAppTokens(); // the next request is refused (401): a new token is asked for
        await w.world.platform.refreshNow(w.bevId);
        const status = statusOf(row.fault);
        let outcome: string;
        if (row.times === 1 && (status === 400 || status === 401)) {
          // A refusal of the credentials' form: the next form is tried at once, and is accepted.
          await waitFor('the retried read', () => signalReads(reqFrom).some((r) => r.status === 200));
          assert.equal(iam().length, 2, 'one refused, the next form accepted');
          assert.deepEqual(faults(), [0, 0, 0]);
          assert.deepEqual(problemLines(from), []);
          outcome = 'refused form: next credentials form accepted; no fault';
        } else {
          await waitFor('the fault flag', () => lock(Characteristic.StatusFault) === 1, 20_000);
          assert.deepEqual(faults(), [1, 1, 1]);
          assert.deepEqual([lock(Characteristic.LockCurrentState), of(Service.Battery, Characteristic.BatteryLevel)], known, 'the last known values stay, flagged');
          const line = oneLine(from, row.cause);
          assert.equal(needsReauth(), false, 'nothing for the owner to connect');
          if (row.times > 1) {
            assert.match(line.message, /clientId/);
            await sleep(1500); // retries go on, quietly
            assert.equal(problemLines(from).length, 1, 'said once, however often it is retried');
            assert.ok(iam().length >= 6, 'every credentials form was tried, and tried again');
            w.emu.faults.clear(); // the token endpoint answers again
            await waitFor('recovery once the token endpoint answers', () => faults().every((f) => f === 0), 20_000);
            outcome = 'config line (clientId/clientSecret, API Credentials tab); recovered when IAM answered';
          } else {
            await waitFor('recovery without help', () => faults().every((f) => f === 0), 15_000);
            outcome = 'fault flag, last value kept; recovered by itself';
          }
          assert.equal(problemLines(from).length, 1, 'recovery adds no warning');
        }
        table.push({ fault: row.label, where: 'IAM token', outcome });
      });
    }
  });

  it('nothing threw or rejected unhandled', () => {
    assert.deepEqual(crashes.rejections, []);
    assert.deepEqual(crashes.exceptions, []);
  });
});

describe('v3 fault matrix: the connections listing', () => {
  const t = carWorld(400); // listed every 400 ms, as a real install does every minute
  const { w, faults, problemLines, needsReauth, quiet } = t;
  const listings = (from: number) => w.emu.requests.slice(from).filter((r) => r.host === 'v3' && r.path === '/v3/connections');

  before(() => t.start());
  after(async () => {
    await t.stop();
    crashes.stop();
    const pad = (s: string, n: number): string => s.padEnd(n).slice(0, n);
    const lines = table.map((r) => `| ${pad(r.fault, 58)} | ${pad(r.where, 14)} | ${r.outcome}`);
    console.log(['', `| ${pad('fault', 58)} | ${pad('injected on', 14)} | outcome`, `|${'-'.repeat(60)}|${'-'.repeat(16)}|${'-'.repeat(60)}`, ...lines,
      `${table.length} rows, all asserted`].join('\n'));
  });

  for (const row of ROWS) {
    it(row.label, async () => {
      w.emu.faults.clear();
      const calmFrom = w.emu.requests.length;
      await waitFor('a listing that answered', () => listings(calmFrom).some((r) => r.status === 200), 10_000);
      await quiet();
      const from = w.world.logs.lines.length;
      const reqFrom = w.emu.requests.length;
      w.emu.inject({ target: 'read', api: 'v3', path: '/connections' }, row.fault);
      // The faulted listing, then one that answered after it.
      await waitFor('a listing after the fault', () => {
        const l = listings(reqFrom);
        const failedAt = l.findIndex((r) => r.status !== 200 || 'drop' in row.fault || 'malformed' in row.fault || 'delayMs' in row.fault);
        return failedAt >= 0 && l.slice(failedAt + 1).some((r) => r.status === 200);
      }, TIMEOUT_DELAY_MS + 10_000);
      const car = accessoryNamed(w.world.api, 'Model 3');
      assert.equal(accessories(w.world.api).length, 1, 'nothing removed');
      assert.equal(car, w.car, 'the same accessory');
      assert.deepEqual(faults(), [0, 0, 0], 'the car keeps its values, unflagged: they are not what failed');
      assert.equal(needsReauth(), false, 'a failing listing marks nobody');
      let outcome: string;
      if (expectOf(row) === 'new-token') {
        assert.ok(w.emu.requests.slice(reqFrom).some((r) => r.host === 'iam'), 'a new application token');
        assert.deepEqual(problemLines(from), []);
        outcome = 'new application token, listing retried; nothing logged';
      } else {
        t.oneLine(from, row.cause);
        outcome = 'nothing removed, car unflagged; one line; next listing fine';
      }
      await sleep(500);
      assert.equal(problemLines(from).length, expectOf(row) === 'new-token' ? 0 : 1, 'the next listings add nothing');
      table.push({ fault: row.label, where: 'connections', outcome });
    });
  }

  // Guarantees the platform does not keep yet (src/platform/, outside the Smartcar backend): run and
  // reported as todo, so the gap is visible without failing the suite. Drop `todo` once fixed.
  it('the same listing failure again, after a listing that answered, is said again', async () => {
    const fault: Fault = { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } };
    for (let round = 1; round <= 2; round++) {
      w.emu.faults.clear();
      const calmFrom = w.emu.requests.length;
      await waitFor('a listing that answered', () => listings(calmFrom).some((r) => r.status === 200), 10_000);
      await quiet();
      const from = w.world.logs.lines.length;
      const reqFrom = w.emu.requests.length;
      w.emu.inject({ target: 'read', api: 'v3', path: '/connections' }, fault);
      await waitFor('failed, then answered', () => {
        const l = listings(reqFrom);
        const i = l.findIndex((r) => r.status === 500);
        return i >= 0 && l.slice(i + 1).some((r) => r.status === 200);
      }, 10_000);
      assert.equal(problemLines(from).length, 1, `outage ${round}: one line for the owner`);
    }
    table.push({ fault: 'SERVER:INTERNAL twice, answered between', where: 'connections', outcome: 'said both times' });
  });

  // The refresher (per car) and the fleet (the listing) both meet a refused application token: one line between them.
  it('IAM 401 invalid_client while the listing runs too: one line for the owner', async () => {
    w.emu.faults.clear();
    await quiet();
    const from = w.world.logs.lines.length;
    try {
      w.emu.inject({ target: 'token', api: 'v3', grant: 'client_credentials' }, { error: { type: 'invalid_client', code: null, status: 401 } }, 10_000);
      w.emu.expireAppTokens();
      await w.world.platform.refreshNow(w.bevId);
      await waitFor('the fault flag', () => faults().every((f) => f === 1), 10_000);
      await sleep(2000); // several listings and retries
      t.oneLine(from, /clientId.*clientSecret.*API Credentials tab/);
    } finally {
      w.emu.faults.clear();
      await waitFor('recovery once the token endpoint answers', () => faults().every((f) => f === 0), 20_000);
    }
    table.push({ fault: '401 invalid_client, listing running', where: 'IAM token', outcome: 'one line; recovered' });
  });

  it('nothing threw or rejected unhandled', () => {
    assert.deepEqual(crashes.rejections, []);
    assert.deepEqual(crashes.exceptions, []);
  });
});
