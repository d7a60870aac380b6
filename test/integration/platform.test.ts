// The platform at its edges: unconfigured it says where the docs are and starts nothing; a busy
// setup port is one clear error while HomeKit keeps working; shutdown leaves no timer or socket.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, accessoryNamed, hap, read, startPlatform, waitFor } from '../helpers/homebridge-api.js';
import { startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

describe('platform edges', () => {
  let emu: SmartcarEmulator;
  let userId: string;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true });
  });
  after(async () => emu?.close());

  it('without credentials: one line pointing at the docs, nothing started, cached accessories kept', async () => {
    emu.resetLog();
    const world = await startPlatform({});
    try {
      assert.equal(world.logs.lines.length, 1, world.logs.text());
      assert.match(world.logs.lines[0]!.message, /add applicationId .*, clientId .* and clientSecret .*https:\/\//);
      assert.equal(accessories(world.api).length, 0);
      assert.equal(emu.requests.length, 0);
      assert.deepEqual(world.platform.status(), []);
    } finally {
      await world.shutdown();
    }
  });

  it('a busy setup port: one clear error, and the car still works in HomeKit', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const world = await startWithTokens(emu, userId, { config: { setupPort: port, redirectUri: `http://localhost:${port}/callback` } });
    try {
      const errors = world.logs.lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, world.logs.text());
      assert.match(errors[0]!.message, new RegExp(`port ${port} is already in use.*setupPort`));
      const car = accessoryNamed(world.api, 'Model 3');
      await waitFor('first read', async () => (await read(car, Service.LockMechanism, Characteristic.LockCurrentState)) === 1);
    } finally {
      await world.shutdown();
      await new Promise((r) => blocker.close(r));
    }
  });

  it('shutdown stops the scheduler and the setup page: no timer left, the page is gone', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const world = await startWithTokens(emu, userId);
    await waitFor('first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
    const page = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())?.[1];
    assert.ok(page, world.logs.text());
    assert.equal((await fetch(page.replace('0.0.0.0', '127.0.0.1'))).status, 200);
    assert.ok(timers() > before, 'the next refresh is planned');
    await world.shutdown();
    assert.equal(timers(), before);
    emu.resetLog();
    await world.platform.refreshNow();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(emu.requests.length, 0, 'nothing polls after shutdown');
  });
});
