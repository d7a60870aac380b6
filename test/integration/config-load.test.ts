// Loading the plugin the way Homebridge does with a config that is wrong everywhere: it never throws,
// rejects nothing unhandled, warns once per bad option naming it, and where the credentials are good
// the car still shows up and answers in HomeKit.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';

import type { API } from 'homebridge';

import plugin from '../../src/index.js';
import type { SmartcarEmulator } from '../emulator/index.js';
import { crashRecorder } from '../faults/support.js';
import { accessories, accessoryNamed, FakeHomebridge, hap, read, tempStorage, waitFor } from '../helpers/homebridge-api.js';
import { captureLog, type CapturedLog } from '../helpers/log.js';
import { startEmulator, startWithTokens } from '../helpers/plugin-world.js';
import { SETUP_PORT } from '../../src/settings.js';

const { Service, Characteristic } = hap;

/** Every option but the credentials wrong, each in its own way. A bad setupPort still lands on port 0. */
const ALL_WRONG: Record<string, unknown> = {
  name: 42,
  redirectUri: 'not a url',
  mode: 'demo',
  setupPort: -5,
  setupBind: 'not a host!',
  unitSystem: ['metric'],
  lowBatteryPercent: 'low',
  refreshIntervalMinutes: -1,
  requestsPerVehiclePerMonth: 'NaN',
  staleAfterMinutes: { minutes: 60 },
  requestTimeoutSeconds: 1e308,
  services: { lock: 'no', battery: 3, pluggedIn: [] },
};
const NULLS: Record<string, unknown> = Object.fromEntries(Object.keys(ALL_WRONG).map((k) => [k, null]));

/** Holds a port on every address, or finds it held already: either way the plugin cannot have it. */
async function holdPort(port: number): Promise<{ release(): Promise<void> }> {
  const server = createServer();
  const mine = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => resolve(true));
  });
  return { release: () => (mine ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve()) };
}

/** Homebridge's own steps with whatever the platform block holds (even a non-object). */
async function loadRaw(raw: unknown): Promise<{ logs: CapturedLog; api: FakeHomebridge }> {
  const api = new FakeHomebridge(await tempStorage());
  plugin(api as unknown as API);
  const logs = captureLog();
  const platform = new api.platformClass!(logs.log, raw as never, api as unknown as API);
  api.emit('didFinishLaunching');
  await platform.whenLaunched();
  api.emit('shutdown');
  await new Promise((r) => setTimeout(r, 20));
  return { logs, api };
}

describe('loading with a bad config', () => {
  let emu: SmartcarEmulator;
  let userId: string;
  let crashes: ReturnType<typeof crashRecorder>;

  before(async () => {
    crashes = crashRecorder();
    emu = await startEmulator();
    userId = emu.addUser({ email: 'owner@example.com', password: 'pw' }).id;
    emu.addVehicle(userId, { powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, locked: true });
  });
  afterEach(async () => {
    // A stray rejection surfaces a tick later; give it the chance before judging.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(crashes.rejections, [], 'no unhandled rejection');
    assert.deepEqual(crashes.exceptions, [], 'no uncaught exception');
  });
  after(async () => {
    crashes.stop();
    await emu?.close();
  });

  for (const [label, config] of [['every option wrong', ALL_WRONG], ['every option null', NULLS]] as const) {
    it(`${label}, credentials good: one warning per option, and the car works`, async () => {
      // A null setupPort means the default, 8585, which anything on this machine may hold: hold it
      // here so the outcome never depends on that (the page then reports the busy port, in one line).
      const held = config === NULLS ? await holdPort(SETUP_PORT) : undefined;
      const world = await startWithTokens(emu, userId, { config });
      try {
        for (const name of Object.keys(config)) {
          const key = name === 'services' && config === ALL_WRONG ? 'services.lock' : name;
          assert.ok(world.logs.lines.some((l) => l.level === 'warn' && l.message.startsWith(`Config option "${key}" `) && /; using .+/.test(l.message)),
            `no warning naming ${key}:\n${world.logs.text()}`);
        }
        const errors = world.logs.lines.filter((l) => l.level === 'error');
        if (held) {
          assert.equal(errors.length, 1, world.logs.text());
          assert.match(errors[0]!.message, new RegExp(`port ${SETUP_PORT} is already in use`));
        } else {
          assert.deepEqual(errors, [], world.logs.text());
        }
        const car = accessoryNamed(world.api, 'Model 3');
        await waitFor('first read', async () => (await read(car, Service.LockMechanism, Characteristic.LockCurrentState)) === 1);
        const percent = Math.round(emu.vehicle(car.context.vehicleId as string).battery!.percentRemaining * 100);
        assert.equal(await read(car, Service.Battery, Characteristic.BatteryLevel), percent);
        if (!held) {
          assert.match(world.logs.text(), /Setup page: http:\/\/\S+:\d+/, 'the setup page started on the port used');
        }
      } finally {
        await world.shutdown();
        await held?.release();
      }
    });
  }

  it('arrays where objects belong: services as a list warns and keeps every service', async () => {
    const world = await startWithTokens(emu, userId, { config: { services: ['lock'] } });
    try {
      assert.match(world.logs.text('warn'), /Config option "services" should be an object, got \["lock"\]; using every service/);
      const car = accessoryNamed(world.api, 'Model 3');
      assert.ok(car.getService(Service.LockMechanism) && car.getService(Service.Battery));
    } finally {
      await world.shutdown();
    }
  });

  const garbage: [string, unknown, RegExp][] = [
    ['null', null, /add applicationId .*, clientId .* and clientSecret /],
    ['undefined', undefined, /add applicationId .*, clientId .* and clientSecret /],
    ['a list', [{ clientId: 'cid', clientSecret: 'secret' }], /add applicationId .*, clientId .* and clientSecret /],
    ['text', 'clientId=cid', /add applicationId .*, clientId .* and clientSecret /],
    ['a number', 42, /add applicationId .*, clientId .* and clientSecret /],
    ['the platform block without credentials', { platform: 'Smartcar', name: 'Smartcar' }, /add applicationId .*, clientId .* and clientSecret /],
    ['credentials null', { platform: 'Smartcar', clientId: null, clientSecret: null }, /Config option "clientId" should be text, got null/],
    ['credentials of the wrong type', { platform: 'Smartcar', clientId: ['cid'], clientSecret: { s: 'hidden-secret-1' } },
      /Config option "clientSecret" should be text, got an object \(not shown\); using none/],
    ['credentials blank', { platform: 'Smartcar', clientId: '  ', clientSecret: '' }, /add applicationId .*, clientId .* and clientSecret /],
  ];
  for (const [label, raw, expected] of garbage) {
    it(`a platform block that is ${label}: no throw, a warning, nothing started`, async () => {
      emu.resetLog();
      const { logs, api } = await loadRaw(raw);
      assert.match(logs.text('warn'), expected);
      assert.match(logs.text('warn'), /Smartcar is not configured yet: .*https:\/\//);
      assert.ok(!logs.text().includes('hidden-secret'), 'the secret is never shown');
      assert.equal(accessories(api).length, 0);
      assert.equal(emu.requests.length, 0, 'nothing talks to Smartcar');
    });
  }
});
