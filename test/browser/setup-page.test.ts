// The status page in real Chromium on a phone-sized viewport: the CSP lets our nonce'd style in and
// nothing else, nothing overflows sideways, and the refresh and disconnect buttons work by clicking.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Browser } from 'playwright-core';

import { sampleUsers, startServer, type Started } from '../setup/support.js';
import { launchChromium, PHONE_VIEWPORT, screenshot } from './support.js';

describe('status page in Chromium', async () => {
  const { browser, skip } = await launchChromium();
  let s: Started;

  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.server.stop();
    await browser?.close();
  });

  it('applies its style under the CSP and fits a phone screen', { skip }, async () => {
    const users = sampleUsers();
    users[0]!.vehicles.push({
      ...users[0]!.vehicles[0]!, vehicleId: 'v-2', name: 'Golf', make: 'VOLKSWAGEN', model: 'e-Golf <GTE>', year: 2019,
      lock: 'unlocked', level: 18, charging: 'NOT_CHARGING', pluggedIn: false, problems: ['Grant read_charge by connecting again'],
    });
    s.host.users = users;
    const page = await (browser as Browser).newPage({ viewport: PHONE_VIEWPORT });
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) {
        violations.push(msg.text());
      }
    });
    await page.goto(`${s.base}?connected=2`);
    assert.equal(await page.title(), 'Vehicles · Homebridge Smartcar');
    assert.equal(await page.locator('article.vehicle').count(), 2);
    assert.match(await page.locator('#banner').innerText(), /Connected 2 vehicles/);
    assert.equal(await page.locator('article.vehicle h2').nth(1).innerText(), 'Golf');
    assert.match(await page.locator('article.vehicle').nth(1).innerText(), /e-Golf <GTE>/);
    // The stylesheet ran: cards get a radius only from our nonce'd <style>.
    assert.equal(await page.evaluate<string>('getComputedStyle(document.querySelector("article.vehicle")).borderTopLeftRadius'), '12px');
    // Strings, not functions: these run in the page, and the test tsconfig has no DOM types.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
    assert.deepEqual(violations, []);
    await screenshot(page, 'status-phone');
    await page.close();
  });

  it('shows values changed at the host without a reload, as a reload would word them, under the CSP', { skip }, async () => {
    s.host.users = sampleUsers();
    const page = await (browser as Browser).newPage({ viewport: PHONE_VIEWPORT });
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused/i.test(msg.text()) || msg.type() === 'error') {
        violations.push(msg.text());
      }
    });
    page.on('pageerror', (err) => violations.push(err.message));
    // The webhook line is drawn only when webhooks are on: on from the start here.
    s.host.users[0]!.vehicles[0]!.webhook = 'Deliveries arrive';
    await page.goto(s.base);
    const card = page.locator('article.vehicle').first();
    assert.equal(await card.locator('.lock').innerText(), 'locked');
    const v = s.host.users[0]!.vehicles[0]!;
    v.level = 41.4;
    v.charging = 'FULLY_CHARGED';
    v.pluggedIn = false;
    v.lastRefreshAt = s.clock.now - 2 * 3_600_000;
    v.dataAt = s.clock.now - 3 * 86_400_000;
    v.requestsUsed = 99;
    v.problems = ['Grant <b>read_charge</b> by connecting again'];
    v.webhook = 'No webhook delivery since 09:00 UTC';
    v.lock = 'not-available';
    v.timeline = [{ at: s.clock.now - 3 * 3_600_000, kind: 'unplugged' }, { at: s.clock.now - 2 * 3_600_000, kind: 'read' }];
    const started = Date.now();
    await card.locator('.lock').filter({ hasText: 'not available for this car' }).waitFor({ timeout: 12_500 });
    assert.ok(Date.now() - started < 12_500);
    assert.equal(page.url(), `${s.base}`);
    const live = await card.innerText();
    assert.match(live, /41%/);
    assert.match(live, /fully charged/);
    assert.match(live, /2 hours ago/);
    assert.match(live, /the car reported 3 days ago/);
    assert.match(live, /No webhook delivery since 09:00 UTC/);
    assert.match(live, /99 of 500 this month/);
    assert.equal(await card.locator('rect.used').getAttribute('width'), '99');
    assert.match(live, /Last 24 hours: read 2 hours ago · unplugged 3 hours ago/);
    assert.equal(await card.locator('.timeline line.mark').count(), 2);
    assert.equal(await card.locator('.timeline line.mark.unplugged').getAttribute('x1'), '1260');
    // Text, not markup: the problem's tags stay visible characters.
    assert.equal(await card.locator('.problems li').innerText(), 'Grant <b>read_charge</b> by connecting again');
    assert.equal(await card.locator('.problems b').count(), 0);
    // A reload words it all the same way.
    await page.reload();
    assert.equal(await page.locator('article.vehicle').first().innerText(), live);
    assert.deepEqual(violations, []);
    await page.close();
  });

  it('"Refresh now" and "Disconnect" work by clicking, with confirmation', { skip }, async () => {
    s.host.users = sampleUsers();
    s.host.refreshCalls = [];
    s.host.disconnectCalls = [];
    const page = await (browser as Browser).newPage({ viewport: PHONE_VIEWPORT });
    await page.goto(s.base);
    s.host.readOnRefresh = 3;
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await page.waitForURL(/\?refreshed=done/);
    s.host.readOnRefresh = undefined;
    assert.deepEqual(s.host.refreshCalls, ['v-1']);
    assert.match(await page.locator('#banner').innerText(), /Refreshed Model 3 \(3 requests\): the values below are new\./);

    await page.getByRole('link', { name: 'Disconnect…' }).click();
    assert.match(await page.locator('h1').innerText(), /Disconnect Model 3\?/);
    await screenshot(page, 'disconnect-confirm-phone');
    await page.locator('#confirm-disconnect').click();
    await page.waitForURL(/\?disconnected=1$/);
    assert.deepEqual(s.host.disconnectCalls, ['v-1']);
    assert.match(await page.locator('main').innerText(), /No vehicle is connected yet/);
    await page.close();
  });
});
