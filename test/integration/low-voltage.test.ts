// "12 V Battery" through the real platform: on v3 a car that reports its 12 V battery gets a second
// Battery service once a read brings the value, at no extra request, low at 50 % (the Home app warns);
// on v2, which has no such endpoint, none.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

async function value(car: PlatformAccessory, c: typeof Characteristic.BatteryLevel | typeof Characteristic.StatusLowBattery): Promise<unknown> {
  const service = car.getServiceById(Service.Battery, 'low-voltage');
  if (!service) {
    return 'no service';
  }
  return (service.getCharacteristic(c) as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest();
}

describe('12 V battery', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let carId: string;

  before(async () => {
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true }).id;
  });
  after(() => emu?.close());

  describe('on v3', () => {
    let world: StartedPlatform;
    const car = () => accessoryNamed(world.api, 'Model 3');
    before(async () => {
      world = await startConnected(emu, userId);
      await waitFor('the 12 V service with its level', async () => (await value(car(), Characteristic.BatteryLevel)) === 90);
    });
    after(() => world?.shutdown());

    it('"Model 3 12V Battery" beside the car\'s own Battery, normal at 90 %, on the page too', async () => {
      const service = car().getServiceById(Service.Battery, 'low-voltage')!;
      assert.equal(service.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3 12V Battery');
      assert.ok(car().getServiceById(Service.Battery, 'battery'), 'the traction battery stays');
      assert.equal(await value(car(), Characteristic.StatusLowBattery), Characteristic.StatusLowBattery.BATTERY_LEVEL_NORMAL);
      const view = world.platform.status()[0]!.vehicles[0]!;
      assert.equal(view.lowVoltagePercent, 90);
      assert.equal(view.lowVoltageLow, false);
    });

    it('at 30 % it is low in HomeKit, with no extra request for it', async () => {
      emu.resetLog();
      emu.updateVehicle(carId, { lowVoltageBattery: 0.3 });
      await world.platform.refreshNow(carId);
      await waitFor('the low warning', async () => (await value(car(), Characteristic.StatusLowBattery)) === Characteristic.StatusLowBattery.BATTERY_LEVEL_LOW);
      assert.equal(await value(car(), Characteristic.BatteryLevel), 30);
      assert.equal(emu.requests.filter((r) => r.vehicleId === carId && r.billed > 0).length, 1, 'one signals read, as without it');
      assert.equal(world.platform.status()[0]!.vehicles[0]!.lowVoltageLow, true);
    });
  });

  describe('on v2', () => {
    it('has no such endpoint: no 12 V service', async () => {
      const world = await startWithTokens(emu, userId);
      try {
        await waitFor('the first read', () => world.platform.status()[0]?.vehicles[0]?.lastRefreshAt);
        assert.equal(await value(accessoryNamed(world.api, 'Model 3'), Characteristic.BatteryLevel), 'no service');
      } finally {
        await world.shutdown();
      }
    });
  });
});
