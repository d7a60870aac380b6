// Config normalization: defaults, one warning per bad value naming the option and what is used,
// and the single "not configured" line when credentials are missing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { normalizeConfig } from '../../src/config.js';
import { captureLog } from '../helpers/log.js';

const APPLICATION_ID = '0b5e5a4c-6f1e-4d8a-9c3b-2f7d1e8a9b10';
const base = { platform: 'Smartcar', name: 'Smartcar', applicationId: APPLICATION_ID, clientId: 'client_cid', clientSecret: 'csecret' };

describe('normalizeConfig', () => {
  it('applies documented defaults without warnings', () => {
    const { log, lines } = captureLog();
    const c = normalizeConfig(base, log);
    assert.ok(c);
    assert.equal(lines.length, 0);
    assert.equal(c.setupPort, 8585);
    assert.equal(c.setupBind, '127.0.0.1');
    assert.equal(c.redirectUri, 'http://localhost:8585/callback');
    assert.equal(c.mode, 'live');
    assert.equal(c.api, 'v3');
    assert.equal(c.applicationId, APPLICATION_ID);
    assert.equal(c.unitSystem, 'metric');
    assert.equal(c.lowBatteryPercent, 20);
    assert.equal(c.requestTimeoutSeconds, 30);
    assert.equal(c.refreshIntervalMinutes, undefined);
    assert.equal(c.requestsPerVehiclePerMonth, 500);
    assert.deepEqual(c.services, { lock: true, battery: true, pluggedIn: true, closedUp: true, lowVoltage: true, charging: true, connection: true, atHome: true });
  });

  it('webhooks: on with both the URL and the management token; one alone or a v2 application says what is missing', () => {
    const url = 'https://car.example.com/smartcar';
    const on = normalizeConfig({ ...base, webhookUrl: url, managementToken: ' amt-secret ' }, captureLog().log);
    assert.equal(on?.webhookUrl, url);
    assert.equal(on?.managementToken, 'amt-secret');
    assert.equal(on?.webhookPort, 8586);
    assert.equal(on?.webhookBind, '0.0.0.0');
    for (const [cfg, said] of [
      [{ webhookUrl: url }, /"managementToken" is not .*Application Management Token/],
      [{ managementToken: 'amt-secret' }, /"webhookUrl" is not .*callback URI/],
      [{ api: 'v2', clientId: 'c', webhookUrl: url, managementToken: 'amt-secret' }, /need Smartcar API v3/],
    ] as const) {
      const { log, lines } = captureLog();
      const c = normalizeConfig({ ...base, ...cfg }, log);
      assert.equal(c?.webhookUrl, undefined, JSON.stringify(cfg));
      assert.equal(c?.managementToken, undefined);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(lines[0]!.message, /^Webhooks are off: /);
      assert.match(lines[0]!.message, said);
      assert.ok(!lines[0]!.message.includes('amt-secret'), 'the token is never shown');
    }
  });

  it('derives the redirect URI from a custom setup port', () => {
    const c = normalizeConfig({ ...base, setupPort: 9000 }, captureLog().log);
    assert.equal(c?.redirectUri, 'http://localhost:9000/callback');
  });

  for (const [missing, cfg] of [
    ['clientId', { api: 'v2', clientSecret: 's' }],
    ['clientSecret', { api: 'v2', clientId: 'c' }],
    ['clientId and clientSecret', { api: 'v2', clientId: '  ' }],
    ['applicationId \\(the', { clientId: 'client_c', clientSecret: 's' }],
    ['clientId \\(the client ID on the', { applicationId: APPLICATION_ID, clientSecret: 's' }],
    ['applicationId .*, clientId .* and clientSecret \\(the', {}],
  ] as const) {
    it(`missing ${missing}: one line pointing at the docs, nothing returned`, () => {
      const { log, lines } = captureLog();
      assert.equal(normalizeConfig(cfg, log), undefined);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!.message, new RegExp(`add ${missing} `));
      assert.match(lines[0]!.message, /https:\/\//);
    });
  }

  it('v2: the client id is the Application ID, and no applicationId is asked for', () => {
    const { log, lines } = captureLog();
    const c = normalizeConfig({ api: 'v2', clientId: APPLICATION_ID, clientSecret: 's' }, log);
    assert.equal(lines.length, 0);
    assert.equal(c?.api, 'v2');
    assert.equal(c?.applicationId, APPLICATION_ID);
  });

  it('a v2 block switched to v3 (the default) is told which credential goes where, in one line', () => {
    const { log, lines } = captureLog();
    assert.equal(normalizeConfig({ clientId: APPLICATION_ID, clientSecret: 's' }, log), undefined);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.message, /your clientId is a UUID, the Application ID of a v2 setup, so move it to applicationId/);
    assert.match(lines[0]!.message, /API Credentials tab/);
    assert.match(lines[0]!.message, /"api": "v2"/);
  });

  it('v3 with the Application ID in both places names the client_… id as what is missing', () => {
    const { log, lines } = captureLog();
    assert.equal(normalizeConfig({ applicationId: APPLICATION_ID, clientId: APPLICATION_ID, clientSecret: 's' }, log), undefined);
    assert.match(lines[0]!.message, /client ID \(it starts with client_\) in clientId/);
  });

  const cases: { option: Record<string, unknown>; field: string; expected: unknown; warning: RegExp | undefined }[] = [
    { option: { lowBatteryPercent: 150 }, field: 'lowBatteryPercent', expected: 100, warning: /"lowBatteryPercent".*150; using 100/ },
    { option: { lowBatteryPercent: 'low' }, field: 'lowBatteryPercent', expected: 20, warning: /"lowBatteryPercent" should be a number, got "low"; using 20/ },
    { option: { lowBatteryPercent: '15' }, field: 'lowBatteryPercent', expected: 15, warning: undefined },
    { option: { setupPort: 70000 }, field: 'setupPort', expected: 65535, warning: /"setupPort".*70000; using 65535/ },
    { option: { mode: 'demo' }, field: 'mode', expected: 'live', warning: /"mode" must be one of live, simulated, test, got "demo"; using "live"/ },
    { option: { mode: 'Simulated' }, field: 'mode', expected: 'simulated', warning: undefined },
    { option: { unitSystem: 42 }, field: 'unitSystem', expected: 'metric', warning: /"unitSystem".*got 42; using "metric"/ },
    { option: { refreshIntervalMinutes: 5 }, field: 'refreshIntervalMinutes', expected: 30, warning: /"refreshIntervalMinutes".*got 5; using 30/ },
    { option: { refreshIntervalMinutes: 120 }, field: 'refreshIntervalMinutes', expected: 120, warning: undefined },
    { option: { requestTimeoutSeconds: 1 }, field: 'requestTimeoutSeconds', expected: 5, warning: /"requestTimeoutSeconds".*got 1; using 5/ },
    { option: { redirectUri: 'not a url' }, field: 'redirectUri', expected: 'http://localhost:8585/callback', warning: /"redirectUri".*using "http:\/\/localhost:8585\/callback"/ },
    { option: { services: { lock: 'no' } }, field: 'services', expected: { lock: true, battery: true, pluggedIn: true, closedUp: true, lowVoltage: true, charging: true, connection: true, atHome: true }, warning: /"services.lock" should be true or false, got "no"; using true/ },
    { option: { api: 'v4' }, field: 'api', expected: 'v3', warning: /"api" must be one of v3, v2, got "v4"; using "v3"/ },
    { option: { services: { pluggedIn: false } }, field: 'services', expected: { lock: true, battery: true, pluggedIn: false, closedUp: true, lowVoltage: true, charging: true, connection: true, atHome: true }, warning: undefined },
  ];
  for (const { option, field, expected, warning } of cases) {
    it(`${JSON.stringify(option)} → ${field} = ${JSON.stringify(expected)}${warning ? ' with one warning' : ''}`, () => {
      const { log, lines } = captureLog();
      const c = normalizeConfig({ ...base, ...option }, log) as unknown as Record<string, unknown>;
      assert.deepEqual(c[field], expected);
      if (warning) {
        assert.equal(lines.length, 1, JSON.stringify(lines));
        assert.equal(lines[0]!.level, 'warn');
        assert.match(lines[0]!.message, warning);
      } else {
        assert.equal(lines.length, 0, JSON.stringify(lines));
      }
    });
  }

  it('never echoes the client secret in a warning', () => {
    const { log, lines } = captureLog();
    normalizeConfig({ ...base, clientSecret: 'super-secret-value', mode: 9, setupPort: 'x' }, log);
    assert.ok(lines.length >= 2);
    assert.ok(!lines.some((l) => l.message.includes('super-secret-value')));
  });
});

describe('config.schema.json', () => {
  it('offers every option normalizeConfig reads, with the same defaults, for the same platform', async () => {
    const { readFile } = await import('node:fs/promises');
    const schema = JSON.parse(await readFile(new URL('../../config.schema.json', import.meta.url), 'utf8')) as {
      pluginAlias: string; pluginType: string; singular: boolean;
      schema: { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> };
    };
    const { PLATFORM_NAME } = await import('../../src/settings.js');
    assert.equal(schema.pluginAlias, PLATFORM_NAME);
    assert.equal(schema.pluginType, 'platform');
    assert.equal(schema.singular, true);
    const c = normalizeConfig(base, captureLog().log)!;
    const props = schema.schema.properties;
    for (const key of Object.keys(c)) {
      assert.ok(props[key], `option ${key} missing from the schema`);
    }
    for (const key of ['setupPort', 'setupBind', 'mode', 'unitSystem', 'lowBatteryPercent', 'requestsPerVehiclePerMonth', 'requestTimeoutSeconds'] as const) {
      assert.deepEqual(props[key]!.default, c[key], `default of ${key}`);
    }
    for (const key of ['lock', 'battery', 'pluggedIn'] as const) {
      assert.equal(props.services!.properties![key]!.default, c.services[key]);
    }
  });
});

// Config UI X draws the schema with its fork of Angular JSON Schema Form: an integer with a minimum and a
// maximum becomes a range slider unless `x-schema-form` says otherwise, descriptions are inserted as HTML,
// and the layout decides the order (test/browser/config-ui-form.test.ts drives the real Config UI X 5.10.0).
describe('config.schema.json as Config UI X draws it', async () => {
  const { readFile } = await import('node:fs/promises');
  const settings = await import('../../src/settings.js');
  interface FormProp {
    type: string; title?: string; description?: string; placeholder?: string; default?: unknown;
    minimum?: number; maximum?: number; 'x-schema-form'?: { type?: string }; properties?: Record<string, FormProp>;
  }
  interface LayoutItem { type?: string; title?: string; description?: string; items?: (string | { key: string })[] }
  const file = JSON.parse(await readFile(new URL('../../config.schema.json', import.meta.url), 'utf8')) as {
    headerDisplay: string; footerDisplay: string; schema: { properties: Record<string, FormProp> }; layout: LayoutItem[];
  };
  const props = file.schema.properties;
  const all: [string, FormProp][] = Object.entries(props).flatMap(([name, p]) => [
    [name, p] as [string, FormProp],
    ...Object.entries(p.properties ?? {}).map(([sub, q]) => [`${name}.${sub}`, q] as [string, FormProp]),
  ]);
  const keyOf = (item: string | { key: string }) => typeof item === 'string' ? item : item.key;

  it('types every bounded number into a box, not a slider, and keeps its range', () => {
    const numbers = all.filter(([, p]) => p.type === 'integer' || p.type === 'number');
    assert.ok(numbers.length >= 7, numbers.map(([n]) => n).join(', '));
    for (const [name, p] of numbers) {
      assert.ok(p.minimum !== undefined && p.maximum !== undefined, `${name} keeps its range`);
      assert.equal(p['x-schema-form']?.type, 'number', `${name} is typed, not slid`);
    }
  });

  it('leaves the automatic numbers empty, with a placeholder that says so', () => {
    for (const name of ['refreshIntervalMinutes', 'staleAfterMinutes']) {
      assert.equal(props[name]!.default, undefined, `${name} has no default: empty means automatic`);
      assert.ok(props[name]!.placeholder, `${name} says what empty means`);
      assert.match(props[name]!.description ?? '', /^Leave empty for /);
    }
  });

  it('masks the secrets', () => {
    for (const name of ['clientSecret', 'managementToken']) {
      assert.equal(props[name]!['x-schema-form']?.type, 'password', `${name} is a password input`);
    }
  });

  it('says nothing an HTML renderer would eat: no tag-like <…> and no entity in any help text', () => {
    const texts: [string, string][] = [['headerDisplay', file.headerDisplay], ['footerDisplay', file.footerDisplay],
      ...all.flatMap(([name, p]) => [[`${name}.title`, p.title ?? ''], [`${name}.description`, p.description ?? ''], [`${name}.placeholder`, p.placeholder ?? '']] as [string, string][]),
      ...file.layout.flatMap((f) => [[`layout ${f.title}`, f.title ?? ''], [`layout ${f.title} description`, f.description ?? '']] as [string, string][])];
    for (const [where, text] of texts) {
      assert.doesNotMatch(text, /<[A-Za-z/!?]/, `${where} holds tag-like text: ${text}`);
      assert.doesNotMatch(text, /&[A-Za-z#][A-Za-z0-9]*;/, `${where} holds an HTML entity: ${text}`);
    }
  });

  it('states today\'s numbers: the default redirect, the 30-minute floor, the requests kept for commands', () => {
    assert.ok(props.redirectUri!.description!.includes(`http://localhost:${settings.SETUP_PORT}${settings.REDIRECT_PATH}`));
    assert.equal(props.redirectUri!.placeholder, `http://localhost:${settings.SETUP_PORT}${settings.REDIRECT_PATH}`);
    const refresh = props.refreshIntervalMinutes!.description!;
    assert.match(refresh, /adaptive/);
    assert.ok(refresh.includes(`every ${settings.MIN_REFRESH_INTERVAL_MINUTES} minutes`), refresh);
    assert.equal(props.refreshIntervalMinutes!.minimum, settings.MIN_REFRESH_INTERVAL_MINUTES);
    assert.equal(props.refreshIntervalMinutes!.maximum, settings.MAX_REFRESH_INTERVAL_MINUTES);
    assert.ok(props.requestsPerVehiclePerMonth!.description!.includes(`keeps ${settings.REQUESTS_RESERVED_FOR_COMMANDS} for lock and unlock`));
    assert.ok(props.staleAfterMinutes!.description!.includes(`plus ${settings.STALE_MARGIN_MINUTES} minutes`));
    assert.ok(props.requestTimeoutSeconds!.description!.includes(`${settings.V3_COMMAND_TIMEOUT_SECONDS} seconds`));
  });

  it('lays out every option once: credentials first, the webhook fields apart, the log prefix last', () => {
    const listed = file.layout.flatMap((f) => (f.items ?? []).map(keyOf));
    const options = all.filter(([, p]) => p.type !== 'object').map(([n]) => n);
    assert.deepEqual([...listed].sort(), [...options].sort(), 'the layout shows each option exactly once');
    assert.equal(new Set(listed).size, listed.length);
    assert.deepEqual(file.layout[0]!.items!.map(keyOf).slice(0, 4), ['api', 'applicationId', 'clientId', 'clientSecret']);
    assert.equal(listed.at(-1), 'name', 'the log prefix comes last');
    const webhooks = file.layout.find((f) => (f.items ?? []).map(keyOf).includes('webhookUrl'))!;
    assert.deepEqual(webhooks.items!.map(keyOf), ['webhookUrl', 'managementToken', 'webhookPort', 'webhookBind'], 'a fieldset of their own');
    assert.deepEqual(Object.keys(props).filter((k) => k !== 'services'), listed.filter((k) => !k.startsWith('services.')), 'the schema lists its options in the layout\'s order');
  });
});
