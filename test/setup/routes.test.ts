// Route tests of the setup page against a real SetupServer on port 0: the Connect round trip and
// its state checks, Connect error pages, the paste fallback, CSRF on POSTs, escaping and headers.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  AUTH_BASE, csrfToken, get, newState, post, rawStatus, REDIRECT_URI, sampleUsers, startServer, type Started,
} from './support.js';

describe('setup page routes', () => {
  let s: Started;

  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.server.stop();
  });
  beforeEach(() => {
    s.host.users = sampleUsers();
    s.host.authorizeCalls = [];
    s.host.refreshCalls = [];
    s.host.disconnectCalls = [];
    s.host.nextConnect = { userId: 'user-1', vehicles: [{ id: 'v-1', name: 'Model 3' }, { id: 'v-2', name: 'Golf' }] };
    s.host.failRefresh = undefined;
    s.host.refreshAnswer = undefined;
    s.lines.length = 0;
    s.clock.now = Date.now();
  });

  describe('status page', () => {
    it('lists each vehicle with its values and the actions', async () => {
      const res = await get(s.base, '/');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      const body = await res.text();
      assert.match(body, /<meta name="viewport"/);
      assert.match(body, /<h2>Model 3<\/h2>/);
      assert.match(body, /2021 TESLA Model 3/);
      assert.match(body, /class="lock">locked</);
      assert.match(body, /class="level">76%</);
      assert.match(body, /class="charging">charging</);
      assert.match(body, /class="plugged">yes</);
      assert.match(body, /3 minutes ago/);
      assert.match(body, /the car reported 5 minutes ago/);
      assert.match(body, /in 25 minutes/);
      assert.match(body, /12 of 500/);
      assert.match(body, /<code>control_security<\/code>/);
      assert.match(body, /href="\/connect"/);
      assert.match(body, /action="\/vehicles\/v-1\/refresh"/);
      assert.match(body, /href="\/vehicles\/v-1\/disconnect"/);
      assert.match(body, /action="\/paste"/);
    });

    it('shows whether webhook deliveries arrive when webhooks are on (escaped), and nothing of them when off', async () => {
      assert.doesNotMatch(await (await get(s.base, '/')).text(), /Webhooks/);
      s.host.users[0]!.vehicles[0]!.webhook = 'No webhook delivery since 2026-12-01 09:00 UTC <b>x</b>: polling again until one arrives';
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /<dt>Webhooks<\/dt><dd class="webhook">No webhook delivery since 2026-12-01 09:00 UTC &lt;b&gt;x&lt;\/b&gt;: polling again/);
      delete s.host.users[0]!.vehicles[0]!.webhook;
    });

    it('shows what needs the owner: re-connect after an authorization failure, missing permissions', async () => {
      s.host.users[0]!.needsReauth = true;
      s.host.users[0]!.problem = 'Smartcar refused the refresh token.';
      s.host.users[0]!.vehicles[0]!.problems = ['Grant read_charge by connecting again'];
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /Connect again \(Model 3\):<\/strong> Smartcar refused the refresh token\./);
      assert.match(body, /<li>Grant read_charge by connecting again<\/li>/);
    });

    it('names each account by its cars, never by its Smartcar id', async () => {
      const v1 = s.host.users[0]!.vehicles[0]!;
      s.host.users[0]!.userId = '2f7c1a4e-9b1d-4c55-8e0a-6d2b1f3c9a77';
      s.host.users[0]!.vehicles.push({ ...v1, vehicleId: 'v-2', name: 'F-150 <Lightning>' });
      s.host.users.push({ userId: '11111111-2222-3333-4444-555555555555', needsReauth: true, vehicles: [
        { ...v1, vehicleId: 'v-3', name: 'Golf' }, { ...v1, vehicleId: 'v-4', name: 'Polo' }, { ...v1, vehicleId: 'v-5', name: 'ID.3' }] },
      { userId: '99999999-2222-3333-4444-555555555555', needsReauth: false, vehicles: [] });
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /<section aria-label="Smartcar account: Model 3 and F-150 &lt;Lightning&gt;">/);
      assert.match(body, /Smartcar account: Model 3 and F-150 &lt;Lightning&gt;</);
      assert.match(body, /Smartcar account: Golf, Polo and ID\.3</);
      assert.match(body, /Connect again \(Golf, Polo and ID\.3\):/);
      assert.match(body, /Smartcar account: no vehicle shared</);
      assert.doesNotMatch(body, /2f7c1a4e|11111111|99999999/);
    });

    it('draws each car\'s month: used against the budget, with the command reserve, the numbers as text', async () => {
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /<span class="requests">12 of 500 this month<\/span>/);
      assert.match(body, /<svg class="budget-bar" aria-hidden="true" focusable="false" viewBox="0 0 500 10"/);
      assert.match(body, /<rect class="reserve" x="400" y="0" width="100" height="10">/);
      assert.match(body, /<rect class="used" data-reserve-from="400" x="0" y="0" width="12" height="10">/);
      assert.match(body, /the last 100 are kept for lock and charging commands/);
      // A smaller budget keeps a fifth; a count into the reserve is drawn so; the bar never overflows.
      const v = s.host.users[0]!.vehicles[0]!;
      v.requestBudget = 200;
      v.requestsUsed = 250;
      const small = await (await get(s.base, '/')).text();
      assert.match(small, /250 of 200 this month/);
      assert.match(small, /<rect class="reserve" x="160" y="0" width="40" height="10">/);
      assert.match(small, /<rect class="used into-reserve" data-reserve-from="160" x="0" y="0" width="200" height="10">/);
      assert.match(small, /the last 40 are kept for lock and charging commands/);
    });

    it('draws the car\'s last day as a timeline, with the same moments as text, and hides it when empty', async () => {
      assert.match(await (await get(s.base, '/')).text(), /<div class="timeline-box" hidden>/);
      const now = s.clock.now;
      s.host.users[0]!.vehicles[0]!.timeline = [
        { at: now - 30 * 3_600_000, kind: 'read' }, // older than a day: left out
        { at: now - 6 * 3_600_000, kind: 'plugged' },
        { at: now - 5 * 60_000, kind: 'data' },
        { at: now - 3 * 60_000, kind: 'full-read' },
      ];
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /<div class="timeline-box">/);
      assert.match(body, /<svg class="timeline" aria-hidden="true" focusable="false" viewBox="0 0 1440 10"/);
      assert.equal(body.match(/<line class="mark /g)?.length, 3);
      assert.match(body, /<line class="mark plugged" x1="1080" y1="0" x2="1080"/);
      assert.match(body, /<line class="mark full-read" x1="1437"/);
      assert.match(body, /Last 24 hours: full read 3 minutes ago · data recorded 5 minutes ago · plugged in 6 hours ago</);
    });

    it('folds the paste help away once a car is connected', async () => {
      const connected = await (await get(s.base, '/')).text();
      assert.match(connected, /<details class="card" id="paste-help">/);
      s.host.users = [];
      const none = await (await get(s.base, '/')).text();
      assert.match(none, /<details class="card" id="paste-help" open>/);
    });

    it('says when nothing is connected yet', async () => {
      s.host.users = [];
      const body = await (await get(s.base, '/')).text();
      assert.match(body, /No vehicle is connected yet/);
      assert.match(body, /Connect a vehicle/);
    });

    it('escapes every Smartcar-provided string', async () => {
      const v = s.host.users[0]!.vehicles[0]!;
      v.make = '<script>alert(1)</script>';
      v.model = '"><img src=x onerror=alert(2)>';
      v.name = '</h2><script>alert(3)</script>';
      v.permissions = ['<b>read</b>'];
      v.problems = ['<iframe src=//evil>'];
      v.vehicleId = 'v-1"><script>x</script>';
      s.host.users[0]!.userId = '<u>';
      const body = await (await get(s.base, '/')).text();
      assert.doesNotMatch(body, /<script>/);
      assert.doesNotMatch(body, /<img /);
      assert.doesNotMatch(body, /<iframe/);
      assert.doesNotMatch(body, /<b>read/);
      assert.doesNotMatch(body, /<u>/);
      assert.match(body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      assert.match(body, /&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;/);
    });

    it('sends the security headers on every answer', async () => {
      for (const path of ['/', '/connect', '/nope', '/callback?state=x&code=y']) {
        const res = await get(s.base, path);
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /default-src 'none'/, path);
        assert.match(csp, /style-src 'nonce-[A-Za-z0-9+/=]+'/, path);
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.match(csp, /base-uri 'none'/, path);
        assert.match(csp, /form-action 'self'/, path);
        // The status page's one script by nonce; nothing inline without it, nothing from elsewhere.
        assert.match(csp, /script-src 'nonce-[A-Za-z0-9+/=]+';/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|strict-dynamic/, path);
        assert.match(csp, /connect-src 'self'/, path);
        assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
        assert.equal(res.headers.get('x-powered-by'), null, path);
        assert.equal(res.headers.get('cache-control'), 'no-store', path);
      }
    });

    it('puts the CSP nonce on its only style block and a fresh one on each answer', async () => {
      const a = await get(s.base, '/');
      const b = await get(s.base, '/');
      const nonce = /'nonce-([^']+)'/.exec(a.headers.get('content-security-policy') ?? '')?.[1];
      assert.ok(nonce);
      assert.notEqual(nonce, /'nonce-([^']+)'/.exec(b.headers.get('content-security-policy') ?? '')?.[1]);
      const body = await a.text();
      assert.equal(body.match(/<style/g)?.length, 1);
      assert.ok(body.includes(`<style nonce="${nonce}">`));
      assert.equal(body.match(/<script/g)?.length, 1);
      assert.ok(body.includes(`<script nonce="${nonce}">`));
      assert.doesNotMatch(body, /style="|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
      // Other pages have no script at all.
      assert.doesNotMatch(await (await get(s.base, '/nope')).text(), /<script/);
    });

    it('GET /status.json answers the status views and the host clock, never cached', async () => {
      s.clock.now = 1_800_000_000_000;
      const res = await get(s.base, '/status.json');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const body = await res.json() as { now: number; users: unknown };
      assert.deepEqual(Object.keys(body).sort(), ['now', 'users']);
      assert.equal(body.now, 1_800_000_000_000);
      assert.deepEqual(body.users, JSON.parse(JSON.stringify(s.host.users)));
      assert.equal((await fetch(new URL('/status.json', s.base), { method: 'POST' })).status, 404);
    });
  });

  describe('Connect round trip', () => {
    it('GET /connect redirects to Connect with a fresh random state', async () => {
      const res = await get(s.base, '/connect');
      assert.equal(res.status, 302);
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, AUTH_BASE);
      const state = location.searchParams.get('state') ?? '';
      assert.match(state, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(await newState(s.base), state);
    });

    it('a valid answer completes authorization once, then lists the vehicles; a replay stores nothing', async () => {
      const state = await newState(s.base);
      const res = await get(s.base, `/callback?code=code-123&state=${state}`);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/?connected=2');
      assert.deepEqual(s.host.authorizeCalls, ['code-123']);
      assert.ok(s.lines.some((l) => l.level === 'info' && l.message === 'Connected 2 vehicles: Model 3, Golf'));

      const page = await (await get(s.base, '/?connected=2')).text();
      assert.match(page, /id="banner">Connected 2 vehicles\./);

      const replay = await get(s.base, `/callback?code=code-123&state=${state}`);
      assert.equal(replay.status, 400);
      assert.match(await replay.text(), /already used/);
      assert.deepEqual(s.host.authorizeCalls, ['code-123']);
    });

    it('a v3 answer with only a user id completes authorization with it', async () => {
      const state = await newState(s.base);
      const res = await get(s.base, `/callback?user_id=u-42&state=${state}`);
      assert.equal(res.status, 303);
      assert.deepEqual(s.host.authorizeCalls, ['user:u-42']);
    });

    it('stored but not listed yet: the page says the vehicles are on their way, not that nothing was stored', async () => {
      const saved = s.host.nextConnect;
      s.host.nextConnect = { userId: 'u-1', vehicles: [], pending: 'Smartcar accepted the connection and it is stored, but listing the vehicles failed (500); the plugin tries again by itself' };
      try {
        const state = await newState(s.base);
        const res = await get(s.base, `/callback?code=code-9&state=${state}`);
        assert.equal(res.headers.get('location'), '/?connected=pending');
        assert.ok(s.lines.some((l) => l.level === 'warn' && /it is stored, but listing the vehicles failed/.test(l.message)));
        const page = await (await get(s.base, '/?connected=pending')).text();
        assert.match(page, /Connected and stored, but Smartcar did not list the vehicles yet/);
        assert.doesNotMatch(page, /Nothing was stored/);
      } finally {
        s.host.nextConnect = saved;
      }
    });

    it('an unknown, missing or malformed state is refused with 400 and nothing stored', async () => {
      const forged = 'A'.repeat(43);
      for (const query of [`code=c&state=${forged}`, 'code=c', 'code=c&state=', 'code=c&state=%3Cscript%3E', `code=c&state=${forged}&state=${forged}`]) {
        const res = await get(s.base, `/callback?${query}`);
        assert.equal(res.status, 400, query);
        assert.doesNotMatch(await res.text(), /<script>/);
      }
      assert.deepEqual(s.host.authorizeCalls, []);
    });

    it('a state older than 10 minutes is refused', async () => {
      const state = await newState(s.base);
      s.clock.now += 10 * 60 * 1000 + 1;
      const res = await get(s.base, `/callback?code=late&state=${state}`);
      assert.equal(res.status, 400);
      assert.deepEqual(s.host.authorizeCalls, []);
    });

    it('a state just under 10 minutes old is still accepted', async () => {
      const state = await newState(s.base);
      s.clock.now += 10 * 60 * 1000 - 1000;
      const res = await get(s.base, `/callback?code=in-time&state=${state}`);
      assert.equal(res.status, 303);
      assert.deepEqual(s.host.authorizeCalls, ['in-time']);
    });

    it('an answer without a code is refused', async () => {
      const state = await newState(s.base);
      const res = await get(s.base, `/callback?state=${state}`);
      assert.equal(res.status, 400);
      assert.deepEqual(s.host.authorizeCalls, []);
    });

    const connectErrors: [string, RegExp][] = [
      ['access_denied', /choose Allow/],
      ['no_vehicles', /No vehicles in that account/],
      ['invalid_subscription', /connected-services subscription is not active/],
      ['vehicle_incompatible', /does not support this 2019 FORD Focus/],
      ['configuration_error', /http:\/\/localhost:8585\/callback is listed exactly as a redirect URI/],
      ['server_error', /Wait a minute and try again/],
      ['oem_cancelled_login', /finish signing in with the carmaker/],
      ['something_new', /Smartcar answered with the error &quot;something_new&quot;/],
    ];
    for (const [error, explanation] of connectErrors) {
      it(`Connect error ${error} gives a readable page and stores nothing`, async () => {
        const state = await newState(s.base);
        const res = await get(s.base, `/callback?error=${error}&error_description=Smartcar+%3Cb%3Esays%3C%2Fb%3E&state=${state}&make=FORD&model=Focus&year=2019`);
        assert.equal(res.status, 400);
        const body = await res.text();
        assert.match(body, explanation);
        assert.match(body, /Smartcar said: Smartcar &lt;b&gt;says&lt;\/b&gt;/);
        assert.deepEqual(s.host.authorizeCalls, []);
        // The state is spent: a later code with it is refused.
        assert.equal((await get(s.base, `/callback?code=c&state=${state}`)).status, 400);
        assert.deepEqual(s.host.authorizeCalls, []);
      });
    }

    it('an error answer with a state we never issued explains the error but repeats none of its text', async () => {
      const res = await get(s.base, '/callback?error=access_denied&error_description=Call+0800+EVIL&state=forged');
      assert.equal(res.status, 400);
      const body = await res.text();
      assert.match(body, /choose Allow/);
      assert.doesNotMatch(body, /0800/);
    });

    it('a failed code exchange gives a readable 502 page without the code, in the page or the log', async () => {
      s.host.nextConnect = new Error('Invalid code: secret-code-42.');
      const state = await newState(s.base);
      const res = await get(s.base, `/callback?code=secret-code-42&state=${state}`);
      assert.equal(res.status, 502);
      const body = await res.text();
      assert.match(body, /Smartcar did not complete the connection/);
      assert.match(body, /Invalid code: \[code\]\./);
      assert.doesNotMatch(body, /secret-code-42/);
      assert.ok(s.lines.some((l) => l.level === 'error' && /Connecting a vehicle failed/.test(l.message)));
      assert.ok(s.lines.every((l) => !l.message.includes('secret-code-42')));
      assert.equal((await get(s.base, '/')).status, 200);
    });

    it('never logs a code or a state', async () => {
      const state = await newState(s.base);
      await get(s.base, `/callback?code=code-to-hide&state=${state}`);
      await get(s.base, `/callback?code=code-to-hide&state=${state}`);
      await get(s.base, `/callback?error=access_denied&state=${state}`);
      assert.ok(s.lines.length > 0);
      for (const line of s.lines) {
        assert.ok(!line.message.includes('code-to-hide') && !line.message.includes(state), line.message);
      }
    });

    it('a connection sharing no vehicle says so', async () => {
      s.host.nextConnect = { userId: 'user-2', vehicles: [] };
      const state = await newState(s.base);
      const res = await get(s.base, `/callback?code=c0&state=${state}`);
      assert.equal(res.headers.get('location'), '/?connected=0');
      assert.match(await (await get(s.base, '/?connected=0')).text(), /shared no vehicles/);
    });
  });

  describe('paste fallback', () => {
    it('completes the flow from the pasted address of the page that failed to load', async () => {
      const state = await newState(s.base);
      const csrf = await csrfToken(s.base);
      const res = await post(s.base, '/paste', { csrf, url: `  ${REDIRECT_URI}?code=pasted-code&state=${state}\n` });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/?connected=2');
      assert.deepEqual(s.host.authorizeCalls, ['pasted-code']);

      const again = await post(s.base, '/paste', { csrf, url: `${REDIRECT_URI}?code=pasted-code&state=${state}` });
      assert.equal(again.status, 400);
      assert.deepEqual(s.host.authorizeCalls, ['pasted-code']);
    });

    it('accepts just the query string, and an address without the scheme', async () => {
      const csrf = await csrfToken(s.base);
      const a = await newState(s.base);
      assert.equal((await post(s.base, '/paste', { csrf, url: `?code=q1&state=${a}` })).status, 303);
      const b = await newState(s.base);
      assert.equal((await post(s.base, '/paste', { csrf, url: `localhost:8585/callback?code=q2&state=${b}` })).status, 303);
      assert.deepEqual(s.host.authorizeCalls, ['q1', 'q2']);
    });

    it('applies the same state checks and Connect error pages', async () => {
      const csrf = await csrfToken(s.base);
      assert.equal((await post(s.base, '/paste', { csrf, url: `${REDIRECT_URI}?code=c&state=${'B'.repeat(43)}` })).status, 400);
      const state = await newState(s.base);
      const denied = await post(s.base, '/paste', { csrf, url: `${REDIRECT_URI}?error=access_denied&state=${state}` });
      assert.equal(denied.status, 400);
      assert.match(await denied.text(), /choose Allow/);
      for (const url of ['', 'not a url at all', 'http://[::1', 'https://example.com/', `${REDIRECT_URI}?code=${'x'.repeat(600)}&state=${state}`]) {
        assert.equal((await post(s.base, '/paste', { csrf, url })).status, 400, url);
      }
      assert.deepEqual(s.host.authorizeCalls, []);
    });

    it('needs the page CSRF token', async () => {
      const state = await newState(s.base);
      assert.equal((await post(s.base, '/paste', { url: `${REDIRECT_URI}?code=c&state=${state}` })).status, 403);
      assert.deepEqual(s.host.authorizeCalls, []);
    });
  });

  describe('refresh and disconnect', () => {
    it('POSTs without a valid CSRF token are refused with 403 and do nothing', async () => {
      const forged = 'C'.repeat(43);
      for (const path of ['/refresh', '/vehicles/v-1/refresh', '/vehicles/v-1/disconnect', '/vehicles/v-1/charge-limit']) {
        assert.equal((await post(s.base, path, {})).status, 403, path);
        assert.equal((await post(s.base, path, { csrf: forged })).status, 403, path);
        assert.equal((await post(s.base, path, { csrf: '' })).status, 403, path);
        const json = await fetch(new URL(path, s.base), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{"csrf":"x"}' });
        assert.equal(json.status, 403, path);
      }
      assert.deepEqual(s.host.refreshCalls, []);
      assert.deepEqual(s.host.disconnectCalls, []);
      assert.deepEqual(s.host.chargeLimitCalls, []);
    });

    it('CSRF tokens expire after an hour', async () => {
      const csrf = await csrfToken(s.base);
      s.clock.now += 60 * 60 * 1000 + 1;
      assert.equal((await post(s.base, '/vehicles/v-1/refresh', { csrf })).status, 403);
    });

    it('"Refresh now" asks the host for that vehicle, "Refresh all" for every vehicle', async () => {
      const csrf = await csrfToken(s.base);
      const res = await post(s.base, '/vehicles/v-1/refresh', { csrf });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/?refreshed=1', 'no new values within the wait: said so');
      assert.match(await (await get(s.base, '/?refreshed=1')).text(), /Smartcar has not answered yet/);
      assert.equal((await post(s.base, '/refresh', { csrf })).status, 303);
      assert.deepEqual(s.host.refreshCalls, ['v-1', undefined]);
    });

    it('when the new values are in, the page says which car was refreshed and what it cost', async () => {
      s.host.readOnRefresh = 3;
      try {
        const res = await post(s.base, '/vehicles/v-1/refresh', { csrf: await csrfToken(s.base) });
        const location = res.headers.get('location')!;
        assert.match(location, /refreshed=done/);
        const name = s.host.users.flatMap((u) => u.vehicles).find((v) => v.vehicleId === 'v-1')!.name;
        assert.match(await (await get(s.base, location)).text(), new RegExp(`Refreshed ${name} \\(3 requests\\): the values below are new\\.`));
        // A crafted address cannot put markup in the banner.
        assert.doesNotMatch(await (await get(s.base, '/?refreshed=done&car=%3Cscript%3E&requests=1')).text(), /<script>/);
      } finally {
        s.host.readOnRefresh = undefined;
      }
    });

    for (const [answer, says] of [
      ['recent', /Not refreshed: the data was read less than a minute ago/],
      ['budget', /Not refreshed: this month&#39;s request budget is used up|Not refreshed: this month's request budget is used up/],
      ['reconnect', /Not refreshed: Smartcar needs this vehicle to be connected again first/],
    ] as const) {
      it(`a refresh the host did not send (${answer}) says why on the status page`, async () => {
        s.host.refreshAnswer = answer;
        const res = await post(s.base, '/vehicles/v-1/refresh', { csrf: await csrfToken(s.base) });
        assert.equal(res.headers.get('location'), `/?refreshed=${answer}`);
        assert.match(await (await get(s.base, `/?refreshed=${answer}`)).text(), says);
      });
    }

    it('a failed refresh is a readable page, not a crash', async () => {
      s.host.failRefresh = new Error('rate limited');
      const res = await post(s.base, '/vehicles/v-1/refresh', { csrf: await csrfToken(s.base) });
      assert.equal(res.status, 502);
      assert.match(await res.text(), /Could not refresh Model 3/);
    });

    it('"Disconnect" asks for confirmation, then disconnects that vehicle', async () => {
      const confirm = await get(s.base, '/vehicles/v-1/disconnect');
      assert.equal(confirm.status, 200);
      assert.match(await confirm.text(), /Disconnect Model 3\?/);
      const csrf = await csrfToken(s.base, '/vehicles/v-1/disconnect');
      const res = await post(s.base, '/vehicles/v-1/disconnect', { csrf });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/?disconnected=1');
      assert.deepEqual(s.host.disconnectCalls, ['v-1']);
      assert.ok(s.lines.some((l) => l.message === 'Disconnected Model 3'));
    });

    it('unknown vehicles are 404', async () => {
      const csrf = await csrfToken(s.base);
      assert.equal((await get(s.base, '/vehicles/nope/disconnect')).status, 404);
      assert.equal((await post(s.base, '/vehicles/nope/disconnect', { csrf })).status, 404);
      assert.equal((await post(s.base, '/vehicles/nope/refresh', { csrf })).status, 404);
      assert.deepEqual(s.host.disconnectCalls, []);
    });
  });
});

describe('a redirect URI at the root path', () => {
  it('serves both the status page and the callback at /', async () => {
    const s = await startServer({ redirectUri: 'http://localhost:8585/' });
    try {
      assert.equal((await get(s.base, '/')).status, 200);
      const state = await newState(s.base);
      const res = await get(s.base, `/?code=root-code&state=${state}`);
      assert.equal(res.status, 303);
      assert.deepEqual(s.host.authorizeCalls, ['root-code']);
    } finally {
      await s.server.stop();
    }
  });
});

describe('DNS rebinding guard', () => {
  it('answers local names and refuses public ones', async () => {
    const s = await startServer({ redirectUri: 'https://hb.example.org/callback' });
    try {
      const port = new URL(s.base).port;
      const hosts: [string, number][] = [
        [`127.0.0.1:${port}`, 200], [`localhost:${port}`, 200], [`[::1]:${port}`, 200], [`192.168.1.20:${port}`, 200],
        ['homebridge', 200], ['homebridge.local', 200], ['pi.lan', 200], ['hb.home.arpa', 200], ['hb.example.org', 200],
        ['attacker.example.com', 403], [`rebind.attacker.net:${port}`, 403], ['127.0.0.1.attacker.net', 403], ['', 400],
      ];
      for (const [host, status] of hosts) {
        const req = `GET / HTTP/1.1\r\n${host === '' ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`;
        assert.equal(await rawStatus(s.base, req), status, host);
      }
      assert.equal(await rawStatus(s.base, 'GET /connect HTTP/1.1\r\nHost: evil.com\r\nConnection: close\r\n\r\n'), 403);
    } finally {
      await s.server.stop();
    }
  });
});

describe('a redirect URI path with characters express reads as route syntax', () => {
  it('is matched literally', async () => {
    const s = await startServer({ redirectUri: 'http://localhost:8585/hb:cb(1)/*' });
    try {
      const state = await newState(s.base);
      const path = new URL('http://localhost:8585/hb:cb(1)/*').pathname;
      const res = await get(s.base, `${path}?code=odd&state=${state}`);
      assert.equal(res.status, 303);
      assert.deepEqual(s.host.authorizeCalls, ['odd']);
      assert.equal((await get(s.base, '/hb:cbX1/x?code=odd&state=x')).status, 404);
    } finally {
      await s.server.stop();
    }
  });
});
