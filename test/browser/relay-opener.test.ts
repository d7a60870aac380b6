// The setup page as the Connect relay's opener, in real Chromium, with the running platform (API v3 and v2):
// the relay page is served from another origin (standing in for GitHub Pages) and is the redirect URI. The
// owner presses Connect, approves in the popup, and the cars are connected on the setup page without pasting
// anything; a hostile window posting a fake result is ignored; a blocked popup falls back to the full page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Browser, BrowserContext, Page } from 'playwright-core';

import type { SmartcarEmulator } from '../emulator/index.js';
import { defaultFleet } from '../emulator/index.js';
import { accessories, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { CLIENT_ID, CLIENT_SECRET, pluginConfigV3, startEmulator } from '../helpers/plugin-world.js';
import { freePort, launchChromium, PHONE_VIEWPORT, screenshot } from './support.js';

const RELAY_FILE = resolve(import.meta.dirname, '../../docs/connect/index.html');
// Where GitHub Pages serves a project's relay: a path of its own, as an owner registers it.
const RELAY_PATH = '/homebridge-smartcar/connect/';
const RESULT = 'smartcar-relay-result';

/**
 * The "GitHub Pages" host: the relay page, and a page that posts whatever message it is given to its opener
 * (to stand in for a hostile page on any origin, including the relay's own).
 */
function pagesHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  if (url.pathname === RELAY_PATH) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(readFileSync(RELAY_FILE));
    return;
  }
  if (url.pathname === '/post') {
    // JSON inside a script: '<' escaped so the message cannot end the element.
    const message = (url.searchParams.get('message') ?? 'null').replace(/</g, '\\u003c');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>post</title><script>window.opener.postMessage(${message}, '*'); document.title = 'posted';</script>`);
    return;
  }
  res.writeHead(404).end();
}

async function listen(host: string): Promise<{ server: Server; origin: string }> {
  const server = createServer(pagesHandler);
  await new Promise<void>((done) => server.listen(0, host, done));
  const address = server.address();
  return { server, origin: `http://${host}:${typeof address === 'object' && address !== null ? address.port : 0}` };
}

async function close(server: Server | undefined): Promise<void> {
  if (server === undefined) {
    return;
  }
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

for (const api of ['v3', 'v2'] as const) {
  describe(`the setup page opens Connect through the relay, Smartcar API ${api}`, () => flow(api));
}

function flow(api: 'v3' | 'v2'): void {
  let browser: Browser | undefined;
  let skip: string | undefined;
  let emulator: SmartcarEmulator;
  let hb: StartedPlatform;
  let base: string;
  // 127.0.0.2 is loopback too, but not "localhost" to the plugin: the redirect URI is a relay, as on GitHub Pages.
  let pages: { server: Server; origin: string } | undefined;
  let hostile: { server: Server; origin: string } | undefined;
  let relayUrl: string;
  const contexts: BrowserContext[] = [];

  before(async () => {
    ({ browser, skip } = await launchChromium());
    if (skip !== undefined) {
      return;
    }
    pages = await listen('127.0.0.2');
    hostile = await listen('127.0.0.1');
    relayUrl = `${pages.origin}${RELAY_PATH}`;
    const port = await freePort();
    base = `http://127.0.0.1:${port}/`;
    emulator = await startEmulator({ redirectUris: [relayUrl] });
    defaultFleet(emulator);
    const where = { redirectUri: relayUrl, setupPort: port, setupBind: '127.0.0.1' };
    hb = await startPlatform(api === 'v3' ? pluginConfigV3(where) : { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...where });
    await waitFor('the setup page', () => hb.logs.lines.some((l) => l.message.startsWith(`Setup page: ${base}`)));
  });

  after(async () => {
    for (const context of contexts) {
      await context.close();
    }
    await hb?.shutdown();
    await emulator?.close();
    await browser?.close();
    await close(pages?.server);
    await close(hostile?.server);
  });

  async function newPage(): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: PHONE_VIEWPORT });
    contexts.push(context);
    return context.newPage();
  }

  /** Sends the popup to a page that posts a message to its opener (as a hostile page it was sent to would). */
  async function send(popup: Page, url: string): Promise<void> {
    await popup.evaluate(`window.location.href = ${JSON.stringify(url)}`);
    await popup.waitForURL(url);
    await waitFor('the message posted', async () => await popup.title() === 'posted', 5000);
  }

  async function approve(popup: Page): Promise<number> {
    await popup.locator('#email').fill('owner@example.com');
    await popup.locator('#password').fill('password');
    await popup.locator('#sign-in').click();
    const boxes = popup.locator('input[name=vehicle]');
    await boxes.first().waitFor();
    const offered = await boxes.count();
    for (let i = 0; i < offered; i++) {
      await boxes.nth(i).check();
    }
    await popup.locator('#approve').click();
    return offered;
  }

  it('connects in a popup: the owner sees the cars on the setup page without pasting anything', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const page = await newPage();
    const relayRequests: string[] = [];
    page.context().on('request', (r) => { if (r.url().startsWith(relayUrl)) { relayRequests.push(r.url()); } });
    await page.goto(base);
    const opened = page.waitForEvent('popup');
    await page.locator('#connect').click();
    const popup = await opened;
    await popup.waitForURL((url) => url.origin === new URL(api === 'v3' ? emulator.origins.connect : emulator.origin).origin);
    assert.equal(page.url(), base, 'the setup page itself stays where it is');
    assert.match(await page.locator('#connect-progress').innerText(), /open in a new window/);
    await screenshot(page, `relay-opener-waiting-${api}`);
    const closed = popup.waitForEvent('close', { timeout: 15_000 });
    const offered = await approve(popup);
    await closed;

    await page.waitForURL(`${base}?connected=${offered}`);
    assert.match(await page.locator('#banner').innerText(), new RegExp(`Connected ${offered} vehicle`));
    assert.equal(await page.locator('article.vehicle').count(), offered);
    // Each car on the page is an accessory in HomeKit, without a restart.
    const names = await page.locator('article.vehicle h2').allInnerTexts();
    assert.equal(names.length, offered);
    await waitFor('the accessories', () => names.every((n) => accessories(hb.api).some((a) => a.displayName === n)), 5000);
    assert.equal(relayRequests.length, 1, 'Smartcar sent the popup to the relay once');
    assert.match(hb.logs.text(), new RegExp(`Connected ${offered} vehicles: `));
    assert.doesNotMatch(hb.logs.text(), /code=|access_token|refresh_token/);
    await screenshot(page, `relay-opener-connected-${api}`);
  });

  it('ignores a fake result from another window, another origin or another state, then takes the real one', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const before = accessories(hb.api).length;
    const page = await newPage();
    await page.goto(base);
    const opened = page.waitForEvent('popup');
    await page.locator('#connect').click();
    const popup = await opened;
    await popup.waitForURL(/state=/);
    const connectUrl = popup.url();
    const state = new URL(connectUrl).searchParams.get('state') ?? '';
    assert.notEqual(state, '');
    const fake = { type: RESULT, state, code: 'attacker-code', userId: 'attacker-user' };
    const post = (origin: string, message: unknown): string => `${origin}/post?${new URLSearchParams({ message: JSON.stringify(message) }).toString()}`;

    // Another window (a tab the hostile site opened from here) with the right state: not the popup.
    await page.evaluate(`window.open(${JSON.stringify(post(hostile!.origin, fake))}, 'other-tab')`);
    // The popup itself, sent to a hostile origin: the right window and state, the wrong origin.
    await send(popup, post(hostile!.origin, fake));
    // The popup on the relay's own origin, but with another state.
    await send(popup, post(pages!.origin, { ...fake, state: `${state.slice(0, -1)}x` }));
    // And the right shape posted by the page to itself.
    await page.evaluate(`window.postMessage(${JSON.stringify(fake)}, '*')`);
    await new Promise((done) => setTimeout(done, 1000));
    assert.equal(page.url(), base, 'the setup page did not move');
    assert.doesNotMatch(hb.logs.text(), /refused a Smartcar answer|Connecting a vehicle failed/, 'no fake answer reached the plugin');
    assert.equal(accessories(hb.api).length, before);

    // The genuine answer to the same Connect is still taken.
    // (Sent by the page in it: a navigation from Playwright's side may cut the popup off from its opener.)
    await popup.evaluate(`window.location.href = ${JSON.stringify(connectUrl)}`);
    const closed = popup.waitForEvent('close', { timeout: 15_000 });
    await approve(popup);
    await closed;
    await page.waitForURL(/\?connected=\d+$/);
    assert.match(await page.locator('#banner').innerText(), /Connected \d+ vehicle/);
  });

  it('a blocked popup falls back to taking the whole page to Connect', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const page = await newPage();
    await page.goto(base);
    // What a popup blocker does: window.open answers null.
    await page.evaluate('window.open = () => null');
    let popups = 0;
    page.on('popup', () => { popups += 1; });
    await page.locator('#connect').click();
    await page.waitForURL((url) => url.origin === new URL(api === 'v3' ? emulator.origins.connect : emulator.origin).origin);
    await approve(page);
    // Without an opener the relay tells the owner what to do (v3: nothing; v2: paste the address).
    await page.waitForURL((url) => url.href.startsWith(relayUrl));
    // The emulator sends code and user_id on both APIs, so the relay can say "Done" for either.
    await page.locator('#heading', { hasText: /^Done$/ }).waitFor({ timeout: 10_000 });
    assert.equal(popups, 0);
  });
}
