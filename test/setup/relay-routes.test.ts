// The setup page's server side of the Connect relay: POST /connect-url hands the popup a Connect URL only with
// the page's CSRF token and, open to the network, the setup code; its state is one the callback then accepts,
// once. The popup script is on the page only for a relay redirect URI, and a relay whose path is one of the
// page's own (`…/connect/`) leaves the Connect button working.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { csrfToken, get, post, startServer, type Started } from './support.js';

const RELAY = 'https://owner.github.io/connect/';

async function connectUrl(base: string, form: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(new URL('/connect-url', base), {
    method: 'POST', redirect: 'manual', body: new URLSearchParams(form), headers: cookie === undefined ? {} : { cookie },
  });
}

describe('setup page with the Connect relay as redirect URI', () => {
  let s: Started;

  before(async () => {
    s = await startServer({ redirectUri: RELAY });
  });
  after(() => s?.server.stop());

  it('carries the popup script, with the relay\'s origin and the callback path', async () => {
    const body = await (await get(s.base, '/')).text();
    assert.match(body, /smartcar-relay-hello/);
    assert.ok(body.includes('"relayOrigin":"https://owner.github.io"'));
    assert.ok(body.includes('"callbackPath":"/connect/"'));
  });

  it('POST /connect-url: a Connect URL with a fresh state, only with the page\'s CSRF token', async () => {
    const refused = await connectUrl(s.base, {});
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /This page has expired/);
    const csrf = await csrfToken(s.base);
    const res = await connectUrl(s.base, { csrf });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const { url } = await res.json() as { url: string };
    const state = new URL(url).searchParams.get('state') ?? '';
    assert.match(state, /^[\w-]{43}$/);
    const again = await (await connectUrl(s.base, { csrf })).json() as { url: string };
    assert.notEqual(new URL(again.url).searchParams.get('state'), state, 'a fresh state each time');

    // The relay's hand-off: the page goes to its callback path with the answer; accepted once.
    const done = await get(s.base, `/connect/?${new URLSearchParams({ code: 'c-1', user_id: 'u-1', state }).toString()}`);
    assert.equal(done.status, 303);
    assert.match(done.headers.get('location') ?? '', /^\/\?connected=\d+$/);
    assert.deepEqual(s.host.authorizeCalls, ['c-1']);
    const replay = await get(s.base, `/connect/?${new URLSearchParams({ code: 'c-1', state }).toString()}`);
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /cannot be used/);
    assert.deepEqual(s.host.authorizeCalls, ['c-1']);
  });

  it('a relay path equal to /connect leaves the Connect button going to Smartcar', async () => {
    const res = await get(s.base, '/connect');
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location') ?? '', /state=/);
  });
});

describe('setup page with a localhost redirect URI', () => {
  let s: Started;
  before(async () => {
    s = await startServer();
  });
  after(() => s?.server.stop());

  it('has no popup script: Connect is the plain redirect', async () => {
    const body = await (await get(s.base, '/')).text();
    assert.doesNotMatch(body, /smartcar-relay-hello/);
    assert.match(body, /<a class="button" id="connect" href="\/connect">/);
  });
});

describe('setup page with the relay, open to the network', () => {
  let s: Started;
  let code: string;

  before(async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'hbsc-relay-code-')), 'smartcar-setup-code');
    s = await startServer({ bind: '0.0.0.0', setupCodeFile: file, redirectUri: RELAY });
    code = (await readFile(file, 'utf8')).trim();
  });
  after(() => s?.server.stop());

  it('POST /connect-url asks for the setup code first, then answers', async () => {
    const csrf = await csrfToken(s.base);
    const refused = await connectUrl(s.base, { csrf });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /Enter the setup code/);
    const unlocked = await post(s.base, '/unlock', { csrf, code, next: '/' });
    const cookie = (unlocked.headers.get('set-cookie') ?? '').split(';')[0]!;
    const res = await connectUrl(s.base, { csrf }, cookie);
    assert.equal(res.status, 200);
    assert.match(((await res.json()) as { url: string }).url, /state=/);
  });
});
