// Connect from the plugin's settings in a real Config UI X (both legs) through the Connect relay: the redirect
// URI is the relay page, served from another origin (standing in for GitHub Pages). The owner approves in the
// popup; the relay hands the answer to the settings page, which hands it to the plugin (/complete): the page
// names the connected car at once, long before the minute's v3 listing could have found it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Browser, FrameLocator, Page } from 'playwright-core';

import type { SmartcarEmulator } from '../emulator/index.js';
import { CONFIG_UI_X_LEGS, ConfigUiX, configUiX } from '../helpers/config-ui-x.js';
import { pluginConfigV3, startEmulator } from '../helpers/plugin-world.js';
import { until } from '../helpers/wait.js';
import { freePort, launchChromium, screenshot } from './support.js';

const RELAY_FILE = resolve(import.meta.dirname, '../../docs/connect/index.html');
const RELAY_PATH = '/homebridge-smartcar/connect/';

for (const leg of CONFIG_UI_X_LEGS) {
  describe(`Connect through the relay from the custom settings UI in a real ${leg.title}`, async () => {
    const copy = configUiX(leg);
    const chromium = copy.missing === undefined ? await launchChromium() : {};
    const skip = copy.missing ?? chromium.skip;
    const browser = chromium.browser as Browser;
    let emu: SmartcarEmulator;
    let ui: ConfigUiX;
    let page: Page;
    let frame: FrameLocator;
    let relay: Server | undefined;
    let relayUrl: string;
    let carId: string;

    before(async () => {
      if (skip !== undefined) {
        return;
      }
      // 127.0.0.2: loopback, but not "localhost" to the plugin, so the redirect URI is a relay as on GitHub Pages.
      relay = createServer((req, res) => {
        if (new URL(req.url ?? '/', 'http://placeholder').pathname !== RELAY_PATH) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(readFileSync(RELAY_FILE));
      });
      await new Promise<void>((done) => relay!.listen(0, '127.0.0.2', done));
      const address = relay.address();
      relayUrl = `http://127.0.0.2:${typeof address === 'object' && address !== null ? address.port : 0}${RELAY_PATH}`;
      emu = await startEmulator({ redirectUris: [relayUrl] });
      const userId = emu.addUser({ email: 'relay@example.com', password: 'password' }).id;
      carId = emu.addVehicle(userId, {
        powertrain: 'PHEV', make: 'TOYOTA', model: 'RAV4 Prime', locked: true,
        battery: { percentRemaining: 0.42, rangeKm: 60, capacityKwh: 18 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 1 },
        fuel: { percentRemaining: 0.6, amountRemainingLiters: 30, rangeKm: 500, tankLiters: 55 },
      }).id;
      ui = await ConfigUiX.start(leg, copy.dir!, {
        platform: { platform: 'Smartcar', name: 'Smartcar', ...pluginConfigV3({ setupPort: await freePort(), redirectUri: relayUrl }) },
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
      relay?.closeAllConnections();
      await new Promise((done) => (relay === undefined ? done(undefined) : relay.close(done)));
    });

    it('approved in the popup, the car is connected and named on the settings page without pasting anything', { skip }, async () => {
      await frame.locator('[data-testid="sc-empty"]').waitFor({ timeout: 30_000 });
      const popup = page.waitForEvent('popup', { timeout: 15_000 });
      await frame.getByRole('button', { name: 'Connect a vehicle' }).click();
      const opened = await popup;
      await opened.waitForURL((u) => u.origin === new URL(emu.origins.connect).origin, { timeout: 15_000 });
      await opened.locator('#email').fill('relay@example.com');
      await opened.locator('#password').fill('password');
      await opened.locator('#sign-in').click();
      await opened.locator('input[name=vehicle]').first().check();
      const closed = opened.waitForEvent('close', { timeout: 20_000 });
      await opened.locator('#approve').click();
      // The relay answered the page's hello and closed itself.
      await closed;
      // /complete's answer: the v3 listing runs once a minute, so a notice within seconds is the relay's doing.
      const notice = await until('the connected notice', async () => {
        const text = await frame.locator('#sc-notice').innerText();
        return /Connected RAV4 Prime/.test(text) ? text : undefined;
      }, 15_000);
      assert.match(notice, /^Connected RAV4 Prime: it appears in Home now\.$/);
      await frame.locator(`[data-vehicle="${carId}"]`).waitFor({ timeout: 15_000 });
      await ui.waitForLog(/Connected 1 vehicle: RAV4 Prime/, 10_000);
      assert.doesNotMatch(ui.logs, /code=|access_token|refresh_token/);
      await screenshot(page, `config-ui-x-relay-connected${leg.shotSuffix}`);
    });
  });
}
