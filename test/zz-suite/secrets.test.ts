// Runs last in `npm test` (zz-suite sorts after every other folder) and reads what the whole suite recorded
// (test/helpers/suite-capture.ts): no secret an emulator was started with or issued appears in anything
// Homebridge or the plugin printed, and every token file the plugin wrote was owner-only.
// Run alone it skips, unless HBSC_REQUIRE_ALL=1 (CI), where a missing capture fails.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

import {
  OUTPUT_DIR, SECRETS_FILE, SUITE_DIR, TOKEN_FILES_FILE, type SecretRecord, type TokenFileRecord,
} from '../helpers/suite-capture.js';

// Enough that an empty or half-written capture cannot pass: a client secret, its Basic header, a token pair.
const MIN_SECRETS = 4;
const MIN_OUTPUT_BYTES = 2_000;
// Shorter strings would match by chance; the harness's secrets are all longer.
const MIN_SECRET_LENGTH = 8;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

const readLines = <T>(file: string): T[] => existsSync(file)
  ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T)
  : [];

/**
 * Which secrets occur in `text`. The emulator's tokens are UUIDs (thousands of them over a suite), so those
 * are found by collecting every UUID in the text once; the few others are searched for directly.
 */
function leakedSecrets(text: string, uuids: Set<string>, others: string[]): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(UUID)) {
    const id = m[0].toLowerCase();
    if (uuids.has(id)) {
      found.add(id);
    }
  }
  for (const s of others) {
    if (text.includes(s)) {
      found.add(s);
    }
  }
  return [...found];
}

const hasCapture = existsSync(SUITE_DIR);
const required = process.env.HBSC_REQUIRE_ALL === '1';
const skip = !hasCapture && !required
  ? `no capture at ${relative(process.cwd(), SUITE_DIR)}: this check reads what the whole suite recorded; run \`npm test\``
  : false;

describe('after the whole suite', { skip }, () => {
  const records = readLines<SecretRecord>(SECRETS_FILE);
  const all = [...new Set(records.flatMap((r) => r.secrets))].filter((s) => s.length >= MIN_SECRET_LENGTH);
  const uuids = new Set(all.filter((s) => new RegExp(`^${UUID.source}$`, 'i').test(s)).map((s) => s.toLowerCase()));
  const others = all.filter((s) => !uuids.has(s.toLowerCase()));
  const outputs = existsSync(OUTPUT_DIR) ? readdirSync(OUTPUT_DIR).filter((f) => f.endsWith('.log')).map((f) => join(OUTPUT_DIR, f)) : [];
  const outputBytes = outputs.reduce((sum, f) => sum + statSync(f).size, 0);
  const tokenFiles = readLines<TokenFileRecord>(TOKEN_FILES_FILE);

  it('the capture is there and not empty', () => {
    assert.ok(hasCapture, `${SUITE_DIR} is missing: the suite recorded nothing (HBSC_REQUIRE_ALL=1)`);
    assert.ok(all.length >= MIN_SECRETS, `only ${all.length} secrets recorded in ${SECRETS_FILE}`);
    assert.ok(outputs.length > 0 && outputBytes >= MIN_OUTPUT_BYTES, `only ${outputBytes} bytes of output in ${outputs.length} files under ${OUTPUT_DIR}`);
    assert.ok(tokenFiles.length > 0, `no token file recorded in ${TOKEN_FILES_FILE}`);
    if (required) {
      assert.ok(outputs.some((f) => /\.homebridge-\d+\.log$/.test(f)), 'no real Homebridge process output captured');
      assert.ok(outputs.some((f) => /\.fake-homebridge\.log$/.test(f)), 'no fake Homebridge log captured');
    }
  });

  it('the search finds a secret where there is one', () => {
    const token = [...uuids][0] ?? '00000000-0000-4000-8000-000000000000';
    const secret = others[0] ?? 'a-client-secret';
    const probe = new Set([...uuids, token]);
    assert.deepEqual(leakedSecrets(`Bearer ${token.toUpperCase()} and ${secret}.`, probe, [secret]).sort(), [token, secret].sort());
    assert.deepEqual(leakedSecrets('nothing here 11111111-1111-4111-8111-111111111111', probe, [secret]), []);
  });

  it('none of the recorded secrets appears in what Homebridge and the plugin printed', () => {
    const leaks: string[] = [];
    for (const file of outputs) {
      for (const secret of leakedSecrets(readFileSync(file, 'utf8'), uuids, others)) {
        const from = records.find((r) => r.secrets.some((s) => s === secret || s.toLowerCase() === secret))?.source ?? '?';
        leaks.push(`${relative(SUITE_DIR, file)}: ${secret.slice(0, 6)}… (${from}, ${secret.length} characters)`);
      }
    }
    assert.deepEqual(leaks, [], `${leaks.length} secret(s) in captured output:\n${leaks.join('\n')}`);
  });

  it('every token file the plugin wrote was owner-only (0600) in an owner-only folder (0700)', () => {
    const wrong = tokenFiles.filter((r) => r.mode !== 0o600 || r.dirMode !== 0o700)
      .map((r) => `${r.path}: file ${r.mode.toString(8)}, folder ${r.dirMode.toString(8)}`);
    assert.deepEqual(wrong, [], wrong.join('\n'));
  });
});
