// Hostile input against a real setup server: a few hundred malformed, oversized, unicode and
// odd-method requests, sent as raw bytes. None may earn a 5xx, crash the server or store anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { newState, rawStatus, startServer, type Started } from './support.js';

// A small seeded PRNG so a failure can be replayed: HBSC_FUZZ_SEED=<n>.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['/', '/connect', '/callback', '/paste', '/refresh', '/vehicles/v-1/refresh', '/vehicles/v-1/disconnect', '/vehicles/v-1/charge-limit', '/favicon.ico', '/nope'];
const NASTY_SEGMENTS = ['%', '%zz', '%E0%A4%A', '%00', '%C0%AF', '%FF%FE', '..', '%2e%2e', '//', 'é', '🚗', '\u202e', '%F0%9F%9A', '<script>', '"', '\'', '%0d%0aSet-Cookie:x=1', ';', '%%', 'v-1%'];
const NASTY_VALUES = ['', '%', '%zz', '%ZZ%', '<script>alert(1)</script>', '🚗', 'é', '\u0000', 'A'.repeat(43), '../../etc/passwd', '%E0%A4%A', '[]', '{}', 'true', '-1', '1e999'];
const NAMES = ['code', 'state', 'error', 'error_description', 'url', 'csrf', 'connected', '__proto__', 'constructor', 'code[]', 'state[a]', 'refreshed', 'x'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'FOO', 'get', 'G ET'];
const CONTENT_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-16', 'application/x-www-form-urlencoded; charset=bogus',
  'application/json', 'text/plain', 'multipart/form-data; boundary=x', '', 'application/x-www-form-urlencoded; charset=iso-8859-1'];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function query(rand: () => number, state: string): string {
  const parts: string[] = [];
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const name = pick(rand, NAMES);
    const value = rand() < 0.15 ? state : pick(rand, NASTY_VALUES);
    parts.push(`${name}=${value}`);
  }
  if (rand() < 0.05) {
    parts.push(`pad=${'q'.repeat(20_000 + Math.floor(rand() * 50_000))}`);
  }
  return parts.join('&');
}

function buildRequest(rand: () => number, state: string): Buffer {
  const method = pick(rand, METHODS);
  let path = pick(rand, PATHS);
  if (rand() < 0.4) {
    path += `/${pick(rand, NASTY_SEGMENTS)}`;
  }
  if (rand() < 0.1) {
    path = `/vehicles/${pick(rand, NASTY_SEGMENTS)}/refresh`;
  }
  if (rand() < 0.02) {
    path = `/${'p'.repeat(10_000)}`;
  }
  const q = rand() < 0.6 ? `?${query(rand, state)}` : '';
  const headers = ['Host: 127.0.0.1', 'Connection: close'];
  let body = Buffer.alloc(0);
  if (method === 'POST' || method === 'PUT' || method === 'PATCH' || rand() < 0.05) {
    const type = pick(rand, CONTENT_TYPES);
    if (type !== '') {
      headers.push(`Content-Type: ${type}`);
    }
    const size = rand();
    body = Buffer.from(size < 0.1
      ? `url=${'u'.repeat(20_000)}`
      : size < 0.2
        ? Array.from({ length: 200 }, (_, i) => `f${i}=1`).join('&')
        : query(rand, state), 'utf8');
    headers.push(`Content-Length: ${body.length}`);
  }
  if (rand() < 0.03) {
    headers.push(`X-Big: ${'h'.repeat(20_000)}`);
  }
  return Buffer.concat([Buffer.from(`${method} ${path}${q} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

describe('setup page under hostile input', () => {
  let s: Started;

  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.server.stop();
  });

  it('answers a few hundred malformed requests with 2xx-4xx and keeps serving', async () => {
    const seed = Number(process.env.HBSC_FUZZ_SEED ?? 20_251_101);
    const rand = prng(seed);
    const state = await newState(s.base);
    const failures: string[] = [];
    const requests = Array.from({ length: 400 }, () => buildRequest(rand, state));
    const BATCH = 20;
    for (let i = 0; i < requests.length; i += BATCH) {
      const batch = requests.slice(i, i + BATCH);
      const statuses = await Promise.all(batch.map((r) => rawStatus(s.base, r)));
      statuses.forEach((status, j) => {
        if (status < 200 || status >= 500) {
          failures.push(`${status}: ${batch[j]!.subarray(0, 160).toString('utf8').split('\r\n')[0]}`);
        }
      });
    }
    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.deepEqual(s.host.authorizeCalls, []);
    assert.deepEqual(s.host.disconnectCalls, []);
    assert.deepEqual(s.host.refreshCalls, []);
    assert.equal(s.lines.filter((l) => l.level === 'error').length, 0, s.lines.map((l) => l.message).join('\n'));
    assert.equal((await fetch(s.base)).status, 200);
  });

  it('refuses specific hostile shapes with the right 4xx', async () => {
    const expectations: [string, number][] = [
      ['GET /callback?code=c&state=%zz HTTP/1.1', 400],
      ['GET /vehicles/%E0%A4%A/disconnect HTTP/1.1', 400],
      [`GET /?x=${'a'.repeat(70_000)} HTTP/1.1`, 431],
      ['FOO / HTTP/1.1', 400],
      ['DELETE / HTTP/1.1', 404],
      ['GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1', 404],
    ];
    for (const [line, status] of expectations) {
      assert.equal(await rawStatus(s.base, `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`), status, line);
    }
    const big = `csrf=x&url=${'u'.repeat(20_000)}`;
    assert.equal(await rawStatus(s.base, `POST /paste HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${big.length}\r\n\r\n${big}`), 413);
    const utf16 = 'csrf=x';
    assert.equal(await rawStatus(s.base, `POST /paste HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-16\r\nContent-Length: ${utf16.length}\r\n\r\n${utf16}`), 415);
    // A body shorter than announced: the server must time out the request, not hang or crash; we just close.
    assert.equal((await fetch(s.base)).status, 200);
  });
});
