// The Charging switch through the real platform on both APIs: on while the car charges; switched, it
// starts or stops charging with one command, answered at once and settled by the car (a refusal turns
// it back with the car's reason); the permission, the car and the config decide whether it exists.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { PlatformAccessory } from 'homebridge';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const { Service, Characteristic } = hap;

function switchOf(car: PlatformAccessory): ReturnType<PlatformAccessory['getServiceById']> {
  return car.getServiceById(Service.Switch, 'charging');
}

/** What a controller reading the switch gets: true/false, or the HAP status it is refused with. */
async function on(car: PlatformAccessory): Promise<unknown> {
  const service = switchOf(car);
  assert.ok(service, 'a Charging switch');
  try {
    return await (service.getCharacteristic(Characteristic.On) as unknown as { handleGetRequest(): Promise<unknown> }).handleGetRequest();
  } catch (status) {
    return { status };
  }
}

/** A controller switching it: undefined when HomeKit got its answer, else the status. */
async function flip(car: PlatformAccessory, value: boolean): Promise<unknown> {
  try {
    await (switchOf(car)!.getCharacteristic(Characteristic.On) as unknown as { handleSetRequest(v: unknown): Promise<unknown> }).handleSetRequest(value);
    return undefined;
  } catch (status) {
    return { status };
  }
}

const fault = (car: PlatformAccessory): unknown => switchOf(car)!.getCharacteristic(Characteristic.StatusFault).value;

for (const api of ['v3', 'v2'] as const) {
  describe(`the Charging switch on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let carId: string;
    let iceId: string;
    let userId: string;
    const car = (): PlatformAccessory => accessoryNamed(world.api, 'Model 3');
    const view = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!;
    const start = (config: Record<string, unknown> = {}, again?: { storage?: string; cache?: unknown[]; scope?: string[] }) =>
      (api === 'v3' ? startConnected(emu, userId, { config, ...again }) : startWithTokens(emu, userId, { config, ...again }));
    const commands = (from: number) => emu.requests.slice(from).filter((r) => r.method === 'POST' && /\/charge$|\/commands\/charge\//.test(r.path));
    const warnings = (from: number) => world.logs.lines.slice(from).filter((l) => l.level === 'warn' || l.level === 'error');

    before(async () => {
      emu = await startEmulator();
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, charge: { isPluggedIn: true, state: 'NOT_CHARGING' } }).id;
      iceId = emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150', year: 2021 }).id;
      world = await start();
      await waitFor('the first read', async () => (await on(car())) === false);
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('is named for Siri and the Home app, "Model 3 Charging", and off while the car does not charge', () => {
      assert.equal(switchOf(car())!.getCharacteristic(Characteristic.ConfiguredName).value, 'Model 3 Charging');
      assert.equal(fault(car()), 0);
      assert.equal(switchOf(accessoryNamed(world.api, 'F-150')), undefined, 'a petrol car has none');
      assert.ok(emu.vehicle(iceId));
    });

    it('switched on: HomeKit is answered at once, one command starts charging, and the switch stays on', async () => {
      const from = emu.requests.length;
      const logFrom = world.logs.lines.length;
      assert.equal(await flip(car(), true), undefined, 'HomeKit gets its answer at once');
      assert.equal(await on(car()), true, 'on while the command is out');
      await waitFor('the car to charge', () => emu.vehicle(carId).charge?.state === 'CHARGING');
      await waitFor('the confirming read', () => emu.requests.slice(from).some((r) => /\/batch$|\/signals/.test(r.path) && r.status === 200 && r.vehicleId === carId));
      assert.equal(commands(from).length, 1, 'one command');
      assert.equal(await on(car()), true);
      assert.equal(fault(car()), 0);
      assert.equal(view().charging, 'CHARGING');
      assert.deepEqual(warnings(logFrom), []);
      assert.ok(world.logs.lines.slice(logFrom).some((l) => /Model 3: charging started/.test(l.message)));
    });

    it('switched off: charging stops', async () => {
      const from = emu.requests.length;
      assert.equal(await flip(car(), false), undefined);
      await waitFor('the car to stop', () => emu.vehicle(carId).charge?.state === 'NOT_CHARGING');
      assert.equal(commands(from).length, 1);
      await waitFor('the switch off', async () => (await on(car())) === false);
      assert.equal(fault(car()), 0);
    });

    it('refused by the car (not plugged in): the switch turns back, shows a fault, and the log and page say why and what to do', async () => {
      emu.updateVehicle(carId, { charge: { isPluggedIn: false } });
      await world.platform.refreshNow(carId);
      await waitFor('the unplugged car read', () => view().pluggedIn === false);
      const logFrom = world.logs.lines.length;
      assert.equal(await flip(car(), true), undefined, 'HomeKit gets its answer at once');
      await waitFor('the switch back off, flagged', async () => (await on(car())) === false && fault(car()) === 1, 15_000);
      assert.equal(emu.vehicle(carId).charge?.state, 'NOT_CHARGING', 'nothing changed at the car');
      const lines = warnings(logFrom);
      assert.equal(lines.length, 1, `one line for the owner:\n${world.logs.text()}`);
      assert.match(lines[0]!.message, /Model 3: Could not start charging: .*CHARGING_PLUG_NOT_CONNECTED.*fix that at the car/);
      assert.ok(view().problems.some((p) => /Could not start charging/.test(p)), `the page says it: ${JSON.stringify(view().problems)}`);
    });

    it('plugged in again and read: the fault is over without another try', async () => {
      emu.updateVehicle(carId, { charge: { isPluggedIn: true } });
      await world.platform.refreshNow(carId);
      await waitFor('the fault to clear', () => fault(car()) === 0);
      assert.ok(!view().problems.some((p) => /Could not start charging/.test(p)));
    });

    it('a full battery refuses to start: turned back with FULLY_CHARGED', async () => {
      emu.updateVehicle(carId, { charge: { state: 'FULLY_CHARGED' }, battery: { percentRemaining: 1 } });
      await world.platform.refreshNow(carId);
      await waitFor('the full car read', () => view().charging === 'FULLY_CHARGED');
      const logFrom = world.logs.lines.length;
      assert.equal(await flip(car(), true), undefined);
      await waitFor('the switch back off, flagged', async () => (await on(car())) === false && fault(car()) === 1, 15_000);
      assert.match(warnings(logFrom)[0]?.message ?? '', /FULLY_CHARGED/);
    });

    it('connected without control_charge: no switch, and the page says which permission to grant', async () => {
      await world.shutdown();
      world = await start({}, { scope: ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge', 'read_fuel'] });
      await waitFor('the car without control_charge', () => view() !== undefined && switchOf(car()) === undefined);
      assert.ok(view().problems.some((p) => /Grant control_charge/.test(p)), JSON.stringify(view().problems));
      assert.ok(car().getServiceById(Service.ContactSensor, 'plugged-in'), 'the Plugged In sensor stays');
    });

    it('switched off in the config: no switch, and no hint to grant what is not wanted', async () => {
      const again = { storage: world.storage, cache: world.api.serializeCache() };
      await world.shutdown();
      world = await start({ services: { charging: false } }, again);
      await waitFor('the car', () => view());
      assert.equal(switchOf(car()), undefined);
      assert.ok(!view().problems.some((p) => /control_charge/.test(p)));
    });
  });
}
