// The v3 management host (v3 ref §3.5, §7.18): webhooks (read only), subscriptions in both path forms
// (spec /subscriptions and BLOG /webhooks/{id}/subscriptions), 202/409/204, filters and paging, the
// effect of a subscription on the signal store, autoSubscribe, and disconnects taking subscriptions along.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator, Webhook } from '../emulator/index.js';
import { DEFAULT_READINGS, defaultFleet, PERMISSIONS } from '../emulator/index.js';
import { assertV3Error, V3Client, startV3 } from './support.js';

describe('v3 management: webhooks and subscriptions', () => {
  let emu: SmartcarEmulator;
  let vehicles: V3Client;
  let mgmt: V3Client;
  let f: DefaultFleet;
  let hook: Webhook;

  before(async () => {
    ({ emu, client: vehicles } = await startV3());
    mgmt = new V3Client(emu, vehicles.token, 'management');
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    Object.assign(emu.readings, DEFAULT_READINGS);
    f = defaultFleet(emu, `mgmt-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    hook = emu.addWebhook({ name: `hook-${Math.random()}`, callbackUri: 'https://example.test/hook' });
  });

  const create = (vehicleId: string, webhookId = hook.id, userId = f.user.id) =>
    mgmt.post('/subscriptions', { body: { data: { attributes: { webhookId, userId, vehicleId } } } });

  it('GET /webhooks and /webhooks/{id}: the reference shape, filters, paging default 50', async () => {
    const one = await mgmt.get(`/webhooks/${hook.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.data, {
      id: hook.id, type: 'webhook',
      attributes: { name: hook.name, callbackUri: 'https://example.test/hook', isEnabled: true, triggers: [], data: [], errorCallbackUri: null, autoSubscribe: false },
      links: { self: `/webhooks/${hook.id}` },
      meta: { createdAt: new Date(hook.createdAt).toISOString() },
    });
    const off = emu.addWebhook({ name: 'off', callbackUri: 'https://example.test/off', isEnabled: false });
    const list = await mgmt.get('/webhooks');
    assert.equal(list.body.meta.pageSize, 50);
    assert.ok(list.body.data.length >= 2);
    const disabled = await mgmt.get('/webhooks', { query: { 'filter[isEnabled]': 'false' } });
    assert.ok(disabled.body.data.every((w: { attributes: { isEnabled: boolean } }) => !w.attributes.isEnabled));
    assert.ok(disabled.body.data.some((w: { id: string }) => w.id === off.id));
    assert.equal((await mgmt.get('/webhooks', { query: { 'filter[name]': hook.name } })).body.meta.totalCount, 1);
    assertV3Error(await mgmt.get('/webhooks', { query: { 'filter[isEnabled]': 'yes' } }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    assertV3Error(await mgmt.get('/webhooks/nope'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await mgmt.post('/webhooks', { body: { name: 'x' } }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
  });

  it('POST /subscriptions: 202 "in progress", then listed; 409 the second time; get and delete (204) by id', async () => {
    const made = await create(f.bev.id);
    assert.equal(made.status, 202);
    assert.deepEqual(made.body, { meta: { message: 'subscription creation in progress' } });
    assert.equal(made.headers.get('content-type'), 'application/json; charset=utf-8');
    const again = await create(f.bev.id);
    assert.equal(again.status, 409);
    assert.equal(again.body.errors[0].status, '409');
    const listed = await mgmt.get('/subscriptions', { query: { 'filter[vehicleId]': f.bev.id } });
    assert.equal(listed.body.meta.totalCount, 1);
    const sub = listed.body.data[0];
    assert.equal(sub.type, 'subscription');
    assert.deepEqual(sub.attributes, { vehicle: { make: 'TESLA', model: 'Model 3', year: 2022, mode: 'live' } });
    assert.deepEqual(sub.relationships, {
      webhook: { data: { id: hook.id, type: 'webhook' } }, user: { data: { id: f.user.id, type: 'user' } }, vehicle: { data: { id: f.bev.id, type: 'vehicle' } },
    });
    assert.match(sub.meta.createdAt, /Z$/);
    assert.deepEqual((await mgmt.get(`/subscriptions/${sub.id}`)).body.data, sub);
    assert.deepEqual(emu.subscriptions().filter((s) => s.vehicleId === f.bev.id).map((s) => s.id), [sub.id]);
    const del = await mgmt.delete(`/subscriptions/${sub.id}`);
    assert.equal(del.status, 204);
    assertV3Error(await mgmt.get(`/subscriptions/${sub.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await mgmt.delete(`/subscriptions/${sub.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
  });

  it('the BLOG form: POST/GET /webhooks/{id}/subscriptions and DELETE /webhooks/{id}/subscriptions/{vehicleId}', async () => {
    const made = await mgmt.post(`/webhooks/${hook.id}/subscriptions`, { body: { data: { attributes: { userId: f.user.id, vehicleId: f.phev.id } } } });
    assert.equal(made.status, 202);
    assert.deepEqual(made.body, { meta: { message: 'subscription creation in progress' } });
    assert.equal((await mgmt.post(`/webhooks/${hook.id}/subscriptions`, { body: { data: { attributes: { userId: f.user.id, vehicleId: f.phev.id } } } })).status, 409);
    assert.equal((await create(f.phev.id)).status, 409, 'one subscription, whichever form made it');
    const listed = await mgmt.get(`/webhooks/${hook.id}/subscriptions`);
    assert.deepEqual(listed.body.data.map((s: { relationships: { vehicle: { data: { id: string } } } }) => s.relationships.vehicle.data.id), [f.phev.id]);
    assert.equal((await mgmt.delete(`/webhooks/${hook.id}/subscriptions/${f.phev.id}`)).status, 204);
    assert.equal((await mgmt.get(`/webhooks/${hook.id}/subscriptions`)).body.meta.totalCount, 0);
    assertV3Error(await mgmt.delete(`/webhooks/${hook.id}/subscriptions/${f.phev.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await mgmt.post(`/webhooks/${hook.id}/subscriptions`, { body: { data: { attributes: { webhookId: 'other', userId: f.user.id, vehicleId: f.phev.id } } } }),
      { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
  });

  it('refuses bad subscription requests: missing attributes, unknown webhook, no connection, not JSON', async () => {
    assertV3Error(await mgmt.post('/subscriptions', { body: { data: { attributes: { webhookId: hook.id, userId: f.user.id } } } }),
      { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER', detail: 'missing data.attributes.vehicleId' });
    assertV3Error(await mgmt.post('/subscriptions', { body: { webhookId: hook.id, userId: f.user.id, vehicleId: f.bev.id } }),
      { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER' });
    assertV3Error(await create(f.bev.id, 'no-such-hook'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    const stranger = defaultFleet(emu, `stranger-${Math.random()}@example.com`);
    assertV3Error(await create(stranger.bev.id, hook.id, stranger.user.id), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await mgmt.post('/subscriptions', { rawBody: '{', headers: { 'content-type': 'application/json' } }), { status: 400, type: 'VALIDATION', code: 'BAD_REQUEST' });
    assertV3Error(await mgmt.post('/subscriptions', { rawBody: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
  });

  it('GET /subscriptions filters (userId, webhookId, vehicleId, vehicle.mode) and pages (default 25, max 100), links followed', async () => {
    const userId = emu.addUser({ email: `fleet-${Math.random()}@example.com`, password: 'pw' }).id;
    const ids: string[] = [];
    for (let i = 0; i < 27; i++) {
      const v = emu.addVehicle(userId, { powertrain: 'BEV' });
      emu.connect(userId, { vehicleIds: [v.id], mode: i === 26 ? 'simulated' : 'live' });
      ids.push(v.id);
      assert.equal((await create(v.id, hook.id, userId)).status, 202);
    }
    const first = await mgmt.get('/subscriptions', { query: { 'filter[userId]': userId } });
    assert.deepEqual(first.body.meta, { totalCount: 27, pageNumber: 1, pageSize: 25 });
    const pages = await mgmt.pages('/subscriptions', { query: { 'filter[userId]': userId } });
    assert.equal(pages.length, 2);
    assert.deepEqual(pages.flatMap((p) => p.body.data.map((s: { relationships: { vehicle: { data: { id: string } } } }) => s.relationships.vehicle.data.id)), ids);
    assert.equal((await mgmt.get('/subscriptions', { query: { 'filter[userId]': userId, 'filter[vehicle.mode]': 'simulated' } })).body.meta.totalCount, 1);
    assert.equal((await mgmt.get('/subscriptions', { query: { 'filter[webhookId]': hook.id, 'filter[vehicleId]': ids[3]! } })).body.meta.totalCount, 1);
    assert.equal((await mgmt.get('/subscriptions', { query: { 'filter[userId]': userId, 'page[size]': '100' } })).body.data.length, 27);
    assertV3Error(await mgmt.get('/subscriptions', { query: { 'page[size]': '101' } }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    assertV3Error(await mgmt.get('/subscriptions', { query: { 'filter[user]': userId } }), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
  });

  it('a subscription made through the API fills the empty-until-subscribed store; a disconnect removes it', async () => {
    emu.readings.signalStore = 'empty-until-subscribed';
    const read = () => vehicles.get(`/vehicles/${f.bev.id}/signals`, { userId: f.user.id });
    assert.equal((await read()).body.meta.totalCount, 0);
    assert.equal((await create(f.bev.id)).status, 202);
    assert.ok((await read()).body.meta.totalCount > 0);
    const c = emu.connections().find((x) => x.vehicleId === f.bev.id)!;
    assert.equal((await vehicles.delete(`/connections/${c.id}`)).status, 204);
    assert.equal(emu.subscriptions().filter((s) => s.vehicleId === f.bev.id).length, 0, 'the subscription went with the connection');
    emu.connect(f.user.id, { vehicleIds: [f.bev.id] });
    assert.equal((await read()).body.meta.totalCount, 0, 'a new connection starts unsubscribed');
  });

  it('autoSubscribe webhooks subscribe new connections (enabled ones only)', async () => {
    const auto = emu.addWebhook({ name: 'auto', callbackUri: 'https://example.test/auto', autoSubscribe: true });
    const offAuto = emu.addWebhook({ name: 'auto-off', callbackUri: 'https://example.test/auto-off', autoSubscribe: true, isEnabled: false });
    const g = defaultFleet(emu, `auto-${Math.random()}@example.com`);
    emu.connect(g.user.id, { vehicleIds: [g.ice.id] });
    const subs = emu.subscriptions().filter((s) => s.vehicleId === g.ice.id);
    assert.deepEqual(subs.map((s) => s.webhookId), [auto.id]);
    assert.ok(!subs.some((s) => s.webhookId === offAuto.id));
    assert.equal((await mgmt.get('/subscriptions', { query: { 'filter[vehicleId]': g.ice.id } })).body.meta.totalCount, 1);
  });

  it('management calls are not billed, log host management, and need the app token', async () => {
    emu.resetLog();
    await create(f.ice.id);
    await mgmt.get('/subscriptions');
    assert.deepEqual(emu.requests.map((r) => [r.host, r.billed]), [['management', 0], ['management', 0]]);
    assert.equal(emu.billedCount(f.ice.id), 0);
    const v2 = emu.issueTokens(f.user.id).accessToken;
    assertV3Error(await mgmt.get('/subscriptions', { headers: { authorization: `Bearer ${v2}` } }), { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
  });

  it('the control API adds webhooks and subscriptions and lists them', async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${emu.origin}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
    const w = await call('POST', '/webhooks', { name: 'ctl', callbackUri: 'https://example.test/ctl', autoSubscribe: false });
    assert.equal(w.status, 200);
    const s = await call('POST', '/subscriptions', { vehicleId: f.phev.id, webhookId: w.body.id });
    assert.equal(s.body.webhookId, w.body.id);
    assert.ok(((await call('GET', '/subscriptions')).body.subscriptions as { id: string }[]).some((x) => x.id === s.body.id));
    assert.ok(((await call('GET', '/webhooks')).body.webhooks as { id: string }[]).some((x) => x.id === w.body.id));
    assert.equal((await call('POST', '/subscriptions', { vehicleId: 'nope' })).status, 400);
    assert.equal((await call('POST', '/app-tokens/expire')).status, 200);
    assertV3Error(await mgmt.get('/webhooks'), { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
  });
});
