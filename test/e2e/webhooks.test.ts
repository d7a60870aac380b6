// Webhooks end to end: a real Homebridge (1.x and 2.x) with the built plugin, the emulator as Smartcar
// delivering signed webhooks 4.0 to the plugin's receiver over loopback, and a paired HomeKit controller.
// A change in the car reaches HomeKit as an event, with no billed request; a forged delivery changes
// nothing; a flood of deliveries leaves Homebridge answering HAP reads (the latency is printed).
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { defaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { carsOf, characteristicId, findCharacteristic, HAP, HapController, type HapAccessory } from '../helpers/hap-controller.js';
import { HomebridgeProcess, homebridgeLegs, makeStorage, randomUsername, type HomebridgeLeg } from '../helpers/homebridge-process.js';
import { freePort } from '../browser/support.js';
import { until } from '../helpers/wait.js';

const APPLICATION_ID = 'e2e-webhook-app';
const V3_CLIENT_ID = 'client_e2e_webhooks';
const V3_CLIENT_SECRET = 'e2e-webhooks-secret-do-not-log';
const FLOOD = 600;
const FLOOD_IN_FLIGHT = 16;
const { legs, missing } = homebridgeLegs();

for (const note of missing) {
  void describe(note, { skip: true }, () => undefined);
}
for (const leg of legs) {
  describe(`webhooks end to end on ${leg.name}`, () => runLeg(leg));
}

function byModel(accessories: HapAccessory[], model: string): HapAccessory {
  const found = accessories.find((a) => {
    const m = findCharacteristic(a, HAP.AccessoryInformation, HAP.Model)?.value;
    return typeof m === 'string' && m.includes(model);
  });
  assert.ok(found, `an accessory for ${model}`);
  return found;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

function runLeg(leg: HomebridgeLeg): void {
  let emu: SmartcarEmulator;
  let fleet: ReturnType<typeof defaultFleet>;
  let hb: HomebridgeProcess;
  let hap: HapController;
  let bev: HapAccessory;
  let webhookUrl: string;
  const username = randomUsername();

  const level = async (): Promise<unknown> => Object.values(await hap.read([characteristicId(bev, HAP.Battery, HAP.BatteryLevel)]))[0];

  before(async () => {
    const [setupPort, webhookPort] = [await freePort(), await freePort()];
    emu = await SmartcarEmulator.start({
      clientId: APPLICATION_ID, clientSecret: 'v2-unused', redirectUris: [`http://localhost:${setupPort}/callback`],
      v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }, vehicleThrottle: null,
      // Retries within seconds; Smartcar's 15 s answer limit becomes 750 ms, which a loaded machine still meets.
      webhookTimeScale: 0.05,
    });
    fleet = defaultFleet(emu);
    webhookUrl = `http://127.0.0.1:${webhookPort}/smartcar/webhook`;
    emu.addWebhook({ name: 'Homebridge', callbackUri: webhookUrl });
    emu.connect(fleet.user.id);
    const storage = await makeStorage({
      platform: 'Smartcar', name: 'Smartcar', applicationId: APPLICATION_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET,
      setupPort, setupBind: '127.0.0.1', webhookUrl, managementToken: emu.managementToken, webhookPort, webhookBind: '127.0.0.1',
    }, username);
    hb = await HomebridgeProcess.start(leg, storage, {
      SMARTCAR_API_ORIGIN: emu.origin, SMARTCAR_AUTH_ORIGIN: emu.origin, SMARTCAR_CONNECT_ORIGIN: emu.origins.connect,
      SMARTCAR_IAM_ORIGIN: emu.origins.iam, SMARTCAR_API_V3_ORIGIN: emu.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
    });
    await hb.waitForLog(/Webhook receiver listening on /);
    hap = await HapController.pair(username, hb.port);
    bev = await until('the Model 3 accessory', async () => {
      const list = await hap.accessories();
      return carsOf(list).length === 3 ? byModel(list, 'Model 3') : undefined;
    });
  });

  after(async () => {
    await hap?.close().catch(() => undefined);
    await hb?.stop('SIGTERM');
    await emu?.close();
  });

  it('every car is subscribed, and its first delivery arrives', async () => {
    await until('three subscriptions', () => (emu.subscriptions().length === 3 ? true : undefined));
    await until('the first deliveries acknowledged', () => (emu.deliveries.filter((d) => d.ok).length >= 3 ? true : undefined));
    await until('the Model 3 at 76 %', async () => ((await level()) === 76 ? true : undefined));
  });

  it('a change in the car reaches HomeKit as an event by webhook, at no request cost', async () => {
    const id = characteristicId(bev, HAP.Battery, HAP.BatteryLevel);
    await hap.subscribe([id]);
    await emu.settleDeliveries();
    const billed = emu.billedCount(fleet.bev.id);
    const started = Date.now();
    emu.updateVehicle(fleet.bev.id, { battery: { percentRemaining: 0.51, rangeKm: 250, capacityKwh: 75 } });
    await hap.waitForEvent(id, (v) => v === 51, 10_000);
    console.log(`# ${leg.name}: car change → HomeKit event in ${Date.now() - started} ms`);
    await emu.settleDeliveries();
    assert.equal(emu.billedCount(fleet.bev.id), billed, 'no billed request for it');
  });

  it('a forged delivery is refused and changes nothing in HomeKit', async () => {
    const body = JSON.stringify({
      eventId: randomUUID(), eventType: 'VEHICLE_STATE',
      data: { user: { id: fleet.user.id }, vehicle: { id: fleet.bev.id }, signals: [{ code: 'tractionbattery-stateofcharge', body: { unit: 'percent', value: 3 }, meta: { oemUpdatedAt: Date.now() + 60_000 } }] },
      meta: { version: '4.0', mode: 'LIVE', deliveredAt: Date.now() },
    });
    const res = await fetch(webhookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'sc-signature': createHmac('sha256', 'guessed').update(body).digest('hex') } });
    assert.equal(res.status, 401);
    assert.equal(await level(), 51);
  });

  it(`a flood of ${FLOOD} signed deliveries leaves Homebridge answering HAP reads`, async () => {
    const id = characteristicId(bev, HAP.Battery, HAP.BatteryLevel);
    const latencies: number[] = [];
    let flooding = true;
    const reader = (async () => {
      while (flooding) {
        const t = Date.now();
        await hap.read([id]);
        latencies.push(Date.now() - t);
      }
    })();
    let next = 0;
    const statuses: number[] = [];
    const start = Date.now();
    const sender = async (): Promise<void> => {
      while (next < FLOOD) {
        const i = next++;
        const body = JSON.stringify({
          eventId: randomUUID(), eventType: 'VEHICLE_STATE',
          data: { user: { id: fleet.user.id }, vehicle: { id: fleet.bev.id }, signals: [{ code: 'tractionbattery-stateofcharge', body: { unit: 'percent', value: 20 + (i % 60) }, meta: { oemUpdatedAt: Date.now() + i } }] },
          meta: { version: '4.0', mode: 'LIVE', deliveredAt: Date.now() },
        });
        const res = await fetch(webhookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'sc-signature': createHmac('sha256', emu.managementToken).update(body).digest('hex') } });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_IN_FLIGHT }, sender));
    const floodMs = Date.now() - start;
    flooding = false;
    await reader;
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`# ${leg.name}: ${FLOOD} deliveries in ${floodMs} ms (${Math.round(FLOOD / (floodMs / 1000))}/s, ${FLOOD_IN_FLIGHT} in flight); `
      + `HAP reads during it: n=${sorted.length} p50=${percentile(sorted, 0.5)} ms p95=${percentile(sorted, 0.95)} ms max=${sorted.at(-1) ?? 0} ms`);
    assert.ok(statuses.every((s) => s === 200), 'every delivery acknowledged');
    assert.ok(sorted.length > 0, 'HAP reads were answered during the flood');
    assert.equal(await level(), 20 + ((FLOOD - 1) % 60), 'the newest value shows');
    assert.doesNotThrow(() => process.kill(hb.pid!, 0), 'Homebridge is still running');
  });
}
