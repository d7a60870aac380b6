// v3 Connect and connections (v3 ref §2.4, §3.1, §7.4, §7.5): approval creates the connections at
// once (no code exchange), the redirect under both readings, GET /connections paging and filters
// (simulated hidden by default), get/delete, delete user, and one world with v2: a disconnect
// through either API is seen by both.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet, PERMISSIONS } from '../emulator/index.js';
import type { V3Client } from './support.js';
import { assertV3Error, authClient, CLIENT_ID, REDIRECT_URI, rejectsWith, runConnect, sdk, startV3, V3_CLIENT_ID } from './support.js';

describe('v3 Connect and connections', () => {
  let emu: SmartcarEmulator;
  let client: V3Client;

  before(async () => {
    ({ emu, client } = await startV3());
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.readings.redirect = 'code-and-user-id';
    emu.readings.connectParam = 'client_id';
    emu.readings.links = 'relative';
    emu.faults.clear();
  });

  const owner = (): DefaultFleet => defaultFleet(emu, `owner-${Math.random()}@example.com`);
  const connectUrl = (extra: Record<string, string> = {}): string => {
    const u = new URL(`${emu.origins.connect}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: 'read_vehicle_info read_security control_security', mode: 'live', ...extra,
    })) {
      u.searchParams.set(k, v);
    }
    return u.toString();
  };

  it('approval creates the connections at once; the redirect has code and user_id (and external_id when given)', async () => {
    const f = owner();
    const run = await runConnect(connectUrl({ state: 's1', external_id: 'ext-42' }), { email: f.user.email, password: f.password, vehicles: [f.bev.id, f.ice.id] });
    const loc = run.location!;
    assert.equal(loc.searchParams.get('user_id'), f.user.id);
    assert.match(loc.searchParams.get('code') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(loc.searchParams.get('state'), 's1');
    assert.equal(loc.searchParams.get('external_id'), 'ext-42');
    // No exchange: the connections are there already, with the granted permissions.
    const listed = await client.get('/connections', { query: { 'filter[userId]': f.user.id } });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data.map((c: { relationships: { vehicle: { data: { id: string } } } }) => c.relationships.vehicle.data.id), [f.bev.id, f.ice.id]);
    assert.deepEqual(listed.body.data[0].attributes.permissions.sort(), ['control_security', 'read_security', 'read_vehicle_info']);
    const byExternal = await client.get('/connections', { query: { 'filter[user.externalId]': 'ext-42' } });
    assert.equal(byExternal.body.meta.totalCount, 2);
    // The v2 code still works as before.
    const access = await authClient().exchangeCode(loc.searchParams.get('code')!);
    assert.deepEqual((await sdk.getVehicles(access.accessToken)).vehicles.sort(), [f.bev.id, f.ice.id].sort());
  });

  it('user-id-only redirect: user_id and state, no code', async () => {
    emu.readings.redirect = 'user-id-only';
    const f = owner();
    const run = await runConnect(connectUrl({ state: 's2' }), { email: f.user.email, password: f.password });
    const loc = run.location!;
    assert.deepEqual([...loc.searchParams.keys()].sort(), ['state', 'user_id']);
    assert.equal(loc.searchParams.get('user_id'), f.user.id);
    assert.equal((await client.get('/connections', { query: { 'filter[userId]': f.user.id } })).body.meta.totalCount, 3);
  });

  it('Connect takes the Application ID as client_id, never the client_… id; application_id only under connectParam either', async () => {
    const wrong = await fetch(connectUrl({ client_id: V3_CLIENT_ID }), { redirect: 'manual' });
    assert.equal(wrong.status, 400, 'the API client id is not a Connect client_id');
    const u = new URL(connectUrl());
    u.searchParams.delete('client_id');
    u.searchParams.set('application_id', CLIENT_ID);
    assert.equal((await fetch(u, { redirect: 'manual' })).status, 400, 'client_id reading: application_id is not enough');
    emu.readings.connectParam = 'either';
    assert.equal((await fetch(u, { redirect: 'manual' })).status, 200, 'either reading: application_id works');
  });

  it('test and simulated Connect modes create simulated connections, hidden unless filter[vehicle.mode]=simulated', async () => {
    for (const mode of ['test', 'simulated']) {
      const email = `sim-${mode}-${Math.random()}@example.com`;
      const run = await runConnect(connectUrl({ mode }), { email, password: 'x' });
      const userId = run.location!.searchParams.get('user_id')!;
      assert.equal((await client.get('/connections', { query: { 'filter[userId]': userId } })).body.meta.totalCount, 0, `${mode}: hidden by default`);
      const sim = await client.get('/connections', { query: { 'filter[userId]': userId, 'filter[vehicle.mode]': 'simulated' } });
      assert.equal(sim.body.meta.totalCount, 1);
      assert.equal(sim.body.data[0].attributes.vehicle.mode, 'simulated');
    }
    assertV3Error(await client.get('/connections', { query: { 'filter[vehicle.mode]': 'test' } }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
  });

  it('a connection resource is the reference example shape; get by id', async () => {
    const f = owner();
    const [c] = emu.connect(f.user.id, { vehicleIds: [f.bev.id], scope: ['read_vehicle_info', 'read_odometer'] });
    const res = await client.get(`/connections/${c!.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const d = res.body.data;
    assert.deepEqual(Object.keys(res.body), ['data']);
    assert.equal(d.id, c!.id);
    assert.notEqual(d.id, f.bev.id);
    assert.notEqual(d.id, f.user.id);
    assert.equal(d.type, 'connection');
    assert.deepEqual(d.attributes, {
      permissions: ['read_vehicle_info', 'read_odometer'],
      vehicle: { make: 'TESLA', model: 'Model 3', year: 2022, mode: 'live', powertrainType: 'BEV' },
    });
    assert.deepEqual(d.relationships, {
      vehicle: { data: { id: f.bev.id, type: 'vehicle' }, links: { related: `/vehicles/${f.bev.id}` } },
      user: { data: { id: f.user.id, type: 'user' } },
    });
    assert.match(d.meta.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(d.meta.updatedAt, /Z$/);
    assert.deepEqual(d.links, { self: `/connections/${c!.id}` });
    emu.readings.links = 'absolute';
    const abs = await client.get(`/connections/${c!.id}`);
    assert.equal(abs.body.data.links.self, `${emu.origins.v3}/v3/connections/${c!.id}`);
    assert.equal(abs.body.data.relationships.vehicle.links.related, `${emu.origins.v3}/v3/vehicles/${f.bev.id}`);
    assertV3Error(await client.get('/connections/00000000-0000-4000-8000-000000000000'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    // Reconnecting updates permissions (same id), not a second connection.
    emu.clock.advance(1000);
    const [again] = emu.connect(f.user.id, { vehicleIds: [f.bev.id], scope: ['read_vehicle_info'] });
    assert.equal(again!.id, c!.id);
    assert.ok(again!.updatedAt > again!.createdAt);
  });

  it('GET /connections pages with page[number]/page[size] (default 10, max 100), sorted by connection date, links followed to the end', async () => {
    const userId = emu.addUser({ email: `many-${Math.random()}@example.com`, password: 'pw' }).id;
    const ids: string[] = [];
    for (let i = 0; i < 23; i++) {
      ids.push(emu.addVehicle(userId, { powertrain: 'BEV' }).id);
      emu.connect(userId, { vehicleIds: [ids.at(-1)!] });
      emu.clock.advance(10);
    }
    const first = await client.get('/connections', { query: { 'filter[userId]': userId } });
    assert.deepEqual(first.body.meta, { totalCount: 23, pageNumber: 1, pageSize: 10, orderBy: 'createdAt', orderDirection: 'asc' });
    assert.equal(first.body.links.prev, null);
    assert.match(first.body.links.next, /page%5Bnumber%5D=2/);
    for (const style of ['relative', 'absolute'] as const) {
      emu.readings.links = style;
      const pages = await client.pages('/connections', { query: { 'filter[userId]': userId, 'page[size]': '7' } });
      assert.equal(pages.length, 4, style);
      assert.deepEqual(pages.flatMap((p) => p.body.data.map((c: { relationships: { vehicle: { data: { id: string } } } }) => c.relationships.vehicle.data.id)), ids);
      const last = pages.at(-1)!.body;
      assert.equal(last.links.next, null);
      assert.equal(last.meta.pageNumber, 4);
      assert.ok(typeof last.links.prev === 'string');
      assert.equal(last.links.last, last.links.self);
      assert.equal(pages[0]!.body.links.first, pages[0]!.body.links.self);
    }
    assert.equal((await client.get('/connections', { query: { 'filter[userId]': userId, 'page[size]': '100' } })).body.data.length, 23);
    for (const bad of [{ 'page[size]': '101' }, { 'page[size]': '0' }, { 'page[number]': 'x' }, { 'filter[vehicleid]': ids[0]! }] as Record<string, string>[]) {
      assertV3Error(await client.get('/connections', { query: bad }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    }
    const beyond = await client.get('/connections', { query: { 'filter[userId]': userId, 'page[number]': '9' } });
    assert.deepEqual(beyond.body.data, []);
    assert.equal(beyond.body.links.next, null);
  });

  it('filters by vehicle, by sc-user-id, and is never billed', async () => {
    const f = owner();
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    const byVehicle = await client.get('/connections', { query: { 'filter[vehicleId]': f.phev.id } });
    assert.equal(byVehicle.body.meta.totalCount, 1);
    assert.equal(byVehicle.body.data[0].relationships.user.data.id, f.user.id, 'vehicleId → userId without a redirect');
    const byHeader = await client.get('/connections', { userId: f.user.id });
    assert.equal(byHeader.body.meta.totalCount, 3);
    const other = emu.addUser({ email: `nobody-${Math.random()}@example.com`, password: 'x' }).id;
    assert.equal((await client.get('/connections', { userId: other, query: { 'filter[userId]': f.user.id } })).body.meta.totalCount, 0, 'header and filter both apply');
    assertV3Error(await client.get('/connections', { userId: 'not-a-uuid' }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    assert.equal(emu.billedCount(f.phev.id), 0);
    const logged = emu.requests.filter((r) => r.path === '/v3/connections').at(-2)!;
    assert.equal(logged.host, 'v3');
    assert.equal(logged.billed, 0);
  });

  it('DELETE /connections/{id} is 204 and takes v2 access to that vehicle with it (every token of the user)', async () => {
    const f = owner();
    const tokenA = emu.issueTokens(f.user.id).accessToken;
    const tokenB = emu.issueTokens(f.user.id).accessToken;
    const c = emu.connections().find((x) => x.vehicleId === f.bev.id)!;
    const del = await client.delete(`/connections/${c.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assertV3Error(await client.get(`/connections/${c.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.delete(`/connections/${c.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    for (const t of [tokenA, tokenB]) {
      assert.deepEqual((await sdk.getVehicles(t)).vehicles.sort(), [f.phev.id, f.ice.id].sort());
      await rejectsWith(new sdk.Vehicle(f.bev.id, t).odometer(), { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'VEHICLE_MISSING', statusCode: 400 });
    }
    assertV3Error(await client.get(`/vehicles/${f.bev.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
  });

  it('DELETE /users/{id} is 204: every connection and every v2 authorization of the user loses its vehicles', async () => {
    const f = owner();
    const token = emu.issueTokens(f.user.id).accessToken;
    const del = await client.delete(`/users/${f.user.id}`);
    assert.equal(del.status, 204);
    assert.equal((await client.get('/connections', { query: { 'filter[userId]': f.user.id } })).body.meta.totalCount, 0);
    assert.deepEqual((await sdk.getVehicles(token)).vehicles, []);
    assertV3Error(await client.delete(`/users/${f.user.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
  });

  it('v2 DELETE /application removes the v3 connection too (other v2 tokens keep theirs, as the v2 suite pins)', async () => {
    const f = owner();
    const token = emu.issueTokens(f.user.id).accessToken;
    assert.equal((await client.get('/connections', { query: { 'filter[vehicleId]': f.ice.id } })).body.meta.totalCount, 1);
    await new sdk.Vehicle(f.ice.id, token).disconnect();
    assert.equal((await client.get('/connections', { query: { 'filter[vehicleId]': f.ice.id } })).body.meta.totalCount, 0);
    assertV3Error(await client.get(`/vehicles/${f.ice.id}/signals`, { userId: f.user.id }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    // Connecting again (v3 in-process) brings it back for v3, with a new connection id.
    const [c] = emu.connect(f.user.id, { vehicleIds: [f.ice.id] });
    assert.equal((await client.get(`/connections/${c!.id}`)).status, 200);
  });

  it('issueTokens and emu.connect both create connections; the control API lists, creates and deletes them', async () => {
    const f = owner();
    emu.issueTokens(f.user.id, { vehicleIds: [f.bev.id] });
    assert.ok(emu.connections().some((c) => c.vehicleId === f.bev.id && c.mode === 'live'));
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${emu.origin}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
    const made = await call('POST', '/connections', { userId: f.user.id, vehicleIds: [f.phev.id], scope: ['read_battery'], mode: 'simulated', externalId: 'e1' });
    assert.equal(made.status, 200);
    const [c] = made.body.connections as { id: string; mode: string; permissions: string[]; externalId: string }[];
    assert.deepEqual([c!.mode, c!.permissions, c!.externalId], ['simulated', ['read_battery'], 'e1']);
    const listed = await call('GET', '/connections');
    assert.ok((listed.body.connections as { id: string }[]).some((x) => x.id === c!.id));
    assert.equal((await call('DELETE', `/connections/${c!.id}`)).status, 200);
    assert.equal((await call('DELETE', `/connections/${c!.id}`)).status, 400, 'unknown id');
    assert.ok(!emu.connections().some((x) => x.id === c!.id));
    assert.equal((await call('POST', '/connections', { userId: f.user.id, mode: 'test' })).status, 400);
    const state = await call('GET', '/state');
    assert.ok(Array.isArray(state.body.connections));
    assert.deepEqual(Object.keys(state.body.origins as object).sort(), ['api', 'auth', 'connect', 'iam', 'management', 'v3']);
  });

  it('connection faults: an injected error in the v3 shape, matched by path /connections', async () => {
    emu.inject({ target: 'read', api: 'v3', path: '/connections' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } });
    assertV3Error(await client.get('/connections'), { status: 500, type: 'SERVER', code: 'INTERNAL' });
    assert.equal((await client.get('/connections')).status, 200, 'times = 1');
    emu.inject({ target: 'read', api: 'v3', path: '/connections' }, { malformed: true });
    const broken = await client.get('/connections');
    assert.equal(broken.status, 200);
    assert.equal(broken.body, null, 'truncated body');
  });
});
