// Webhooks through the real platform, over real HTTP to its receiver: the deliveries here are written
// and signed by the test (as Smartcar would sign them with the Application Management Token), so each
// hostile variant can be sent exactly. What the owner sees: a signed change reaches HomeKit at no
// request cost; forged, unsigned, replayed, older, oversized or malformed ones change nothing; Smartcar's
// errors show as faults and clear when resolved; polling pauses while deliveries arrive and resumes
// when they stop.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { timing } from '../../src/platform.js';
import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, read, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { pluginConfigV3, startConnected, startEmulator } from '../helpers/plugin-world.js';
import { freePort } from '../helpers/free-port.js';


const { Service, Characteristic } = hap;
const AMT = 'test-management-token-never-logged';

interface Sent {
  status: number;
  body: unknown;
}

async function post(url: string, raw: string | Buffer, headers: Record<string, string>): Promise<Sent> {
  const res = await fetch(url, { method: 'POST', body: raw, headers });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) as unknown };
}

function signed(url: string, payload: unknown, key = AMT): Promise<Sent> {
  const raw = JSON.stringify(payload);
  return post(url, raw, { 'content-type': 'application/json', 'sc-signature': createHmac('sha256', key).update(raw).digest('hex'), 'user-agent': 'Smartcar/4.0' });
}

function stateEvent(vehicleId: string, userId: string, soc: number, oemUpdatedAt: number, eventId: string = randomUUID(), mode = 'LIVE'): Record<string, unknown> {
  return {
    eventId, eventType: 'VEHICLE_STATE',
    data: {
      user: { id: userId }, vehicle: { id: vehicleId, make: 'TESLA', model: 'Model 3', year: 2022 },
      triggers: [{ code: 'tractionbattery-stateofcharge' }],
      signals: [
        { code: 'tractionbattery-stateofcharge', name: 'StateOfCharge', group: 'TractionBattery', body: { unit: 'percent', value: soc }, meta: { oemUpdatedAt, fetchedAt: oemUpdatedAt + 1000 } },
        { code: 'charge-ischargingcableconnected', name: 'IsChargingCableConnected', group: 'Charge', body: { value: true }, meta: { oemUpdatedAt } },
        { code: 'closure-islocked', name: 'IsLocked', group: 'Closure', body: { value: true }, meta: { oemUpdatedAt } },
      ],
    },
    meta: { version: '4.0', deliveryId: randomUUID(), deliveredAt: oemUpdatedAt + 2000, webhookId: 'w', webhookName: 'Homebridge', signalCount: 3, mode },
  };
}

describe('webhooks through the platform', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };
  let url: string;
  let userId: string;
  let bevId: string;
  const saved = { ...timing };

  const battery = () => read(accessoryNamed(world.api, 'Model 3'), Service.Battery, Characteristic.BatteryLevel);
  const signalReads = () => emu.requests.filter((r) => r.host === 'v3' && r.vehicleId === bevId && r.path.includes('/signals')).length;
  const carStatus = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === bevId)!;

  before(async () => {
    // Silence is judged within short bounds here, so polling's return is seen in seconds.
    Object.assign(timing, { silenceMinMs: 2500, silenceMaxMs: 2500, firstDeliveryWaitMs: 1000, persistEveryMs: 50 });
    // The emulator signs its own deliveries (the first after subscribing) with the same token.
    // Scaled so a retry comes within a second, yet the 15 s answer limit stays 300 ms: a loaded CI machine must not time out.
    emu = await startEmulator({ managementToken: AMT, webhookTimeScale: 0.02 });
    const user = emu.addUser({ email: 'owner@example.com', password: 'pw' });
    userId = user.id;
    bevId = emu.addVehicle(user.id, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    const port = await freePort();
    url = `http://127.0.0.1:${port}/smartcar/webhook`;
    emu.addWebhook({ name: 'Homebridge', callbackUri: url });
    world = await startConnected(emu, userId, { config: { webhookUrl: url, managementToken: AMT, webhookPort: port, webhookBind: '127.0.0.1' } });
    await waitFor('the first read', async () => (await battery()) === 76);
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
    Object.assign(timing, saved);
  });

  it('each served car is subscribed to the Dashboard webhook whose callback URI is webhookUrl', async () => {
    await waitFor('the subscription', () => emu.subscriptions().some((s) => s.vehicleId === bevId && s.userId === userId));
    assert.match(world.logs.text(), /Webhook receiver listening on 127\.0\.0\.1:\d+\/smartcar\/webhook/);
  });

  it('a signed change reaches HomeKit at once and costs nothing', async () => {
    const billed = emu.billedCount(bevId);
    const answer = await signed(url, stateEvent(bevId, userId, 42, emu.clock.now()));
    assert.equal(answer.status, 200);
    assert.equal(await battery(), 42);
    assert.equal(emu.billedCount(bevId), billed, 'no billed request');
    assert.match(carStatus().webhook ?? '', /^Webhook deliveries arrive/);
  });

  it('a retry of the same event (same eventId) is applied once', async () => {
    const e = stateEvent(bevId, userId, 43, emu.clock.now());
    assert.equal((await signed(url, e)).status, 200);
    assert.equal(await battery(), 43);
    // The same event once more, as if its value had been something else: only the first counts.
    const again = stateEvent(bevId, userId, 11, emu.clock.now() + 1000, e.eventId as string);
    assert.equal((await signed(url, again)).status, 200, 'a duplicate is acknowledged, or Smartcar retries it');
    assert.equal(await battery(), 43);
  });

  it('an older delivery arriving late does not turn the car back', async () => {
    const now = emu.clock.now();
    await signed(url, stateEvent(bevId, userId, 50, now));
    await signed(url, stateEvent(bevId, userId, 20, now - 60_000));
    assert.equal(await battery(), 50);
  });

  for (const [what, send] of [
    ['signed with another key', () => signed(url, stateEvent(bevId, userId, 5, emu.clock.now()), 'not-the-token')],
    ['unsigned', () => post(url, JSON.stringify(stateEvent(bevId, userId, 5, emu.clock.now())), { 'content-type': 'application/json' })],
    ['larger than Smartcar ever sends', () => signed(url, { ...stateEvent(bevId, userId, 5, emu.clock.now()), pad: 'x'.repeat(70_000) })],
    ['not JSON', () => post(url, '{"eventType":"VEHICLE_STATE",', { 'content-type': 'application/json', 'sc-signature': 'ab'.repeat(32) })],
    ['not sent as JSON', () => post(url, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' })],
  ] as const) {
    it(`a delivery ${what} is refused (4xx) and changes nothing`, async () => {
      const before = await battery();
      const answer = await send();
      assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
      assert.equal(await battery(), before);
    });
  }

  it('refusals are logged in one line each kind, never with the token', () => {
    const text = world.logs.text();
    assert.match(text, /Refused a webhook delivery: its SC-Signature does not match/);
    assert.match(text, /Refused a webhook delivery: it is not signed/);
    assert.match(text, /Refused a webhook delivery: HTTP 413/);
    assert.ok(!text.includes(AMT), 'the management token is never logged');
  });

  it('a Dashboard test delivery is acknowledged and ignored', async () => {
    const before = await battery();
    assert.equal((await signed(url, stateEvent(bevId, userId, 1, emu.clock.now() + 5000, randomUUID(), 'TEST'))).status, 200);
    assert.equal(await battery(), before);
  });

  it('the VERIFY challenge is answered with its HMAC under the management token', async () => {
    const answer = await post(url, JSON.stringify({ eventId: randomUUID(), eventType: 'VERIFY', data: { challenge: 'c0ffee-1234' }, meta: { version: '4.0' } }), { 'content-type': 'application/json' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { challenge: createHmac('sha256', AMT).update('c0ffee-1234').digest('hex') });
  });

  it('VEHICLE_ERROR shows on the setup page as the car\'s problem, and RESOLVED clears it', async () => {
    const error = (state: string) => ({
      eventId: randomUUID(), eventType: 'VEHICLE_ERROR', vehicleId: bevId,
      data: { user: { id: userId }, vehicle: { id: bevId }, errors: [{ type: 'VEHICLE_STATE', code: 'ASLEEP', state, description: 'The vehicle is asleep', signals: ['TractionBattery.StateOfCharge'] }] },
      meta: { version: '4.0', mode: 'LIVE', deliveredAt: emu.clock.now() },
    });
    assert.equal((await signed(url, error('ERROR'))).status, 200);
    assert.ok(carStatus().problems.some((p) => /asleep/i.test(p)), JSON.stringify(carStatus().problems));
    assert.equal((await signed(url, error('RESOLVED'))).status, 200);
    assert.ok(!carStatus().problems.some((p) => /asleep/i.test(p)), JSON.stringify(carStatus().problems));
  });

  it('while deliveries arrive nothing is polled; when they stop, polling resumes and the page says why; a delivery hands back', async () => {
    await signed(url, stateEvent(bevId, userId, 60, emu.clock.now()));
    const reads = signalReads();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(signalReads(), reads, 'no scheduled read while deliveries vouch for the values');
    await waitFor('polling to resume after the silence', () => signalReads() > reads, 8000);
    assert.match(carStatus().webhook ?? '', /^No webhook delivery since .*polling again/);
    assert.match(world.logs.text(), /Model 3: No webhook delivery since/);
    await signed(url, stateEvent(bevId, userId, 61, emu.clock.now()));
    assert.match(carStatus().webhook ?? '', /^Webhook deliveries arrive/);
    assert.equal(await battery(), 61);
  });

  it('a delivery that fails verification makes polling take over until a good one arrives', async () => {
    await signed(url, stateEvent(bevId, userId, 62, emu.clock.now()));
    assert.match(carStatus().webhook ?? '', /^Webhook deliveries arrive/);
    await signed(url, stateEvent(bevId, userId, 5, emu.clock.now()), 'wrong-key');
    assert.match(carStatus().webhook ?? '', /failed verification .*check managementToken/);
    await signed(url, stateEvent(bevId, userId, 63, emu.clock.now()));
    assert.match(carStatus().webhook ?? '', /^Webhook deliveries arrive/);
  });

  it('deliveries that lack a signal the car shows do not stop polling for it, and the page names it', async () => {
    const socOnly = stateEvent(bevId, userId, 64, emu.clock.now());
    (socOnly.data as { signals: unknown[] }).signals.splice(1);
    await signed(url, socOnly);
    assert.equal(await battery(), 64);
    assert.match(carStatus().webhook ?? '', /carry no lock or charge signal .*polling continues/);
  });

  it('after a restart a retried event is still recognised', async () => {
    const e = stateEvent(bevId, userId, 70, emu.clock.now());
    await signed(url, e);
    assert.equal(await battery(), 70);
    const cache = world.api.serializeCache();
    await world.shutdown();
    const port = Number(new URL(url).port);
    const storage = world.storage;
    world = { ...await startPlatform(pluginConfigV3({ webhookUrl: url, managementToken: AMT, webhookPort: port, webhookBind: '127.0.0.1' }), { storage, cache }), storage };
    // The retry carries the same eventId; were it applied again it would change nothing visible, so
    // it is sent with a newer time and another value: a new application would show it.
    const retry = stateEvent(bevId, userId, 12, emu.clock.now() + 10_000, e.eventId as string);
    assert.equal((await signed(url, retry)).status, 200);
    assert.equal(await battery(), 70);
  });
});

describe('webhooks from the emulator: the car changes, the emulator delivers', () => {
  let webhookId: string;
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };
  let bevId: string;
  const saved = { ...timing };

  const battery = () => read(accessoryNamed(world.api, 'Model 3'), Service.Battery, Characteristic.BatteryLevel);
  const plugged = () => read(accessoryNamed(world.api, 'Model 3'), Service.ContactSensor, Characteristic.ContactSensorState);
  const signalReads = () => emu.requests.filter((r) => r.host === 'v3' && r.vehicleId === bevId && r.path.includes('/signals')).length;
  const webhookLine = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === bevId)?.webhook ?? '';

  before(async () => {
    Object.assign(timing, { silenceMinMs: 2500, silenceMaxMs: 2500, firstDeliveryWaitMs: 1000, persistEveryMs: 50 });
    // Scaled so a retry comes within a second, yet the 15 s answer limit stays 300 ms: a loaded CI machine must not time out.
    emu = await startEmulator({ managementToken: AMT, webhookTimeScale: 0.02 });
    const user = emu.addUser({ email: 'owner@example.com', password: 'pw' });
    bevId = emu.addVehicle(user.id, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hooks/smartcar`;
    webhookId = emu.addWebhook({ name: 'Homebridge', callbackUri: url }).id;
    world = await startConnected(emu, user.id, { config: { webhookUrl: url, managementToken: AMT, webhookPort: port, webhookBind: '127.0.0.1' } });
    await waitFor('the first delivery', async () => (await emu.settleDeliveries(), /^Webhook deliveries arrive/.test(webhookLine())), 8000);
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
    Object.assign(timing, saved);
  });

  it('the Dashboard\'s Verify succeeds against the plugin\'s receiver', async () => {
    const verified = await emu.verifyWebhook(webhookId);
    assert.equal(verified.ok, true, JSON.stringify(verified));
    assert.match(world.logs.text(), /Smartcar verified the webhook URL/);
  });

  it('unplugging and a lower level reach HomeKit by webhook, with no request billed', async () => {
    const billed = emu.billedCount(bevId);
    const reads = signalReads();
    emu.updateVehicle(bevId, { charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 0.9 }, battery: { percentRemaining: 0.58, rangeKm: 290, capacityKwh: 75 } });
    await emu.settleDeliveries();
    await waitFor('58 % unplugged', async () => (await battery()) === 58 && (await plugged()) === Characteristic.ContactSensorState.CONTACT_NOT_DETECTED);
    assert.equal(emu.billedCount(bevId), billed);
    assert.equal(signalReads(), reads, 'nothing was read');
  });

  it('duplicates and reordered deliveries leave the newest state', async () => {
    emu.injectDelivery({ kind: 'duplicate' }, { times: 2, vehicleId: bevId });
    emu.injectDelivery({ kind: 'reorder' }, { times: 1, vehicleId: bevId });
    emu.updateVehicle(bevId, { battery: { percentRemaining: 0.57, rangeKm: 285, capacityKwh: 75 } });
    emu.updateVehicle(bevId, { battery: { percentRemaining: 0.56, rangeKm: 280, capacityKwh: 75 } });
    await emu.settleDeliveries();
    await waitFor('56 %', async () => (await battery()) === 56);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await battery(), 56, 'the older 57 % delivered last did not win');
  });

  it('dropped deliveries make polling take over, and the next delivery hands back', async () => {
    // A delivery that arrives first: the silence below starts from it, whatever the tests before took.
    emu.updateVehicle(bevId, { battery: { percentRemaining: 0.59, rangeKm: 295, capacityKwh: 75 } });
    await emu.settleDeliveries();
    await waitFor('59 % by webhook', async () => (await battery()) === 59);
    emu.injectDelivery({ kind: 'drop' }, { times: 1, vehicleId: bevId });
    emu.updateVehicle(bevId, { battery: { percentRemaining: 0.55, rangeKm: 275, capacityKwh: 75 } });
    await emu.settleDeliveries();
    const reads = signalReads();
    assert.match(webhookLine(), /^Webhook deliveries arrive/, 'the silence is counted from the last delivery that arrived');
    await waitFor('polling to take over', () => signalReads() > reads, 8000);
    await waitFor('the polled value', async () => (await battery()) === 55);
    assert.match(webhookLine(), /^No webhook delivery since .*polling again/);
    emu.updateVehicle(bevId, { battery: { percentRemaining: 0.54, rangeKm: 270, capacityKwh: 75 } });
    await emu.settleDeliveries();
    await waitFor('54 % by webhook', async () => (await battery()) === 54);
    assert.match(webhookLine(), /^Webhook deliveries arrive/);
  });

  it('a VEHICLE_ERROR that needs the owner (permission withdrawn) asks for Connect again, like a failed read', async () => {
    emu.vehicleError(bevId, { type: 'PERMISSION', code: null, state: 'ERROR', description: 'The owner withdrew a permission', resolution: 'REAUTHENTICATE' });
    await emu.settleDeliveries();
    await waitFor('the reconnect request', () => world.platform.status().some((u) => u.vehicles.some((v) => v.vehicleId === bevId && v.problems.some((p) => /connect this vehicle again/.test(p)))));
    assert.match(world.logs.text(), /Smartcar needs Model 3 to be connected again/);
  });

  it('Disconnect unsubscribes the car from the webhook before Smartcar drops its connection', async () => {
    emu.resetLog();
    await world.platform.disconnect(bevId);
    const deletes = emu.requests.filter((r) => r.method === 'DELETE');
    const unsubscribe = deletes.findIndex((r) => r.host === 'management' && r.path.includes('subscriptions'));
    const disconnect = deletes.findIndex((r) => r.host === 'v3' && r.path.includes('/connections/'));
    assert.ok(unsubscribe >= 0, `an unsubscribe (${JSON.stringify(deletes.map((r) => `${r.host} ${r.path}`))})`);
    assert.ok(disconnect > unsubscribe, 'before the disconnect');
    assert.equal(emu.subscriptions().filter((sub) => sub.vehicleId === bevId).length, 0);
  });
});

describe('webhooks configured, but no such webhook in the Dashboard', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };

  before(async () => {
    emu = await startEmulator({ managementToken: AMT });
    const user = emu.addUser({ email: 'owner@example.com', password: 'pw' });
    emu.addVehicle(user.id, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true,
      battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 } });
    emu.addWebhook({ name: 'Something else', callbackUri: 'https://other.example.com/hook' });
    const port = await freePort();
    world = await startConnected(emu, user.id, { config: { webhookUrl: `http://127.0.0.1:${port}/smartcar`, managementToken: AMT, webhookPort: port, webhookBind: '127.0.0.1' } });
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('says which callback URI to add, and the car is polled as without webhooks', async () => {
    await waitFor('the warning', () => /No webhook in the Smartcar Dashboard has the callback URI http:\/\/127\.0\.0\.1:\d+\/smartcar \(webhookUrl\): add one there/.test(world.logs.text()));
    await waitFor('the polled value', async () => (await read(accessoryNamed(world.api, 'Model 3'), Service.Battery, Characteristic.BatteryLevel)) === 76);
    const line = world.platform.status()[0]!.vehicles[0]!.webhook ?? '';
    assert.match(line, /^Not subscribed to the webhook \(No webhook in the Smartcar Dashboard/);
  });
});
