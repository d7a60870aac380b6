// Tokens against the emulator's real token endpoint: refresh before expiry, one refresh for five
// concurrent 401s (counted in the emulator's log), re-authorization when Smartcar refuses the refresh
// token (faults shown, polling stopped), and no token or secret in the log.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { SmartcarClient } from '../../src/smartcar/v2/client.js';
import { TokenManager } from '../../src/tokens/manager.js';
import { TokenFileStore } from '../../src/tokens/store.js';
import { accessoryNamed, hap, pushed, read, tempStorage, waitFor } from '../helpers/homebridge-api.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, connectCode, seedTokens, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

describe('tokens against the emulator', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let bevId: string;

  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    bevId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true }).id;
  });
  after(async () => emu?.close());

  it('an access token about to expire is refreshed before any request uses it', async () => {
    emu.resetLog();
    const world = await startWithTokens(emu, userId, { expiresAt: Date.now() + 60_000 });
    try {
      await waitFor('first read', () => emu.requests.some((r) => r.path.endsWith('/batch')));
      const tokenCalls = emu.requests.filter((r) => r.path === '/oauth/token');
      assert.equal(tokenCalls.length, 1);
      assert.equal(emu.requests[0]!.path, '/oauth/token', 'refresh first');
      assert.ok(!emu.requests.some((r) => r.status === 401), 'no request went out with the old token');
      const file = new TokenFileStore(world.storage).fileFor(userId);
      const stored = JSON.parse(await readFile(file, 'utf8')) as { expiresAt: number };
      assert.ok(stored.expiresAt > Date.now() + 3600_000, 'the rotated tokens are on disk');
    } finally {
      await world.shutdown();
    }
  });

  it('five concurrent 401s cause exactly one refresh, and all five calls succeed', async () => {
    const storage = await tempStorage();
    const issued = emu.issueTokens(userId);
    await seedTokens(storage, userId, issued);
    const client = new SmartcarClient({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, mode: 'live', unitSystem: 'metric', timeoutMs: 10_000, askLocation: false });
    const manager = new TokenManager({ store: new TokenFileStore(storage), refresh: (rt) => client.refreshTokens(rt), refreshMarginMs: 0 });
    await manager.load(() => assert.fail('token file unreadable'));
    emu.expireAccessTokens(userId);
    emu.resetLog();
    const results = await Promise.all(Array.from({ length: 5 }, () => manager.withToken(userId, (t) => client.read(t, bevId, ['lock']))));
    assert.deepEqual(results.map((r) => r.values.locked), [true, true, true, true, true]);
    assert.equal(emu.requests.filter((r) => r.path === '/oauth/token').length, 1);
    assert.equal(emu.requests.filter((r) => r.status === 401).length, 5);
  });

  it('a refused refresh token: faults on every service, one clear log line, polling stops, Connect fixes it', async () => {
    const world = await startWithTokens(emu, userId);
    try {
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('first read', async () => (await read(car, Service.LockMechanism, Characteristic.LockCurrentState)) === 1);
      emu.revokeTokens(userId);
      emu.expireAccessTokens(userId);
      await world.platform.refreshNow();
      await waitFor('the fault', () => pushed(car, Service.LockMechanism, Characteristic.StatusFault) === 1);
      assert.equal(pushed(car, Service.Battery, Characteristic.StatusFault), 1);
      assert.equal(pushed(car, Service.ContactSensor, Characteristic.StatusFault), 1);
      // Values stay what they were: the car did not change, our access did.
      assert.equal(await read(car, Service.LockMechanism, Characteristic.LockCurrentState), 1);
      const errors = world.logs.lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, world.logs.text());
      assert.match(errors[0]!.message, /Model 3.*connected again.*setup page/);
      const status = world.platform.status()[0]!;
      assert.equal(status.needsReauth, true);
      assert.equal(status.vehicles[0]!.nextRefreshAt, undefined, 'polling stopped');
      emu.resetLog();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(emu.requests.length, 0, 'nothing more is sent for that user');

      // The owner connects again through the setup page: the fault clears without a restart.
      const code = await connectCode(world.platform.authUrl('again'));
      await world.platform.completeAuthorization({ code });
      await waitFor('the fault to clear', () => pushed(car, Service.LockMechanism, Characteristic.StatusFault) === 0);
      assert.equal(world.platform.status()[0]!.needsReauth, false);
    } finally {
      await world.shutdown();
    }
  });

  it('no access token, refresh token or client secret appears in the log, even when Smartcar echoes one', async () => {
    const storage = await tempStorage();
    const world = await startWithTokens(emu, userId, { storage, expiresAt: Date.now() - 1 });
    const stored = JSON.parse(await readFile(new TokenFileStore(storage).fileFor(userId), 'utf8')) as { accessToken: string; refreshToken: string };
    try {
      await waitFor('first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
      // invalid_grant answers echo the refresh token in error_description.
      emu.revokeTokens(userId);
      emu.expireAccessTokens(userId);
      await world.platform.refreshNow();
      await waitFor('re-authorization', () => world.platform.status()[0]?.needsReauth);
      const all = world.logs.text();
      assert.match(all, /invalid_grant/);
      for (const secret of [CLIENT_SECRET, stored.accessToken, stored.refreshToken]) {
        assert.ok(!all.includes(secret), `secret ${secret.slice(0, 4)}… in the log`);
      }
      assert.ok(!JSON.stringify(world.platform.status()).includes(stored.refreshToken));
    } finally {
      await world.shutdown();
    }
  });
});
