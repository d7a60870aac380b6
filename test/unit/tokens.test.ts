// Token store and manager: owner-only atomic files, refresh before expiry, one refresh for many
// concurrent 401s, the rotated refresh token on disk before the new access token is used.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { ReauthorizeError, UnauthorizedError } from '../../src/smartcar/errors.js';
import type { TokenSet } from '../../src/smartcar/types.js';
import { TokenManager } from '../../src/tokens/manager.js';
import { TokenFileStore } from '../../src/tokens/store.js';

const USER = '8c1f1c1e-0d7a-4d1b-9f3e-1a2b3c4d5e6f';
const HOUR = 3600_000;

async function tempStore(): Promise<TokenFileStore> {
  return new TokenFileStore(await mkdtemp(join(tmpdir(), 'hbsc-tokens-')));
}

function tokens(n: number, now: number): TokenSet {
  return { accessToken: `at-${n}`, refreshToken: `rt-${n}`, expiresAt: now + 2 * HOUR, refreshExpiresAt: now + 60 * 24 * HOUR };
}

describe('TokenFileStore', () => {
  it('writes owner-only files in an owner-only folder and reads them back', async () => {
    const store = await tempStore();
    await store.save({ ...tokens(1, 0), userId: USER, updatedAt: 5 });
    const file = store.fileFor(USER);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(store.dir)).mode & 0o777, 0o700);
    const loaded = await store.loadAll(() => assert.fail('no error expected'));
    assert.deepEqual(loaded, [{ ...tokens(1, 0), userId: USER, updatedAt: 5 }]);
    // No temporary file left behind after the rename.
    assert.deepEqual(await readdir(store.dir), [`tokens-${USER}.json`]);
  });

  it('replaces a file atomically: a second save leaves one complete file', async () => {
    const store = await tempStore();
    await store.save({ ...tokens(1, 0), userId: USER, updatedAt: 1 });
    await store.save({ ...tokens(2, 0), userId: USER, updatedAt: 2 });
    const parsed = JSON.parse(await readFile(store.fileFor(USER), 'utf8')) as { refreshToken: string };
    assert.equal(parsed.refreshToken, 'rt-2');
    assert.equal((await stat(store.fileFor(USER))).mode & 0o777, 0o600);
  });

  it('reports a corrupt file and keeps loading the others', async () => {
    const store = await tempStore();
    await store.save({ ...tokens(1, 0), userId: USER, updatedAt: 1 });
    await writeFile(join(store.dir, 'tokens-broken.json'), '{"userId": "broken", "acc');
    const errors: string[] = [];
    const loaded = await store.loadAll((file) => errors.push(file));
    assert.equal(loaded.length, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /tokens-broken\.json$/);
  });

  it('refuses a user id that could escape the folder', async () => {
    const store = await tempStore();
    assert.throws(() => store.fileFor('../../etc/passwd'));
  });
});

describe('TokenManager', () => {
  function setup(now: { t: number }, refresh: (rt: string) => Promise<TokenSet>) {
    return tempStore().then((store) => ({
      store,
      manager: new TokenManager({ store, refresh, refreshMarginMs: 5 * 60_000, now: () => now.t }),
    }));
  }

  it('hands out the stored token while valid and refreshes shortly before expiry', async () => {
    const now = { t: 1_000_000 };
    let refreshes = 0;
    const { manager, store } = await setup(now, (rt) => {
      refreshes++;
      assert.equal(rt, 'rt-1');
      return Promise.resolve(tokens(2, now.t));
    });
    await manager.add(USER, tokens(1, now.t));
    assert.equal(await manager.accessToken(USER), 'at-1');
    now.t += 2 * HOUR - 4 * 60_000; // inside the 5-minute margin
    assert.equal(await manager.accessToken(USER), 'at-2');
    assert.equal(refreshes, 1);
    const onDisk = JSON.parse(await readFile(store.fileFor(USER), 'utf8')) as { refreshToken: string };
    assert.equal(onDisk.refreshToken, 'rt-2');
  });

  it('five concurrent 401s cause exactly one refresh, and every retry uses the new token', async () => {
    const now = { t: 0 };
    let refreshes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const { manager } = await setup(now, async () => {
      refreshes++;
      await gate;
      return tokens(2, now.t);
    });
    await manager.add(USER, tokens(1, now.t));
    const used: string[] = [];
    const call = (token: string): Promise<string> => {
      used.push(token);
      return token === 'at-1' ? Promise.reject(new UnauthorizedError('401')) : Promise.resolve('ok');
    };
    const all = Promise.all(Array.from({ length: 5 }, () => manager.withToken(USER, call)));
    await new Promise((r) => setImmediate(r));
    release();
    assert.deepEqual(await all, ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(refreshes, 1);
    assert.equal(used.filter((t) => t === 'at-2').length, 5);
  });

  it('the new access token is not handed out before the rotated refresh token is on disk', async () => {
    const now = { t: 0 };
    const store = await tempStore();
    const saves: string[] = [];
    const original = store.save.bind(store);
    store.save = async (t) => {
      await new Promise((r) => setTimeout(r, 20));
      await original(t);
      saves.push(t.refreshToken);
    };
    const manager = new TokenManager({ store, refresh: () => Promise.resolve(tokens(2, now.t)), refreshMarginMs: 0 });
    await manager.add(USER, tokens(1, now.t));
    const fresh = await manager.onUnauthorized(USER, 'at-1');
    assert.equal(fresh, 'at-2');
    assert.deepEqual(saves, ['rt-1', 'rt-2']);
  });

  it('invalid refresh token → re-authorize, reported once, no more refresh attempts', async () => {
    const now = { t: 0 };
    let refreshes = 0;
    const told: string[] = [];
    const store = await tempStore();
    const manager = new TokenManager({
      store, refreshMarginMs: 0, now: () => now.t,
      refresh: () => { refreshes++; return Promise.reject(new ReauthorizeError('invalid_grant')); },
      onReauthorizeNeeded: (u) => told.push(u),
    });
    await manager.add(USER, tokens(1, now.t));
    now.t += 3 * HOUR;
    await assert.rejects(manager.accessToken(USER), { kind: 'reauthorize' });
    await assert.rejects(manager.accessToken(USER), { kind: 'reauthorize' });
    assert.equal(refreshes, 1);
    assert.deepEqual(told, [USER]);
    assert.ok(manager.reauthorizeReason(USER));
    // Connecting again clears it.
    await manager.add(USER, tokens(3, now.t));
    assert.equal(await manager.accessToken(USER), 'at-3');
  });

  it('a 401 right after a refresh means re-authorize, not a refresh loop', async () => {
    const { manager } = await setup({ t: 0 }, () => Promise.resolve(tokens(2, 0)));
    await manager.add(USER, tokens(1, 0));
    await assert.rejects(manager.withToken(USER, () => Promise.reject(new UnauthorizedError('401'))), { kind: 'reauthorize' });
  });

  it('loads stored users on start', async () => {
    const store = await tempStore();
    await store.save({ ...tokens(1, 0), userId: USER, updatedAt: 1 });
    const manager = new TokenManager({ store, refresh: () => Promise.reject(new Error('no')), refreshMarginMs: 0, now: () => 0 });
    assert.deepEqual(await manager.load(() => undefined), [USER]);
    assert.equal(await manager.accessToken(USER), 'at-1');
  });

  it('Connect again while a refresh is out, and the refresh answering late: disk and memory hold the same, newest tokens', async () => {
    const store = await tempStore();
    let now = Date.now();
    let answerLate: ((t: TokenSet) => void) | undefined;
    const manager = new TokenManager({
      store,
      // The refresh times out (rejects), then its answer arrives after all, as SmartcarClient reports it.
      refresh: (_rt, onLate) => { answerLate = onLate; return Promise.reject(new UnauthorizedError('timed out')); },
      refreshMarginMs: 0,
      now: () => now,
    });
    await manager.add(USER, { ...tokens(1, now), expiresAt: now - 1 });
    await assert.rejects(manager.accessToken(USER));
    now += 1;
    const connected = manager.add(USER, tokens(2, now)); // Connect again: newer than anything the refresh brings
    answerLate!(tokens(3, now)); // the late answer of the older refresh, in the same tick
    await connected;
    await new Promise((r) => setTimeout(r, 50));
    const onDisk = (await store.loadAll(() => undefined))[0]!;
    assert.equal(onDisk.refreshToken, 'rt-2');
    assert.equal(await manager.accessToken(USER), 'at-2', 'memory agrees with the disk');
  });
});

describe('TokenFileStore under pressure', () => {
  it('two saves of one user in the same millisecond both land, the later one last', async () => {
    const store = await tempStore();
    const realNow = Date.now;
    Date.now = () => 1_700_000_000_000;
    try {
      await Promise.all([store.save({ ...tokens(1, 0), userId: USER, updatedAt: 1 }), store.save({ ...tokens(2, 0), userId: USER, updatedAt: 2 })]);
    } finally {
      Date.now = realNow;
    }
    assert.equal((await store.loadAll(() => undefined))[0]!.refreshToken, 'rt-2');
    assert.deepEqual(await readdir(store.dir), [`tokens-${USER}.json`], 'no temporary file left');
  });

  it('a remove asked while a save is on its way is not undone by it', async () => {
    const store = await tempStore();
    const saving = store.save({ ...tokens(1, 0), userId: USER, updatedAt: 1 });
    await store.remove(USER);
    await saving;
    assert.deepEqual(await store.loadAll(() => undefined), []);
  });
});
