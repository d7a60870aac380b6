// "Closed Up" through the real platform on both APIs: one contact sensor per car that is closed only
// when every door, window and lid the car reports is closed, read with the lock at no extra request;
// the setup page names what is open; the switch and the permission decide whether it exists.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;
const CLOSED = Characteristic.ContactSensorState.CONTACT_DETECTED;
const OPEN = Characteristic.ContactSensorState.CONTACT_NOT_DETECTED;

async function closedUp(car: PlatformAccessory): Promise<unknown> {
  const service = car.getServiceById(Service.ContactSensor, 'closed-up');
  assert.ok(service, 'a Closed Up sensor');
  try {
    return await (service.getCharacteristic(Characteristic.ContactSensorState) as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest();
  } catch (status) {
    return { status };
  }
}

for (const api of ['v3', 'v2'] as const) {
  describe(`Closed Up on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let carId: string;
    let userId: string;
    const car = () => accessoryNamed(world.api, 'Model 3');
    const view = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!;
    const start = (config: Record<string, unknown> = {}, again?: { storage: string; cache: unknown[] }) =>
      (api === 'v3' ? startConnected(emu, userId, { config, ...again }) : startWithTokens(emu, userId, { config, ...again }));

    before(async () => {
      emu = await startEmulator();
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true }).id;
      world = await start();
      await waitFor('the first read', async () => (await closedUp(car())) === CLOSED);
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('is named for Siri and the Home app: "Model 3 Closed Up"', () => {
      const service = car().getServiceById(Service.ContactSensor, 'closed-up')!;
      assert.equal(service.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3 Closed Up');
      assert.ok(car().getServiceById(Service.ContactSensor, 'plugged-in'), 'beside the Plugged In sensor');
    });

    it('a door and the trunk open: open in HomeKit, named on the page, at no extra request', async () => {
      emu.resetLog();
      emu.updateVehicle(carId, { doors: { frontRight: 'OPEN' }, trunk: 'OPEN' });
      await world.platform.refreshNow(carId);
      await waitFor('the sensor to open', async () => (await closedUp(car())) === OPEN);
      assert.deepEqual(view().openings, ['front right door', 'trunk']);
      const billed = emu.requests.filter((r) => r.vehicleId === carId && r.billed > 0).reduce((n, r) => n + r.billed, 0);
      assert.equal(billed, api === 'v3' ? 1 : 3, 'the read costs what it did without the sensor');
    });

    it('everything closed again: closed', async () => {
      emu.updateVehicle(carId, { doors: { frontRight: 'CLOSED' }, trunk: 'CLOSED' });
      await world.platform.refreshNow(carId);
      await waitFor('the sensor to close', async () => (await closedUp(car())) === CLOSED);
      assert.deepEqual(view().openings, []);
    });

    it('switched off in the config, the cached sensor goes', async () => {
      const again = { storage: world.storage, cache: world.api.serializeCache() };
      await world.shutdown();
      world = await start({ services: { closedUp: false } }, again);
      assert.equal(world.api.serializeCache().length, 2, 'the same cached accessory (beside the Smartcar Connection sensor)');
      await waitFor('the car', () => world.platform.status()[0]?.vehicles[0]);
      assert.equal(car().getServiceById(Service.ContactSensor, 'closed-up'), undefined);
      assert.equal(view().openings, undefined);
    });
  });
}
