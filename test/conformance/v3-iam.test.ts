// v3 authentication (v3 ref §2.2, §2.3, §7.2, §7.3): the IAM token endpoint in each body encoding
// under each tokenBody reading, OAuth-shaped errors, the one-hour app token on the emulator clock,
// and the strict split of hosts and tokens (wrong host → 404, v2 token on v3 / app token on v2 → 401).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, V3Readings } from '../emulator/index.js';
import { SmartcarEmulator } from '../emulator/index.js';
import type { TokenForm, V3Client } from './support.js';
import { answer, appToken, assertV3Error, rejectsWith, requestAppToken, sdk, startV3 } from './support.js';

const ACCEPTS: Record<V3Readings['tokenBody'], Record<TokenForm, number>> = {
  any: { form: 200, json: 200, basic: 200 },
  // Credentials anywhere but where the reading looks are not credentials (JLR: body form → 401).
  form: { form: 200, json: 400, basic: 401 },
  json: { form: 400, json: 200, basic: 400 },
  basic: { form: 401, json: 400, basic: 200 },
};

describe('v3 IAM and hosts', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;
  let client: V3Client;

  before(async () => {
    ({ emu, fleet, client } = await startV3());
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.readings.tokenBody = 'any';
    emu.faults.clear();
  });

  it('each token body form is accepted or refused per the tokenBody reading', async () => {
    for (const [reading, expected] of Object.entries(ACCEPTS) as [V3Readings['tokenBody'], Record<TokenForm, number>][]) {
      emu.readings.tokenBody = reading;
      for (const [form, status] of Object.entries(expected) as [TokenForm, number][]) {
        const res = await requestAppToken(emu, form);
        assert.equal(res.status, status, `${reading} reading, ${form} body: ${res.text}`);
        if (status === 200) {
          assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'expires_in', 'token_type'], 'no refresh_token');
          assert.equal(res.body.token_type, 'Bearer');
          assert.equal(res.body.expires_in, 3600);
          assert.equal(res.headers.get('cache-control'), 'no-store');
          const works = await client.get('/connections', { headers: { authorization: `Bearer ${res.body.access_token}` } });
          assert.equal(works.status, 200);
        } else {
          assert.equal(res.body.error, status === 401 ? 'invalid_client' : 'invalid_request', `${reading}/${form}`);
          assert.equal(typeof res.body.error_description, 'string');
          assert.equal(res.body.errors, undefined, 'OAuth shape, not JSON:API');
        }
      }
    }
  });

  it('answers OAuth errors: missing grant_type 400, bad secret or v2 credentials 401, other grants 400, both auth methods 400', async () => {
    const noGrant = await answer(await fetch(`${emu.origins.iam}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: emu.v3Credentials.clientId, client_secret: emu.v3Credentials.clientSecret }).toString(),
    }));
    assert.equal(noGrant.status, 400);
    assert.equal(noGrant.body.error, 'invalid_request');
    for (const form of ['form', 'json', 'basic'] as const) {
      const bad = await requestAppToken(emu, form, { clientId: emu.v3Credentials.clientId, clientSecret: 'wrong' });
      assert.equal(bad.status, 401, form);
      assert.equal(bad.body.error, 'invalid_client');
      const v2 = await requestAppToken(emu, form, { clientId: 'conformance-client', clientSecret: 'conformance-secret' });
      assert.equal(v2.status, 401, `${form}: the v2 client cannot get an app token`);
    }
    const other = await requestAppToken(emu, 'form', emu.v3Credentials, { grant_type: 'authorization_code' });
    assert.equal(other.status, 400);
    assert.equal(other.body.error, 'unsupported_grant_type');
    const both = await answer(await fetch(`${emu.origins.iam}/oauth2/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${emu.v3Credentials.clientId}:${emu.v3Credentials.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: emu.v3Credentials.clientId, client_secret: emu.v3Credentials.clientSecret }).toString(),
    }));
    assert.equal(both.status, 400);
    assert.equal(both.body.error, 'invalid_request');
    const get = await answer(await fetch(`${emu.origins.iam}/oauth2/token`));
    assert.equal(get.status, 405);
  });

  it('the default credentials are a client_… id and a secret of their own', async () => {
    const other = await SmartcarEmulator.start({ clientId: 'app-uuid', clientSecret: 's', redirectUris: ['http://localhost/cb'] });
    try {
      assert.match(other.v3Credentials.clientId, /^client_/);
      assert.notEqual(other.v3Credentials.clientSecret, 's');
      assert.equal((await requestAppToken(other, 'basic')).status, 200);
    } finally {
      await other.close();
    }
  });

  it('an app token lives one hour of emulator clock, and expireAppTokens ends them all now', async () => {
    const token = await appToken(emu);
    const use = () => client.get('/connections', { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await use()).status, 200);
    emu.clock.advance(3599_000);
    assert.equal((await use()).status, 200);
    emu.clock.advance(1_000);
    assertV3Error(await use(), { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
    const fresh = await appToken(emu);
    emu.expireAppTokens();
    assertV3Error(await client.get('/connections', { headers: { authorization: `Bearer ${fresh}` } }), { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
    const management = await answer(await fetch(`${emu.origins.management}/v3/webhooks`, { headers: { authorization: `Bearer ${fresh}` } }));
    assertV3Error(management, { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
    client.token = await appToken(emu);
  });

  it('no or a malformed bearer is 401 on v3 and management', async () => {
    for (const origin of [emu.origins.v3, emu.origins.management]) {
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
        const res = await answer(await fetch(`${origin}/v3/connections`, { headers }));
        assertV3Error(res, { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
      }
    }
  });

  it('a v2 per-user token is 401 on v3 and an app token is 401 on v2, each in its own error shape', async () => {
    const v2 = emu.issueTokens(fleet.user.id).accessToken;
    const onV3 = await client.get(`/vehicles/${fleet.bev.id}/signals`, { userId: fleet.user.id, headers: { authorization: `Bearer ${v2}` } });
    assertV3Error(onV3, { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });
    const onManagement = await answer(await fetch(`${emu.origins.management}/v3/subscriptions`, { headers: { authorization: `Bearer ${v2}` } }));
    assertV3Error(onManagement, { status: 401, type: 'AUTHENTICATION', code: 'UNAUTHORIZED' });

    await rejectsWith(new sdk.Vehicle(fleet.bev.id, client.token).odometer(), { type: 'AUTHENTICATION', statusCode: 401 });
    const raw = await answer(await fetch(`${emu.origin}/v2.0/vehicles`, { headers: { authorization: `Bearer ${client.token}` } }));
    assert.equal(raw.status, 401);
    assert.equal(raw.body.type, 'AUTHENTICATION', 'v2 flat shape');
    assert.equal(raw.body.errors, undefined);
  });

  it('each host serves only its own paths: a call to the wrong host is 404 in that host\'s shape', async () => {
    const bearer = { authorization: `Bearer ${client.token}` };
    // Vehicle paths on management, management paths on the vehicle host.
    assertV3Error(await answer(await fetch(`${emu.origins.management}/v3/connections`, { headers: bearer })), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await answer(await fetch(`${emu.origins.management}/v3/vehicles/${fleet.bev.id}/signals`, { headers: { ...bearer, 'sc-user-id': fleet.user.id } })),
      { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await answer(await fetch(`${emu.origins.v3}/v3/webhooks`, { headers: bearer })), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    // The token endpoint anywhere but IAM, and v3 paths on IAM.
    assertV3Error(await answer(await fetch(`${emu.origins.v3}/oauth2/token`, { method: 'POST' })), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    const v2Origin = await answer(await fetch(`${emu.origin}/oauth2/token`, { method: 'POST' }));
    assert.equal(v2Origin.status, 404);
    const onIam = await answer(await fetch(`${emu.origins.iam}/v3/connections`, { headers: bearer }));
    assert.equal(onIam.status, 404);
    assert.equal(onIam.body.error, 'not_found', 'OAuth shape on IAM');
    // v3 on the v2 origin, v2 and the v2 token endpoint on the v3 host.
    const v3OnV2 = await answer(await fetch(`${emu.origin}/v3/connections`, { headers: bearer }));
    assert.equal(v3OnV2.status, 404);
    assert.equal(v3OnV2.body.type, 'RESOURCE_NOT_FOUND');
    assertV3Error(await answer(await fetch(`${emu.origins.v3}/v2.0/vehicles`, { headers: bearer })), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'VERSION' });
    assertV3Error(await answer(await fetch(`${emu.origins.v3}/oauth/token`, { method: 'POST' })), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assert.equal((await answer(await fetch(`${emu.origins.v3}/_emulator/state`))).status, 404, 'control API only on the v2 origin');
    const hosts = new Set(emu.requests.map((r) => r.host));
    assert.deepEqual([...hosts].sort(), ['api', 'iam', 'management', 'v3']);
  });

  it('token faults: an injected OAuth error, a delay, a drop, for client_credentials only when asked', async () => {
    emu.inject({ target: 'token', api: 'v3', grant: 'client_credentials' }, { error: { type: 'server_error', status: 500, description: 'IAM down', retryAfter: 3 } });
    const failed = await requestAppToken(emu, 'form');
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.body, { error: 'server_error', error_description: 'IAM down' });
    assert.equal(failed.headers.get('retry-after'), '3');
    emu.inject({ target: 'token', grant: 'refresh_token' }, { error: { type: 'server_error', status: 500 } });
    assert.equal((await requestAppToken(emu, 'json')).status, 200, 'a refresh_token fault is not an IAM fault');
    emu.faults.clear();
    emu.inject({ target: 'token', api: 'v3', path: '/oauth2/token' }, { delayMs: 150 });
    const start = Date.now();
    assert.equal((await requestAppToken(emu, 'basic')).status, 200);
    assert.ok(Date.now() - start >= 140, 'delayed');
    emu.inject({ target: 'token', api: 'v3' }, { drop: true });
    await assert.rejects(requestAppToken(emu, 'form'));
    emu.inject({ target: 'token', api: 'v2' }, { error: { type: 'server_error', status: 500 } });
    assert.equal((await requestAppToken(emu, 'form')).status, 200, 'api v2 faults leave IAM alone');
  });

  it('every IAM call is logged with host iam', async () => {
    emu.resetLog();
    await requestAppToken(emu, 'form');
    assert.deepEqual(emu.requests.map((r) => [r.host, r.method, r.path, r.status, r.billed]), [['iam', 'POST', '/oauth2/token', 200, 0]]);
  });
});
