// Webhooks 4.0 delivery (smartcar-api.md §6, v3 ref §6, §7) against a real receiver on node:http: the
// signature over the raw body keyed by the Application Management Token, VERIFY and its challenge,
// FIRST_DELIVERY, one VEHICLE_STATE per change carrying every signal exactly as GET /signals serves it,
// VEHICLE_ERROR, the retry schedule (scaled time), each delivery fault, the readings, who gets nothing,
// no billing, and close() leaving no timer behind.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, DeliveryLogEntry, Webhook, WebhookInit } from '../emulator/index.js';
import { DEFAULT_READINGS, defaultFleet, PERMISSIONS, SIGNALS, SmartcarEmulator, WEBHOOK_RETRY_DELAYS_MS } from '../emulator/index.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, startV3, V3Client } from './support.js';
import type { Received } from './webhook-receiver.js';
import { hmacHex, Receiver } from './webhook-receiver.js';

const SCALE = 0.01; // 15 s timeout → 150 ms; retries at +250, +500, +1000 ms
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('v3 webhooks 4.0 delivery', () => {
  let emu: SmartcarEmulator;
  let client: V3Client;
  let mgmt: V3Client;
  let rx: Receiver;
  let f: DefaultFleet;
  let n = 0;

  before(async () => {
    ({ emu, client } = await startV3({ webhookTimeScale: SCALE }));
    mgmt = new V3Client(emu, client.token, 'management');
    rx = await Receiver.start(emu.managementToken);
  });
  after(async () => {
    await emu.close();
    await rx.close();
  });
  beforeEach(() => {
    Object.assign(emu.readings, DEFAULT_READINGS);
    f = defaultFleet(emu, `hooks-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
  });
  afterEach(async () => {
    // Webhooks outlive a test: switch them off so no later test's car is subscribed or delivered to.
    for (const w of emu.webhooks()) {
      emu.updateWebhook(w.id, { isEnabled: false, autoSubscribe: false });
    }
    emu.deliveryFaults.clear();
    emu.webhookTimeScale = SCALE;
    await emu.settleDeliveries();
    rx.reset();
  });

  /** A webhook at its own receiver path. */
  function hook(init: Partial<WebhookInit> = {}): { w: Webhook; path: string; got: () => Received[]; log: () => DeliveryLogEntry[] } {
    const path = `/hook-${++n}`;
    const w = emu.addWebhook({ name: `Hook ${n}`, callbackUri: rx.url(path), ...init });
    return { w, path, got: () => rx.at(path), log: () => emu.deliveries.filter((d) => d.webhookId === w.id) };
  }

  const triggerCodes = (body: { data: { triggers: { code: string }[] } }): string[] => body.data.triggers.map((t) => t.code);

  /** What a webhook signal must be, from the REST resource (fetchedAt is checked apart: each fetch has its own). */
  const fromRest = (res: { attributes: { code: string; name: string; group: string; status: { value: string }; body?: unknown }; meta: { oemUpdatedAt?: number } }): object => {
    const a = res.attributes;
    return {
      code: a.code, name: a.name, group: a.group,
      ...(a.status.value === 'SUCCESS' ? {} : { status: a.status }),
      ...(a.body !== undefined ? { body: a.body, meta: { oemUpdatedAt: res.meta.oemUpdatedAt } } : {}),
    };
  };
  const withoutFetchedAt = (s: { meta?: { oemUpdatedAt: number; fetchedAt: number } }): object =>
    (s.meta ? { ...s, meta: { oemUpdatedAt: s.meta.oemUpdatedAt } } : s);

  const control = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON asserted field by field
    const res = await fetch(`${emu.origin}/_emulator${path}`, {
      method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };

  it('the Application Management Token: random per application, settable at start, in the control state', async () => {
    assert.match(emu.managementToken, /^[0-9a-f]{64}$/);
    const other = await SmartcarEmulator.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], managementToken: 'amt-chosen' });
    try {
      assert.equal(other.managementToken, 'amt-chosen');
      const random = await SmartcarEmulator.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
      assert.notEqual(random.managementToken, emu.managementToken);
      await random.close();
    } finally {
      await other.close();
    }
    await assert.rejects(SmartcarEmulator.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], managementToken: '' }), /managementToken/);
    const state = await control('GET', '/state');
    assert.equal(state.body.managementToken, emu.managementToken);
    assert.equal(state.body.webhookTimeScale, SCALE);
  });

  it('VERIFY: an unsigned POST in the 4.0 shape; the right HMAC of the challenge verifies the webhook', async () => {
    const h = hook();
    const result = await emu.verifyWebhook(h.w.id);
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.status, 200);
    const [r] = h.got();
    assert.ok(r);
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.match(String(r.headers['user-agent']), /^Smartcar\/\S+$/);
    assert.equal(r.headers['sc-signature'], undefined, 'VERIFY is unsigned (v3 ref §6)');
    assert.deepEqual(Object.keys(r.body), ['eventId', 'eventType', 'data', 'meta']);
    assert.equal(r.body.eventType, 'VERIFY');
    assert.match(r.body.data.challenge, /^[0-9a-f]{32}$/);
    assert.deepEqual(Object.keys(r.body.data), ['challenge']);
    assert.deepEqual(r.body.meta, {
      version: '4.0', webhookId: h.w.id, webhookName: h.w.name, deliveryId: r.body.meta.deliveryId, deliveredAt: r.body.meta.deliveredAt,
    });
    assert.equal(typeof r.body.meta.deliveredAt, 'number');
    assert.equal(r.raw, JSON.stringify(r.body), 'compact JSON');
    assert.equal(result.body, JSON.stringify({ challenge: hmacHex(emu.managementToken, r.body.data.challenge) }));
    const w = emu.webhooks().find((x) => x.id === h.w.id)!;
    assert.equal(w.verified, true);
    assert.equal(typeof w.verifiedAt, 'number');
    assert.deepEqual(h.log().map((d) => [d.eventType, d.eventId, d.deliveryId, d.attempt, d.status, d.ok]),
      [['VERIFY', r.body.eventId, r.body.meta.deliveryId, 1, 200, true]]);
    await emu.verifyWebhook(h.w.id);
    assert.notEqual(h.got()[1]!.body.data.challenge, r.body.data.challenge, 'a new challenge each time');
  });

  it('VERIFY fails on a wrong challenge, a non-200, a non-JSON answer, no answer in 15 s (scaled), an unreachable host', async () => {
    const h = hook();
    assert.equal((await emu.verifyWebhook(h.w.id)).ok, true);
    rx.respond = () => ({ status: 200, body: JSON.stringify({ challenge: 'not-it' }) });
    const wrong = await emu.verifyWebhook(h.w.id);
    assert.equal(wrong.ok, false);
    assert.match(wrong.reason ?? '', /challenge/);
    assert.equal(emu.webhooks().find((x) => x.id === h.w.id)!.verified, false, 'a failed verification clears it');
    rx.respond = (r) => ({ ...rx.standard(r) as object, status: 201 });
    assert.deepEqual([(await emu.verifyWebhook(h.w.id)).ok, (await emu.verifyWebhook(h.w.id)).status], [false, 201]);
    rx.respond = (r) => ({ ...rx.standard(r) as object, contentType: 'text/plain' });
    assert.match((await emu.verifyWebhook(h.w.id)).reason ?? '', /content-type/);
    rx.respond = () => 'hang';
    const started = Date.now();
    const late = await emu.verifyWebhook(h.w.id);
    assert.equal(late.status, 'timeout');
    assert.ok(Date.now() - started >= 15_000 * SCALE - 5);
    rx.reset();
    const closed = emu.addWebhook({ name: 'gone', callbackUri: 'http://127.0.0.1:9/hook' });
    assert.deepEqual(await emu.verifyWebhook(closed.id), { ok: false, status: 'network', body: '', reason: 'no answer (network)' });
    const named = emu.addWebhook({ name: 'named', callbackUri: 'https://example.test/hook' });
    assert.equal((await emu.verifyWebhook(named.id)).status, 'network', 'names are never resolved');
    const viaControl = await control('POST', `/webhooks/${h.w.id}/verify`);
    assert.equal(viaControl.status, 200);
    assert.equal(viaControl.body.ok, true);
    assert.equal((await control('GET', '/state')).body.webhooks.find((w: Webhook) => w.id === h.w.id).verified, true);
    assert.equal((await control('POST', '/webhooks/nope/verify')).status, 400);
  });

  it('FIRST_DELIVERY after a subscription (management API, emu.subscribe, autoSubscribe), signed over the raw body', async () => {
    const h = hook();
    const made = await mgmt.post('/subscriptions', { body: { data: { attributes: { webhookId: h.w.id, userId: f.user.id, vehicleId: f.bev.id } } } });
    assert.equal(made.status, 202);
    await emu.settleDeliveries();
    const [r] = h.got();
    assert.ok(r, 'the first delivery arrived');
    assert.equal(h.got().length, 1);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.match(String(r.headers['user-agent']), /^Smartcar\//);
    assert.match(String(r.headers['sc-signature']), /^[0-9a-f]{64}$/);
    assert.ok(rx.signedWith(r), 'SC-Signature = hex HMAC-SHA256(AMT, raw body)');
    assert.ok(!rx.signedWith(r, 'another-key'));
    assert.equal(r.raw, JSON.stringify(r.body), 'the signed string is exactly the body sent');
    const b = r.body;
    assert.deepEqual(Object.keys(b), ['eventId', 'eventType', 'vehicleId', 'data', 'meta'], 'the docs example\'s order');
    assert.equal(b.eventType, 'VEHICLE_STATE');
    assert.equal(b.vehicleId, f.bev.id);
    assert.deepEqual(b.data.user, { id: f.user.id });
    assert.deepEqual(b.data.vehicle, { id: f.bev.id, make: 'TESLA', model: 'Model 3', year: 2022 });
    assert.deepEqual(b.data.triggers, [{ code: 'FIRST_DELIVERY' }]);
    assert.equal(b.data.signals.length, SIGNALS.length, 'every signal the vehicle has');
    assert.deepEqual(b.meta, {
      version: '4.0', deliveryId: b.meta.deliveryId, deliveredAt: b.meta.deliveredAt, webhookId: h.w.id, webhookName: h.w.name,
      signalCount: SIGNALS.length, mode: 'LIVE',
    });
    assert.equal(typeof b.meta.deliveredAt, 'number');
    assert.notEqual(b.meta.deliveryId, b.eventId);
    assert.deepEqual(h.log().map((d) => [d.eventType, d.eventId, d.vehicleId, d.attempt, d.status, d.ok]), [['VEHICLE_STATE', b.eventId, f.bev.id, 1, 200, true]]);
    assert.equal((await mgmt.post('/subscriptions', { body: { data: { attributes: { webhookId: h.w.id, userId: f.user.id, vehicleId: f.bev.id } } } })).status, 409);
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    assert.equal(h.got().length, 1, 'an existing subscription gets no second first delivery');

    emu.subscribe(f.phev.id, h.w.id);
    const auto = hook({ autoSubscribe: true });
    const g = defaultFleet(emu, `auto-${Math.random()}@example.com`);
    emu.connect(g.user.id, { vehicleIds: [g.ice.id] });
    await emu.settleDeliveries();
    assert.deepEqual(h.got().slice(1).map((x) => [x.body.data.vehicle.id, triggerCodes(x.body)]), [[f.phev.id, ['FIRST_DELIVERY']]]);
    assert.deepEqual(auto.got().map((x) => [x.body.data.vehicle.id, x.body.data.user.id, triggerCodes(x.body)]), [[g.ice.id, g.user.id, ['FIRST_DELIVERY']]]);
  });

  it('VEHICLE_STATE signals are exactly what GET /signals serves (codes, bodies, units, per-signal errors) under each reading', async () => {
    const limited = emu.addUser({ email: `limited-${Math.random()}@example.com`, password: 'pw' });
    const phev = emu.addVehicle(limited.id, { powertrain: 'PHEV', make: 'TOYOTA', model: 'RAV4 Prime', year: 2023 });
    emu.connect(limited.id, { scope: ['read_vehicle_info', 'read_security', 'read_fuel'] });
    const cases: [string, Partial<typeof DEFAULT_READINGS>, string, string][] = [
      ['defaults, BEV', {}, f.bev.id, f.user.id],
      ['defaults, ICE (COMPATIBILITY errors)', {}, f.ice.id, f.user.id],
      ['short units, doors key, fuel fraction', { units: 'short', doorsKey: 'doors', fuelLevel: 'fraction' }, f.phev.id, f.user.id],
      ['ungranted as PERMISSION errors', {}, phev.id, limited.id],
      ['ungranted left out', { ungrantedSignals: 'omit' }, phev.id, limited.id],
    ];
    for (const [label, readings, vehicleId, userId] of cases) {
      Object.assign(emu.readings, DEFAULT_READINGS, readings);
      const h = hook();
      emu.subscribe(vehicleId, h.w.id);
      await emu.settleDeliveries();
      const body = h.got()[0]!.body;
      const rest = await client.get(`/vehicles/${vehicleId}/signals`, { userId, query: { pageSize: '50' } });
      assert.equal(rest.status, 200, rest.text);
      assert.deepEqual(body.data.signals.map(withoutFetchedAt), rest.body.data.map(fromRest), label);
      assert.equal(body.meta.signalCount, rest.body.meta.totalCount, label);
      for (const s of body.data.signals as { meta?: { oemUpdatedAt: number; fetchedAt: number } }[]) {
        if (s.meta) {
          assert.equal(typeof s.meta.fetchedAt, 'number', `${label}: fetchedAt in epoch ms`);
          assert.ok(s.meta.fetchedAt >= s.meta.oemUpdatedAt);
        }
      }
      if (label.startsWith('ungranted as')) {
        assert.ok(body.data.signals.some((s: { status?: { error: { type: string; code: null } } }) => s.status?.error.type === 'PERMISSION' && s.status.error.code === null));
      }
      if (label.includes('ICE')) {
        assert.deepEqual(body.data.signals.find((s: { code: string }) => s.code === 'tractionbattery-stateofcharge'),
          { code: 'tractionbattery-stateofcharge', name: 'StateOfCharge', group: 'TractionBattery', status: { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } } });
      }
    }
  });

  it('a state change → one delivery per subscription with all signals, the changed ones as triggers; a command never waits for it', async () => {
    const h = hook();
    const h2 = hook();
    emu.subscribe(f.bev.id, h.w.id);
    emu.subscribe(f.bev.id, h2.w.id);
    await emu.settleDeliveries();
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.5 } });
    await emu.settleDeliveries();
    const [, change] = h.got();
    assert.ok(change);
    assert.equal(h.got().length, 2, 'one delivery for one change');
    assert.deepEqual(change.body.data.triggers, [{ code: 'tractionbattery-stateofcharge', name: 'StateOfCharge', group: 'TractionBattery' }]);
    assert.equal(change.body.data.signals.length, SIGNALS.length);
    assert.deepEqual(change.body.data.signals.find((s: { code: string }) => s.code === 'tractionbattery-stateofcharge').body, { value: 50, unit: 'percent' });
    assert.equal(h2.got().length, 2, 'the other webhook gets its own');
    assert.notEqual(h2.got()[1]!.body.eventId, change.body.eventId);

    emu.updateVehicle(f.bev.id, { tirePressureKpa: { frontLeft: 200 } });
    emu.updateVehicle(f.bev.id, {});
    await emu.settleDeliveries();
    assert.equal(h.got().length, 2, 'nothing a signal reports changed (tyres have no v3 signal; a new dataAt alone is no change)');

    // The receiver hangs: the v3 lock still answers at once; the delivery times out and is retried.
    let hang = true;
    rx.respond = (r) => (r.path === h.path && hang ? 'hang' : rx.standard(r));
    const lock = await client.post(`/vehicles/${f.bev.id}/commands/security/lock`, { userId: f.user.id });
    assert.equal(lock.status, 200, lock.text);
    await waitFor('the hanging attempt', () => h.got().length === 3);
    hang = false;
    await emu.settleDeliveries();
    const locked = h.got().slice(2);
    assert.deepEqual(locked.map((r) => triggerCodes(r.body)), [
      ['closure-islocked', 'closure-doors', 'closure-reartrunk', 'closure-fronttrunk'],
      ['closure-islocked', 'closure-doors', 'closure-reartrunk', 'closure-fronttrunk'],
    ], 'the timed-out attempt and its retry');
    assert.deepEqual(h.log().slice(2).map((d) => d.status), ['timeout', 200]);

    const v2 = emu.issueTokens(f.user.id).accessToken;
    const unlock = await fetch(`${emu.origin}/v2.0/vehicles/${f.bev.id}/security`, {
      method: 'POST', headers: { authorization: `Bearer ${v2}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'UNLOCK' }),
    });
    assert.equal(unlock.status, 200);
    await emu.settleDeliveries();
    const unlocked = h.got().at(-1)!.body;
    assert.equal(unlocked.data.signals.find((s: { code: string }) => s.code === 'closure-islocked').body.value, false, 'a v2 command is seen too');
  });

  it('retries after a non-2xx at +25, +50, +100 s (scaled): same eventId, a new deliveryId each attempt', async () => {
    const h = hook();
    let calls = 0;
    rx.respond = (r) => (r.path === h.path && ++calls <= 3 ? { status: [500, 404, 302][calls - 1]! } : rx.standard(r));
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    const log = h.log();
    assert.deepEqual(log.map((d) => [d.attempt, d.status, d.ok]), [[1, 500, false], [2, 404, false], [3, 302, false], [4, 200, true]]);
    assert.equal(new Set(log.map((d) => d.eventId)).size, 1);
    assert.equal(new Set(log.map((d) => d.deliveryId)).size, 4);
    assert.deepEqual(h.got().map((r) => r.body.meta.deliveryId), log.map((d) => d.deliveryId));
    assert.deepEqual(h.got().map((r) => r.body.eventId), log.map((d) => d.eventId));
    assert.ok(h.got().every((r) => rx.signedWith(r)), 'each attempt signed over its own body');
    const gaps = log.slice(1).map((d, i) => d.at - log[i]!.at);
    gaps.forEach((g, i) => assert.ok(g >= WEBHOOK_RETRY_DELAYS_MS[i]! * SCALE - 2, `retry ${i + 1} after ${g} ms`));
    assert.ok(gaps[0]! < gaps[1]! && gaps[1]! < gaps[2]!, `backoff grows: ${gaps.join(', ')}`);
    assert.deepEqual(h.got().map((r) => r.body.meta.deliveredAt), log.map((d) => d.at), 'meta.deliveredAt is the attempt\'s time');
  });

  it('after 3 failed retries the event is dropped; timeouts and network errors are failures too', async () => {
    const h = hook();
    rx.respond = (r) => (r.path === h.path ? { status: 503 } : rx.standard(r));
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    await sleep(WEBHOOK_RETRY_DELAYS_MS.at(-1)! * SCALE * 1.5);
    assert.deepEqual(h.log().map((d) => d.status), [503, 503, 503, 503], 'one send and three retries, then nothing');

    const dead = emu.addWebhook({ name: 'dead', callbackUri: 'http://127.0.0.1:9/hook' });
    emu.subscribe(f.phev.id, dead.id);
    await emu.settleDeliveries();
    assert.deepEqual(emu.deliveries.filter((d) => d.webhookId === dead.id).map((d) => d.status), ['network', 'network', 'network', 'network']);

    const slow = hook();
    let first = true;
    rx.respond = (r) => (r.path === slow.path && first ? ((first = false), { status: 200, afterMs: 15_000 * SCALE * 2 }) : rx.standard(r));
    emu.subscribe(f.ice.id, slow.w.id);
    await emu.settleDeliveries();
    assert.deepEqual(slow.log().map((d) => d.status), ['timeout', 200], 'a 200 after 15 s is a failure');
  });

  it('delivery faults: duplicate, drop, badSignature, unsigned, test, delay; N times, one vehicle', async () => {
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    emu.subscribe(f.phev.id, h.w.id);
    await emu.settleDeliveries();
    const seen = h.got().length;
    let i = 0;
    const change = async (vehicleId = f.bev.id): Promise<Received[]> => {
      const before = h.got().length;
      emu.updateVehicle(vehicleId, { odometerKm: 20_000 + ++i });
      await emu.settleDeliveries();
      return h.got().slice(before);
    };

    emu.injectDelivery({ kind: 'duplicate' });
    const dup = await change();
    assert.equal(dup.length, 2);
    assert.equal(dup[0]!.body.eventId, dup[1]!.body.eventId);
    assert.notEqual(dup[0]!.body.meta.deliveryId, dup[1]!.body.meta.deliveryId);
    assert.ok(dup.every((r) => rx.signedWith(r)));
    assert.deepEqual(h.log().slice(-2).map((d) => d.faults), [['duplicate'], ['duplicate']]);

    emu.injectDelivery({ kind: 'drop' });
    assert.deepEqual(await change(), []);
    assert.deepEqual(h.log().at(-1)!.status, 'dropped');
    assert.equal((await change()).length, 1, 'one use only');

    emu.injectDelivery({ kind: 'badSignature' });
    rx.respond = (r) => (rx.signedWith(r) ? rx.standard(r) : { status: 401 });
    const forged = await change();
    assert.equal(forged.length, 2, 'refused, then retried with a good signature');
    assert.match(String(forged[0]!.headers['sc-signature']), /^[0-9a-f]{64}$/);
    assert.ok(!rx.signedWith(forged[0]!));
    assert.ok(rx.signedWith(forged[1]!));
    assert.equal(forged[0]!.body.eventId, forged[1]!.body.eventId);
    rx.reset();

    emu.injectDelivery({ kind: 'unsigned' });
    const unsigned = await change();
    assert.equal(unsigned[0]!.headers['sc-signature'], undefined);

    emu.injectDelivery({ kind: 'test' });
    const test = await change();
    assert.equal(test[0]!.body.meta.mode, 'TEST');
    assert.ok(rx.signedWith(test[0]!));
    assert.equal((await change())[0]!.body.meta.mode, 'LIVE');

    emu.injectDelivery({ kind: 'delay', ms: 200 });
    const started = Date.now();
    const late = await change();
    assert.ok(late[0]!.at - started >= 195, `sent ${late[0]!.at - started} ms later`);

    emu.injectDelivery({ kind: 'unsigned' }, { times: 2, vehicleId: f.phev.id });
    assert.ok((await change(f.bev.id))[0]!.headers['sc-signature'], 'another vehicle is not affected');
    assert.equal((await change(f.phev.id))[0]!.headers['sc-signature'], undefined);
    assert.equal((await change(f.phev.id))[0]!.headers['sc-signature'], undefined);
    assert.ok((await change(f.phev.id))[0]!.headers['sc-signature'], 'used up after two');
    assert.ok(h.got().length > seen);
    assert.throws(() => emu.injectDelivery({ kind: 'nope' } as never), /kind/);
    assert.throws(() => emu.injectDelivery({ kind: 'drop' }, { times: 0 }), /times/);
  });

  it('delivery fault reorder: the held event arrives after the next one for that vehicle', async () => {
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    emu.injectDelivery({ kind: 'reorder' }, { vehicleId: f.bev.id });
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.7 } });
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.6 } });
    await emu.settleDeliveries();
    const soc = (r: Received): number => r.body.data.signals.find((s: { code: string }) => s.code === 'tractionbattery-stateofcharge').body.value;
    assert.deepEqual(h.got().slice(1).map(soc), [60, 70], 'the later state first');
    assert.deepEqual(h.log().slice(1).map((d) => d.faults ?? []), [[], ['reorder']]);

    emu.injectDelivery({ kind: 'reorder' });
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.65 } });
    await emu.settleDeliveries();
    assert.deepEqual(h.got().slice(3).map(soc), [65], 'with nothing after it, settle lets it go');
  });

  it('delivery faults through the control API, and the delivery log and settle there', async () => {
    const h = hook();
    assert.deepEqual((await control('POST', '/deliveries/faults', { fault: { kind: 'test' }, times: 1, vehicleId: f.bev.id })).body.faults,
      [{ fault: { kind: 'test' }, remaining: 1, vehicleId: f.bev.id }]);
    assert.equal((await control('GET', '/state')).body.deliveryFaults.length, 1);
    assert.equal((await control('POST', '/deliveries/faults', { fault: { kind: 'sometimes' } })).status, 400);
    assert.equal((await control('POST', '/deliveries/faults', { fault: { kind: 'delay' } })).status, 400);
    const sub = await control('POST', '/subscriptions', { vehicleId: f.bev.id, webhookId: h.w.id });
    assert.equal(sub.status, 200);
    assert.equal((await control('POST', '/deliveries/settle')).status, 200);
    assert.equal(h.got()[0]!.body.meta.mode, 'TEST');
    const listed = (await control('GET', '/deliveries')).body.deliveries as DeliveryLogEntry[];
    assert.deepEqual(listed.filter((d) => d.webhookId === h.w.id).map((d) => [d.eventType, d.vehicleId, d.attempt, d.status, d.ok, d.faults]),
      [['VEHICLE_STATE', f.bev.id, 1, 200, true, ['test']]]);
    await control('POST', '/deliveries/faults', { fault: { kind: 'drop' } });
    assert.equal((await control('DELETE', '/deliveries/faults')).status, 200);
    assert.deepEqual(emu.deliveryFaults.list(), []);
    assert.equal((await control('DELETE', '/deliveries')).status, 200);
    assert.equal(emu.deliveries.length, 0);
    assert.equal((await control('PATCH', '/options', { webhookTimeScale: 0.02 })).status, 200);
    assert.equal(emu.webhookTimeScale, 0.02);
    assert.equal((await control('PATCH', '/options', { webhookTimeScale: 0 })).status, 400);
    const patched = await control('PATCH', `/webhooks/${h.w.id}`, { isEnabled: false });
    assert.equal(patched.body.isEnabled, false);
    assert.equal((await control('PATCH', `/webhooks/${h.w.id}`, { secret: 'x' })).status, 400);
    assert.equal((await control('PATCH', `/webhooks/${h.w.id}`, { isEnabled: 'yes' })).status, 400);
  });

  it('readings: triggers at the top level (real payload), deliveredAt as ISO, error signals as dotted names', async () => {
    emu.readings.webhookTriggers = 'top-level';
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.42 } });
    await emu.settleDeliveries();
    const [first, change] = h.got().map((r) => r.body);
    assert.deepEqual(Object.keys(first), ['eventId', 'eventType', 'triggers', 'data', 'meta'], 'the real payload\'s order, no top-level vehicleId');
    assert.deepEqual(first.triggers, [{ type: 'FIRST_DELIVERY' }]);
    assert.deepEqual(Object.keys(first.data), ['user', 'vehicle', 'signals']);
    assert.deepEqual(change.triggers, [{ type: 'SIGNAL_UPDATED', signal: { name: 'StateOfCharge', code: 'tractionbattery-stateofcharge', group: 'TractionBattery' } }]);

    const opts = await control('PATCH', '/options', { readings: { webhookDeliveredAt: 'iso', webhookErrorSignals: 'dotted' } });
    assert.equal(opts.status, 200);
    assert.equal((await control('PATCH', '/options', { readings: { webhookTriggers: 'both' } })).status, 400);
    await emu.verifyWebhook(h.w.id);
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.43 } });
    emu.vehicleError(f.bev.id, { type: 'VEHICLE_STATE', code: 'UNREACHABLE', state: 'ERROR', signals: ['closure-islocked', 'tractionbattery-stateofcharge'] });
    await emu.settleDeliveries();
    // Events of one car travel concurrently (unordered, smartcar-api.md §6.1): pick them by type.
    const later = h.got().slice(2).map((r) => r.body);
    const [verify, state, error] = ['VERIFY', 'VEHICLE_STATE', 'VEHICLE_ERROR'].map((t) => later.find((b) => b.eventType === t));
    for (const b of [verify, state, error]) {
      assert.match(b.meta.deliveredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.equal(typeof state.data.signals[0].meta.oemUpdatedAt, 'number', 'signal timestamps stay epoch ms');
    assert.deepEqual(error.data.errors[0].signals, ['Closure.IsLocked', 'TractionBattery.StateOfCharge']);
  });

  it('VEHICLE_ERROR: data.errors[] per v3 ref §6; PERMISSION has code null and REAUTHENTICATE; no signals = the whole vehicle', async () => {
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    const ids = emu.vehicleError(f.bev.id, { type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'ERROR', signals: ['tractionbattery-stateofcharge'] });
    const [permissionId] = emu.vehicleError(f.bev.id, { type: 'PERMISSION', state: 'ERROR' });
    const [resolvedId] = emu.vehicleError(f.bev.id, {
      type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'RESOLVED', signals: ['tractionbattery-stateofcharge'], description: 'Awake again.',
    });
    await emu.settleDeliveries();
    const byId = (id: string | undefined): Received | undefined => h.got().find((r) => r.body.eventId === id);
    const [asleep, permission, resolved] = [byId(ids[0]), byId(permissionId), byId(resolvedId)];
    assert.ok(asleep && permission && resolved);
    assert.ok(rx.signedWith(asleep));
    assert.deepEqual(ids, [asleep.body.eventId]);
    assert.deepEqual(Object.keys(asleep.body), ['eventId', 'eventType', 'vehicleId', 'data', 'meta']);
    assert.equal(asleep.body.eventType, 'VEHICLE_ERROR');
    assert.deepEqual(asleep.body.data.user, { id: f.user.id });
    assert.deepEqual(asleep.body.data.vehicle, { id: f.bev.id, make: 'TESLA', model: 'Model 3', year: 2022 });
    assert.deepEqual(asleep.body.data.errors, [{
      type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'ERROR',
      description: 'The vehicle is in a sleep state and temporarily unable to perform your request.',
      suggestedUserMessage: 'Your vehicle is in a sleep state. This request was not sent to preserve battery life.',
      docURL: 'https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#asleep',
      resolution: { type: null },
      signals: [{ code: 'tractionbattery-stateofcharge', name: 'StateOfCharge', group: 'TractionBattery' }],
    }]);
    assert.deepEqual(asleep.body.meta, {
      version: '4.0', deliveryId: asleep.body.meta.deliveryId, deliveredAt: asleep.body.meta.deliveredAt, webhookId: h.w.id, webhookName: h.w.name, mode: 'LIVE',
    });
    const perm = permission.body.data.errors[0];
    assert.deepEqual([perm.type, perm.code, perm.resolution, 'signals' in perm], ['PERMISSION', null, { type: 'REAUTHENTICATE' }, false]);
    assert.deepEqual([resolved.body.data.errors[0].state, resolved.body.data.errors[0].description], ['RESOLVED', 'Awake again.']);
    assert.deepEqual(h.log().slice(1).map((d) => d.eventType), ['VEHICLE_ERROR', 'VEHICLE_ERROR', 'VEHICLE_ERROR']);

    assert.throws(() => emu.vehicleError(f.bev.id, { type: 'PERMISSION', code: 'X', state: 'ERROR' }), /code null/);
    assert.throws(() => emu.vehicleError(f.bev.id, { type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'ERROR', signals: ['vin'] }), /unknown signal/);
    assert.throws(() => emu.vehicleError(f.bev.id, { type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'BROKEN' as 'ERROR' }), /ERROR or RESOLVED/);
    const viaControl = await control('POST', `/vehicles/${f.bev.id}/vehicle-error`, { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'SUBSCRIPTION', state: 'ERROR' });
    assert.equal(viaControl.status, 200);
    assert.equal(viaControl.body.eventIds.length, 1);
    assert.deepEqual(emu.vehicleError(f.ice.id, { type: 'VEHICLE_STATE', code: 'UNREACHABLE', state: 'ERROR' }), [], 'an unsubscribed car: no one to tell');
  });

  it('unsubscribed vehicles and disabled webhooks get nothing; a deleted subscription or a disconnect stops deliveries, pending retries too', async () => {
    const h = hook();
    const off = hook({ isEnabled: false });
    emu.subscribe(f.bev.id, off.w.id);
    emu.updateVehicle(f.bev.id, { locked: true });
    emu.updateVehicle(f.phev.id, { locked: false });
    await emu.settleDeliveries();
    assert.deepEqual([h.got().length, off.got().length], [0, 0]);

    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    assert.equal(h.got().length, 1);
    emu.updateWebhook(h.w.id, { isEnabled: false });
    emu.updateVehicle(f.bev.id, { locked: false });
    await emu.settleDeliveries();
    assert.equal(h.got().length, 1, 'disabled');
    emu.updateWebhook(h.w.id, { isEnabled: true });
    emu.updateVehicle(f.bev.id, { odometerKm: 30_000 });
    await emu.settleDeliveries();
    assert.equal(h.got().length, 2, 'enabled again');
    const sub = emu.subscriptions().find((s) => s.webhookId === h.w.id && s.vehicleId === f.bev.id)!;
    assert.equal((await mgmt.delete(`/subscriptions/${sub.id}`)).status, 204);
    emu.updateVehicle(f.bev.id, { odometerKm: 30_001 });
    await emu.settleDeliveries();
    assert.equal(h.got().length, 2, 'unsubscribed');

    emu.subscribe(f.phev.id, h.w.id);
    await emu.settleDeliveries();
    const before = h.got().length;
    rx.respond = (r) => (r.path === h.path ? { status: 500 } : rx.standard(r));
    emu.updateVehicle(f.phev.id, { locked: true });
    await waitFor('the failed first attempt', () => h.got().length === before + 1);
    const connection = emu.connections().find((c) => c.vehicleId === f.phev.id)!;
    assert.equal((await client.delete(`/connections/${connection.id}`)).status, 204);
    await emu.settleDeliveries();
    emu.updateVehicle(f.phev.id, { locked: false });
    await emu.settleDeliveries();
    assert.equal(h.got().length, before + 1, 'no retry after the disconnect, nothing after it');
  });

  it('simulated-mode connections deliver too (meta.mode stays LIVE: the reference knows only LIVE and TEST)', async () => {
    const u = emu.addUser({ email: `sim-${Math.random()}@example.com`, password: 'pw' });
    const v = emu.addVehicle(u.id, { powertrain: 'BEV' });
    emu.connect(u.id, { mode: 'simulated' });
    const h = hook();
    emu.subscribe(v.id, h.w.id);
    await emu.settleDeliveries();
    emu.updateVehicle(v.id, { charge: { isPluggedIn: true } });
    await emu.settleDeliveries();
    assert.deepEqual(h.got().map((r) => [r.body.meta.mode, triggerCodes(r.body)]), [
      ['LIVE', ['FIRST_DELIVERY']], ['LIVE', ['charge-ischargingcableconnected', 'charge-chargelimits']],
    ]);
  });

  it('a car that cannot be reached reports nothing; when it can, one delivery names everything that changed', async () => {
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    emu.updateVehicle(f.bev.id, { asleep: true });
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.3 } });
    await emu.settleDeliveries();
    assert.equal(h.got().length, 1);
    assert.throws(() => emu.deliverState(f.bev.id), /cannot be reached/);
    emu.updateVehicle(f.bev.id, { asleep: false });
    await emu.settleDeliveries();
    assert.deepEqual(h.got().slice(1).map((r) => triggerCodes(r.body)), [['tractionbattery-stateofcharge']]);

    const late = hook();
    emu.updateVehicle(f.phev.id, { reachable: false });
    emu.subscribe(f.phev.id, late.w.id);
    await emu.settleDeliveries();
    assert.equal(late.got().length, 0, 'the first delivery waits for the car');
    emu.updateVehicle(f.phev.id, { reachable: true });
    await emu.settleDeliveries();
    assert.deepEqual(late.got().map((r) => triggerCodes(r.body)), [['FIRST_DELIVERY']]);
  });

  it('deliverState forces a delivery: direct edits of the live object, chosen triggers, or nothing changed', async () => {
    const h = hook();
    emu.subscribe(f.bev.id, h.w.id);
    await emu.settleDeliveries();
    emu.vehicle(f.bev.id).locked = true;
    await emu.settleDeliveries();
    assert.equal(h.got().length, 1, 'a direct edit is not observed');
    const ids = emu.deliverState(f.bev.id);
    await emu.settleDeliveries();
    emu.deliverState(f.bev.id, { triggers: ['charge-ischarging'] });
    await emu.settleDeliveries();
    emu.deliverState(f.bev.id);
    await emu.settleDeliveries();
    const [edit, chosen, same] = h.got().slice(1);
    assert.deepEqual(ids, [edit!.body.eventId]);
    assert.deepEqual(triggerCodes(edit!.body), ['closure-islocked', 'closure-doors', 'closure-reartrunk', 'closure-fronttrunk']);
    assert.deepEqual(triggerCodes(chosen!.body), ['charge-ischarging']);
    assert.deepEqual(same!.body.data.triggers, []);
    assert.throws(() => emu.deliverState(f.bev.id, { triggers: ['vin'] }), /unknown signal/);
    assert.throws(() => emu.deliverState('nope'), /unknown vehicle/);
    assert.deepEqual(emu.deliverState(f.ice.id), [], 'no subscription, nothing to send');
    const viaControl = await control('POST', `/vehicles/${f.bev.id}/deliver-state`, { triggers: ['closure-islocked'] });
    assert.equal(viaControl.body.eventIds.length, 1);
    assert.equal((await control('POST', `/vehicles/${f.bev.id}/deliver-state`, { triggers: 'closure-islocked' })).status, 400);
  });

  it('deliveries are never billed and never in the request log', async () => {
    const h = hook();
    emu.resetLog();
    const billed = [f.bev.id, f.phev.id].map((id) => emu.billedCount(id));
    emu.subscribe(f.bev.id, h.w.id);
    emu.subscribe(f.phev.id, h.w.id);
    await emu.settleDeliveries();
    emu.updateVehicle(f.bev.id, { locked: true });
    emu.vehicleError(f.phev.id, { type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'ERROR' });
    await emu.verifyWebhook(h.w.id);
    await emu.settleDeliveries();
    assert.equal(h.got().length, 5);
    assert.equal(emu.deliveries.length, 5);
    assert.deepEqual(emu.requests, []);
    assert.deepEqual([f.bev.id, f.phev.id].map((id) => emu.billedCount(id)), billed);
  });

  it('close() cancels pending retries and timers: nothing is sent afterwards and settle resolves', async () => {
    const other = await SmartcarEmulator.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
    const failing = await Receiver.start(other.managementToken);
    try {
      failing.respond = () => ({ status: 500 });
      const u = other.addUser({ email: 'close@example.com', password: 'pw' });
      const v = other.addVehicle(u.id, { powertrain: 'BEV' });
      other.connect(u.id);
      other.subscribe(v.id, other.addWebhook({ name: 'close', callbackUri: failing.url('/close') }).id);
      await waitFor('the first attempt', () => other.deliveries.length === 1);
      const settled = other.settleDeliveries(); // would wait 25 s for the first retry at scale 1
      const started = Date.now();
      await other.close();
      await settled;
      assert.ok(Date.now() - started < 1000);
      other.updateVehicle(v.id, { locked: false });
      await sleep(50);
      assert.equal(failing.received.length, 1);
      assert.equal(other.deliveries.length, 1);
    } finally {
      await other.close();
      await failing.close();
    }
  });
});
