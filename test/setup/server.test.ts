// Lifecycle of the setup server (Homebridge shutdown must not hang, a busy port must not take the
// platform down) and the bounded token stores behind state and CSRF.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { describe, it } from 'node:test';

import { TokenStore } from '../../src/setup/oauth-state.js';
import { SetupServer } from '../../src/setup/server.js';
import { captureLog, FakeHost, REDIRECT_URI, startServer } from './support.js';

describe('SetupServer lifecycle', () => {
  it('logs where the page is and returns a reachable base URL', async () => {
    const s = await startServer();
    try {
      assert.match(s.base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const line = s.lines.find((l) => l.level === 'info')?.message ?? '';
      assert.match(line, /^Setup page: http:\/\/127\.0\.0\.1:\d+\/ — open it to connect a vehicle$/);
    } finally {
      await s.server.stop();
    }
  });

  it('warns when a localhost redirect URI points at another port', async () => {
    const s = await startServer({ redirectUri: 'http://localhost:1/callback' });
    await s.server.stop();
    assert.ok(s.lines.some((l) => l.level === 'warn' && /points at port 1, but the setup page listens on \d+/.test(l.message)));
    const ok = await startServer({ redirectUri: 'https://hb.example.org/callback' });
    await ok.server.stop();
    assert.ok(!ok.lines.some((l) => l.level === 'warn'));
  });

  it('stop() returns promptly with an idle keep-alive connection open', async () => {
    const s = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await new Promise<void>((resolve, reject) => {
        request(s.base, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject).end();
      });
      assert.equal(Object.keys(agent.freeSockets).length, 1, 'the keep-alive socket stays open');
      const started = performance.now();
      await s.server.stop();
      assert.ok(performance.now() - started < 1000, `stop took ${performance.now() - started} ms`);
    } finally {
      agent.destroy();
    }
  });

  it('stop() returns promptly with a request still being sent', async () => {
    const s = await startServer();
    const req = request(s.base, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '100' } });
    req.on('error', () => undefined);
    req.write('csrf=');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await s.server.stop();
    assert.ok(performance.now() - started < 1000);
    req.destroy();
  });

  it('stop() is safe to call twice and before start', async () => {
    const s = await startServer();
    await s.server.stop();
    await s.server.stop();
    const { log } = captureLog();
    await new SetupServer({ port: 0, bind: '127.0.0.1', redirectUri: REDIRECT_URI, log, host: new FakeHost() }).stop();
  });

  it('a busy port rejects with a clear error and one clear log line', async () => {
    const first = await startServer();
    const port = Number(new URL(first.base).port);
    const { log, lines } = captureLog();
    const second = new SetupServer({ port, bind: '127.0.0.1', redirectUri: REDIRECT_URI, log, host: new FakeHost() });
    try {
      await assert.rejects(second.start(), (err: Error) => {
        assert.match(err.message, new RegExp(`port ${port} is already in use`));
        assert.match(err.message, /setupPort/);
        return true;
      });
      const errors = lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, new RegExp(`port ${port} is already in use.*setupPort.*HomeKit accessories keep working`));
      // The first server is untouched.
      assert.equal((await fetch(first.base)).status, 200);
      await second.stop();
    } finally {
      await first.server.stop();
    }
  });

  it('an address that is not this machine is reported with the option to change', async () => {
    const { log, lines } = captureLog();
    const server = new SetupServer({ port: 0, bind: '203.0.113.7', redirectUri: REDIRECT_URI, log, host: new FakeHost() });
    await assert.rejects(server.start(), /203\.0\.113\.7 is not an address of this machine/);
    assert.equal(lines.filter((l) => l.level === 'error').length, 1);
  });

  it('refuses a redirect URI that is not an absolute URL', () => {
    const { log } = captureLog();
    assert.throws(() => new SetupServer({ port: 0, bind: '127.0.0.1', redirectUri: '/callback', log, host: new FakeHost() }), /redirectUri/);
  });

  it('can start again after stop', async () => {
    const s = await startServer();
    await s.server.stop();
    const base = await s.server.start();
    assert.equal((await fetch(base)).status, 200);
    await s.server.stop();
  });
});

describe('TokenStore', () => {
  it('single-use tokens redeem once', () => {
    const store = new TokenStore({ ttlMs: 1000, maxEntries: 10, singleUse: true });
    const token = store.issue();
    assert.equal(store.redeem(token), true);
    assert.equal(store.redeem(token), false);
  });

  it('reusable tokens redeem until they expire', () => {
    let now = 0;
    const store = new TokenStore({ ttlMs: 1000, maxEntries: 10, singleUse: false, now: () => now });
    const token = store.issue();
    assert.equal(store.redeem(token), true);
    assert.equal(store.redeem(token), true);
    now = 1000;
    assert.equal(store.redeem(token), false);
    assert.equal(store.size, 0);
  });

  it('refuses anything it did not issue', () => {
    const store = new TokenStore({ ttlMs: 1000, maxEntries: 10, singleUse: true });
    store.issue();
    for (const bad of [undefined, null, 42, '', 'x', 'A'.repeat(43), ['a'], { a: 1 }, 'A'.repeat(10_000)]) {
      assert.equal(store.redeem(bad), false);
    }
  });

  it('stays bounded under spam, evicting the oldest first', () => {
    let now = 0;
    const store = new TokenStore({ ttlMs: 60_000, maxEntries: 100, singleUse: true, now: () => now });
    const first = store.issue();
    for (let i = 0; i < 10_000; i++) {
      store.issue();
      now += 1;
    }
    assert.equal(store.size, 100);
    assert.equal(store.redeem(first), false);
    assert.equal(store.redeem(store.issue()), true);
  });

  it('drops expired tokens as new ones are issued', () => {
    let now = 0;
    const store = new TokenStore({ ttlMs: 1000, maxEntries: 100, singleUse: true, now: () => now });
    for (let i = 0; i < 50; i++) {
      store.issue();
    }
    now = 2000;
    store.issue();
    assert.equal(store.size, 1);
  });
});
