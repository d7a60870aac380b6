// The plugin's own settings page in a real Config UI X under hb-service, on both legs (5.10.0 with Homebridge
// 1.11 on this Node; the newest, 5.28.0, with Homebridge 2.x on Node 22), driven in Chromium as an owner: log
// in, open the plugin's settings, see the cars the running plugin serves (pointed at the emulator) with their
// values, month and permissions, the options' schema form below them; the month drawn (used against the budget,
// the command reserve) and the car's last day (reads, data age) as the plugin's /status has them, in the setup
// page's words; press Refresh now and see Smartcar read the car and the timeline gain the read; Disconnect,
// answered inside the page (the iframe cannot show confirm()), the question kept across a poll: No keeps the
// car, Yes removes it; Connect a vehicle from a browser whose localhost is not the Homebridge machine's (the callback
// routed away): the car appears in the list by itself (v3 listing).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';

import type { UserStatusView, VehicleStatusView } from '../../src/setup/host.js';
import { relativeTime } from '../../src/setup/pages.js';
import { commandReserve } from '../../src/vehicle/budget.js';
import type { SmartcarEmulator } from '../emulator/index.js';
import { CONFIG_UI_X_LEGS, ConfigUiX, configUiX } from '../helpers/config-ui-x.js';
import { pluginConfigV3, startEmulator } from '../helpers/plugin-world.js';
import { recordSecrets } from '../helpers/suite-capture.js';
import { until } from '../helpers/wait.js';
import { freePort, launchChromium, screenshot } from './support.js';

for (const leg of CONFIG_UI_X_LEGS) {
  describe(`the custom settings UI in a real ${leg.title}`, async () => {
    const copy = configUiX(leg);
    const chromium = copy.missing === undefined ? await launchChromium() : {};
    const skip = copy.missing ?? chromium.skip;
    const browser = chromium.browser as Browser;
    let emu: SmartcarEmulator;
    let ui: ConfigUiX;
    let page: Page;
    let frame: FrameLocator;
    let carId: string;
    let otherId: string;
    let phoneCarId: string;
    let setupPort: number;
    const card = (id: string): Locator => frame.locator(`[data-vehicle="${id}"]`);
    /** What the running plugin tells the page, asked of its admin endpoint as homebridge-ui/server.js does. */
    const status = async (): Promise<{ now: number; users: UserStatusView[] }> => {
      const { port, secret } = JSON.parse(await readFile(join(ui.storage, 'smartcar-admin.json'), 'utf8')) as { port: number; secret: string };
      const res = await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(res.status, 200);
      return await res.json() as { now: number; users: UserStatusView[] };
    };
    const view = async (id: string): Promise<{ now: number; v: VehicleStatusView }> => {
      const s = await status();
      const v = s.users.flatMap((u) => u.vehicles).find((x) => x.vehicleId === id);
      assert.ok(v, `${id} in /status`);
      return { now: s.now, v };
    };
    const timelineText = (id: string): Promise<string> => card(id).locator('[data-field="timeline-text"]').innerText();

    before(async () => {
      if (skip !== undefined) {
        return;
      }
      // startEmulator points this process's environment at the emulator; hb-service passes it on to Homebridge.
      emu = await startEmulator();
      const userId = emu.addUser({ email: 'cux@example.com', password: 'pw' }).id;
      carId = emu.addVehicle(userId, {
        powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: true,
        battery: { percentRemaining: 0.64, rangeKm: 300, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
      }).id;
      otherId = emu.addVehicle(userId, {
        powertrain: 'ICE', make: 'FORD', model: 'F-150', locked: true,
        fuel: { percentRemaining: 0.5, amountRemainingLiters: 40, rangeKm: 400, tankLiters: 90 },
      }).id;
      emu.connect(userId);
      // An owner who connects from the custom UI, on a device that is not the Homebridge machine.
      const phoneUser = emu.addUser({ email: 'phone@example.com', password: 'password' }).id;
      phoneCarId = emu.addVehicle(phoneUser, {
        powertrain: 'PHEV', make: 'TOYOTA', model: 'RAV4 Prime', locked: true,
        battery: { percentRemaining: 0.42, rangeKm: 60, capacityKwh: 18 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 1 },
        fuel: { percentRemaining: 0.6, amountRemainingLiters: 30, rangeKm: 500, tankLiters: 55 },
      }).id;
      ui = await ConfigUiX.start(leg, copy.dir!, {
        platform: { platform: 'Smartcar', name: 'Smartcar', ...pluginConfigV3({ setupPort: setupPort = await freePort() }) },
        uiPort: await freePort(), bridgePort: await freePort(),
      });
      await ui.waitForLog(/Setup page: /, 60_000);
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await ui.openPluginConfig(page);
      frame = page.frameLocator('.modal-content iframe');
    });

    after(async () => {
      await page?.close();
      await browser?.close();
      await ui?.stop();
      await emu?.close();
    });

    it('lists each car with its values, ages, month and permissions, above the options form', { skip }, async () => {
      await card(carId).waitFor({ timeout: 30_000 });
      await card(otherId).waitFor();
      // The plugin reads each car a few seconds after start; the page polls.
      await until('the first read shown', async () => (await card(carId).innerText()).includes('64 %') || undefined, 30_000);
      const text = await card(carId).innerText();
      assert.match(text, /Model 3/);
      assert.match(text, /Lock: Locked/);
      assert.match(text, /Battery: 64 %/);
      assert.match(text, /Charging: Charging/);
      assert.match(text, /Plugged in: yes/);
      assert.match(text, /Data from the car: .+ · our last read: just now|Data from the car: .+ · our last read: \d+ min ago/);
      assert.match(text, /This month: \d+ of 500 requests, 100 kept for lock and charging commands/);
      assert.match(text, /Permissions: .*read_battery/);
      await until('the F-150 read too (the reads are spread)', async () => (await card(otherId).innerText()).includes('Fuel: 50 %') || undefined, 90_000);
      await page.locator('.modal-content [name="clientSecret"]').waitFor({ timeout: 15_000 });
      await screenshot(page, `config-ui-x-custom-ui${leg.shotSuffix}`);
    });

    it('draws the month (used, the part kept for commands) and the last day (reads, data age) as /status has them', { skip }, async () => {
      // The page's text and bar for the numbers the plugin has now (a read in between: asked again).
      const { v } = await until('the month as /status has it', async () => {
        const seen = await view(carId);
        const { requestsUsed, requestBudget } = seen.v;
        assert.ok(requestsUsed !== undefined && requestBudget !== undefined, 'the car has a month');
        const text = await card(carId).locator('[data-field="requests"]').innerText();
        return text === `This month: ${requestsUsed} of ${requestBudget} requests, ${commandReserve(requestBudget)} kept for lock and charging commands` ? seen : undefined;
      }, 15_000);
      const used = v.requestsUsed!;
      const budget = v.requestBudget!;
      assert.ok(used > 0, 'the reads so far are counted');
      const bar = card(carId).locator('[data-field="budget-bar"]');
      const box = async (part: string): Promise<{ x: number; width: number }> => {
        const b = await bar.locator(`rect.${part}`).boundingBox();
        assert.ok(b, `the bar's ${part} is drawn`);
        return b;
      };
      const track = await box('track');
      const reserve = await box('reserve');
      const usedPart = await box('used');
      assert.ok(track.width > 500, `the bar spans the card (${track.width} px)`);
      // A pixel either way: the browser rounds the drawing, not the numbers.
      assert.ok(Math.abs(usedPart.width - (track.width * used) / budget) <= 1, `used ${used} of ${budget}: ${usedPart.width} of ${track.width} px`);
      assert.ok(Math.abs(usedPart.x - track.x) <= 1, 'used from the start');
      assert.ok(Math.abs(reserve.width - (track.width * commandReserve(budget)) / budget) <= 1, `reserve ${commandReserve(budget)}: ${reserve.width} px`);
      assert.ok(Math.abs(reserve.x + reserve.width - (track.x + track.width)) <= 1, 'the reserve at the end of the month');
      assert.doesNotMatch(await bar.locator('rect.used').getAttribute('class') ?? '', /into-reserve/, 'a few reads are not into the reserve');

      // The last day: its last read and the car's data age, in the setup page's words, one tick per moment.
      const day = await until('the last day as /status has it', async () => {
        const seen = await view(carId);
        const { lastRefreshAt, dataAt, timeline = [] } = seen.v;
        assert.ok(lastRefreshAt !== undefined && dataAt !== undefined, 'read, with a data age');
        const kind = timeline.find((m) => m.at === lastRefreshAt && (m.kind === 'read' || m.kind === 'full-read'))?.kind;
        assert.ok(kind !== undefined, 'the last read is on the timeline');
        const text = await timelineText(carId);
        // The setup page's words (src/setup/pages.ts TIMELINE_WORDS, relativeTime).
        const ok = text.startsWith('Last 24 hours: ')
          && text.includes(`${kind === 'full-read' ? 'full read' : 'read'} ${relativeTime(lastRefreshAt, seen.now)}`)
          && text.includes(`data recorded ${relativeTime(dataAt, seen.now)}`);
        return ok ? { text, marks: timeline.filter((m) => m.at <= seen.now && seen.now - m.at <= 24 * 3_600_000).length } : undefined;
      }, 15_000);
      assert.match(day.text, /data recorded (just now|\d+ minutes? ago)/);
      assert.equal(await card(carId).locator('svg.sc-timeline line.mark').count(), day.marks, `a tick per moment: ${day.text}`);
      // Both pages say the same of the car's day: the setup page, opened on the Homebridge machine, has this line.
      const setup = await browser.newPage();
      try {
        await until('the setup page saying the same', async () => {
          await setup.goto(`http://127.0.0.1:${setupPort}/`);
          const there = await setup.locator(`article[data-vehicle-id="${carId}"] .timeline-text`).innerText();
          return there === await timelineText(carId) || undefined;
        }, 15_000);
      } finally {
        await setup.close();
      }
    });

    it('Refresh now: Smartcar reads that car, the page says so, and its timeline gains the read', { skip }, async () => {
      const reads = (): number => emu.requests.filter((r) => r.vehicleId === carId && r.billed !== undefined && r.billed > 0).length;
      // Refresh now is debounced for a minute after a full read (the start-up one): press it once that has passed.
      await until('a minute since the last full read', async () => {
        const { now, v } = await view(carId);
        const full = (v.timeline ?? []).filter((m) => m.kind === 'full-read').at(-1);
        return full === undefined || now - full.at > 62_000 || undefined;
      }, 120_000);
      await until('the timeline showing that read as a minute old or more', async () => !/ (full read|read) just now/.test(await timelineText(carId)) || undefined, 15_000);
      const before = reads();
      const lastBefore = (await view(carId)).v.lastRefreshAt!;
      await card(carId).getByRole('button', { name: 'Refresh now' }).click();
      const notice = await until('the answer', async () => {
        const t = await frame.locator('#sc-notice').innerText();
        return t.trim() !== '' ? t : undefined;
      }, 15_000);
      assert.match(notice, /Refresh requested for Model 3/);
      await until('the read', () => reads() > before || undefined, 20_000);
      const { v } = await until('the read in /status', async () => {
        const seen = await view(carId);
        return seen.v.lastRefreshAt! > lastBefore ? seen : undefined;
      }, 20_000);
      assert.ok((v.timeline ?? []).some((m) => m.at === v.lastRefreshAt), 'the read is a mark');
      // The page's next poll draws it: the newest moment of the day is that read.
      const text = await until('the timeline with the new read', async () => {
        const t = await timelineText(carId);
        return /^Last 24 hours: (full read|read) just now/.test(t) ? t : undefined;
      }, 15_000);
      assert.match(text, /data recorded/);
    });

    it('the charge limit: typed (a poll keeps what was typed), set with one command, shown; a car without a battery has no field', { skip }, async () => {
      const commands = (): number => emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/commands/charge/set-limit')).length;
      assert.match(await card(carId).locator('[data-field="charge-limit"]').innerText(), /^90 %$/);
      assert.equal(await card(otherId).locator('[data-field="charge-limit-input"]').count(), 0, 'no field for the F-150');
      const field = card(carId).locator('[data-field="charge-limit-input"]');
      await field.fill('45');
      await card(carId).getByRole('button', { name: 'Set charge limit' }).click();
      await until('the refusal', async () => /whole percent from 50 to 100/.test(await frame.locator('#sc-notice').innerText()) || undefined, 10_000);
      assert.equal(commands(), 0, 'nothing sent for 45');
      await field.fill('80');
      // The page redraws the cars every few seconds (not while a field has the focus): once the owner has
      // moved on, what they typed must still be there after the redraw.
      const typed = await field.elementHandle();
      await field.press('Tab');
      await until('a redraw', async () => !(await typed.evaluate((e) => e.isConnected)) || undefined, 20_000);
      assert.equal(await card(carId).locator('[data-field="charge-limit-input"]').inputValue(), '80');
      await card(carId).getByRole('button', { name: 'Set charge limit' }).click();
      await until('the answer', async () => /Model 3 took the new charge limit: it charges to 80 %/.test(await frame.locator('#sc-notice').innerText()) || undefined, 20_000);
      assert.equal(commands(), 1);
      assert.equal(emu.vehicle(carId).charge!.limit, 0.8, 'the car took it');
      await until('the new limit on the card', async () => /^80 %( \(as set here just now\))?$/.test(await card(carId).locator('[data-field="charge-limit"]').innerText()) || undefined, 10_000);
    });

    it('Disconnect asks inside the page: No keeps the car, Yes removes it', { skip }, async () => {
      await card(otherId).getByRole('button', { name: 'Disconnect' }).click();
      const question = card(otherId).locator('[data-testid="sc-question"]');
      assert.match(await question.innerText(), /^Disconnect F-150\?/);
      // The page redraws every car on each poll (the timeline, the month): the open question stays.
      const asked = await question.elementHandle();
      await until('a poll redrawing the card', async () => !(await asked.evaluate((n) => n.isConnected)) || undefined, 15_000);
      assert.match(await question.innerText(), /^Disconnect F-150\?/);
      await screenshot(page, `config-ui-x-custom-ui-disconnect${leg.shotSuffix}`);
      await card(otherId).getByRole('button', { name: 'No' }).click();
      assert.equal(await question.count(), 0);
      assert.ok(!emu.requests.some((r) => r.vehicleId === otherId && r.method === 'DELETE'), 'No disconnects nothing');
      await card(otherId).getByRole('button', { name: 'Disconnect' }).click();
      await card(otherId).getByRole('button', { name: 'Yes' }).click();
      await card(otherId).waitFor({ state: 'detached', timeout: 20_000 });
      assert.match(await frame.locator('#sc-notice').innerText(), /Disconnected F-150/);
      assert.equal(await card(carId).count(), 1, 'the other car stays');
      await ui.waitForLog(/Disconnected F-150/, 10_000);
    });

    it('the admin secret is owner-only and in no log of Homebridge or the UI', { skip }, async () => {
      const file = join(ui.storage, 'smartcar-admin.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const { secret } = JSON.parse(await readFile(file, 'utf8')) as { secret: string };
      recordSecrets('config-ui-custom', [secret]);
      assert.ok(!ui.logs.includes(secret));
    });

    it('Connect a vehicle from a browser that cannot reach the Homebridge machine\'s localhost: the car appears by itself', { skip }, async () => {
      // A phone or laptop: Smartcar's redirect to http://localhost:…/callback goes nowhere.
      await page.context().route(/^http:\/\/localhost(:\d+)?\//, (route) => route.abort('connectionrefused'));
      const popup = page.waitForEvent('popup', { timeout: 15_000 });
      await frame.getByRole('button', { name: 'Connect a vehicle' }).click();
      const opened = await popup;
      await opened.waitForURL((u) => u.origin === new URL(emu.origins.connect).origin, { timeout: 15_000 });
      assert.ok((new URL(opened.url()).searchParams.get('state') ?? '').length >= 24, 'a fresh state');
      assert.match(await frame.locator('#sc-notice').innerText(), /within a minute/);
      await opened.locator('#email').fill('phone@example.com');
      await opened.locator('#password').fill('password');
      await opened.locator('#sign-in').click();
      await opened.locator('input[name=vehicle]').first().check();
      const failed = opened.waitForEvent('requestfailed', (req) => req.url().startsWith('http://localhost'));
      await opened.locator('#approve').click();
      assert.match((await failed).url(), /[?&]state=/);
      await opened.close();
      // v3 lists the application's connections every minute (unbilled) and serves the new car.
      await card(phoneCarId).waitFor({ timeout: 120_000 });
      await until('its first read', async () => (await card(phoneCarId).innerText()).includes('Battery: 42 %') || undefined, 60_000);
      await screenshot(page, `config-ui-x-custom-ui-connected${leg.shotSuffix}`);
    });

    // Last: Save may make Config UI X ask for a restart over the page.
    it('"Use its position as home": one request, no log line; 5.28 fills the home point into the options and Save writes it with the rest, 5.10 (which would clear its form) shows the numbers to type', { skip }, async () => {
      emu.updateVehicle(carId, { location: { latitude: 52.2385123, longitude: 0.1546789 } });
      const billed = emu.billedCount(carId);
      const before = await ui.pluginBlock();
      const form = page.locator('.modal-content').first();
      await card(carId).getByRole('button', { name: 'Use its position as home' }).click();
      const notice = await until('the answer', async () => {
        const t = await frame.locator('#sc-notice').innerText();
        return /Model 3 is|where Model 3 is/.test(t) ? t : undefined;
      }, 20_000);
      assert.equal(emu.billedCount(carId) - billed, 1, 'one billed request');
      if (leg.versions.ui === '5.10.0') {
        assert.match(notice, /Model 3 is at latitude 52\.23851, longitude 0\.15468: enter them as Home latitude and Home longitude below and press Save/);
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(await form.locator('[name="clientId"]').inputValue(), before!.clientId, 'the form is left as it was');
        assert.equal(await form.locator('[name="homeLatitude"]').inputValue(), '');
      } else {
        assert.match(notice, /Home is now where Model 3 is: press Save below/);
        await until('the form showing it', async () => (await form.locator('[name="homeLatitude"]').inputValue()) === '52.23851' || undefined, 10_000);
        assert.equal(await form.locator('[name="homeLongitude"]').inputValue(), '0.15468');
        await form.getByRole('button', { name: 'Save' }).click();
        const block = await until('config.json written', async () => {
          const b = await ui.pluginBlock();
          return b?.homeLatitude !== undefined ? b : undefined;
        }, 15_000);
        assert.equal(block.homeLatitude, 52.23851);
        assert.equal(block.homeLongitude, 0.15468);
        for (const [key, value] of Object.entries(before!)) {
          // The form adds its defaults when it saves; what was there stays.
          assert.deepEqual(block[key], value, `${key} kept`);
        }
      }
      assert.doesNotMatch(ui.logs, /52\.238|0\.1546/, 'the position is in no log of Homebridge or the UI');
    });
  });
}
