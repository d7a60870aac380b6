// The whole Connect round trip in real Chromium against the Smartcar emulator and the real SDK:
// status page → Connect → sign in and approve (or deny) on the emulator's page → back on the status
// page; and the paste fallback when the redirect URI cannot be reached from the browser.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Browser, Page } from 'playwright-core';

import { SetupServer } from '../../src/setup/server.js';
import { defaultFleet, SmartcarEmulator } from '../emulator/index.js';
import { captureLog, type LogLine } from '../setup/support.js';
import { freePort, launchChromium, PHONE_VIEWPORT, screenshot, SdkHost } from './support.js';

const CLIENT_ID = 'browser-test-client';
const CLIENT_SECRET = 'browser-test-secret';

interface Rig {
  server: SetupServer;
  base: string;
  host: SdkHost;
  lines: LogLine[];
}

describe('connecting vehicles through the setup page', async () => {
  const { browser, skip } = await launchChromium();
  let emulator: SmartcarEmulator;
  let unreachablePort: number;
  let main: Rig;
  const rigs: SetupServer[] = [];

  before(async () => {
    if (skip !== undefined) {
      return;
    }
    // Smartcar needs the redirect URI before Connect starts, so learn a free port before listening on it.
    const setupPort = await freePort();
    unreachablePort = await freePort();
    emulator = await SmartcarEmulator.start({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`http://127.0.0.1:${setupPort}/callback`, `http://localhost:${unreachablePort}/callback`],
    });
    defaultFleet(emulator);
    main = await rig(setupPort, `http://127.0.0.1:${setupPort}/callback`);
  });

  after(async () => {
    for (const server of rigs) {
      await server.stop();
    }
    await emulator?.close();
    await browser?.close();
  });

  /** A setup server whose host is the real SDK pointed at the emulator. */
  async function rig(port: number, redirectUri: string): Promise<Rig> {
    const host = new SdkHost({ emulatorOrigin: emulator.origin, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri, mode: 'live' });
    const { log, lines } = captureLog();
    const server = new SetupServer({ port, bind: '127.0.0.1', redirectUri, log, host });
    rigs.push(server);
    const base = await server.start();
    return { server, base, host, lines };
  }

  async function newPage(): Promise<Page> {
    const page = await (browser as Browser).newPage({ viewport: PHONE_VIEWPORT });
    return page;
  }

  /** The browser's own "can't connect" page takes a moment to replace the failed navigation. */
  async function screenshotSoon(page: Page, name: string): Promise<void> {
    await page.waitForURL(/^chrome-error:/, { timeout: 5000 }).catch(() => undefined);
    await screenshot(page, name);
  }

  async function signIn(page: Page): Promise<void> {
    await page.locator('#email').fill('owner@example.com');
    await page.locator('#password').fill('password');
    await page.locator('#sign-in').click();
    await page.locator('input[name=vehicle]').first().waitFor();
  }

  it('connects the approved vehicles and lists them on the status page', { skip }, async () => {
    const r = main;
    const page = await newPage();
    await page.goto(r.base);
    assert.match(await page.locator('main').innerText(), /No vehicle is connected yet/);
    await screenshot(page, 'connect-1-empty-phone');

    await page.locator('#connect').click();
    await page.waitForURL((url) => url.origin === emulator.origin);
    await signIn(page);
    await screenshot(page, 'connect-2-emulator-approve');
    const boxes = page.locator('input[name=vehicle]');
    const offered = await boxes.count();
    assert.ok(offered >= 1, 'the emulator offers at least one vehicle');
    for (let i = 0; i < offered; i++) {
      await boxes.nth(i).check();
    }
    await page.locator('#approve').click();

    await page.waitForURL(`${r.base}?connected=${offered}`);
    assert.match(await page.locator('#banner').innerText(), new RegExp(`Connected ${offered} vehicle`));
    const cards = page.locator('article.vehicle');
    assert.equal(await cards.count(), offered);
    const connected = r.host.status().flatMap((u) => u.vehicles);
    assert.equal(connected.length, offered);
    for (const v of connected) {
      assert.match(await page.locator(`article[data-vehicle-id="${v.vehicleId}"] h2`).innerText(), new RegExp(v.name));
    }
    assert.ok(r.lines.some((l) => l.message === `Connected ${offered} vehicle${offered === 1 ? '' : 's'}: ${connected.map((v) => v.name).join(', ')}`));
    await screenshot(page, 'connect-3-connected-phone');
    await page.close();
  });

  it('a denied Connect shows a readable page and stores nothing', { skip }, async () => {
    const r = main;
    const before = r.host.status().length;
    const page = await newPage();
    await page.goto(r.base);
    await page.locator('#connect').click();
    await page.waitForURL((url) => url.origin === emulator.origin);
    await signIn(page);
    await page.locator('#deny').click();
    await page.waitForURL((url) => url.href.startsWith(`${r.base}callback?`));
    assert.match(await page.locator('h1').innerText(), /Nothing was connected/);
    assert.match(await page.locator('#message').innerText(), /choose Allow/);
    assert.equal(r.host.status().length, before);
    await screenshot(page, 'deny-phone');
    await page.close();
  });

  it('the paste fallback finishes a Connect whose redirect URI the browser cannot reach', { skip }, async () => {
    // Smartcar sends the browser to a localhost port where nothing listens: what an owner on a phone sees.
    const redirectUri = `http://localhost:${unreachablePort}/callback`;
    const r = await rig(0, redirectUri);
    const page = await newPage();
    await page.goto(r.base);
    await page.locator('#connect').click();
    await page.waitForURL((url) => url.origin === emulator.origin);
    await signIn(page);
    await page.locator('input[name=vehicle]').first().check();
    const failed = page.waitForEvent('requestfailed', (req) => req.url().startsWith(redirectUri));
    await page.locator('#approve').click();
    const addressBar = (await failed).url();
    assert.match(addressBar, /[?&]code=/);
    await screenshotSoon(page, 'paste-0-unreachable-callback');
    await page.close();

    // The owner copies the address and goes back to the setup page's tab.
    const setupTab = await newPage();
    await setupTab.goto(r.base);
    await setupTab.locator('#pasted-url').fill(addressBar);
    await screenshot(setupTab, 'paste-1-filled-phone');
    await setupTab.locator('#paste-submit').click();
    await setupTab.waitForURL(/\?connected=1$/);
    assert.equal(await setupTab.locator('article.vehicle').count(), 1);
    assert.equal(r.host.status().flatMap((u) => u.vehicles).length, 1);
    await screenshot(setupTab, 'paste-2-connected-phone');

    // Pasting the same address again is a replay: refused, nothing more stored. With a car connected
    // the paste help is folded away: the owner opens it first.
    assert.equal(await setupTab.locator('#pasted-url').isVisible(), false);
    await setupTab.locator('#paste-help summary').click();
    await setupTab.locator('#pasted-url').fill(addressBar);
    await setupTab.locator('#paste-submit').click();
    await setupTab.waitForURL(/\/paste$/);
    assert.match(await setupTab.locator('h1').innerText(), /cannot be used/);
    assert.equal(r.host.status().flatMap((u) => u.vehicles).length, 1);
    await setupTab.close();
  });
});
