// Smartcar bills per vehicle and month whatever happens to the accessory: a car disconnected and
// connected again in the same month, or whose cached accessory is gone, goes on counting from where
// it was (node-persist under <storage>/smartcar-ledger), and so the budget is never overspent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { connectCode, pluginConfig, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

describe('the request ledger outlives the accessory (v2)', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let carId: string;

  before(async () => {
    emu = await startEmulator({ autoApprove: {} });
    userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3' }).id;
  });
  after(async () => emu?.close());

  const used = (world: StartedPlatform): number | undefined =>
    world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)?.requestsUsed;

  it('disconnect and connect again in the same month: the count goes on, and matches Smartcar\'s', async () => {
    const world = await startWithTokens(emu, userId);
    try {
      await waitFor('a first read', () => (used(world) ?? 0) > 0);
      const before = used(world)!;
      await world.platform.disconnect(carId);
      await world.platform.completeAuthorization({ code: await connectCode(world.platform.authUrl('s')) });
      accessoryNamed(world.api, 'Model 3');
      await waitFor('the read after Connect', () => used(world)! > before);
      assert.equal(used(world), emu.billedCount(carId), 'the same count as Smartcar\'s, not a fresh start');
    } finally {
      await world.shutdown();
    }
  });

  it('a restart without the cached accessory (cleared from the cache): the count survives on disk', async () => {
    const first = await startWithTokens(emu, userId);
    await waitFor('a read', () => (used(first) ?? 0) > 0);
    const before = used(first)!;
    await first.shutdown();
    const billedBefore = emu.billedCount(carId);
    const world = await startPlatform(pluginConfig(), { storage: first.storage });
    try {
      await waitFor('the car, found and read again', () => (used(world) ?? 0) > 0 && emu.billedCount(carId) > billedBefore);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(used(world), before + (emu.billedCount(carId) - billedBefore), 'what was counted before, plus what this run was billed');
    } finally {
      await world.shutdown();
    }
  });
});
