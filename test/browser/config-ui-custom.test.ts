// The plugin's own settings page in a real Config UI X under hb-service, on both legs (5.10.0 with Homebridge
// 1.11 on this Node; the newest, 5.28.0, with Homebridge 2.x on Node 22), driven in Chromium as an owner: log
// in, open the plugin's settings, see the cars the running plugin serves (pointed at the emulator) with their
// values, month and permissions, the options' schema form below them; press Refresh now and see Smartcar read
// the car; Disconnect, answered inside the page (the iframe cannot show confirm()): No keeps the car, Yes
// removes it; Connect a vehicle from a browser whose localhost is not the Homebridge machine's (the callback
// routed away): the car appears in the list by itself (v3 listing).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';

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
    const card = (id: string): Locator => frame.locator(`[data-vehicle="${id}"]`);

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
        platform: { platform: 'Smartcar', name: 'Smartcar', ...pluginConfigV3({ setupPort: await freePort() }) },
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
      assert.match(text, /This month: \d+ of 500 requests/);
      assert.match(text, /Permissions: .*read_battery/);
      await until('the F-150 read too (the reads are spread)', async () => (await card(otherId).innerText()).includes('Fuel: 50 %') || undefined, 90_000);
      await page.locator('.modal-content [name="clientSecret"]').waitFor({ timeout: 15_000 });
      await screenshot(page, `config-ui-x-custom-ui${leg.shotSuffix}`);
    });

    it('Refresh now: Smartcar reads that car, the page says so', { skip }, async () => {
      const reads = (): number => emu.requests.filter((r) => r.vehicleId === carId && r.billed !== undefined && r.billed > 0).length;
      // Under the real one-minute debounce a car read at start-up may answer "read less than a minute ago".
      const before = reads();
      await card(carId).getByRole('button', { name: 'Refresh now' }).click();
      const notice = await until('the answer', async () => {
        const t = await frame.locator('#sc-notice').innerText();
        return t.trim() !== '' ? t : undefined;
      }, 15_000);
      assert.match(notice, /Refresh requested for Model 3|Model 3 was read less than a minute ago/);
      if (notice.includes('requested')) {
        await until('the read', () => reads() > before || undefined, 20_000);
      }
    });

    it('Disconnect asks inside the page: No keeps the car, Yes removes it', { skip }, async () => {
      await card(otherId).getByRole('button', { name: 'Disconnect' }).click();
      const question = card(otherId).locator('[data-testid="sc-question"]');
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
  });
}
