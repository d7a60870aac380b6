// The /_emulator/* HTTP control API, as used out of process (npm start demo, Homebridge e2e):
// build a fleet, get tokens, change a car, inject a fault, move the clock, read the log and bill.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SmartcarEmulator } from '../emulator/index.js';
import { rejectsWith, sdk, startEmulator } from './support.js';

describe('/_emulator control API', () => {
  let emu: SmartcarEmulator;

  before(async () => {
    emu = await startEmulator();
  });
  after(async () => {
    await emu.close();
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are asserted field by field
  async function call<T = Record<string, any>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${emu.origin}/_emulator${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() as T };
  }

  it('drives a whole scenario over HTTP', async () => {
    const fleet = await call('POST', '/fleet');
    assert.equal(fleet.status, 200);
    const { user, bev, ice } = fleet.body;
    assert.equal(bev.make, 'TESLA');
    assert.equal(bev.battery.percentRemaining, 0.76);
    assert.equal(bev.charge.state, 'CHARGING');
    assert.equal(ice.fuel.percentRemaining, 0.4);
    assert.ok(!ice.capabilities.includes('read_battery'));

    const tokens = (await call('POST', '/tokens', { userId: user.id })).body;
    assert.equal(tokens.expiresIn, 7200);
    const v = new sdk.Vehicle(bev.id, tokens.accessToken);

    const patched = await call('PATCH', `/vehicles/${bev.id}`, { battery: { percentRemaining: 0.5 }, doors: { frontLeft: 'OPEN' } });
    assert.equal(patched.body.battery.percentRemaining, 0.5);
    assert.equal(patched.body.battery.rangeKm, 380, 'nested objects are merged');
    assert.equal((await v.battery()).percentRemaining, 0.5);
    await rejectsWith(v.lock(), { type: 'VEHICLE_STATE', code: 'DOOR_OPEN', statusCode: 409 });

    assert.equal((await call('POST', '/inject', {
      match: { target: 'read', path: '/charge' }, fault: { error: { type: 'VEHICLE_STATE', code: 'ASLEEP', status: 409 } }, times: 1,
    })).status, 200);
    await rejectsWith(v.charge(), { type: 'VEHICLE_STATE', code: 'ASLEEP', statusCode: 409 });

    const billed = await call('GET', `/billed/${bev.id}`);
    assert.deepEqual(billed.body, { vehicleId: bev.id, billed: 3 });
    const log = await call<{ requests: { path: string; status: number }[] }>('GET', '/requests');
    assert.deepEqual(log.body.requests.map((r) => r.status), [200, 409, 409]);

    const now = (await call('GET', '/clock')).body.now as number;
    const advanced = (await call('POST', '/clock/advance', { ms: 7200_000 })).body.now as number;
    assert.ok(advanced - now >= 7200_000);
    await rejectsWith(v.battery(), { type: 'AUTHENTICATION', statusCode: 401 });

    await call('DELETE', '/requests');
    assert.deepEqual((await call('GET', '/requests')).body.requests, []);
    const state = (await call('GET', '/state')).body;
    assert.ok(state.users.some((u: { id: string }) => u.id === user.id));
    assert.ok(!('password' in state.users[0]), 'passwords stay out of the state dump');
  });

  it('users, vehicles, options, expire and revoke', async () => {
    const user = (await call('POST', '/users', { email: 'second@example.com', password: 'pw' })).body;
    const car = (await call('POST', '/vehicles', { userId: user.id, powertrain: 'ICE', make: 'VOLVO' })).body;
    assert.equal((await call('GET', `/vehicles/${car.id}`)).body.make, 'VOLVO');
    const t = (await call('POST', '/tokens', { userId: user.id, scope: ['read_fuel'] })).body;
    const v = new sdk.Vehicle(car.id, t.accessToken);
    await v.fuel();
    await call('PATCH', '/options', { vehicleThrottle: { limit: 1, windowMs: 60_000 } });
    await rejectsWith(v.fuel(), { type: 'RATE_LIMIT', code: 'VEHICLE', statusCode: 429, retryAfter: '60' });
    await call('PATCH', '/options', { vehicleThrottle: null });
    await v.fuel();
    await call('POST', '/tokens/expire', { userId: user.id });
    await rejectsWith(v.fuel(), { type: 'AUTHENTICATION', statusCode: 401 });
    await call('POST', '/tokens/revoke', { userId: user.id });
    const res = await fetch(`${emu.origin}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('conformance-client:conformance-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${t.refreshToken}`,
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'invalid_grant', error_description: `Invalid refresh_token: ${t.refreshToken}.` });
  });

  it('says what is wrong with a bad control call', async () => {
    const bad = await call('POST', '/users', { email: 42 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /email/);
    assert.equal((await call('GET', '/vehicles/nope')).status, 400);
    assert.equal((await call('GET', '/nothing')).status, 404);
  });
});
