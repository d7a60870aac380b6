// Refresh now reads what was not read within its one-minute debounce: after a lock (whose confirming
// read reads the lock alone) or a charge-only read, the level and plug state are old, and pressing it
// must read them. The setup page then says which car was refreshed, what it cost, and shows the values.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessoryNamed, hap, read, waitFor, write, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { clock, timing } from '../../src/platform.js';

const { Service, Characteristic } = hap;

describe('Refresh now after a partial read (v2)', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform;
  let carId: string;
  let setupUrl: string;
  const savedDebounce = timing.refreshNowDebounceMs;
  const savedNow = clock.now;

  before(async () => {
    timing.refreshNowDebounceMs = 60_000; // the real one-minute debounce
    emu = await startEmulator();
    // The platform's time is the emulator's, so the test can let hours pass between the reads.
    clock.now = () => emu.clock.now();
    const userId = emu.addUser({ email: 'o@example.com', password: 'pw' }).id;
    carId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: false,
      battery: { percentRemaining: 0.8, rangeKm: 380, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    world = await startWithTokens(emu, userId, { config: { refreshIntervalMinutes: 720 } });
    setupUrl = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
  });

  after(async () => {
    timing.refreshNowDebounceMs = savedDebounce;
    clock.now = savedNow;
    await world?.shutdown();
    await emu?.close();
  });

  it('after a lock, within the debounce minute, Refresh now still reads the level and plug state; the page says the car and the cost', async () => {
    const car = accessoryNamed(world.api, 'Model 3');
    await waitFor('a first read', async () => (await read(car, Service.Battery, Characteristic.BatteryLevel)) === 80);
    // The full read was hours ago; only the lock will be read now, by the command's confirming read.
    emu.clock.advance(3 * 3600_000);
    await write(car, Service.LockMechanism, Characteristic.LockTargetState, Characteristic.LockTargetState.SECURED);
    await waitFor('the confirming read', () => emu.requests.some((r) => r.vehicleId === carId && r.method === 'POST' && r.path.endsWith('/batch') && r.billed === 1));
    emu.updateVehicle(carId, { battery: { percentRemaining: 0.5 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING' } });

    const page = await fetch(`${setupUrl}/`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(`${setupUrl}/vehicles/${carId}/refresh`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ csrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!, setupUrl);
    assert.equal(location.searchParams.get('refreshed'), 'done', `not swallowed as "recent": ${location.toString()}`);
    assert.deepEqual(location.searchParams.getAll('car'), ['Model 3']);
    assert.equal(location.searchParams.get('requests'), '3', 'a full read of lock, battery and charge');
    assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), 50, 'the new values are in when the page says so');
    assert.equal(await read(car, Service.ContactSensor, Characteristic.ContactSensorState), Characteristic.ContactSensorState.CONTACT_NOT_DETECTED);
    const banner = await (await fetch(location)).text();
    assert.match(banner, /Refreshed Model 3 \(3 requests\): the values below are new\./);
  });

  it('a double click right after a full read is still debounced', async () => {
    assert.equal(await world.platform.refreshNow(carId), 'recent');
  });
});
