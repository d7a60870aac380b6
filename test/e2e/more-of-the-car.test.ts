// More of the car in Home, end to end (issue #15): a real Homebridge (1.x and 2.x) with the built plugin
// on API v3, the emulator delivering webhooks, and a paired HomeKit controller. The controller sees the
// Charging switch, the At Home and Closed Up sensors and the Smartcar Connection sensor; it stops the
// car's charging; the car drives home and has a door opened, and each change arrives as a HAP event.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { defaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { carsOf, CONNECTION_SENSOR, findCharacteristic, HAP, HapController, type HapAccessory, type HapService } from '../helpers/hap-controller.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, randomUsername, type HomebridgeLeg } from '../helpers/homebridge-process.js';
import { freePort } from '../browser/support.js';
import { until } from '../helpers/wait.js';

const APPLICATION_ID = 'e2e-more-app';
const V3_CLIENT_ID = 'client_e2e_more';
const V3_CLIENT_SECRET = 'e2e-more-secret-do-not-log';
const HOME = { latitude: 52.2385, longitude: 0.1546 };
const AWAY = { latitude: 52.2053, longitude: 0.1218 };
// HAP's short UUIDs for what this file adds to the controller helper's list.
const SWITCH = '49';
const ON = '25';
const OCCUPANCY_SENSOR = '86';
const OCCUPANCY_DETECTED = '71';
const { legs, missing } = homebridgeLegs();

for (const note of missing) {
  void describe(note, { skip: true }, () => undefined);
}
for (const leg of legs) {
  describe(`more of the car end to end on ${leg.name}`, () => runLeg(leg));
}

/** The service whose name (as HAP carries it) is exactly this: one car has two contact sensors. */
function named(acc: HapAccessory, type: string, name: string): HapService {
  const service = acc.services.find((s) => s.type === type && s.characteristics.some((c) => (c.type === HAP.Name || c.type === HAP.ConfiguredName) && c.value === name));
  assert.ok(service, `a ${name} service on ${acc.name}`);
  return service;
}

function id(service: HapService, type: string): string {
  const c = service.characteristics.find((x) => x.type === type);
  assert.ok(c, `characteristic ${type}`);
  return c.id;
}

function runLeg(leg: HomebridgeLeg): void {
  let emu: SmartcarEmulator;
  let fleet: ReturnType<typeof defaultFleet>;
  let hb: HomebridgeProcess;
  let hap: HapController;
  let list: HapAccessory[];
  let bev: HapAccessory;
  const username = randomUsername();
  const value = async (cid: string): Promise<unknown> => Object.values(await hap.read([cid]))[0];

  before(async () => {
    const [setupPort, webhookPort] = [await freePort(), await freePort()];
    emu = await SmartcarEmulator.start({
      clientId: APPLICATION_ID, clientSecret: 'v2-unused', redirectUris: [`http://localhost:${setupPort}/callback`],
      v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }, vehicleThrottle: null, webhookTimeScale: 0.05,
    });
    fleet = defaultFleet(emu);
    emu.updateVehicle(fleet.bev.id, { location: AWAY });
    const webhookUrl = `http://127.0.0.1:${webhookPort}/smartcar/webhook`;
    emu.addWebhook({ name: 'Homebridge', callbackUri: webhookUrl });
    emu.connect(fleet.user.id);
    const storage = await makeStorage({
      platform: 'Smartcar', name: 'Smartcar', applicationId: APPLICATION_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET,
      setupPort, setupBind: '127.0.0.1', webhookUrl, managementToken: emu.managementToken, webhookPort, webhookBind: '127.0.0.1',
      homeLatitude: HOME.latitude, homeLongitude: HOME.longitude,
    }, username);
    hb = await HomebridgeProcess.start(leg, storage, {
      SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin, SMARTCAR_CONNECT_ORIGIN: emu.origins.connect,
      SMARTCAR_IAM_ORIGIN: emu.origins.iam, SMARTCAR_API_V3_ORIGIN: emu.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
    });
    await hb.waitForLog(/Webhook receiver listening on /);
    hap = await HapController.pair(username, hb.port);
    // The At Home sensor appears with the first verdict, after the first read: the accessory list grows.
    list = await until('the cars with their At Home sensors', async () => {
      const all = await hap.accessories();
      const car = carsOf(all).find((a) => String(findCharacteristic(a, HAP.AccessoryInformation, HAP.Model)?.value).includes('Model 3'));
      return car?.services.some((s) => s.type === OCCUPANCY_SENSOR) === true ? all : undefined;
    }, 60_000);
    bev = carsOf(list).find((a) => String(findCharacteristic(a, HAP.AccessoryInformation, HAP.Model)?.value).includes('Model 3'))!;
    await until('the first deliveries acknowledged', () => (emu.deliveries.filter((d) => d.ok).length >= 3 ? true : undefined));
    // One subscription for everything watched below: hap-controller's client answers a second one on the
    // same persistent connection never, so it is asked once, like an iPhone opening the Home app.
    await hap.subscribe([id(named(bev, OCCUPANCY_SENSOR, 'Model 3 At Home'), OCCUPANCY_DETECTED), id(named(bev, HAP.ContactSensor, 'Model 3 Closed Up'), HAP.ContactSensorState)]);
  });

  after(async () => {
    await hap?.close().catch(() => undefined);
    await hb?.stop('SIGTERM');
    await emu?.close();
  });

  it('the controller sees the Charging switch on, the car away and closed up, and the Smartcar Connection closed', async () => {
    // HAP's bool travels as true/false or 1/0 (both are allowed on the wire).
    assert.ok([true, 1].includes(await value(id(named(bev, SWITCH, 'Model 3 Charging'), ON)) as boolean), 'charging: on');
    assert.equal(await value(id(named(bev, OCCUPANCY_SENSOR, 'Model 3 At Home'), OCCUPANCY_DETECTED)), 0);
    assert.equal(await value(id(named(bev, HAP.ContactSensor, 'Model 3 Closed Up'), HAP.ContactSensorState)), 0);
    const sensor = list.find((a) => a.name === CONNECTION_SENSOR);
    assert.ok(sensor, 'the Smartcar Connection accessory');
    assert.equal(await value(id(named(sensor, HAP.ContactSensor, CONNECTION_SENSOR), HAP.ContactSensorState)), 0);
  });

  it('switched off from HomeKit, the car stops charging; the switch stays off', async () => {
    const on = id(named(bev, SWITCH, 'Model 3 Charging'), ON);
    await hap.write({ [on]: false });
    await until('the car to stop charging', () => (emu.vehicle(fleet.bev.id).charge?.state === 'NOT_CHARGING' ? true : undefined), 20_000);
    await until('the switch off after the confirming read', async () => ([false, 0].includes(await value(on) as boolean) ? true : undefined), 20_000);
  });

  it('the car drives home: At Home detects it, as an event', async () => {
    const occupied = id(named(bev, OCCUPANCY_SENSOR, 'Model 3 At Home'), OCCUPANCY_DETECTED);
    hap.clearEvents();
    emu.updateVehicle(fleet.bev.id, { location: HOME });
    await hap.waitForEvent(occupied, (v) => v === 1, 20_000);
  });

  it('a door is opened: Closed Up opens, as an event; closed again, it closes', async () => {
    const closedUp = id(named(bev, HAP.ContactSensor, 'Model 3 Closed Up'), HAP.ContactSensorState);
    hap.clearEvents();
    emu.updateVehicle(fleet.bev.id, { doors: { frontLeft: 'OPEN' } });
    await hap.waitForEvent(closedUp, (v) => v === 1, 20_000);
    hap.clearEvents();
    emu.updateVehicle(fleet.bev.id, { doors: { frontLeft: 'CLOSED' } });
    await hap.waitForEvent(closedUp, (v) => v === 0, 20_000);
  });
}
