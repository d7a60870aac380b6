// Conformance of POST /batch (reference §3.4) with the real SDK: per-item functions, item errors
// thrown as SmartcarError while the other items still return, item headers, billing per item.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet, PERMISSIONS } from '../emulator/index.js';
import { rejectsWith, sdk, startEmulator } from './support.js';

interface RawItem { path: string; code: number; headers: Record<string, string>; body: Record<string, unknown> }

describe('batch', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;
  let token: string;

  before(async () => {
    emu = await startEmulator({ vehicleThrottle: null });
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    fleet = defaultFleet(emu, `owner-${Math.random()}@example.com`);
    token = emu.issueTokens(fleet.user.id, { scope: [...PERMISSIONS] }).accessToken;
  });

  async function raw(vehicleId: string, requests: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: { responses: RawItem[] } }> {
    const res = await fetch(`${emu.origin}/v2.0/vehicles/${vehicleId}/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ requests }),
    });
    return { status: res.status, body: await res.json() as { responses: RawItem[] } };
  }

  it('returns one SDK function per path with the item body and merged meta', async () => {
    const recorded = emu.clock.now() - 120_000;
    emu.updateVehicle(fleet.bev.id, { dataAt: recorded });
    const v = new sdk.Vehicle(fleet.bev.id, token);
    const res = await v.batch(['/battery', '/charge', '/odometer', '/security', '/']);
    const battery = res.battery!();
    assert.equal(battery.percentRemaining, 0.76);
    assert.equal(battery.range, 380);
    assert.equal(battery.meta.dataAge!.getTime(), recorded);
    assert.equal(battery.meta.unitSystem, 'metric');
    assert.match(battery.meta.requestId!, /^[0-9a-f-]{36}$/);
    assert.deepEqual({ ...res.charge!(), meta: null }, { isPluggedIn: true, state: 'CHARGING', meta: null });
    assert.equal(res.odometer!().distance, 12345.6);
    assert.equal(res.lockStatus!().isLocked, false);
    assert.equal(res.attributes!().model, 'Model 3');
    assert.equal(emu.requests.at(-1)!.path, `/v2.0/vehicles/${fleet.bev.id}/batch`);
  });

  it('a failing item throws a SmartcarError from its function; the others still return', async () => {
    const v = new sdk.Vehicle(fleet.ice.id, token);
    const res = await v.batch(['/fuel', '/battery', '/odometer']);
    assert.equal(res.fuel!().percentRemaining, 0.4);
    assert.equal(res.odometer!().distance, 12345.6);
    // The SDK reports the outer status (200) on batch item errors (reference §3.4 quirk 1).
    const err = await rejectsWith(() => res.battery!(), { type: 'PERMISSION', statusCode: 200, resolution: 'REAUTHENTICATE' });
    assert.match(err.requestId!, /^[0-9a-f-]{36}$/);
  });

  it('injected read faults on a sub-path show up as that item\'s error', async () => {
    emu.inject({ target: 'read', vehicleId: fleet.bev.id, path: '/charge' }, { error: { type: 'UPSTREAM', code: 'NO_RESPONSE', status: 502 } });
    emu.inject({ target: 'read', path: '/odometer' }, { error: { type: 'RATE_LIMIT', code: 'VEHICLE', status: 429, retryAfter: 42 } });
    const res = await new sdk.Vehicle(fleet.bev.id, token).batch(['/battery', '/charge', '/odometer']);
    assert.equal(res.battery!().percentRemaining, 0.76);
    await rejectsWith(() => res.charge!(), { type: 'UPSTREAM', code: 'NO_RESPONSE', statusCode: 200, resolution: 'RETRY_LATER' });
    await rejectsWith(() => res.odometer!(), { type: 'RATE_LIMIT', code: 'VEHICLE', statusCode: 200, retryAfter: '42' });
    // Faults are consumed: the next batch is clean.
    const again = await new sdk.Vehicle(fleet.bev.id, token).batch(['/charge']);
    assert.equal(again.charge!().state, 'CHARGING');
  });

  it('every item has a headers object; paths are accepted without a leading slash and echoed with one', async () => {
    const { status, body } = await raw(fleet.ice.id, [{ path: 'odometer' }, { path: '/battery' }, { path: 'tires/pressure' }, { path: '/application' }]);
    assert.equal(status, 200);
    assert.deepEqual(body.responses.map((r) => [r.path, r.code]), [['/odometer', 200], ['/battery', 403], ['/tires/pressure', 200], ['/application', 404]]);
    for (const item of body.responses) {
      assert.equal(typeof item.headers, 'object', `${item.path} has headers`);
      assert.match(item.headers['content-type']!, /^application\/json/);
    }
    const ok = body.responses[0]!;
    assert.ok(ok.headers['sc-data-age'] && !Number.isNaN(Date.parse(ok.headers['sc-data-age'])));
    assert.equal(ok.headers['sc-unit-system'], 'metric');
    const failed = body.responses[1]!.body;
    assert.equal(failed.type, 'PERMISSION');
    assert.equal(failed.statusCode, 403);
    assert.equal(failed.code, null);
  });

  it('honours imperial units per item', async () => {
    const res = await new sdk.Vehicle(fleet.ice.id, token, { unitSystem: 'imperial' }).batch(['/odometer', '/fuel']);
    assert.equal(res.odometer!().distance, 7671.2);
    assert.equal(res.fuel!().amountRemaining, 9.59);
    assert.equal(res.fuel!().meta.unitSystem, 'imperial');
  });

  it('bills each item, not the envelope', async () => {
    await new sdk.Vehicle(fleet.bev.id, token).batch(['/battery', '/charge', '/odometer']);
    assert.equal(emu.billedCount(fleet.bev.id), 3);
    assert.equal(emu.requests.at(-1)!.billed, 3);
    // Items refused before reaching the car are not billed.
    await new sdk.Vehicle(fleet.ice.id, token).batch(['/battery', '/fuel']);
    assert.equal(emu.billedCount(fleet.ice.id), 1);
  });

  it('outer failures are thrown by batch() itself', async () => {
    await rejectsWith(new sdk.Vehicle(fleet.bev.id, 'bogus').batch(['/battery']), { type: 'AUTHENTICATION', statusCode: 401 });
    await rejectsWith(new sdk.Vehicle(fleet.bev.id, token).batch([]), { type: 'VALIDATION', code: 'PARAMETER', statusCode: 400 });
    emu.inject({ target: 'read', path: '/batch' }, { error: { type: 'SERVER', code: 'INTERNAL', status: 500 } });
    await rejectsWith(new sdk.Vehicle(fleet.bev.id, token).batch(['/battery']), { type: 'SERVER', code: 'INTERNAL', statusCode: 500 });
  });
});
