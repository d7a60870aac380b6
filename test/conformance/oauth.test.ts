// Conformance of Connect and the token endpoint (reference §2) with the real SDK: authorize URL,
// sign-in and picker forms, code exchange, refresh rotation with grace, and every documented failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet } from '../emulator/index.js';
import type { DefaultFleet } from '../emulator/index.js';
import {
  authClient, CLIENT_ID, CLIENT_SECRET, connectAndExchange, hiddenSid, offeredVehicles, REDIRECT_URI, rejectsWith, runConnect, sdk, startEmulator,
} from './support.js';

const MINUTE = 60_000;

describe('Connect and OAuth tokens', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;

  before(async () => {
    emu = await startEmulator({ refreshGraceMs: MINUTE });
    fleet = defaultFleet(emu);
  });
  after(async () => {
    await emu.close();
  });

  it('walks Connect, approves and exchanges the code for a 2 h token pair', async () => {
    const client = authClient();
    const url = client.getAuthUrl(['read_vehicle_info', 'read_battery', 'control_security'], { state: 'abc 123' });
    assert.ok(url.startsWith(`${emu.origin}/oauth/authorize?`));
    const run = await runConnect(url, { email: fleet.user.email, password: fleet.password });
    // The picker lists every vehicle with make/model and the requested permissions.
    assert.match(run.pickerPage!, /TESLA Model 3/);
    assert.match(run.pickerPage!, /FORD F-150/);
    assert.match(run.pickerPage!, /control_security/);
    assert.match(run.pickerPage!, /id="deny"/);
    assert.equal(run.final.status, 302);
    const loc = run.location!;
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT_URI);
    assert.equal(loc.searchParams.get('state'), 'abc 123');
    const code = loc.searchParams.get('code')!;
    assert.match(code, /^[0-9a-f-]{36}$/);

    const before = Date.now();
    const access = await client.exchangeCode(code);
    assert.match(access.accessToken, /^[0-9a-f-]{36}$/);
    assert.notEqual(access.refreshToken, access.accessToken);
    const lifetime = access.expiration.getTime() - before;
    assert.ok(lifetime > 7199_000 && lifetime <= 7201_000, `expires_in is 7200 s (got ${lifetime} ms)`);

    const vehicles = await sdk.getVehicles(access.accessToken);
    assert.deepEqual(new Set(vehicles.vehicles), new Set([fleet.bev.id, fleet.phev.id, fleet.ice.id]));
    // Granted = requested ∩ capable: the ICE car never gets read_battery.
    const icePerms = await new sdk.Vehicle(fleet.ice.id, access.accessToken).permissions();
    assert.deepEqual(icePerms.permissions.sort(), ['control_security', 'read_vehicle_info']);
    const bevPerms = await new sdk.Vehicle(fleet.bev.id, access.accessToken).permissions();
    assert.deepEqual(bevPerms.permissions.sort(), ['control_security', 'read_battery', 'read_vehicle_info']);
  });

  it('answers the raw token request in the documented OAuth shape', async () => {
    const run = await runConnect(authClient().getAuthUrl(['read_odometer']), { email: fleet.user.email, password: fleet.password });
    const code = run.location!.searchParams.get('code')!;
    const res = await fetch(`${emu.origin}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }).toString(),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /application\/json/);
    assert.ok(res.headers.get('sc-request-id'));
    const body = await res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 7200);
  });

  it('lets only the chosen vehicles into the authorization', async () => {
    const access = await connectAndExchange(authClient(), fleet.user.email, fleet.password, ['read_odometer'], [fleet.phev.id]);
    const list = await sdk.getVehicles(access.accessToken);
    assert.deepEqual(list.vehicles, [fleet.phev.id]);
    await rejectsWith(new sdk.Vehicle(fleet.bev.id, access.accessToken).odometer(),
      { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'VEHICLE_MISSING', statusCode: 400 });
  });

  it('codes are single use', async () => {
    const client = authClient();
    const run = await runConnect(client.getAuthUrl(['read_odometer']), { email: fleet.user.email, password: fleet.password });
    const code = run.location!.searchParams.get('code')!;
    await client.exchangeCode(code);
    const err = await rejectsWith(client.exchangeCode(code), { type: 'invalid_grant', statusCode: 400 });
    assert.equal(err.description, `Invalid code: ${code}.`);
  });

  it('codes expire after 10 minutes on the emulator clock', async () => {
    const client = authClient();
    const run = await runConnect(client.getAuthUrl(['read_odometer']), { email: fleet.user.email, password: fleet.password });
    const code = run.location!.searchParams.get('code')!;
    emu.clock.advance(10 * MINUTE + 1);
    await rejectsWith(client.exchangeCode(code), { type: 'invalid_grant', statusCode: 400, description: `Invalid code: ${code}.` });
    await rejectsWith(client.exchangeCode('not-a-code'), { type: 'invalid_grant', statusCode: 400, description: 'Invalid code: not-a-code.' });
  });

  it('rejects a code exchanged with another redirect_uri, or by a client without one', async () => {
    const run = await runConnect(authClient().getAuthUrl(['read_odometer']), { email: fleet.user.email, password: fleet.password });
    const code = run.location!.searchParams.get('code')!;
    // An AuthClient without redirectUri sends the literal "undefined" (reference §4.2): not the same URI.
    await rejectsWith(authClient({ redirectUri: undefined }).exchangeCode(code), { type: 'invalid_grant', statusCode: 400 });
  });

  it('accepts the SDK\'s literal redirect_uri=undefined when Connect also had none (app default)', async () => {
    const client = authClient({ redirectUri: undefined });
    const url = client.getAuthUrl(['read_odometer']);
    assert.ok(!url.includes('redirect_uri'));
    const run = await runConnect(url, { email: fleet.user.email, password: fleet.password });
    assert.equal(`${run.location!.origin}${run.location!.pathname}`, REDIRECT_URI, 'redirects to the registered default');
    const access = await client.exchangeCode(run.location!.searchParams.get('code')!);
    assert.ok(access.accessToken);
  });

  it('rotates refresh tokens; the used one works within the grace period, then invalid_grant', async () => {
    const client = authClient();
    const first = await connectAndExchange(client, fleet.user.email, fleet.password, ['read_odometer']);
    const second = await client.exchangeRefreshToken(first.refreshToken);
    assert.notEqual(second.refreshToken, first.refreshToken, 'refresh token rotates');
    assert.notEqual(second.accessToken, first.accessToken);
    // The old access token stays valid until its own expiry.
    await new sdk.Vehicle(fleet.bev.id, first.accessToken).odometer();
    await new sdk.Vehicle(fleet.bev.id, second.accessToken).odometer();

    emu.clock.advance(MINUTE - 1000);
    const parallel = await client.exchangeRefreshToken(first.refreshToken);
    assert.ok(parallel.accessToken, 'used token still works inside the grace period');

    emu.clock.advance(2000);
    const err = await rejectsWith(client.exchangeRefreshToken(first.refreshToken), { type: 'invalid_grant', statusCode: 400 });
    assert.equal(err.description, `Invalid refresh_token: ${first.refreshToken}.`);
    assert.equal(err.message, `invalid_grant:undefined - Invalid refresh_token: ${first.refreshToken}.`);
    // The rotated one is still good.
    const third = await client.exchangeRefreshToken(second.refreshToken);
    await new sdk.Vehicle(fleet.bev.id, third.accessToken).odometer();
  });

  it('access tokens expire after 2 h; refresh tokens after 60 days', async () => {
    const client = authClient();
    const access = await connectAndExchange(client, fleet.user.email, fleet.password, ['read_odometer']);
    const vehicle = new sdk.Vehicle(fleet.bev.id, access.accessToken);
    emu.clock.advance(7200_000 - 5000);
    await vehicle.odometer();
    emu.clock.advance(5000);
    await rejectsWith(vehicle.odometer(), { type: 'AUTHENTICATION', statusCode: 401, resolution: null });
    const refreshed = await client.exchangeRefreshToken(access.refreshToken);
    await new sdk.Vehicle(fleet.bev.id, refreshed.accessToken).odometer();
    emu.clock.advance(60 * 24 * 3600_000);
    await rejectsWith(client.exchangeRefreshToken(refreshed.refreshToken), { type: 'invalid_grant', statusCode: 400 });
  });

  it('expireAccessTokens and revokeTokens', async () => {
    const client = authClient();
    const access = await connectAndExchange(client, fleet.user.email, fleet.password, ['read_odometer']);
    emu.expireAccessTokens(fleet.user.id);
    const err = await rejectsWith(sdk.getUser(access.accessToken), { type: 'AUTHENTICATION', statusCode: 401 });
    assert.equal(err.docURL, 'https://smartcar.com/docs/errors/api-errors/authentication-errors#null');
    const again = await client.exchangeRefreshToken(access.refreshToken);
    assert.equal((await sdk.getUser(again.accessToken)).id, fleet.user.id);
    emu.revokeTokens(fleet.user.id);
    await rejectsWith(sdk.getUser(again.accessToken), { type: 'AUTHENTICATION', statusCode: 401 });
    await rejectsWith(client.exchangeRefreshToken(again.refreshToken), { type: 'invalid_grant', statusCode: 400 });
  });

  it('rejects bad client credentials with 401 invalid_client', async () => {
    const wrong = new sdk.AuthClient({ clientId: CLIENT_ID, clientSecret: 'nope', redirectUri: REDIRECT_URI });
    await rejectsWith(wrong.exchangeRefreshToken('whatever'), { type: 'invalid_client', statusCode: 401 });
  });

  it('deny redirects with access_denied and the state', async () => {
    const run = await runConnect(authClient().getAuthUrl(['read_odometer'], { state: 's-deny' }),
      { email: fleet.user.email, password: fleet.password, action: 'deny' });
    assert.equal(run.final.status, 302);
    assert.equal(run.location!.searchParams.get('error'), 'access_denied');
    assert.equal(run.location!.searchParams.get('error_description'), 'User denied access to application.');
    assert.equal(run.location!.searchParams.get('state'), 's-deny');
    assert.equal(run.location!.searchParams.get('code'), null);
  });

  it('shows an error page, not a redirect, for an unknown client or redirect_uri', async () => {
    const good = new URL(authClient().getAuthUrl(['read_odometer']));
    for (const [k, v] of [['client_id', 'someone-else'], ['redirect_uri', 'http://evil.example/cb'], ['redirect_uri', `${REDIRECT_URI}/`]] as const) {
      const url = new URL(good);
      url.searchParams.set(k, v);
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400, `${k}=${v}`);
      assert.equal(res.headers.get('location'), null);
      await res.text();
    }
  });

  it('redirects other authorize problems with error=', async () => {
    const url = new URL(authClient().getAuthUrl(['read_odometer'], { state: 'x' }));
    url.searchParams.set('response_type', 'token');
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'configuration_error');
    assert.equal(loc.searchParams.get('state'), 'x');
    const badScope = new URL(authClient().getAuthUrl(['read_everything']));
    const res2 = await fetch(badScope, { redirect: 'manual' });
    assert.equal(new URL(res2.headers.get('location')!).searchParams.get('error'), 'configuration_error');
  });

  it('live mode: wrong password stays on the sign-in page; a user without cars gets no_vehicles', async () => {
    const run = await runConnect(authClient().getAuthUrl(['read_odometer']), { email: fleet.user.email, password: 'wrong' });
    assert.equal(run.final.status, 200);
    assert.match(run.pickerPage!, /Incorrect email or password/);
    assert.doesNotMatch(run.pickerPage!, /id="approve"/);
    const lonely = emu.addUser({ email: 'lonely@example.com', password: 'pw' });
    const r2 = await runConnect(authClient().getAuthUrl(['read_odometer'], { state: 'n' }), { email: lonely.email, password: 'pw' });
    assert.equal(r2.location!.searchParams.get('error'), 'no_vehicles');
    assert.equal(r2.location!.searchParams.get('state'), 'n');
  });

  it('test mode: any login works; <n>-vehicles@smartcar.com gives n vehicles with paging', async () => {
    const client = authClient({ mode: 'test' });
    assert.match(client.getAuthUrl(['read_odometer']), /mode=test/);
    const anyone = await connectAndExchange(client, 'someone@anywhere.test', 'x', ['read_odometer']);
    assert.equal((await sdk.getVehicles(anyone.accessToken)).vehicles.length, 1);

    const many = await connectAndExchange(client, '57-vehicles@smartcar.com', 'x', ['read_odometer']);
    const page1 = await sdk.getVehicles(many.accessToken, { limit: 50 });
    assert.equal(page1.vehicles.length, 50);
    assert.deepEqual(page1.paging, { count: 57, offset: 0 });
    const page2 = await sdk.getVehicles(many.accessToken, { limit: 50, offset: 50 });
    assert.equal(page2.vehicles.length, 7);
    assert.deepEqual(page2.paging, { count: 57, offset: 50 });
    assert.equal(new Set([...page1.vehicles, ...page2.vehicles]).size, 57);
    const dflt = await sdk.getVehicles(many.accessToken);
    assert.equal(dflt.vehicles.length, 10, 'default limit is 10');
    await rejectsWith(sdk.getVehicles(many.accessToken, { limit: 51 }), { type: 'VALIDATION', code: 'PARAMETER', statusCode: 400 });
  });

  it('test mode: the documented Connect error logins', async () => {
    const client = authClient({ mode: 'test' });
    const sub = await runConnect(client.getAuthUrl(['read_odometer'], { state: 'q' }), { email: 'smartcar@invalid-subscription.com', password: 'x' });
    assert.equal(sub.location!.searchParams.get('error'), 'invalid_subscription');
    assert.equal(sub.location!.searchParams.get('state'), 'q');
    const inc = await runConnect(client.getAuthUrl(['read_odometer']), { email: 'smartcar@vehicle-incompatible.com', password: 'x' });
    assert.equal(inc.location!.searchParams.get('error'), 'vehicle_incompatible');
    assert.equal(inc.location!.searchParams.get('vin'), '0SCAUDI012FE3B132');
    // Live mode knows none of these.
    const live = await runConnect(authClient().getAuthUrl(['read_odometer']), { email: 'smartcar@invalid-subscription.com', password: 'x' });
    assert.equal(live.final.status, 200);
  });

  it('simulated mode: TYPE.CODE@smartcar.com logins fail requests with that error', async () => {
    const client = authClient({ mode: 'simulated' });
    const access = await connectAndExchange(client, 'VEHICLE_STATE.ASLEEP@smartcar.com', 'x', ['read_odometer']);
    const [id] = (await sdk.getVehicles(access.accessToken)).vehicles;
    await rejectsWith(new sdk.Vehicle(id!, access.accessToken).odometer(), { type: 'VEHICLE_STATE', code: 'ASLEEP', statusCode: 409 });
  });

  it('a required: permission makes incapable cars unselectable', async () => {
    const res = await fetch(authClient().getAuthUrl(['required:read_battery', 'read_odometer']), { redirect: 'manual' });
    const sid = hiddenSid(await res.text());
    const picker = await fetch(`${emu.origin}/oauth/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sid, email: fleet.user.email, password: fleet.password }).toString(),
    });
    const page = await picker.text();
    assert.deepEqual(new Set(offeredVehicles(page)), new Set([fleet.bev.id, fleet.phev.id]));
    const forced = await fetch(`${emu.origin}/oauth/grant`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([['sid', sid], ['vehicle', fleet.ice.id], ['action', 'approve']]).toString(),
    });
    assert.equal(forced.status, 200, 'the server, not only the page, refuses it');
    assert.match(await forced.text(), /cannot be selected/);
  });

  it('escapes everything it echoes into pages', async () => {
    const evil = emu.addUser({ email: 'evil@example.com', password: 'pw' });
    emu.addVehicle(evil.id, { make: '<script>alert(1)</script>', model: '"><img src=x>' });
    const run = await runConnect(authClient().getAuthUrl(['read_odometer']), { email: evil.email, password: 'pw', action: 'deny' });
    assert.doesNotMatch(run.pickerPage!, /<script>alert/);
    assert.doesNotMatch(run.pickerPage!, /"><img/);
    assert.match(run.pickerPage!, /&lt;script&gt;/);
  });

  it('re-authentication redirects back with vehicle_id', async () => {
    const url = new URL(`${emu.origin}/oauth/reauthenticate`);
    url.search = new URLSearchParams({
      response_type: 'vehicle_id', client_id: CLIENT_ID, vehicle_id: fleet.bev.id, redirect_uri: REDIRECT_URI, state: 'r1',
    }).toString();
    const run = await runConnect(url.toString(), { email: fleet.user.email, password: fleet.password });
    assert.equal(run.final.status, 302);
    assert.equal(run.location!.searchParams.get('vehicle_id'), fleet.bev.id);
    assert.equal(run.location!.searchParams.get('state'), 'r1');
    assert.equal(run.location!.searchParams.get('code'), null);
  });

  it('autoApprove skips the pages', async () => {
    emu.autoApprove = { email: fleet.user.email, vehicleIds: [fleet.bev.id] };
    try {
      const client = authClient();
      const res = await fetch(client.getAuthUrl(['read_battery'], { state: 'auto' }), { redirect: 'manual' });
      assert.equal(res.status, 302);
      const loc = new URL(res.headers.get('location')!);
      assert.equal(loc.searchParams.get('state'), 'auto');
      const access = await client.exchangeCode(loc.searchParams.get('code')!);
      assert.deepEqual((await sdk.getVehicles(access.accessToken)).vehicles, [fleet.bev.id]);
    } finally {
      emu.autoApprove = false;
    }
  });
});
