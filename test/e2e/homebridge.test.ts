// End to end, the way owners meet the plugin: a real Homebridge (1.x and 2.x) with the built plugin,
// the emulator as Smartcar (API v3, the default, and v2), vehicles connected through the setup page,
// and a HomeKit controller that paired like an iPhone reading, writing and subscribing over HAP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { defaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { carsOf, characteristicId, CONNECTION_SENSOR, findCharacteristic, HAP, HapController, type HapAccessory } from '../helpers/hap-controller.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, randomUsername, type HomebridgeLeg } from '../helpers/homebridge-process.js';
import { REFRESH_NOW_DEBOUNCE_SECONDS } from '../../src/settings.js';
import { freePort } from '../browser/support.js';
import { connectThroughSetupPage, refreshNow } from '../helpers/setup-page.js';
import { until } from '../helpers/wait.js';

const CLIENT_ID = 'e2e-client';
const CLIENT_SECRET = 'e2e-secret-do-not-log';
const V3_CLIENT_ID = 'client_e2e';
const V3_CLIENT_SECRET = 'e2e-v3-secret-do-not-log';
type Api = 'v3' | 'v2';
const { legs, missing } = homebridgeLegs();

function byModel(accessories: HapAccessory[], model: string): HapAccessory {
  const found = accessories.find((a) => {
    const m = findCharacteristic(a, HAP.AccessoryInformation, HAP.Model)?.value;
    return typeof m === 'string' && m.includes(model);
  });
  assert.ok(found, `an accessory for ${model} (have: ${accessories.map((a) => a.name).join(', ')})`);
  return found;
}

for (const note of missing) {
  void describe(note, { skip: true }, () => undefined);
}

for (const leg of legs) {
  for (const api of ['v3', 'v2'] as const) {
    describe(`end to end on ${leg.name}, Smartcar API ${api}`, () => runLeg(leg, api));
  }
}

function runLeg(leg: HomebridgeLeg, api: Api): void {
  let emu: SmartcarEmulator;
  let fleet: ReturnType<typeof defaultFleet>;
  let hb: HomebridgeProcess;
  let hap: HapController;
  let storage: string;
  let setupUrl: string;
  const username = randomUsername();
  let env: Record<string, string>;
  let allLogs = '';

  before(async () => {
    const setupPort = await freePort();
    emu = await SmartcarEmulator.start({
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET,
      redirectUris: [`http://localhost:${setupPort}/callback`],
      autoApprove: { email: 'owner@example.com' },
      v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET },
    });
    fleet = defaultFleet(emu);
    setupUrl = `http://127.0.0.1:${setupPort}`;
    const credentials = api === 'v3'
      ? { applicationId: CLIENT_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }
      : { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    storage = await makeStorage({
      platform: 'Smartcar', name: 'Smartcar', ...credentials, mode: 'simulated', setupPort, setupBind: '127.0.0.1',
    }, username);
    env = {
      SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin, SMARTCAR_CONNECT_ORIGIN: emu.origins.connect,
      SMARTCAR_IAM_ORIGIN: emu.origins.iam, SMARTCAR_API_V3_ORIGIN: emu.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
    };
    hb = await HomebridgeProcess.start(leg, storage, env);
    await hb.waitForLog(/Setup page: /);
    hap = await HapController.pair(username, hb.port);
  });

  after(async () => {
    await hap?.close().catch(() => undefined);
    if (hb) {
      await hb.stop('SIGKILL');
      allLogs += hb.logs;
    }
    await emu?.close();
  });

  it('connects the emulator\'s cars through the setup page and shows their values over HAP', async () => {
    const landed = await connectThroughSetupPage(setupUrl);
    assert.match(landed, /connected=3/, 'the owner lands on the status page with 3 cars connected');
    const accessories = await until('three vehicle accessories', async () => {
      const list = await hap.accessories();
      return carsOf(list).length === 3 ? list : undefined;
    });
    const bev = byModel(accessories, 'Model 3');
    const ice = byModel(accessories, 'F-150');
    // Beside the cars, the plugin's one Smartcar Connection sensor: closed, nothing needs the owner.
    const sensor = accessories.find((a) => a.name === CONNECTION_SENSOR);
    assert.ok(sensor, 'the Smartcar Connection sensor over HAP');
    assert.deepEqual(Object.values(await hap.read([characteristicId(sensor, HAP.ContactSensor, HAP.ContactSensorState)])), [0]);
    // The first refresh after Connect fills the values; until then HAP answers from the cache.
    await until('the Model 3\'s battery level', async () => {
      const v = await hap.read([characteristicId(bev, HAP.Battery, HAP.BatteryLevel)]);
      return Object.values(v)[0] === 76 ? true : undefined;
    });
    const values = await hap.read([
      characteristicId(bev, HAP.LockMechanism, HAP.LockCurrentState), characteristicId(bev, HAP.Battery, HAP.ChargingState),
      characteristicId(bev, HAP.ContactSensor, HAP.ContactSensorState), characteristicId(bev, HAP.Battery, HAP.StatusLowBattery),
    ]);
    assert.deepEqual(Object.values(values), [0, 1, 0, 0], 'BEV: unlocked, charging, plugged in, battery normal');
    let lastIce = '';
    await until(() => `the F-150's fuel, lock and charging values [40, 1, 2] (last read ${lastIce})`, async () => {
      const v = await hap.read([characteristicId(ice, HAP.Battery, HAP.BatteryLevel), characteristicId(ice, HAP.LockMechanism, HAP.LockCurrentState), characteristicId(ice, HAP.Battery, HAP.ChargingState)]);
      lastIce = JSON.stringify(Object.values(v));
      return lastIce === JSON.stringify([40, 1, 2]) ? true : undefined;
    });
    // HAP has no subtypes: the Plugged In sensor is told from Closed Up by its name.
    const pluggedIn = ice.services.some((sv) => sv.type === HAP.ContactSensor && sv.characteristics.some((c) => c.type === HAP.Name && String(c.value).endsWith('Plugged In')));
    assert.equal(pluggedIn, false, 'no plugged-in sensor without read_charge');
    assert.ok(ice.services.some((sv) => sv.type === HAP.ContactSensor && sv.characteristics.some((c) => c.type === HAP.Name && String(c.value) === 'F-150 Closed Up')), 'its Closed Up sensor');
    // Subscribe once, like the Home app: hap-controller 0.10 spins on a second subscribe over the
    // same event connection (its event parser never resets after a non-EVENT reply with a body).
    await hap.subscribe([
      characteristicId(bev, HAP.LockMechanism, HAP.LockCurrentState), characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState),
      characteristicId(bev, HAP.ContactSensor, HAP.ContactSensorState), characteristicId(bev, HAP.Battery, HAP.BatteryLevel), characteristicId(bev, HAP.Battery, HAP.StatusLowBattery),
    ]);
  });

  it('locks over HAP: the emulator receives LOCK and LockCurrentState follows by event', async () => {
    const bev = byModel(await hap.accessories(), 'Model 3');
    const current = characteristicId(bev, HAP.LockMechanism, HAP.LockCurrentState);
    hap.clearEvents();
    const started = Date.now();
    await hap.write({ [characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState)]: 1 });
    const writeMs = Date.now() - started;
    await hap.waitForEvent(current, (v) => v === 1);
    assert.equal(emu.vehicle(fleet.bev.id).locked, true, 'the car is locked in the emulator');
    const command = api === 'v3' ? '/commands/security/lock' : '/security';
    assert.ok(emu.requests.some((r) => r.method === 'POST' && r.path.endsWith(command) && r.vehicleId === fleet.bev.id && r.status === 200));
    assert.ok(writeMs < 2_000, `the write was answered quickly (${writeMs} ms)`);

    hap.clearEvents();
    await hap.write({ [characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState)]: 0 });
    await hap.waitForEvent(current, (v) => v === 0);
    assert.equal(emu.vehicle(fleet.bev.id).locked, false);
  });

  it('a lock refused with a door open reverts the target over HAP and the log says why', async () => {
    const bev = byModel(await hap.accessories(), 'Model 3');
    const target = characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState);
    emu.updateVehicle(fleet.bev.id, { doors: { frontLeft: 'OPEN' } });
    hap.clearEvents();
    await hap.write({ [target]: 1 });
    await hap.waitForEvent(target, (v) => v === 0);
    await hb.waitForLog(/doors and the trunk are fully closed/i);
    assert.equal(emu.vehicle(fleet.bev.id).locked, false);
    emu.updateVehicle(fleet.bev.id, { doors: { frontLeft: 'CLOSED' } });
  });

  it('follows the car after a refresh, also right after a lock: unplugged and a battery drop arrive as HAP events', async () => {
    const bev = byModel(await hap.accessories(), 'Model 3');
    const contact = characteristicId(bev, HAP.ContactSensor, HAP.ContactSensorState);
    const level = characteristicId(bev, HAP.Battery, HAP.BatteryLevel);
    const low = characteristicId(bev, HAP.Battery, HAP.StatusLowBattery);
    const current = characteristicId(bev, HAP.LockMechanism, HAP.LockCurrentState);
    // "Refresh now" is debounced for a minute after a read of everything (a double click must not bill
    // twice). Let that minute pass since the last full read, the way an owner's day would.
    const fullRead = (r: (typeof emu.requests)[number]): boolean => r.vehicleId === fleet.bev.id && r.status === 200
      && (api === 'v3' ? r.method === 'GET' && r.path.endsWith('/signals') : r.path.endsWith('/batch') && r.billed === 3);
    const lastFull = () => Math.max(...emu.requests.filter(fullRead).map((r) => r.at));
    while (emu.clock.now() - lastFull() < REFRESH_NOW_DEBOUNCE_SECONDS * 1000 + 1_000) {
      await new Promise((r) => setTimeout(r, 500));
    }
    // A lock now: its confirming read reads the lock alone, so the level and plug state stay old...
    hap.clearEvents();
    await hap.write({ [characteristicId(bev, HAP.LockMechanism, HAP.LockTargetState)]: 1 });
    await hap.waitForEvent(current, (v) => v === 1);
    const car = emu.vehicle(fleet.bev.id);
    emu.updateVehicle(fleet.bev.id, {
      charge: { ...car.charge!, isPluggedIn: false, state: 'NOT_CHARGING' },
      battery: { ...car.battery!, percentRemaining: 0.15 },
    });
    // ...and Refresh now, pressed at once, must read them rather than call it "refreshed recently".
    assert.equal(await refreshNow(setupUrl), 'queued', 'not swallowed by the debounce after a partial read');
    await hap.waitForEvent(contact, (v) => v === 1);
    await hap.waitForEvent(level, (v) => v === 15);
    await hap.waitForEvent(low, (v) => v === 1);
  });

  it('restarts on the same storage: same accessories, cached values, no Smartcar call', async () => {
    const beforeList = await hap.accessories();
    const bevBefore = byModel(beforeList, 'Model 3');
    await hap.close();
    const stopped = await hb.stop('SIGTERM');
    allLogs += hb.logs;
    assert.ok(stopped.ms < 8_000, `Homebridge exited ${stopped.ms} ms after SIGTERM`);
    await assert.rejects(fetch(`${setupUrl}/`), 'the setup server is closed');

    emu.resetLog();
    hb = await HomebridgeProcess.start(leg, storage, env);
    // The setup page comes up after launch, a moment after HAP: the next test presses Refresh now on it.
    await hb.waitForLog(/Setup page: /);
    hap = HapController.connect(username, hb.port, hap.keys);
    const afterList = await hap.accessories();
    assert.equal(afterList.length, beforeList.length, 'no duplicates, none lost');
    const bev = byModel(afterList, 'Model 3');
    assert.equal(bev.aid, bevBefore.aid, 'the same accessory (same UUID → same aid)');
    const values = await hap.read([characteristicId(bev, HAP.Battery, HAP.BatteryLevel), characteristicId(bev, HAP.ContactSensor, HAP.ContactSensorState)]);
    assert.deepEqual(Object.values(values), [15, 1], 'cached values served at once');
    if (api === 'v2') {
      // Fresh cached data: not even the (unbilled) vehicle list is asked for until the next planned read.
      assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.path}`), [], 'no Smartcar call at all after the restart');
    } else {
      // v3 lists the application's connections (unbilled) to find cars connected elsewhere; nothing billed.
      assert.deepEqual(emu.requests.filter((r) => r.billed > 0 || (r.host === 'v3' && r.path !== '/v3/connections')).map((r) => `${r.method} ${r.path}`), [],
        'no billed Smartcar call after the restart');
    }
  });

  it('data the car recorded days ago shows a fault over HAP, however fresh the read', async () => {
    const ice = byModel(await hap.accessories(), 'F-150');
    const faults = [characteristicId(ice, HAP.LockMechanism, HAP.StatusFault), characteristicId(ice, HAP.Battery, HAP.StatusFault)];
    assert.deepEqual(Object.values(await hap.read(faults)), [0, 0], 'current data: no fault');
    // Parked underground since three days: Smartcar answers at once, with what the car reported then.
    emu.updateVehicle(fleet.ice.id, { dataAt: emu.clock.now() - 3 * 24 * 3600_000 });
    const before = emu.requests.filter((r) => r.vehicleId === fleet.ice.id && r.billed > 0).length;
    // The F-150's own Refresh now, once its debounce since the last full read (before the restart) is
    // over: "Refresh all" would be taken as soon as any one car's minute is up.
    await until('Refresh now to be taken', async () => ((await refreshNow(setupUrl, fleet.ice.id)) === 'queued' ? true : undefined), 90_000);
    await until('the F-150 read', () => (emu.requests.filter((r) => r.vehicleId === fleet.ice.id && r.billed > 0).length > before ? true : undefined));
    await until('both F-150 services flagged over HAP', async () => (JSON.stringify(Object.values(await hap.read(faults))) === '[1,1]' ? true : undefined));
  });

  it('stops promptly on SIGTERM with its server closed, and never logged a secret', async () => {
    await hap.close();
    const stopped = await hb.stop('SIGTERM');
    allLogs += hb.logs;
    assert.ok(stopped.ms < 8_000, `exited ${stopped.ms} ms after SIGTERM`);
    await assert.rejects(fetch(`${setupUrl}/`));
    assert.ok(!allLogs.includes(CLIENT_SECRET) && !allLogs.includes(V3_CLIENT_SECRET), 'client secret never logged');
    const tokens = emu.state.issuedTokens();
    assert.ok(api === 'v3' || tokens.length >= 2, 'the emulator issued tokens during the run');
    assert.deepEqual(tokens.filter((t) => allLogs.includes(t)), [], 'no issued token in the Homebridge output');
    assert.doesNotMatch(allLogs, /access_token|refresh_token|Bearer [\w-]{10,}/i);
  });
}
