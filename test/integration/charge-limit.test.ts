// The charge limit set from the setup page (over real HTTP, as a browser posts its form) and from the
// Homebridge UI's endpoint, through the real platform on both APIs: one billed command the car takes,
// the page then shows the new limit and says where it comes from; bad input and a missing permission
// send nothing; the car's refusal is shown with its reason and leaves the limit as it was.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { startConnected, startEmulator, startWithTokens } from '../helpers/plugin-world.js';

const WITHOUT_CONTROL_CHARGE = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge', 'read_fuel'];

for (const api of ['v3', 'v2'] as const) {
  describe(`the charge limit on API ${api}`, () => {
    let emu: SmartcarEmulator;
    let world: StartedPlatform & { storage: string };
    let userId: string;
    let carId: string;
    let setupUrl: string;
    const view = () => world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId);
    const start = async (scope?: string[]) => {
      world = await (api === 'v3' ? startConnected : startWithTokens)(emu, userId, { ...(scope ? { scope } : {}) });
      setupUrl = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('://localhost:', '://127.0.0.1:').replace(/\/$/, '');
      await waitFor('the first read', () => view()?.lastRefreshAt !== undefined && emu.requests.every((r) => r.status !== 0), 15_000);
    };
    const limitCommands = (from: number) => emu.requests.slice(from).filter((r) => r.method === 'POST' && /\/charge\/limit$|\/commands\/charge\/set-limit$/.test(r.path));
    const pageText = async () => (await (await fetch(`${setupUrl}/`)).text());
    /** Posts the car's charge-limit form as the page's browser would (a fresh CSRF token from the page). */
    const postLimit = async (percent: string) => {
      const csrf = /name="csrf" value="([^"]+)"/.exec(await pageText())![1]!;
      const res = await fetch(`${setupUrl}/vehicles/${encodeURIComponent(carId)}/charge-limit`, {
        method: 'POST', redirect: 'manual', body: new URLSearchParams({ csrf, percent }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      return { status: res.status, location: res.headers.get('location'), body: await res.text() };
    };

    before(async () => {
      emu = await startEmulator();
      userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, charge: { isPluggedIn: true, state: 'NOT_CHARGING', limit: 0.9 } }).id;
    });

    after(async () => {
      await world?.shutdown();
      await emu?.close();
    });

    it('the page offers the form; v3 shows the car\'s own limit, v2 none (reading it would bill every read)', async () => {
      await start();
      const page = await pageText();
      assert.match(page, /action="\/vehicles\/[^"]+\/charge-limit"/, 'a charge-limit form');
      if (api === 'v3') {
        assert.equal(view()!.chargeLimit, 90);
        assert.match(page, /class="charge-limit">90%</);
      } else {
        assert.equal(view()!.chargeLimit, undefined);
        assert.ok(!emu.requests.some((r) => r.path.endsWith('/charge/limit')), 'v2 never reads /charge/limit');
      }
    });

    it('set to 80 %: one billed command, the car charges to 80 %, the page says so', async () => {
      const from = emu.requests.length;
      const billedBefore = emu.billedCount(carId);
      const used = view()!.requestsUsed!;
      const answer = await postLimit('80');
      assert.equal(answer.status, 303, answer.body);
      const banner = await (await fetch(new URL(answer.location!, setupUrl))).text();
      assert.match(banner, /Model 3 took the new charge limit: it charges to 80%/);
      assert.equal(emu.vehicle(carId).charge!.limit, 0.8, 'the car took it');
      assert.equal(limitCommands(from).length, 1);
      assert.equal(emu.billedCount(carId) - billedBefore, 1, 'one billed request');
      assert.equal(view()!.requestsUsed, used + 1, 'counted in the month');
      assert.equal(view()!.chargeLimit, 80);
      assert.ok(view()!.chargeLimitSetAt !== undefined, 'the page says it is the limit set here');
      assert.match(await pageText(), /class="charge-limit">80% \(as set here just now\)</);
      assert.ok(world.logs.lines.some((l) => l.message.includes('Model 3: charge limit set to 80%')));
    });

    it(api === 'v3' ? 'the next read brings the car\'s own limit and the page stops saying "as set here"' : 'reads leave the limit set here (v2 reads do not carry it)', async () => {
      emu.updateVehicle(carId, { charge: { limit: 0.85 } });
      const readAt = view()!.lastRefreshAt!;
      emu.clock.advance(120_000);
      await world.platform.refreshNow(carId);
      await waitFor('the read after', () => (view()?.lastRefreshAt ?? 0) > readAt, 15_000);
      if (api === 'v3') {
        assert.equal(view()!.chargeLimit, 85);
        assert.equal(view()!.chargeLimitSetAt, undefined);
      } else {
        assert.equal(view()!.chargeLimit, 80, 'the one set here, said to be so');
        assert.ok(view()!.chargeLimitSetAt !== undefined);
      }
    });

    it('out of range or not a number: refused on the page, nothing sent', async () => {
      const from = emu.requests.length;
      for (const bad of ['45', '101', '80.5', 'eighty', '']) {
        const answer = await postLimit(bad);
        assert.equal(answer.status, 400, `"${bad}"`);
        assert.match(answer.body, /whole percent from 50 to 100/);
      }
      assert.equal(limitCommands(from).length, 0);
    });

    it('the car refuses: the page shows why, the limit stays, the log has one line', async () => {
      const before = view()!.chargeLimit;
      const carLimit = emu.vehicle(carId).charge!.limit;
      emu.inject({ target: 'command', vehicleId: carId }, { error: { type: 'VEHICLE_STATE', code: 'CHARGE_FAULT', status: 409, description: 'The charging system reported a fault.' } });
      const logFrom = world.logs.lines.length;
      const answer = await postLimit('70');
      assert.equal(answer.status, 502);
      assert.match(answer.body, /charge limit was not changed/);
      assert.match(answer.body, /CHARGE_FAULT|charging system/i, 'the car\'s reason');
      assert.equal(emu.vehicle(carId).charge!.limit, carLimit);
      assert.equal(view()!.chargeLimit, before);
      const warned = world.logs.lines.slice(logFrom).filter((l) => l.level === 'warn' || l.level === 'error');
      assert.equal(warned.length, 1, warned.map((l) => l.message).join('\n'));
      assert.match(warned[0]!.message, /Setting Model 3's charge limit to 70% failed/);
    });

    it('without control_charge: no form, and a forged post is refused naming the permission, nothing sent', async () => {
      await world.shutdown();
      await start(WITHOUT_CONTROL_CHARGE);
      assert.equal(view()!.chargeLimitSettable, undefined);
      assert.doesNotMatch(await pageText(), /<form class="charge-limit-form"/);
      const from = emu.requests.length;
      const answer = await postLimit('80');
      assert.equal(answer.status, 400);
      assert.match(answer.body, /control_charge/);
      assert.equal(limitCommands(from).length, 0);
      await assert.rejects(world.platform.setChargeLimit(carId, 80), /control_charge/);
      assert.equal(limitCommands(from).length, 0);
    });
  });
}
