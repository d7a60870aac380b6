// The plugin's settings in a real Config UI X, on both legs (5.10.0 with Homebridge 1.11 on this Node; the
// newest, 5.28.0, with Homebridge 2.x on Node 22), driven in Chromium the way an owner meets them: log in,
// Plugins, the plugin's Plugin Config. Every number is a box one types into (Config UI X draws a bounded
// integer as a range slider unless told otherwise) that still checks its range, "automatic" stays an empty
// box, the secrets are masked, every help text arrives whole (they are inserted as HTML), credentials come
// first and the log prefix last, and Save writes what was typed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Browser, Locator, Page } from 'playwright-core';

import { CONFIG_UI_X_LEGS, ConfigUiX, configUiX } from '../helpers/config-ui-x.js';
import { PROJECT_DIR } from '../helpers/homebridge-process.js';
import { until } from '../helpers/wait.js';
import { freePort, launchChromium, PHONE_VIEWPORT, SCREENSHOT_DIR, screenshot } from './support.js';

interface Prop { type: string; description?: string; placeholder?: string; minimum?: number; maximum?: number; properties?: Record<string, Prop> }
interface Fieldset { title: string; expandable?: boolean; items: string[] }
const schema = JSON.parse(readFileSync(join(PROJECT_DIR, 'config.schema.json'), 'utf8')) as {
  headerDisplay: string; footerDisplay: string; schema: { properties: Record<string, Prop> }; layout: Fieldset[];
};
const props = schema.schema.properties;
const numbers = Object.entries(props).filter(([, p]) => p.type === 'integer');
/** The whole form, however long: the modal scrolls inside a viewport that tall. */
async function formShot(page: Page, form: Locator, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 6000 });
  await form.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
  await page.setViewportSize({ width: 1280, height: 900 });
}
const flat = (text: string) => text.replace(/\s+/g, ' ').trim();
/** Markdown as Config UI X shows it: a link's text without its address. */
const shownMarkdown = (md: string) => flat(md.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1'));

for (const leg of CONFIG_UI_X_LEGS) {
  describe(`the settings form in a real ${leg.title}`, async () => {
    const copy = configUiX(leg);
    const chromium = copy.missing === undefined ? await launchChromium() : {};
    const skip = copy.missing ?? chromium.skip;
    const browser = chromium.browser as Browser;
    let ui: ConfigUiX;
    let page: Page;
    let form: Locator;
    const field = (name: string) => form.locator(`[name="${name}"]`);

    before(async () => {
      if (skip !== undefined) {
        return;
      }
      // What an owner has right after installing the plugin: a block with its name and nothing else.
      ui = await ConfigUiX.start(leg, copy.dir!, { platform: { platform: 'Smartcar', name: 'Smartcar' }, uiPort: await freePort(), bridgePort: await freePort() });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await ui.openPluginConfig(page);
      // The settings modal (its .modal-content holds another one).
      form = page.locator('.modal-content').first();
      await field('clientSecret').waitFor({ timeout: 30_000 });
      for (const f of schema.layout.filter((l) => l.expandable)) {
        // What one sees and clicks is the legend (5.28 adds a visually hidden button beside it for the keyboard).
        await form.locator('legend', { hasText: new RegExp(`^\\s*${f.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }).click();
      }
      await field('name').waitFor();
    });

    after(async () => {
      await page?.close();
      await browser?.close();
      await ui?.stop();
    });

    it('has no slider: every number is a box one types into, with its range', { skip }, async () => {
      await formShot(page, form, `config-ui-x-settings${leg.shotSuffix}`);
      assert.equal(await form.locator('input[type="range"]').count(), 0, 'no range slider anywhere in the form');
      assert.ok(numbers.length >= 7);
      for (const [name, p] of numbers) {
        const input = field(name);
        assert.equal(await input.getAttribute('type'), 'number', `${name} is a number box`);
        assert.equal(await input.getAttribute('min'), String(p.minimum), `${name} keeps its minimum`);
        assert.equal(await input.getAttribute('max'), String(p.maximum), `${name} keeps its maximum`);
      }
      // Typed key by key, as a person would.
      await field('setupPort').fill('');
      await field('setupPort').pressSequentially('8590');
      assert.equal(await field('setupPort').inputValue(), '8590');
      await field('requestsPerVehiclePerMonth').fill('');
      await field('requestsPerVehiclePerMonth').pressSequentially('1000');
      assert.equal(await field('requestsPerVehiclePerMonth').inputValue(), '1000');
    });

    it('checks the range of what is typed, and an emptied automatic number is valid again', { skip }, async () => {
      const refresh = field('refreshIntervalMinutes');
      assert.equal(await refresh.inputValue(), '', 'automatic is an empty box, not a handle at some value');
      assert.equal(await refresh.getAttribute('placeholder'), props.refreshIntervalMinutes!.placeholder);
      assert.equal(await field('staleAfterMinutes').inputValue(), '');
      await refresh.pressSequentially('10');
      await until('the range error', async () => /Must be 30 or more/.test(await form.innerText()) || undefined);
      assert.match(String(await refresh.getAttribute('class')), /ng-invalid/);
      await refresh.fill('');
      await refresh.pressSequentially('20000');
      await until('the range error', async () => /Must be 10080 or less/.test(await form.innerText()) || undefined);
      await refresh.fill('45');
      await until('valid again', async () => /ng-valid/.test(String(await refresh.getAttribute('class'))) || undefined);
      await refresh.fill('');
      await until('empty and valid', async () => /ng-valid/.test(String(await refresh.getAttribute('class'))) || undefined);
      assert.doesNotMatch(await form.innerText(), /Must be \d+ or (more|less)/);
    });

    it('masks the client secret and the management token', { skip }, async () => {
      for (const name of ['clientSecret', 'managementToken']) {
        assert.equal(await field(name).getAttribute('type'), 'password', `${name} is masked`);
      }
    });

    it('shows every help text whole, and the header and footer', { skip }, async () => {
      const text = flat(await form.innerText());
      const descriptions = Object.entries(props).flatMap(([name, p]) => [
        [name, p.description] as const,
        ...Object.entries(p.properties ?? {}).map(([sub, q]) => [`${name}.${sub}`, q.description] as const),
      ]).filter((d): d is readonly [string, string] => d[1] !== undefined);
      assert.ok(descriptions.length >= 18);
      for (const [name, description] of descriptions) {
        assert.ok(text.includes(flat(description)), `the help of ${name} is shown whole: ${description}`);
      }
      // Beside a custom UI Config UI X shows no header: the plugin's own page (its iframe) shows the schema's.
      const custom = flat(await page.frameLocator('.modal-content iframe').locator('#sc-root').innerText());
      assert.ok(custom.includes(shownMarkdown(schema.headerDisplay)), `the header is shown whole: ${custom.slice(0, 300)}`);
      assert.ok(`${text} ${custom}`.includes(shownMarkdown(schema.footerDisplay)), 'the footer is shown whole');
      assert.ok(text.includes('http://localhost:8585/callback'), 'the default redirect URI is spelled out');
    });

    it('asks for the credentials first and the log prefix last', { skip }, async () => {
      const names: string[] = [];
      for (const input of await form.locator('input[name], select[name]').all()) {
        names.push(String(await input.getAttribute('name')));
      }
      assert.deepEqual(names.slice(0, 4), ['api', 'applicationId', 'clientId', 'clientSecret']);
      assert.equal(names.at(-1), 'name');
    });

    it('saves the typed numbers as numbers, the secret as typed, and "automatic" as no value', { skip }, async () => {
      await field('applicationId').fill('0b5e5a4c-6f1e-4d8a-9c3b-2f7d1e8a9b10');
      await field('clientId').fill('client_form');
      await field('clientSecret').pressSequentially('form-secret-typed');
      await field('staleAfterMinutes').pressSequentially('120');
      await field('staleAfterMinutes').fill('');
      await formShot(page, form, `config-ui-x-settings-typed${leg.shotSuffix}`);
      await page.setViewportSize(PHONE_VIEWPORT);
      await screenshot(page, `config-ui-x-settings-phone${leg.shotSuffix}`);
      await page.setViewportSize({ width: 1280, height: 900 });
      await form.getByRole('button', { name: 'Save' }).click();
      const block = await until('config.json written', async () => {
        const b = await ui.pluginBlock();
        return b?.clientSecret === 'form-secret-typed' ? b : undefined;
      }, 15_000);
      assert.equal(block.setupPort, 8590);
      assert.equal(block.requestsPerVehiclePerMonth, 1000);
      assert.equal(block.clientId, 'client_form');
      assert.equal('refreshIntervalMinutes' in block, false, `refresh stays automatic: ${JSON.stringify(block.refreshIntervalMinutes)}`);
      assert.equal('staleAfterMinutes' in block, false, `staleness stays automatic: ${JSON.stringify(block.staleAfterMinutes)}`);
      assert.equal(block.name, 'Smartcar');
    });
  });
}
