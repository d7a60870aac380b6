// The "Smartcar Connection" sensor through the real platform on both APIs: one contact sensor for the
// whole plugin, closed while nothing needs the owner, open (and said once in the log) when something
// does, closed again when it is over; it survives a restart from the cache and can be switched off.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, connectionSensor, hap, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { connectViaSetupPage } from '../faults/support.js';

const { Service, Characteristic } = hap;
const CLOSED = Characteristic.ContactSensorState.CONTACT_DETECTED;
const OPEN = Characteristic.ContactSensorState.CONTACT_NOT_DETECTED;

const sensorAccessory = (world: StartedPlatform): PlatformAccessory | undefined => connectionSensor(world.api);

/** What HomeKit was last told, and what a controller reading it now gets. */
async function state(world: StartedPlatform): Promise<{ pushed: unknown; read: unknown }> {
  const c = sensorAccessory(world)!.getServiceById(Service.ContactSensor, 'connection')!.getCharacteristic(Characteristic.ContactSensorState);
  return { pushed: c.value, read: await (c as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest() };
}

for (const api of ['v3', 'v2'] as const) {
  describe(`the Smartcar Connection sensor on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let userId: string;
    let carId: string;
    const readPath = api === 'v3' ? '/signals' : '/batch';
    const start = (config: Record<string, unknown> = {}, again?: { storage: string; cache: unknown[] }) =>
      (api === 'v3' ? startConnected(emu, userId, { config, ...again }) : startWithTokens(emu, userId, { config, ...again }));
    const opened = () => world.logs.lines.filter((l) => /Smartcar Connection is open/.test(l.message));

    before(async () => {
      emu = await startEmulator({ autoApprove: {} });
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022 }).id;
      world = await start();
      await waitFor('the first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('one accessory of its own, named for the Home app, closed while all is well', async () => {
      const a = sensorAccessory(world);
      assert.ok(a, 'a Smartcar Connection accessory');
      assert.equal(a.getServiceById(Service.ContactSensor, 'connection')!.getCharacteristic(Characteristic.ConfiguredName).value, 'Smartcar Connection');
      assert.ok(a.getServiceById(Service.ContactSensor, 'connection'));
      assert.equal(accessories(world.api).length, 1, 'the car, and the sensor beside it');
      assert.equal(world.api.serializeCache().length, 2);
      assert.deepEqual(await state(world), { pushed: CLOSED, read: CLOSED });
    });

    it('a permission withdrawn opens it, with one line naming the car and the fix; granted again, it closes', async () => {
      // v3 answers a whole read's PERMISSION with REAUTHENTICATE: the owner connects again; v2 asks for the grant.
      emu.inject({ target: 'read', api, vehicleId: carId, path: readPath }, { error: { type: 'PERMISSION', code: null, status: 403 } });
      await world.platform.refreshNow(carId);
      await waitFor('the sensor open', async () => (await state(world)).pushed === OPEN);
      assert.equal((await state(world)).read, OPEN);
      assert.equal(opened().length, 1, world.logs.text());
      assert.match(opened()[0]!.message, /Smartcar Connection is open: Model 3 needs you \(the setup page says what to do\)/);
      assert.ok(world.platform.status()[0]!.vehicles[0]!.problems.some((p) => /permission|connect/i.test(p)), 'the page says what');
      emu.faults.clear();
      if (world.platform.status()[0]?.needsReauth === true) {
        const setupUrl = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace(/\/$/, '');
        assert.match((await connectViaSetupPage(setupUrl)).url, /connected=1/);
      }
      await world.platform.refreshNow(carId);
      await waitFor('the sensor closed', async () => (await state(world)).pushed === CLOSED).catch((e: unknown) => { throw new Error(`${String(e)}\n${world.logs.text()}`); });
      assert.ok(world.logs.lines.some((l) => /Smartcar Connection is closed: nothing needs you/.test(l.message)));
    });

    it('a failure that retries by itself (the car asleep) leaves it closed', async () => {
      emu.inject({ target: 'read', api, vehicleId: carId, path: readPath }, { error: { type: 'VEHICLE_STATE', code: 'ASLEEP', status: 409 } });
      const from = emu.requests.length;
      await world.platform.refreshNow(carId);
      await waitFor('the refused read', () => emu.requests.slice(from).some((r) => r.status === 409));
      await waitFor('the fault shown', () => (world.platform.status()[0]?.vehicles[0]?.problems.length ?? 0) > 0);
      assert.equal((await state(world)).pushed, CLOSED);
      emu.faults.clear();
    });

    it('the month\'s budget spent opens it', async () => {
      const again = { storage: world.storage, cache: world.api.serializeCache() };
      await world.shutdown();
      // This month's count as the cache keeps it: every request of the budget already spent.
      for (const entry of again.cache as { context?: { vehicleId?: string; usage?: unknown } }[]) {
        if (entry.context?.vehicleId === carId) {
          entry.context.usage = { month: new Date().toISOString().slice(0, 7), requests: 150 };
        }
      }
      world = await start({ requestsPerVehiclePerMonth: 150 }, again);
      await waitFor('the sensor open', async () => sensorAccessory(world) !== undefined && (await state(world)).pushed === OPEN);
      assert.match(opened().at(-1)!.message, /Model 3 needs you/);
      assert.equal(world.logs.lines.filter((l) => /request budget is used up/.test(l.message)).length, 1, 'the cause is said once, where it was found');
    });

    it('restored from the cache it is the same accessory, not an orphan; switched off it goes', async () => {
      const uuid = sensorAccessory(world)!.UUID;
      let again = { storage: world.storage, cache: world.api.serializeCache() };
      await world.shutdown();
      world = await start({}, again);
      await waitFor('the car', () => world.platform.status()[0]?.vehicles[0]);
      assert.equal(sensorAccessory(world)?.UUID, uuid);
      assert.equal(world.api.serializeCache().length, 2, 'the car and the sensor, once each');
      again = { storage: world.storage, cache: world.api.serializeCache() };
      await world.shutdown();
      world = await start({ services: { connection: false } }, again);
      await waitFor('the car', () => world.platform.status()[0]?.vehicles[0]);
      assert.equal(sensorAccessory(world), undefined);
      assert.equal(world.api.serializeCache().length, 1, 'the car alone');
    });
  });
}
