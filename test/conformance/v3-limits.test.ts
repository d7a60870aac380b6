// v3 billing, limits, errors and faults (v3 ref §5, §6, §7.19): per-request vs per-signal billing,
// one monthly cap (430) and one throttle (429 + retry-after) shared by v2 and v3 for each car, the
// JSON:API body of every catalogue type/code, and injected faults including per-signal ERROR/UNAVAILABLE.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { DEFAULT_READINGS, defaultFleet, PERMISSIONS, SIGNALS } from '../emulator/index.js';
import type { SdkVehicle, V3Answer, V3Client } from './support.js';
import { appToken, assertV3Error, rejectsWith, sdk, startV3 } from './support.js';

type Row = [type: string, code: string | null, status: number, resolution: string | null];
const rows = (type: string, status: number, resolution: string | null, codes: (string | null)[]): Row[] => codes.map((c) => [type, c, status, resolution]);

/** The v3 §5 catalogue with the resolution each carries. */
const CATALOGUE: Row[] = [
  ...rows('AUTHENTICATION', 401, null, ['UNAUTHORIZED']),
  ...rows('AUTHENTICATION', 403, null, ['ACCESS_DENIED']),
  ...rows('VALIDATION', 400, null, ['INVALID_INPUT_FORMAT', 'BAD_REQUEST', 'MISSING_PARAMETER']),
  ...rows('PERMISSION', 403, 'REAUTHENTICATE', [null]),
  ...rows('RESOURCE_NOT_FOUND', 404, null, ['PATH', 'VERSION', 'INVALID_PATH', 'SIGNAL_NOT_FOUND']),
  ...rows('VEHICLE_STATE', 409, null, ['ASLEEP', 'CHARGING_IN_PROGRESS', 'CHARGING_PLUG_NOT_CONNECTED', 'DOOR_OPEN', 'FULLY_CHARGED', 'NOT_CHARGING',
    'CHARGE_FAULT', 'HOOD_OPEN', 'IGNITION_ON', 'IN_MOTION', 'REMOTE_ACCESS_DISABLED', 'TRUNK_OPEN', 'UNREACHABLE', 'VEHICLE_OFFLINE_FOR_SERVICE',
    'DEVICE_PAIRING_REQUIRED']),
  ...rows('VEHICLE_STATE', 409, 'RETRY_LATER', ['UNKNOWN']),
  ...rows('RATE_LIMIT', 429, 'RETRY_LATER', ['SMARTCAR_API', 'VEHICLE']),
  ...rows('BILLING', 430, 'CONTACT_SUPPORT', ['INVALID_PLAN', 'VEHICLE_LIMIT', 'VEHICLE_REQUEST_LIMIT']),
  ...rows('BILLING', 430, 'FINANCE', ['ACCOUNT_SUSPENDED']),
  ...rows('COMPATIBILITY', 501, null, ['MAKE_NOT_COMPATIBLE', 'SMARTCAR_NOT_CAPABLE', 'VEHICLE_NOT_CAPABLE']),
  ...rows('COMPATIBILITY', 501, 'REAUTHENTICATE', ['PLATFORM_NOT_CAPABLE']),
  ...rows('CONNECTED_SERVICES_ACCOUNT', 400, null, ['ACCOUNT_ISSUE', 'NO_VEHICLES', 'SUBSCRIPTION', 'VEHICLE_MISSING']),
  ...rows('CONNECTED_SERVICES_ACCOUNT', 400, 'REAUTHENTICATE', ['AUTHENTICATION_FAILED', 'PERMISSION']),
  ...rows('CONNECTED_SERVICES_ACCOUNT', 400, 'ACTION_REQUIRED', ['VIRTUAL_KEY_REQUIRED']),
  ...rows('SERVER', 500, 'RETRY_LATER', ['INTERNAL']),
  ...rows('SERVER', 500, 'CONTACT_SUPPORT', ['MULTIPLE_RECORDS_FOUND', 'RECORD_NOT_FOUND']),
  ...rows('UPSTREAM', 502, 'RETRY_LATER', ['INVALID_DATA', 'KNOWN_ISSUE', 'NO_RESPONSE', 'RATE_LIMIT', 'UNKNOWN_ISSUE']),
];

interface Signal { attributes: { code: string; status: { value: string; error?: { type: string; code: string | null } }; body?: unknown } }

describe('v3 billing, limits, errors and faults', () => {
  let emu: SmartcarEmulator;
  let client: V3Client;
  let f: DefaultFleet;
  let v2bev: SdkVehicle;

  before(async () => {
    ({ emu, client } = await startV3());
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    Object.assign(emu.readings, DEFAULT_READINGS);
    emu.faults.clear();
    emu.limits.throttle = null;
    emu.limits.monthlyRequestLimit = null;
    f = defaultFleet(emu, `lim-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    v2bev = new sdk.Vehicle(f.bev.id, emu.issueTokens(f.user.id, { scope: [...PERMISSIONS] }).accessToken);
  });

  const signals = (query: Record<string, string> = {}): Promise<V3Answer> => client.get(`/vehicles/${f.bev.id}/signals`, { userId: f.user.id, query });
  const statusOf = (res: V3Answer, code: string): Signal['attributes'] | undefined =>
    (res.body.data as Signal[]).find((s) => s.attributes.code === code)?.attributes;

  it('billing per-request: each signals page bills 1, a single signal 1, a vehicle 1; connections 0', async () => {
    const pages = await client.pages(`/vehicles/${f.bev.id}/signals`, { userId: f.user.id });
    assert.equal(pages.length, Math.ceil(SIGNALS.length / 10));
    assert.equal(emu.billedCount(f.bev.id), pages.length);
    await client.get(`/vehicles/${f.bev.id}/signals/closure-islocked`, { userId: f.user.id });
    await client.get(`/vehicles/${f.bev.id}`);
    await client.get('/connections');
    assert.equal(emu.billedCount(f.bev.id), pages.length + 2);
    assert.deepEqual(emu.requests.filter((r) => r.host === 'v3' && r.vehicleId === f.bev.id).map((r) => r.billed), [...pages.map(() => 1), 1, 1]);
  });

  it('billing per-signal: a page bills its SUCCESS signals; a single signal still bills 1', async () => {
    emu.readings.billing = 'per-signal';
    const pages = await client.pages(`/vehicles/${f.bev.id}/signals`, { userId: f.user.id });
    const success = pages.map((p) => (p.body.data as Signal[]).filter((s) => s.attributes.status.value === 'SUCCESS').length);
    assert.ok(success.some((n) => n > 1) && success.reduce((a, b) => a + b) < SIGNALS.length, 'the BEV has ERROR signals (fuel) that are not billed');
    assert.equal(emu.billedCount(f.bev.id), success.reduce((a, b) => a + b));
    assert.deepEqual(emu.requests.filter((r) => r.host === 'v3' && r.vehicleId === f.bev.id).map((r) => r.billed), success);
    const before = emu.billedCount(f.bev.id);
    await client.get(`/vehicles/${f.bev.id}/signals/internalcombustionengine-fuellevel`, { userId: f.user.id });
    assert.equal(emu.billedCount(f.bev.id), before + 1);
    emu.readings.signalStore = 'empty-until-subscribed';
    await signals();
    assert.equal(emu.billedCount(f.bev.id), before + 1, 'an empty page bills nothing per signal');
    emu.readings.billing = 'per-request';
    await signals();
    assert.equal(emu.billedCount(f.bev.id), before + 2, 'but 1 per request');
  });

  it('one monthly cap per car across v2 and v3: 430 BILLING/VEHICLE_REQUEST_LIMIT on both, not billed; a new month resets', async () => {
    emu.limits.monthlyRequestLimit = 4;
    await v2bev.odometer();
    await signals();
    await v2bev.battery();
    await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id });
    assert.equal(emu.billedCount(f.bev.id), 4);
    assertV3Error(await signals(), { status: 430, type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT' });
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands/security/unlock`, { userId: f.user.id }), { status: 430, type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT' });
    assertV3Error(await client.get(`/vehicles/${f.bev.id}`), { status: 430, type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT' });
    await rejectsWith(v2bev.odometer(), { type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT', statusCode: 430 });
    assert.equal(emu.billedCount(f.bev.id), 4);
    assert.equal((await client.get(`/vehicles/${f.phev.id}/signals`, { userId: f.user.id })).status, 200, 'per car');
    const now = new Date(emu.clock.now());
    emu.clock.set(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 0, 0, 1));
    client.token = await appToken(emu);
    assert.equal((await signals()).status, 200);
    assert.equal(emu.billedCount(f.bev.id), 1);
  });

  it('one throttle per car across v2 and v3: 429 RATE_LIMIT/VEHICLE with retry-after, not billed', async () => {
    emu.limits.throttle = { limit: 3, windowMs: 60_000 };
    await v2bev.odometer();
    await signals();
    await client.get(`/vehicles/${f.bev.id}/signals/closure-islocked`, { userId: f.user.id });
    const limited = await signals();
    assertV3Error(limited, { status: 429, type: 'RATE_LIMIT', code: 'VEHICLE' });
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `retry-after seconds (${limited.headers.get('retry-after')})`);
    assert.equal(limited.body.errors[0].resolution.type, 'RETRY_LATER');
    const v2err = await rejectsWith(v2bev.odometer(), { type: 'RATE_LIMIT', code: 'VEHICLE', statusCode: 429, retryAfter: String(retry) });
    assert.ok(v2err);
    assertV3Error(await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id }), { status: 429, type: 'RATE_LIMIT', code: 'VEHICLE' });
    assert.equal(emu.billedCount(f.bev.id), 3);
    emu.clock.advance(60_000);
    assert.equal((await signals()).status, 200, 'the window slid');
  });

  it('every §5 catalogue type/code is the JSON:API error body with its status string, title, about link and resolution', async () => {
    for (const [type, code, status, resolution] of CATALOGUE) {
      emu.inject({ target: 'read', api: 'v3', vehicleId: f.bev.id, path: '/signals' }, { error: { type, code, status, ...(status === 429 ? { retryAfter: 9 } : {}) } });
      const res = await signals();
      assertV3Error(res, { status, type, code });
      const e = res.body.errors[0];
      assert.equal(e.resolution.type, resolution, `${type}:${String(code)} resolution`);
      assert.notEqual(e.detail, `${type} error.`, `${type}:${String(code)} has a catalogue detail`);
      assert.ok(e.suggestedUserMessage.length > 0, `${type}:${String(code)} has a message`);
      assert.equal(res.headers.get('retry-after'), status === 429 ? '9' : null);
    }
    const pairs = new Set(CATALOGUE.map(([t, c]) => `${t}:${String(c)}`));
    assert.equal(pairs.size, CATALOGUE.length);
  });

  it('the emulator\'s own refusals use catalogue codes: 401 UNAUTHORIZED, 400 MISSING_PARAMETER, 404 PATH/VERSION/SIGNAL_NOT_FOUND, 403 PERMISSION', async () => {
    assertV3Error(await client.get('/connections', { headers: { authorization: 'Bearer x' } }), { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
    assertV3Error(await client.get(`/vehicles/${f.bev.id}/signals`), { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER' });
    assertV3Error(await client.get('/what'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await answerOf(`${emu.origins.v3}/v2/connections`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'VERSION' });
    assertV3Error(await client.get(`/vehicles/${f.bev.id}/signals/nope`, { userId: f.user.id }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'SIGNAL_NOT_FOUND' });
    assertV3Error(await client.post(`/vehicles/${f.ice.id}/commands/charge/stop`, { userId: f.user.id }), { status: 403, type: 'PERMISSION', code: null });
  });

  async function answerOf(url: string): Promise<V3Answer> {
    const res = await fetch(url, { headers: { authorization: `Bearer ${client.token}` } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
  }

  it('injected faults on signals: matched by path, vehicle and api; drop, malformed and delay as in v2; billed like v2', async () => {
    emu.inject({ target: 'read', api: 'v3', path: '/signals/closure-islocked' }, { error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } });
    assert.equal((await signals()).status, 200, 'the list is another path');
    assertV3Error(await client.get(`/vehicles/${f.bev.id}/signals/closure-islocked`, { userId: f.user.id }), { status: 502, type: 'UPSTREAM', code: 'NO_RESPONSE' });
    assert.equal(emu.billedCount(f.bev.id), 2, 'an upstream failure is billed (v2 rule)');
    emu.inject({ target: 'read', api: 'v3', vehicleId: f.phev.id }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } });
    assert.equal((await signals()).status, 200, 'another car');
    emu.faults.clear();
    emu.inject({ target: 'read', api: 'v2' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } });
    assert.equal((await signals()).status, 200, 'a v2 fault');
    await rejectsWith(v2bev.odometer(), { type: 'SERVER', code: 'INTERNAL', statusCode: 500 });
    emu.inject({ target: 'read' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } }, 2);
    assertV3Error(await signals(), { status: 500, type: 'SERVER', code: 'INTERNAL' });
    await rejectsWith(v2bev.odometer(), { type: 'SERVER', code: 'INTERNAL', statusCode: 500 });
    emu.inject({ target: 'read', api: 'v3', path: '/signals' }, { malformed: true });
    const broken = await signals();
    assert.equal(broken.status, 200);
    assert.equal(broken.body, null);
    assert.match(broken.text, /^\{"malformed": tru$/);
    emu.inject({ target: 'read', api: 'v3', path: '/signals' }, { drop: true });
    await assert.rejects(signals());
    emu.inject({ target: 'any', api: 'v3', path: '/signals' }, { delayMs: 150 });
    const start = Date.now();
    assert.equal((await signals()).status, 200);
    assert.ok(Date.now() - start >= 140);
  });

  it('signalErrors and signalUnavailable: per-signal ERROR (body dropped or kept) and UNAVAILABLE inside a 200; not billed per signal', async () => {
    emu.readings.billing = 'per-signal';
    emu.inject({ target: 'read', api: 'v3', path: '/signals' }, {
      signalErrors: { 'closure-islocked': { type: 'VEHICLE_STATE', code: 'UNREACHABLE' }, 'closure-doors': { type: 'UPSTREAM', code: 'NO_RESPONSE' } },
    });
    const res = await signals();
    assert.equal(res.status, 200);
    assert.deepEqual(statusOf(res, 'closure-islocked'), {
      code: 'closure-islocked', name: 'IsLocked', group: 'Closure', status: { value: 'ERROR', error: { type: 'VEHICLE_STATE', code: 'UNREACHABLE' } },
    });
    assert.equal(statusOf(res, 'closure-doors')!.status.value, 'ERROR');
    assert.equal(statusOf(res, 'closure-windows')!.status.value, 'SUCCESS');
    const successOnPage = (res.body.data as Signal[]).filter((s) => s.attributes.status.value === 'SUCCESS').length;
    assert.equal(emu.billedCount(f.bev.id), successOnPage);
    assert.equal((await signals()).body.data[0].attributes.status.value, 'SUCCESS', 'times = 1');

    emu.inject({ target: 'read', api: 'v3' }, { signalErrors: { 'closure-islocked': { type: 'VEHICLE_STATE', code: 'ASLEEP' } }, keepBody: true });
    const kept = await client.get(`/vehicles/${f.bev.id}/signals/closure-islocked`, { userId: f.user.id });
    assert.deepEqual(kept.body.attributes.status, { value: 'ERROR', error: { type: 'VEHICLE_STATE', code: 'ASLEEP' } });
    assert.deepEqual(kept.body.attributes.body, { value: false }, 'cached body kept (HEL)');
    assert.equal(typeof kept.body.meta.oemUpdatedAt, 'number');

    emu.inject({ target: 'read', api: 'v3', path: '/signals' }, { signalUnavailable: ['charge-ischargingcableconnected'] });
    const page2 = await signals({ page: '2' });
    assert.deepEqual(statusOf(page2, 'charge-ischargingcableconnected')!.status, { value: 'UNAVAILABLE' });
    assert.equal(statusOf(page2, 'charge-ischargingcableconnected')!.body, undefined);
  });

  it('per-signal faults wait for a v3 signals read: v2 reads and commands do not consume them', async () => {
    emu.inject({ target: 'any' }, { signalUnavailable: ['closure-islocked'] });
    await v2bev.odometer();
    await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id });
    await client.get(`/vehicles/${f.bev.id}`);
    assert.deepEqual(statusOf(await signals(), 'closure-islocked')!.status, { value: 'UNAVAILABLE' });
    assert.equal(emu.faults.list().length, 0);
  });

  it('inject refuses malformed v3 faults', () => {
    assert.throws(() => emu.inject({ target: 'read', api: 'v4' as 'v3' }, { delayMs: 1 }), /api must be/);
    assert.throws(() => emu.inject({ target: 'read' }, { signalErrors: { x: 'UNREACHABLE' as unknown as { type: string; code: null } } }), /signalErrors/);
    assert.throws(() => emu.inject({ target: 'read' }, { signalUnavailable: 'closure-islocked' as unknown as string[] }), /signalUnavailable/);
  });
});
