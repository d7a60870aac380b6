// Issue 4's "Done when", end to end in Chromium: the real platform (fake Homebridge API, real HAP,
// real SDK against the emulator) serves the setup page; vehicles connected there become HomeKit
// accessories within seconds without a restart, and a disconnect there removes one. On API v3 (the
// default) and v2.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Browser, Page } from 'playwright-core';

import type { SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet } from '../emulator/index.js';
import { accessories, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { CLIENT_ID, CLIENT_SECRET, pluginConfigV3, startEmulator, V3_CLIENT_SECRET } from '../helpers/plugin-world.js';
import { freePort, launchChromium, PHONE_VIEWPORT, screenshot } from './support.js';

for (const api of ['v3', 'v2'] as const) {
  describe(`setup page served by the running platform, Smartcar API ${api}`, () => flow(api));
}

function flow(api: 'v3' | 'v2'): void {
  let browser: Browser | undefined;
  let skip: string | undefined;
  let emulator: SmartcarEmulator;
  let hb: StartedPlatform;
  let base: string;

  before(async () => {
    ({ browser, skip } = await launchChromium());
    if (skip !== undefined) {
      return;
    }
    const port = await freePort();
    base = `http://127.0.0.1:${port}/`;
    const redirectUri = `${base}callback`;
    emulator = await startEmulator({ redirectUris: [redirectUri] });
    defaultFleet(emulator);
    const where = { redirectUri, setupPort: port, setupBind: '127.0.0.1' };
    hb = await startPlatform(api === 'v3' ? pluginConfigV3(where) : { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...where });
    await waitFor('the setup page', () => hb.logs.lines.some((l) => l.message.startsWith(`Setup page: ${base}`)));
  });

  after(async () => {
    await hb?.shutdown();
    await emulator?.close();
    await browser?.close();
  });

  async function newPage(): Promise<Page> {
    const page = await (browser as Browser).newPage({ viewport: PHONE_VIEWPORT });
    return page;
  }

  it('vehicles connected on the page appear as accessories at once, and Disconnect removes one', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    assert.equal(accessories(hb.api).length, 0);
    const page = await newPage();
    await page.goto(base);
    await page.locator('#connect').click();
    await page.waitForURL((url) => url.origin === emulator.origin);
    await page.locator('#email').fill('owner@example.com');
    await page.locator('#password').fill('password');
    await page.locator('#sign-in').click();
    const boxes = page.locator('input[name=vehicle]');
    await boxes.first().waitFor();
    const offered = await boxes.count();
    for (let i = 0; i < offered; i++) {
      await boxes.nth(i).check();
    }
    await page.locator('#approve').click();
    await page.waitForURL(`${base}?connected=${offered}`);

    // No restart: the platform registered them while answering the callback.
    await waitFor('the accessories', () => accessories(hb.api).length === offered, 5000);
    assert.equal(await page.locator('article.vehicle').count(), offered);
    for (const name of accessories(hb.api).map((a) => a.displayName)) {
      assert.ok((await page.locator('article.vehicle h2').allInnerTexts()).includes(name), name);
    }
    // Once the first refresh lands, the page shows real values from the car.
    await waitFor('refreshed values', async () => {
      await page.reload();
      return /locked|unlocked/.test(await page.locator('article.vehicle .lock').first().innerText());
    }, 10_000);
    await screenshot(page, `platform-connected-phone-${api}`);

    const victim = page.locator('article.vehicle').first();
    const victimName = await victim.locator('h2').innerText();
    await victim.getByRole('link', { name: 'Disconnect…' }).click();
    await page.locator('#confirm-disconnect').click();
    await page.waitForURL(`${base}?disconnected=1`);
    await waitFor('the accessory to go', () => accessories(hb.api).length === offered - 1, 5000);
    assert.ok(!accessories(hb.api).some((a) => a.displayName === victimName));
    // Disconnected at Smartcar, not only hidden here: v2 DELETE /application, v3 DELETE /connections/{id}.
    assert.ok(emulator.requests.some((r) => r.method === 'DELETE' && (api === 'v3' ? r.path.startsWith('/v3/connections/') : r.path.endsWith('/application'))));
    assert.ok(!(await page.locator('article.vehicle h2').allInnerTexts()).includes(victimName));
    await page.close();

    const log = hb.logs.text();
    assert.match(log, new RegExp(`Connected ${offered} vehicles: `));
    assert.equal(log.split('\n').filter((l) => l.includes(`Disconnected ${victimName}`)).length, 1, 'one disconnect, one log line');
    assert.ok(!log.includes(CLIENT_SECRET) && !log.includes(V3_CLIENT_SECRET), 'the client secret reached the log');
    assert.doesNotMatch(log, /code=|access_token|refresh_token/);
  });

  it('the charge limit set on the page: the car takes it, the banner and the card say so', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const page = await newPage();
    await page.goto(base);
    const form = page.locator('form.charge-limit-form').first();
    await form.waitFor();
    const card = page.locator('article.vehicle', { has: form });
    const name = await card.locator('h2').innerText();
    const vehicleId = await card.getAttribute('data-vehicle-id');
    await form.getByLabel('Charge to (%)').fill('45');
    await form.getByRole('button', { name: 'Set charge limit' }).click();
    // The browser itself refuses it (min 50): nothing is sent.
    assert.equal(page.url(), base);
    await form.getByLabel('Charge to (%)').fill('75');
    await form.getByRole('button', { name: 'Set charge limit' }).click();
    await page.waitForURL((url) => url.searchParams.get('limit') === '75');
    assert.match(await page.locator('#banner').innerText(), new RegExp(`${name} took the new charge limit: it charges to 75%`));
    assert.match(await page.locator(`article.vehicle[data-vehicle-id="${vehicleId}"] .charge-limit`).innerText(), /^75%( \(as set here just now\))?$/);
    assert.equal(emulator.vehicle(vehicleId!).charge!.limit, 0.75, 'the car took it');
    const sent = emulator.requests.filter((r) => r.method === 'POST' && /\/charge\/limit$|\/commands\/charge\/set-limit$/.test(r.path));
    assert.equal(sent.length, 1, 'one command, none for 45');
    await screenshot(page, `platform-charge-limit-phone-${api}`);
    await page.close();
  });
}
