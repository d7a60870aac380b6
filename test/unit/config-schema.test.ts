// Every option config.schema.json offers (services.* included) fed wrong-typed and out-of-range values:
// normalizeConfig never throws, warns once naming the option, the offending value and the value used,
// and returns a value the schema itself accepts. The option list comes from the schema, so a new option
// is covered the day it is added.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { normalizeConfig } from '../../src/config.js';
import { captureLog } from '../helpers/log.js';

interface Prop {
  type?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  required?: boolean;
  oneOf?: { enum: string[] }[];
  properties?: Record<string, Prop>;
}

const root = new URL('../../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('config.schema.json', root), 'utf8')) as { schema: { properties: Record<string, Prop> } };
const base = { platform: 'Smartcar', name: 'Smartcar', applicationId: '0b5e5a4c-6f1e-4d8a-9c3b-2f7d1e8a9b10', clientId: 'client_cid', clientSecret: 'csecret' };
const CREDENTIALS = new Set(['applicationId', 'clientId', 'clientSecret']);
/** Secrets that are optional: a wrong one is dropped (never shown), the rest still configured. */
const SECRETS = new Set(['managementToken']);
/** Optional options whose normalized absence reads "none" rather than "automatic". */
const NONE_WHEN_ABSENT = new Set(['webhookUrl', 'managementToken', 'homeLatitude', 'homeLongitude']);

/** Every option by its dotted name, nested objects and their members both. */
const options: [string, Prop][] = Object.entries(schema.schema.properties).flatMap(([name, prop]) => [
  [name, prop] as [string, Prop],
  ...Object.entries(prop.properties ?? {}).map(([sub, p]) => [`${name}.${sub}`, p] as [string, Prop]),
]);

const UNICODE = 'Ünïcödé 🚗 车';
const LONG = 'x'.repeat(10_000);
const shapes: unknown[] = [{}, { nested: 1 }, [], ['a', 1], null];

/** What is wrong for this option, judged from its schema entry alone. */
function wrongValues(name: string, p: Prop): unknown[] {
  switch (p.type) {
    case 'string': {
      if (CREDENTIALS.has(name) || SECRETS.has(name)) {
        return [42, -1, true, { value: 'hidden-secret-123' }, ['hidden-secret-123'], null];
      }
      const values: unknown[] = [42, -1, 0, 1e308, true, false, ...shapes];
      if (p.oneOf) {
        values.push('demo', 'NaN', UNICODE, LONG, `${p.oneOf[0]!.enum[0]}x`);
      }
      if (p.format === 'uri') {
        values.push('not a url', 'ftp://example.com/callback', 'javascript:alert(1)', UNICODE, LONG, `http://localhost/${LONG}`);
      }
      if (p.pattern) {
        values.push(UNICODE, 'a b', 'http://host/', '<script>');
      }
      if (p.maxLength !== undefined) {
        values.push('a'.repeat(p.maxLength + 1), 'é'.repeat(p.maxLength + 1), LONG);
      }
      return values;
    }
    case 'integer': {
      const values: unknown[] = ['abc', 'NaN', 'Infinity', '-Infinity', '1e999', '0x10', '12abc', UNICODE, LONG, true, false,
        Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER,
        ...shapes];
      // 0 means "automatic" for the options without a default, so it is not wrong for them.
      values.push((p.minimum ?? 0) - 1, (p.minimum ?? 0) + 0.5, String((p.minimum ?? 0) - 1));
      if (p.maximum !== undefined) {
        values.push(p.maximum + 1, String(p.maximum + 1));
      }
      return values.filter((v) => !(p.default === undefined && v === 0));
    }
    case 'number': {
      const values: unknown[] = ['abc', 'NaN', 'Infinity', '1e999', '0x10', '12abc', UNICODE, LONG, true, false,
        Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e308, ...shapes];
      if (p.minimum !== undefined) {
        values.push(p.minimum - 0.001, String(p.minimum - 1));
      }
      if (p.maximum !== undefined) {
        values.push(p.maximum + 0.001, String(p.maximum + 1));
      }
      return values;
    }
    case 'boolean':
      return ['yes', 'no', 'on', 1, 0, -1, UNICODE, LONG, ...shapes];
    case 'object':
      return [true, 'all', 42, UNICODE, [], ['lock'], null];
    default:
      return [];
  }
}

function withOption(name: string, value: unknown): Record<string, unknown> {
  const [top, sub] = name.split('.') as [string, string | undefined];
  return { ...base, [top]: sub === undefined ? value : { [sub]: value } };
}

function valueAt(config: Record<string, unknown>, name: string): unknown {
  const [top, sub] = name.split('.') as [string, string | undefined];
  const v = config[top];
  return sub === undefined ? v : (v as Record<string, unknown>)[sub];
}

/** The schema's own verdict on a normalized value; undefined is fine only where the schema has no default. */
function schemaProblem(p: Prop, v: unknown): string | undefined {
  if (v === undefined) {
    return p.default === undefined && !p.required ? undefined : 'undefined';
  }
  switch (p.type) {
    case 'integer':
      if (!Number.isInteger(v)) {
        return 'not an integer';
      }
      if ((p.minimum !== undefined && (v as number) < p.minimum) || (p.maximum !== undefined && (v as number) > p.maximum)) {
        return 'out of range';
      }
      return Object.is(v, -0) ? '-0' : undefined;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return 'not a number';
      }
      return (p.minimum !== undefined && v < p.minimum) || (p.maximum !== undefined && v > p.maximum) ? 'out of range' : undefined;
    case 'string': {
      if (typeof v !== 'string' || v === '') {
        return 'not text';
      }
      if (p.maxLength !== undefined && v.length > p.maxLength) {
        return 'too long';
      }
      if (p.pattern && !new RegExp(p.pattern).test(v)) {
        return 'does not match the pattern';
      }
      if (p.oneOf && !p.oneOf.some((o) => o.enum.includes(v))) {
        return 'not one of the choices';
      }
      if (p.format === 'uri' && !/^https?:\/\//.test(v)) {
        return 'not an http(s) URL';
      }
      return undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'not a boolean';
    case 'object':
      return Object.entries(p.properties ?? {}).map(([k, sub]) => schemaProblem(sub, (v as Record<string, unknown>)[k])).find(Boolean);
    default:
      return `no rule for type ${p.type}`;
  }
}

/** How the warning must spell the value used. */
function usedText(name: string, v: unknown): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (name === 'services') {
    return /; using every service \(lock, battery, pluggedIn, closedUp, lowVoltage, charging, connection, atHome\)$/;
  }
  if (v === undefined && NONE_WHEN_ABSENT.has(name)) {
    return /; using none$/;
  }
  if (v === undefined) {
    return /; using automatic \(.+\)$/;
  }
  return new RegExp(`; using ${escape(typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v))}$`);
}

const label = (v: unknown): string => {
  const s = typeof v === 'number' || v === undefined ? String(v) : JSON.stringify(v);
  return s.length > 30 ? `${s.slice(0, 30)}…(${s.length})` : s;
};

describe('every option in config.schema.json, fed wrong values', () => {
  it('the schema lists options of types this test knows, each with wrong values to try', () => {
    assert.ok(options.length >= 16, `only ${options.length} options found: ${options.map(([n]) => n).join(', ')}`);
    for (const [name, p] of options) {
      assert.ok(wrongValues(name, p).length >= 5, `no wrong values for ${name} (type ${p.type})`);
    }
    const c = normalizeConfig(base, captureLog().log)!;
    const normalized = [...Object.keys(c).filter((k) => k !== 'services'), 'services', ...Object.keys(c.services).map((k) => `services.${k}`)];
    assert.deepEqual(normalized.sort(), options.map(([n]) => n).sort(), 'normalizeConfig and the schema offer the same options');
  });

  for (const [name, p] of options) {
    describe(name, () => {
      for (const value of wrongValues(name, p)) {
        it(`${label(value)}: one warning naming "${name}" and the value used; the result passes the schema`, () => {
          const { log, lines } = captureLog();
          let c: ReturnType<typeof normalizeConfig>;
          assert.doesNotThrow(() => { c = normalizeConfig(withOption(name, value), log); });
          assert.ok(lines.every((l) => l.level === 'warn'), JSON.stringify(lines));
          const mine = lines.filter((l) => l.message.startsWith(`Config option "${name}" `));
          assert.equal(mine.length, 1, `one warning naming "${name}": ${JSON.stringify(lines)}`);
          const warning = mine[0]!.message;
          assert.match(warning, / got /, 'the warning shows what was found');
          assert.ok(warning.length <= 300, `a bounded line, not ${warning.length} characters`);
          if (CREDENTIALS.has(name)) {
            assert.equal(c!, undefined, 'a wrong credential means not configured');
            assert.match(warning, /; using none$/);
            assert.equal(lines.length, 2, JSON.stringify(lines));
            assert.match(lines[1]!.message, new RegExp(`not configured yet: add ${name} `));
            if (name === 'clientSecret') {
              assert.ok(!lines.some((l) => l.message.includes('hidden-secret')), 'the secret is never shown');
            }
            return;
          }
          assert.ok(c!, 'still configured');
          assert.equal(lines.length, 1, JSON.stringify(lines));
          assert.ok(!lines.some((l) => l.message.includes('hidden-secret')), 'a secret is never shown');
          const used = valueAt(c as unknown as Record<string, unknown>, name);
          assert.equal(schemaProblem(p, used), undefined, `normalized ${name} = ${label(used)} fails the schema`);
          assert.match(warning, usedText(name, used));
          const numeric = typeof value === 'number' || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value));
          if (!numeric && p.default !== undefined) {
            assert.deepEqual(used, p.default, 'a value of the wrong kind falls back to the documented default');
          }
        });
      }
    });
  }

  for (const raw of [null, undefined, [], ['clientId', 'cid'], 'clientId=cid', 42, true]) {
    it(`a platform block that is ${label(raw)}: not configured, one line, no throw`, () => {
      const { log, lines } = captureLog();
      assert.equal(normalizeConfig(raw as unknown as Record<string, unknown>, log), undefined);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(lines[0]!.message, /not configured yet: add applicationId .*, clientId .* and clientSecret /);
    });
  }

  it('every option at once: one warning each, still configured', () => {
    const { log, lines } = captureLog();
    const all = Object.fromEntries(options.filter(([n]) => !n.includes('.') && !CREDENTIALS.has(n)).map(([n]) => [n, n === 'services' ? 'none' : { bad: n }]));
    const c = normalizeConfig({ ...base, ...all }, log);
    assert.ok(c);
    assert.equal(lines.length, Object.keys(all).length, JSON.stringify(lines));
    for (const n of Object.keys(all)) {
      assert.ok(lines.some((l) => l.message.startsWith(`Config option "${n}" `)), `no warning for ${n}`);
    }
  });
});

describe('README option table', () => {
  it('names every option of the schema', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const table = readme.slice(readme.indexOf('| Option | Default | Meaning |'));
    for (const [name, p] of options) {
      if (p.type !== 'object') {
        assert.ok(table.includes(`\`${name}\``), `README table lacks ${name}`);
      }
    }
  });
});
