// The same accessory scenarios on Homebridge 2.4's HAP (@homebridge/hap-nodejs 2.x, where
// BatteryService and several statics are gone and names are validated): run in a child process
// because the HAP library is chosen once per process (test/helpers/homebridge-api.ts). Homebridge 2.x
// comes from scripts/test-copy.sh's cache folder; without it the test is skipped (fails in CI).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';

import { homebridge2 } from '../helpers/homebridge2.js';

const root = join(import.meta.dirname, '../..');
const { missing } = homebridge2();

it('done-when and vehicle scenarios pass on HAP 2.x too, without HAP warnings', { skip: missing }, async () => {
  // Without this the child thinks it runs inside our runner and skips its files.
  const env: NodeJS.ProcessEnv = { ...process.env, HBSC_HAP: '2' };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap',
    'test/integration/done-when.test.ts', 'test/integration/vehicles.test.ts'], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out.split('\n').filter((l) => /not ok|error|Error/.test(l)).slice(0, 20).join('\n'));
  assert.match(out, /# fail 0/);
  assert.doesNotMatch(out, /HAP-NodeJS WARNING|invalid 'Name'|not in required or optional/);
});
