// The At Home sensor through the real platform on both APIs: occupancy detected while the car is at the
// owner's home point (or, v3, where the car's maker says it is home); nothing until one is known; the
// position costs a request only where the API bills it (v2 /location), and it is never logged or cached.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { pluginConfig, pluginConfigV3, startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { freePort } from '../helpers/free-port.js';
import { VirtualTime } from '../helpers/virtual-time.js';
import { connectThroughSetupPage } from '../helpers/setup-page.js';

const { Service, Characteristic } = hap;
const HOME = { latitude: 52.2385, longitude: 0.1546 };
const AWAY = { latitude: 52.2053, longitude: 0.1218 }; // about 4 km off
const sensor = (car: PlatformAccessory) => car.getServiceById(Service.OccupancySensor, 'at-home');

async function occupancy(car: PlatformAccessory): Promise<unknown> {
  try {
    return await (sensor(car)!.getCharacteristic(Characteristic.OccupancyDetected) as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest();
  } catch (status) {
    return { status };
  }
}

for (const api of ['v3', 'v2'] as const) {
  describe(`At Home on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let userId: string;
    let carId: string;
    const car = () => accessoryNamed(world.api, 'Model 3');
    const view = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId);
    const start = (config: Record<string, unknown> = {}) => (api === 'v3' ? startConnected(emu, userId, { config }) : startWithTokens(emu, userId, { config }));
    const readOnce = async (): Promise<number> => {
      const at = view()?.lastRefreshAt ?? 0;
      const from = emu.requests.length;
      await world.platform.refreshNow(carId);
      await waitFor('the read', () => (view()?.lastRefreshAt ?? 0) > at, 15_000);
      return emu.requests.slice(from).filter((r) => r.vehicleId === carId).reduce((n, r) => n + r.billed, 0);
    };
    const homeConfig = { homeLatitude: HOME.latitude, homeLongitude: HOME.longitude, homeRadiusMeters: 150 };

    before(async () => {
      emu = await startEmulator();
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, location: HOME }).id;
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('no home point (and no word from the car): no sensor, and v2 reads no position', async () => {
      world = await start();
      await waitFor('the first read', () => view()?.lastRefreshAt);
      assert.equal(sensor(car()), undefined);
      assert.equal(view()!.atHome, undefined);
      assert.ok(!emu.requests.some((r) => r.path.endsWith('/location')), 'no /location billed for nothing');
    });

    it('with a home point: "Model 3 At Home" detects the car parked there; v2 pays one request more per read, v3 nothing', async () => {
      await world.shutdown();
      world = await start(homeConfig);
      await waitFor('the sensor', async () => sensor(car()) !== undefined && (await occupancy(car())) === 1);
      assert.equal(sensor(car())!.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3 At Home');
      assert.equal(view()!.atHome, true);
      assert.equal(await readOnce(), api === 'v3' ? 1 : 4, 'the read with the position');
    });

    it('the car drives off: away; back home: at home again; pushed to HomeKit', async () => {
      emu.updateVehicle(carId, { location: AWAY });
      await readOnce();
      await waitFor('away', () => sensor(car())!.getCharacteristic(Characteristic.OccupancyDetected).value === 0);
      assert.equal(view()!.atHome, false);
      emu.updateVehicle(carId, { location: { latitude: HOME.latitude + 0.0009, longitude: HOME.longitude } }); // ~100 m: the street
      await readOnce();
      await waitFor('home', () => sensor(car())!.getCharacteristic(Characteristic.OccupancyDetected).value === 1);
    });

    it('the position is never logged and never cached: only the verdict is kept', () => {
      const text = world.logs.text();
      for (const coordinate of [HOME.latitude, HOME.longitude, AWAY.latitude, AWAY.longitude]) {
        assert.ok(!text.includes(String(coordinate)), `${coordinate} in the log`);
      }
      const cache = JSON.stringify(world.api.serializeCache());
      assert.ok(!cache.includes(String(AWAY.latitude)) && !cache.includes('"latitude"'), 'no position in the cached accessory');
      assert.ok(cache.includes('"atHome":true'));
      assert.ok(!JSON.stringify(world.platform.status()).includes(String(HOME.longitude)), 'no position on the setup page');
    });

    it('switched off: no sensor and no position read', async () => {
      await world.shutdown();
      world = await start({ ...homeConfig, services: { atHome: false } });
      const from = emu.requests.length;
      await readOnce();
      assert.equal(sensor(car()), undefined);
      assert.ok(!emu.requests.slice(from).some((r) => r.path.endsWith('/location')));
    });

    if (api === 'v3') {
      it('v3: the car\'s own word counts without a home point, and wins over it', async () => {
        emu.updateVehicle(carId, { oemHome: AWAY });
        await world.shutdown();
        world = await start();
        await readOnce();
        await waitFor('the sensor from the car\'s own verdict', async () => sensor(car()) !== undefined && (await occupancy(car())) === 0);
        await world.shutdown();
        world = await start(homeConfig);
        await readOnce();
        assert.equal(await occupancy(car()), 0, 'the car says it is not at its home, whatever our point says');
        emu.updateVehicle(carId, { location: AWAY });
        await readOnce();
        await waitFor('at the home the car knows', async () => (await occupancy(car())) === 1);
      });
    }
  });
}

// Connect is where the permission comes from: a car connected through the setup page can only have At
// Home if Connect asked for its location, and Connect must not ask for it once At Home is switched off.
for (const api of ['v3', 'v2'] as const) {
  describe(`At Home needs Connect to ask for the location (API ${api})`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform | undefined;
    let port: number;
    const redirectUri = () => `http://localhost:${port}/callback`;

    before(async () => {
      // Smartcar sends the browser back to the setup page's own callback: a port of its own, registered.
      port = await freePort();
      emu = await startEmulator({ redirectUris: [redirectUri()] });
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    const startFresh = async (config: Record<string, unknown>) => {
      await world?.shutdown();
      const own = { setupPort: port, redirectUri: redirectUri(), ...config };
      world = await startPlatform(api === 'v3' ? pluginConfigV3(own) : pluginConfig(own));
      return /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
    };

    it('At Home on: Connect asks for read_location, and a car connected on the setup page shows "Model 3 At Home"', async () => {
      const email = `${api}-on@example.com`;
      const userId = emu.addUser({ email, password: 'pw' }).id;
      emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, location: HOME });
      emu.autoApprove = { email };
      const setupUrl = await startFresh({ homeLatitude: HOME.latitude, homeLongitude: HOME.longitude });
      assert.ok(new URL(world!.platform.authUrl('s')).searchParams.get('scope')!.split(' ').includes('read_location'));
      assert.match(await connectThroughSetupPage(setupUrl), /connected=1/);
      const car = await waitFor('the car', () => world!.platform.status().flatMap((u) => u.vehicles).find((v) => v.name === 'Model 3'), 15_000);
      assert.ok(car.permissions.includes('read_location'), `granted: ${car.permissions.join(', ')}`);
      await waitFor('the At Home sensor, detecting the car at home', async () => {
        const acc = accessoryNamed(world!.api, 'Model 3');
        return sensor(acc) !== undefined && (await occupancy(acc)) === 1;
      }, 15_000);
    });

    it('At Home off: Connect does not ask for the location', async () => {
      await startFresh({ services: { atHome: false } });
      assert.ok(!new URL(world!.platform.authUrl('s')).searchParams.get('scope')!.split(' ').includes('read_location'));
    });
  });
}

describe('At Home for a car connected before Connect asked for the location', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('with a home point, the page names the permission to grant; without one it says nothing', async () => {
    emu = await startEmulator();
    const userId = emu.addUser({ email: 'before@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, location: HOME }).id;
    const scope = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge', 'control_charge'];
    const problems = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)?.problems ?? [];
    world = await startConnected(emu, userId, { scope });
    await waitFor('the car', () => world.platform.status().flatMap((u) => u.vehicles).length === 1);
    assert.ok(!problems().some((p) => p.includes('read_location')), problems().join('\n'));
    await world.shutdown();
    world = await startConnected(emu, userId, { scope, config: { homeLatitude: HOME.latitude, homeLongitude: HOME.longitude } });
    await waitFor('the car', () => world.platform.status().flatMap((u) => u.vehicles).length === 1);
    assert.ok(problems().includes('Grant read_location (connect again) so At Home can tell whether the car is home'), problems().join('\n'));
    assert.equal(sensor(accessoryNamed(world.api, 'Model 3')), undefined);
    const from = emu.requests.length;
    await assert.rejects(world.platform.carPosition(carId), /Model 3 did not grant read_location: connect it again/);
    assert.equal(emu.requests.slice(from).filter((r) => r.vehicleId === carId).length, 0, '"Use its position as home" sends nothing without the permission');
  });
});

// v2 bills the position as a request of its own, and most v2 reads between full ones are charge-only.
// While the car is unplugged (out, or about to come home) those reads carry the position too, so an
// arrival shows with the next of them instead of waiting for a full read; plugged in, they leave it out.
describe('At Home on API v2 between full reads', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };
  let time: VirtualTime;
  let uninstall: () => void;

  after(async () => {
    await world?.shutdown();
    uninstall?.();
    await emu?.close();
  });

  it('unplugged, the charge-only reads bring the position: the car coming home shows before the next full read', async () => {
    emu = await startEmulator();
    const userId = emu.addUser({ email: 'v2-arrive@example.com', password: 'pw' }).id;
    const carId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, location: AWAY,
      battery: { percentRemaining: 0.6, rangeKm: 300, capacityKwh: 75 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
    const start = Date.UTC(2026, 4, 4, 6);
    emu.clock.set(start);
    time = new VirtualTime(emu);
    uninstall = time.install();
    world = await startWithTokens(emu, userId, { config: { homeLatitude: HOME.latitude, homeLongitude: HOME.longitude } });
    const car = accessoryNamed(world.api, 'Model 3');
    // Two days away and unplugged: the policy reads between full reads.
    await time.runUntil(start + 2 * 24 * 3600_000);
    assert.equal(await occupancy(car), 0, 'away');
    const batches = () => emu.requests.filter((r) => r.vehicleId === carId && r.path.endsWith('/batch') && r.status === 200);
    const fullCost = 4; // lock, battery, charge and location
    assert.ok(batches().some((r) => r.billed < fullCost), `some reads are charge-only: ${batches().map((r) => r.billed).join(',')}`);
    assert.ok(batches().filter((r) => r.billed < fullCost).every((r) => r.billed === 2), 'each of them reads the charge and the position');
    const from = emu.requests.length;
    emu.updateVehicle(carId, { location: HOME });
    let seenAt: number | undefined;
    await time.runUntil(time.now() + 24 * 3600_000, async () => {
      if (seenAt === undefined && (await occupancy(car)) === 1) {
        seenAt = time.now();
      }
    });
    assert.ok(seenAt !== undefined, 'At Home shows the car home');
    const reads = emu.requests.slice(from).filter((r) => r.vehicleId === carId && r.path.endsWith('/batch') && r.status === 200 && r.receivedAt <= seenAt!);
    assert.ok(reads.length > 0);
    assert.equal(reads.at(-1)!.billed, 2, `a charge-only read brought it (${reads.map((r) => r.billed).join(',')})`);
    // Plugged in, the car stays where it charges: those reads leave the position out again.
    // (Fully charged, so no level either: a charge-only read is the charge alone.)
    emu.updateVehicle(carId, { charge: { isPluggedIn: true, state: 'FULLY_CHARGED', limit: 0.9 } });
    const plugged = emu.requests.length;
    await time.runUntil(time.now() + 24 * 3600_000);
    // The first read after the plug-in may still be one planned while unplugged.
    const after = emu.requests.slice(plugged).filter((r) => r.vehicleId === carId && r.path.endsWith('/batch') && r.status === 200).slice(1);
    const chargeOnly = after.filter((r) => r.billed < fullCost);
    assert.ok(chargeOnly.length > 0, `charge-only reads while plugged in: ${after.map((r) => r.billed).join(',')}`);
    assert.ok(chargeOnly.every((r) => r.billed === 1), `the charge alone, no position: ${after.map((r) => r.billed).join(',')}`);
  });
});
