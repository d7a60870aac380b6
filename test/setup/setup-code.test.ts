// The setup page open to the network: nobody there changes anything without the owner. Every state
// change (Connect, Refresh now, Disconnect, a pasted answer) asks for the install's setup code once
// per browser; wrong codes are rate-limited; the code is kept owner-only and survives restarts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { loadSetupCode } from '../../src/setup/owner-gate.js';
import { csrfToken, get, post, startServer, type Started } from './support.js';

async function send(base: string, path: string, form: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(new URL(path, base), {
    method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
    headers: cookie === undefined ? {} : { cookie },
  });
}

describe('setup page open to the network: the setup code', () => {
  let s: Started;
  let file: string;
  let code: string;
  let cookie: string;

  before(async () => {
    file = join(await mkdtemp(join(tmpdir(), 'hbsc-code-')), 'smartcar-setup-code');
    s = await startServer({ bind: '0.0.0.0', setupCodeFile: file });
    code = (await readFile(file, 'utf8')).trim();
  });
  after(() => s?.server.stop());

  it('is made once, owner-only, and told in the log', async () => {
    assert.match(code, /^\d{4}-\d{4}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(s.lines.some((l) => l.message.includes(`need the setup code ${code}`)), JSON.stringify(s.lines));
    assert.equal(await loadSetupCode(file), code, 'a restart keeps the same code');
  });

  it('the status can be seen without it', async () => {
    const res = await get(s.base, '/');
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<h2>Model 3<\/h2>/);
  });

  it('Connect, Refresh now, Disconnect, the charge limit and a pasted answer ask for the code and change nothing', async () => {
    const connect = await get(s.base, '/connect');
    assert.equal(connect.status, 403);
    assert.equal(connect.headers.get('location'), null, 'no trip to Smartcar');
    assert.match(await connect.text(), /Enter the setup code/);
    const csrf = await csrfToken(s.base);
    for (const [path, form] of [
      ['/refresh', {}],
      ['/vehicles/v-1/refresh', {}],
      ['/vehicles/v-1/disconnect', {}],
      ['/vehicles/v-1/charge-limit', { percent: '80' }],
      ['/paste', { url: 'http://localhost:8585/callback?code=c&state=s' }],
    ] as const) {
      const res = await send(s.base, path, { csrf, ...form });
      assert.equal(res.status, 403, path);
      assert.match(await res.text(), /name="code"/, `${path}: the page asks for the code`);
    }
    assert.deepEqual(s.host.refreshCalls, []);
    assert.deepEqual(s.host.disconnectCalls, []);
    assert.deepEqual(s.host.chargeLimitCalls, []);
    assert.deepEqual(s.host.authorizeCalls, []);
  });

  it('a cookie it did not issue is no substitute', async () => {
    const res = await send(s.base, '/vehicles/v-1/disconnect', { csrf: await csrfToken(s.base) }, 'smartcar_owner=forged-token');
    assert.equal(res.status, 403);
    assert.deepEqual(s.host.disconnectCalls, []);
  });

  it('a wrong code is said to be wrong; the right one opens a session cookie (HttpOnly, SameSite=Strict) and goes on', async () => {
    const wrong = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code: '0000-0000', next: '/connect' });
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /That code is not right/);
    const right = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code: code.replace('-', ' '), next: '/connect' });
    assert.equal(right.status, 303);
    assert.equal(right.headers.get('location'), '/connect');
    const set = right.headers.get('set-cookie') ?? '';
    assert.match(set, /^smartcar_owner=[\w-]{20,}; HttpOnly; SameSite=Strict; Path=\//);
    cookie = set.split(';')[0]!;
  });

  it('with the session, Connect goes to Smartcar and Disconnect happens', async () => {
    const connect = await fetch(new URL('/connect', s.base), { redirect: 'manual', headers: { cookie } });
    assert.equal(connect.status, 302);
    assert.match(connect.headers.get('location') ?? '', /state=/);
    const res = await send(s.base, '/vehicles/v-1/disconnect', { csrf: await csrfToken(s.base) }, cookie);
    assert.equal(res.status, 303);
    assert.deepEqual(s.host.disconnectCalls, ['v-1']);
  });

  it('the code never sends the browser to another site', async () => {
    const res = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code, next: 'https://evil.example/' });
    assert.equal(res.headers.get('location'), '/');
    const relative = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code, next: '//evil.example/x' });
    assert.equal(relative.headers.get('location'), '/');
  });

  it('without the page\'s CSRF token the code is not even tried', async () => {
    const res = await post(s.base, '/unlock', { code, next: '/' });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('set-cookie'), null);
  });

  it('ten wrong codes lock it for 15 minutes, for every client, the right code included', async () => {
    for (let i = 0; i < 10; i++) {
      await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code: `1111-${String(i).padStart(4, '0')}`, next: '/' });
    }
    const locked = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code, next: '/' });
    assert.equal(locked.status, 429);
    assert.match(await locked.text(), /Too many wrong codes/);
    assert.ok(s.lines.some((l) => l.level === 'warn' && /too many wrong codes/.test(l.message)));
    s.clock.now += 16 * 60_000;
    const again = await send(s.base, '/unlock', { csrf: await csrfToken(s.base), code, next: '/' });
    assert.equal(again.status, 303);
  });
});

describe('setup page on loopback', () => {
  let s: Started;
  before(async () => {
    s = await startServer({ bind: '127.0.0.1' });
  });
  after(() => s?.server.stop());

  it('asks no code: only this machine reaches it', async () => {
    const connect = await get(s.base, '/connect');
    assert.equal(connect.status, 302);
    assert.ok(!s.lines.some((l) => /setup code/.test(l.message)));
  });
});
