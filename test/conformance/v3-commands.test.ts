// v3 commands (v3 ref §3.4, §7.14–§7.16): each command's command-execution answer, each vehicle-state
// refusal under both commandFailure readings, permissions and body validation, and the long-running
// path: 202 at once without content-length, the outcome streamed on the same connection.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator, VehicleInit } from '../emulator/index.js';
import { DEFAULT_READINGS, defaultFleet, PERMISSIONS } from '../emulator/index.js';
import type { V3Answer, V3Client } from './support.js';
import { assertV3Error, sdk, startV3 } from './support.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('v3 commands', () => {
  let emu: SmartcarEmulator;
  let client: V3Client;
  let f: DefaultFleet;

  before(async () => {
    ({ emu, client } = await startV3());
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    Object.assign(emu.readings, DEFAULT_READINGS);
    emu.faults.clear();
    emu.commandLatencyMs = 0;
    emu.longRunningAfterMs = 175_000;
    f = defaultFleet(emu, `cmd-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
  });

  const command = (vehicleId: string, name: string, body?: unknown, o: { userId?: string; headers?: Record<string, string> } = {}): Promise<V3Answer> =>
    client.post(`/vehicles/${vehicleId}/commands/${name}`, { userId: o.userId ?? f.user.id, ...(body !== undefined ? { body } : {}), ...(o.headers ? { headers: o.headers } : {}) });

  function assertExecution(res: V3Answer, commandType: string, mode: 'sync' | 'async', value = 'SUCCESS', parameters?: object): void {
    const d = res.body.data;
    assert.match(d.id, /^exec_[0-9a-f]+$/);
    assert.equal(d.type, 'command-execution');
    assert.deepEqual(d.attributes, { commandType, status: { value }, executionMode: mode, ...(parameters ? { parameters } : {}) });
    assert.deepEqual(Object.keys(d.meta), ['executedAt', 'completedAt', 'durationInSeconds']);
    assert.match(d.meta.executedAt, ISO);
    assert.match(d.meta.completedAt, ISO);
    assert.ok(Date.parse(d.meta.completedAt) >= Date.parse(d.meta.executedAt));
    assert.equal(typeof d.meta.durationInSeconds, 'number');
  }

  it('each command succeeds with the reference command-execution, changes the shared state, and bills 1', async () => {
    const v2 = new sdk.Vehicle(f.bev.id, emu.issueTokens(f.user.id).accessToken);
    const cases: [string, string, unknown, () => void][] = [
      ['security/lock', 'security-lock', undefined, () => assert.equal(emu.vehicle(f.bev.id).locked, true)],
      ['security/unlock', 'security-unlock', undefined, () => assert.equal(emu.vehicle(f.bev.id).locked, false)],
      ['charge/stop', 'charge-stop', undefined, () => assert.equal(emu.vehicle(f.bev.id).charge!.state, 'NOT_CHARGING')],
      ['charge/start', 'charge-start', undefined, () => assert.equal(emu.vehicle(f.bev.id).charge!.state, 'CHARGING')],
      ['charge/set-limit', 'charge-set-limit', { data: { attributes: { percent: 80 } } }, () => assert.equal(emu.vehicle(f.bev.id).charge!.limit, 0.8)],
    ];
    for (const [name, type, body, check] of cases) {
      const before = emu.billedCount(f.bev.id);
      const res = await command(f.bev.id, name, body);
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      assert.deepEqual(Object.keys(res.body), ['data']);
      assertExecution(res, type, 'sync', 'SUCCESS', name === 'charge/set-limit' ? { percent: 80 } : undefined);
      check();
      assert.equal(emu.billedCount(f.bev.id), before + 1, `${name} billed 1`);
    }
    const last = emu.requests.at(-1)!;
    assert.deepEqual([last.host, last.method, last.vehicleId, last.userId, last.billed, last.status], ['v3', 'POST', f.bev.id, f.user.id, 1, 200]);
    assert.equal((await v2.getChargeLimit()).limit, 0.8, 'v2 sees the v3 change');
  });

  const refusals: [code: string, vehicle: 'bev' | 'phev', patch: VehicleInit, name: string][] = [
    ['DOOR_OPEN', 'bev', { doors: { frontLeft: 'OPEN' } }, 'security/lock'],
    ['HOOD_OPEN', 'bev', { hood: 'OPEN' }, 'security/lock'],
    ['TRUNK_OPEN', 'bev', { trunk: 'OPEN' }, 'security/lock'],
    ['IN_MOTION', 'bev', { motion: 'DRIVING' }, 'security/unlock'],
    ['UNREACHABLE', 'bev', { reachable: false }, 'security/lock'],
    ['ASLEEP', 'bev', { asleep: true }, 'charge/stop'],
    ['CHARGING_PLUG_NOT_CONNECTED', 'phev', {}, 'charge/start'],
    ['CHARGING_IN_PROGRESS', 'bev', {}, 'charge/start'],
    ['FULLY_CHARGED', 'bev', { battery: { percentRemaining: 0.9 }, charge: { state: 'NOT_CHARGING' } }, 'charge/start'],
    ['NOT_CHARGING', 'bev', { charge: { state: 'NOT_CHARGING' } }, 'charge/stop'],
  ];

  for (const reading of ['errors', 'status-failure'] as const) {
    it(`each vehicle-state refusal under commandFailure=${reading}, billed 1, state unchanged`, async () => {
      emu.readings.commandFailure = reading;
      for (const [code, which, patch, name] of refusals) {
        const g = defaultFleet(emu, `refuse-${Math.random()}@example.com`);
        emu.connect(g.user.id, { scope: [...PERMISSIONS] });
        const id = g[which].id;
        emu.updateVehicle(id, patch);
        const before = structuredClone(emu.vehicle(id));
        const res = await command(id, name, undefined, { userId: g.user.id });
        if (reading === 'errors') {
          assertV3Error(res, { status: 409, type: 'VEHICLE_STATE', code });
          assert.equal(res.body.data, undefined);
        } else {
          assert.equal(res.status, 200, `${code}: ${res.text}`);
          assertExecution(res, name.replace('/', '-'), 'sync', 'FAILURE');
          assert.equal(res.body.errors.length, 1);
          assertV3Error({ ...res, status: 409, body: { errors: res.body.errors } }, { status: 409, type: 'VEHICLE_STATE', code });
        }
        assert.deepEqual(emu.vehicle(id), before, `${code}: nothing changed`);
        assert.equal(emu.billedCount(id), 1, `${code}: billed, as v2 bills a refused command`);
      }
    });
  }

  it('permissions come from the connection: 403 PERMISSION, not billed', async () => {
    assertV3Error(await command(f.ice.id, 'charge/start'), { status: 403, type: 'PERMISSION', code: null });
    const g = defaultFleet(emu, `ro-${Math.random()}@example.com`);
    emu.connect(g.user.id, { vehicleIds: [g.bev.id], scope: ['read_security'] });
    assertV3Error(await command(g.bev.id, 'security/lock', undefined, { userId: g.user.id }), { status: 403, type: 'PERMISSION', code: null });
    assert.equal(emu.billedCount(g.bev.id), 0);
    assert.equal((await command(f.ice.id, 'security/unlock')).status, 200, 'ICE can lock/unlock');
  });

  it('set-limit takes {"data":{"attributes":{"percent": 50–100 integer}}}; commands need Content-Type application/json', async () => {
    for (const [body, code] of [
      [{}, 'MISSING_PARAMETER'], [{ data: { attributes: {} } }, 'MISSING_PARAMETER'], [{ percent: 80 }, 'MISSING_PARAMETER'],
      [{ data: { attributes: { percent: 49 } } }, 'INVALID_INPUT_FORMAT'], [{ data: { attributes: { percent: 101 } } }, 'INVALID_INPUT_FORMAT'],
      [{ data: { attributes: { percent: 80.5 } } }, 'INVALID_INPUT_FORMAT'], [{ data: { attributes: { percent: '80' } } }, 'INVALID_INPUT_FORMAT'],
      [{ data: { attributes: { percent: 0.8 } } }, 'INVALID_INPUT_FORMAT'],
    ] as [unknown, string][]) {
      assertV3Error(await command(f.bev.id, 'charge/set-limit', body), { status: 400, type: 'VALIDATION', code });
    }
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands/charge/set-limit`, { userId: f.user.id, rawBody: '{"data":' }), { status: 400, type: 'VALIDATION', code: 'BAD_REQUEST' });
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id, headers: { 'content-type': 'text/plain' } }),
      { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    assert.equal(emu.billedCount(f.bev.id), 0, 'refused before reaching the car');
    assert.equal((await command(f.bev.id, 'charge/set-limit', { data: { attributes: { percent: 50 } } })).status, 200);
    assert.equal((await command(f.bev.id, 'charge/set-limit', { data: { attributes: { percent: 100 } } })).status, 200);
  });

  it('no other command paths: climate, the JLR POST /commands {type}, GET on a command, are 404 PATH; sc-user-id rules apply', async () => {
    assertV3Error(await command(f.bev.id, 'climate/start'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands`, { userId: f.user.id, body: { type: 'LOCK_DOORS' } }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.get(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, {}), { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER', detail: 'missing userId' });
    const other = defaultFleet(emu, `x-${Math.random()}@example.com`);
    emu.connect(other.user.id);
    assertV3Error(await command(f.bev.id, 'security/lock', undefined, { userId: other.user.id }), { status: 403, type: 'PERMISSION', code: null });
    emu.readings.wrongUser = 'not-found-404';
    assertV3Error(await command(f.bev.id, 'security/lock', undefined, { userId: other.user.id }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assert.equal(emu.vehicle(f.bev.id).locked, false);
  });

  it('a command within longRunningAfterMs answers 200 after commandLatencyMs', async () => {
    emu.commandLatencyMs = 150;
    emu.longRunningAfterMs = 1000;
    const start = Date.now();
    const res = await command(f.bev.id, 'security/lock');
    assert.ok(Date.now() - start >= 140);
    assert.equal(res.status, 200);
    assertExecution(res, 'security-lock', 'sync');
  });

  /** Sends the command raw, timing the status line and the end of the body separately. */
  async function timed(vehicleId: string, name: string): Promise<{ headersMs: number; bodyMs: number; res: Response; body: ReturnType<typeof JSON.parse> }> {
    const start = Date.now();
    const res = await fetch(client.url(`/vehicles/${vehicleId}/commands/${name}`), {
      method: 'POST', headers: { authorization: `Bearer ${client.token}`, 'sc-user-id': f.user.id, 'content-type': 'application/json' },
    });
    const headersMs = Date.now() - start;
    const text = await res.text();
    return { headersMs, bodyMs: Date.now() - start, res, body: JSON.parse(text) };
  }

  it('long-running: 202 at once, no content-length, the outcome (async SUCCESS) streamed on the same connection', async () => {
    emu.commandLatencyMs = 300;
    emu.longRunningAfterMs = 100;
    const { headersMs, bodyMs, res, body } = await timed(f.bev.id, 'security/lock');
    assert.equal(res.status, 202);
    assert.ok(headersMs < 250, `status first (${headersMs} ms)`);
    assert.ok(bodyMs >= 290, `outcome after the latency (${bodyMs} ms)`);
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    assertExecution({ status: 202, headers: res.headers, body, text: '' }, 'security-lock', 'async');
    assert.equal(emu.vehicle(f.bev.id).locked, true);
    assert.equal(emu.billedCount(f.bev.id), 1);
    const logged = emu.requests.at(-1)!;
    assert.deepEqual([logged.status, logged.billed], [202, 1]);
  });

  it('long-running refusal: HTTP 202 with the real status inside, under both readings', async () => {
    emu.commandLatencyMs = 300;
    emu.longRunningAfterMs = 100;
    emu.updateVehicle(f.bev.id, { doors: { frontRight: 'OPEN' } });
    const plain = await timed(f.bev.id, 'security/lock');
    assert.equal(plain.res.status, 202);
    assert.ok(plain.headersMs < 250);
    assertV3Error({ status: 202, headers: plain.res.headers, body: plain.body, text: '' }, { status: 202, bodyStatus: '409', type: 'VEHICLE_STATE', code: 'DOOR_OPEN' });
    emu.readings.commandFailure = 'status-failure';
    const failure = await timed(f.bev.id, 'security/lock');
    assert.equal(failure.res.status, 202);
    assertExecution({ status: 202, headers: failure.res.headers, body: failure.body, text: '' }, 'security-lock', 'async', 'FAILURE');
    assert.equal(failure.body.errors[0].status, '409');
    assert.equal(failure.body.errors[0].code, 'DOOR_OPEN');
    assert.equal(emu.vehicle(f.bev.id).locked, false);
    assert.equal(emu.billedCount(f.bev.id), 2);
  });

  it('injected command faults: DEVICE_PAIRING_REQUIRED in the v3 shape (billed), a drop, a delay; matched by /commands/… and api v3', async () => {
    emu.inject({ target: 'command', api: 'v3', path: '/commands/security/unlock' }, { error: { type: 'VEHICLE_STATE', code: 'DEVICE_PAIRING_REQUIRED', status: 409 } });
    assert.equal((await command(f.bev.id, 'security/lock')).status, 200, 'only the unlock path is faulted');
    const paired = await command(f.bev.id, 'security/unlock');
    assertV3Error(paired, { status: 409, type: 'VEHICLE_STATE', code: 'DEVICE_PAIRING_REQUIRED' });
    assert.match(paired.body.errors[0].detail, /paired/);
    assert.equal(emu.billedCount(f.bev.id), 2);
    emu.inject({ target: 'command', api: 'v3' }, { drop: true });
    await assert.rejects(command(f.bev.id, 'security/lock'));
    emu.inject({ target: 'command', api: 'v2' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } });
    assert.equal((await command(f.bev.id, 'security/lock')).status, 200, 'a v2-only fault leaves v3 alone');
    emu.faults.clear();
    emu.inject({ target: 'command', vehicleId: f.bev.id }, { delayMs: 120 });
    const start = Date.now();
    assert.equal((await command(f.bev.id, 'security/unlock')).status, 200);
    assert.ok(Date.now() - start >= 110);
  });
});
