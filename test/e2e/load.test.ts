// Load smoke test: a real Homebridge loads the built plugin with an unconfigured platform block,
// logs where the docs are, starts nothing and logs no error (Verified-plugin rule: do not start unless configured).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { HomebridgeProcess, homebridgeLegs, makeStorage } from '../helpers/homebridge-process.js';

const { legs, missing } = homebridgeLegs();

describe('plugin load in a real Homebridge', () => {
  for (const note of missing) {
    it(note, { skip: true });
  }
  for (const leg of legs) {
    it(`${leg.name}: an unconfigured platform loads, points at the docs and logs no error`, async () => {
      const storage = await makeStorage({ platform: 'Smartcar', name: 'Smartcar' });
      const hb = await HomebridgeProcess.start(leg, storage);
      try {
        await hb.waitForLog(/Smartcar is not configured/);
        const logs = hb.logs;
        assert.match(logs, /Loaded plugin: homebridge-smartcar/);
        assert.match(logs, /https:\/\/github\.com\/homebridge-smartcar\/homebridge-smartcar/);
        const errors = logs.split('\n').filter((l) => /\berror\b|exception|unhandled/i.test(l) && !/requires a Node\.js version/i.test(l));
        assert.deepEqual(errors, [], 'no error lines in the Homebridge log');
        assert.doesNotMatch(logs, /Setup page/, 'nothing started');
      } finally {
        const exit = await hb.stop();
        assert.ok(exit.ms < 8_000, `Homebridge exited within 8 s of SIGTERM (took ${exit.ms} ms)`);
      }
    });
  }
});
