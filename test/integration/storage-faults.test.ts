// Token storage that fails at start must cost the owner nothing they cannot get back: an unreadable
// token file keeps that user's cars (and their automations) and asks for Connect again; a storage
// folder that cannot be read still lets the setup page start.
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, accessoryNamed, hap, startPlatform, waitFor } from '../helpers/homebridge-api.js';
import { connectCode, pluginConfig, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { TokenFileStore } from '../../src/tokens/store.js';

const { Service, Characteristic } = hap;

describe('token storage failing at start (v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;

  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
    userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' });
  });
  after(async () => emu?.close());

  async function cachedWorld(): Promise<{ storage: string; cache: unknown[]; uuid: string }> {
    const first = await startWithTokens(emu, userId);
    await waitFor('a first read', () => first.platform.status()[0]?.vehicles[0]?.lastRefreshAt !== undefined);
    const cache = first.api.serializeCache();
    const uuid = accessoryNamed(first.api, 'Model 3').UUID;
    await first.shutdown();
    return { storage: first.storage, cache, uuid };
  }

  it('an unreadable token file keeps the car, shows the fault, asks for Connect again once; Connect brings the same accessory back', async () => {
    const { storage, cache, uuid } = await cachedWorld();
    await writeFile(new TokenFileStore(storage).fileFor(userId), '{"userId": "trunc');
    const world = await startPlatform(pluginConfig(), { storage, cache });
    try {
      assert.equal(accessories(world.api).length, 1, 'the car and its automations stay');
      assert.match(world.logs.text('error'), /Cannot read the Smartcar token file .*connect that vehicle again on the setup page/);
      assert.equal(world.platform.status()[0]?.needsReauth, true);
      const car = accessoryNamed(world.api, 'Model 3');
      assert.equal(car.getService(Service.LockMechanism)!.getCharacteristic(Characteristic.StatusFault).value, Characteristic.StatusFault.GENERAL_FAULT);
      assert.ok(/Setup page: /.test(world.logs.text()), 'the setup page started');
      await world.platform.completeAuthorization({ code: await connectCode(world.platform.authUrl('s')) });
      assert.equal(accessoryNamed(world.api, 'Model 3').UUID, uuid);
      assert.equal(world.platform.status()[0]?.needsReauth, false);
    } finally {
      await world.shutdown();
    }
  });

  it('a storage folder that cannot be read: the cars stay, the setup page starts, the log names the folder', async () => {
    const { storage, cache } = await cachedWorld();
    const dir = join(storage, 'smartcar');
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'not a folder'); // readdir fails (ENOTDIR), as it would on a broken disk
    const world = await startPlatform(pluginConfig(), { storage, cache });
    try {
      assert.equal(accessories(world.api).length, 1);
      assert.ok(/Setup page: /.test(world.logs.text()), 'the setup page started');
      assert.match(world.logs.text('error'), /smartcar.*ENOTDIR/);
      await waitFor('the car to ask for Connect', () => world.platform.status()[0]?.needsReauth === true);
    } finally {
      await world.shutdown();
      await rm(dir, { force: true });
      await mkdir(dir, { recursive: true });
    }
  });
});
