// homebridge-ui/server.js forked exactly as Config UI X forks it (an IPC child with HOMEBRIDGE_STORAGE_PATH;
// wait for {action:'ready'}, send {action:'request', path, body, requestId}, read {action:'response'}),
// against a running platform: the owner's actions (and /complete, the Connect relay's answer) work, hostile and
// malformed requests get clean errors without reaching the plugin, and a plugin that is not running gets a message
// saying what to do.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { connectAnswer, startConnected, startEmulator } from '../helpers/plugin-world.js';
import { captureOutput, recordSecrets } from '../helpers/suite-capture.js';

const SERVER = fileURLToPath(new URL('../../homebridge-ui/server.js', import.meta.url));
const NOT_RUNNING = 'Homebridge is not running the Smartcar plugin: start it, then reopen these settings';

interface Response { success: boolean; data: Record<string, unknown> & { message?: string; error?: { status?: number } } }

class UiChild {
  private next = 1;
  private readonly waiting = new Map<number, (r: Response) => void>();
  output = '';
  readonly ready: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    const capture = captureOutput('custom-ui-server');
    const keep = (b: Buffer): void => {
      this.output += b.toString();
      capture(b.toString());
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server.js exited (${code}) before ready: ${this.output}`)));
      child.on('message', (m: { action: string; payload: { requestId?: number; server?: boolean; success?: boolean; data?: unknown } }) => {
        if (m.action === 'ready' && m.payload.server === true) {
          resolve();
        } else if (m.action === 'response') {
          this.waiting.get(m.payload.requestId!)?.({ success: m.payload.success!, data: m.payload.data as Response['data'] });
          this.waiting.delete(m.payload.requestId!);
        }
      });
    });
  }

  static start(storage: string): UiChild {
    // As Config UI X does it: fork the file with IPC, the storage path and the UI version in the environment.
    const child = fork(SERVER, [], {
      env: { ...process.env, HOMEBRIDGE_STORAGE_PATH: storage, HOMEBRIDGE_CONFIG_PATH: join(storage, 'config.json'), HOMEBRIDGE_UI_VERSION: '5.10.0' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    return new UiChild(child);
  }

  request(path: string, body?: unknown): Promise<Response> {
    const requestId = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to ${path}`)), 40_000);
      this.waiting.set(requestId, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.send({ action: 'request', path, body, requestId });
    });
  }

  /** As Config UI X closes the settings: disconnect, then SIGTERM. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) {
      return;
    }
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    await exited;
  }
}

describe('The custom UI server (homebridge-ui/server.js) over IPC, against a running platform', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };
  let ui: UiChild;
  let carId: string;
  let otherId: string;
  let secret: string;

  before(async () => {
    emu = await startEmulator();
    const userId = emu.addUser({ email: 'ui@example.com', password: 'pw' }).id;
    carId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: false,
      battery: { percentRemaining: 0.55, rangeKm: 250, capacityKwh: 75 }, charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
    }).id;
    otherId = emu.addVehicle(userId, {
      powertrain: 'ICE', make: 'FORD', model: 'F-150', locked: true,
      fuel: { percentRemaining: 0.5, amountRemainingLiters: 40, rangeKm: 400, tankLiters: 90 },
    }).id;
    world = await startConnected(emu, userId);
    await waitFor('both cars', () => accessories(world.api).length === 2);
    secret = (JSON.parse(await readFile(join(world.storage, 'smartcar-admin.json'), 'utf8')) as { secret: string }).secret;
    recordSecrets('custom-ui-server', [secret]);
    ui = UiChild.start(world.storage);
    await ui.ready;
  });

  after(async () => {
    await ui?.stop();
    await world?.shutdown();
    await emu?.close();
  });

  it('/status: every car with its values, data age, last read, month and permissions', async () => {
    await waitFor('first reads', () => world.platform.status().flatMap((u) => u.vehicles).every((v) => v.lastRefreshAt !== undefined));
    const r = await ui.request('/status', {});
    assert.equal(r.success, true, JSON.stringify(r.data));
    const cars = (r.data.users as Array<{ vehicles: Array<Record<string, unknown>> }>).flatMap((u) => u.vehicles);
    const m3 = cars.find((v) => v.vehicleId === carId)!;
    assert.equal(m3.name, 'Model 3');
    assert.equal(m3.level, 55);
    assert.equal(m3.pluggedIn, true);
    assert.equal(typeof m3.dataAt, 'number');
    assert.equal(typeof m3.lastRefreshAt, 'number');
    assert.equal(typeof m3.requestsUsed, 'number');
    assert.ok((m3.permissions as string[]).includes('read_battery'));
    assert.equal(r.data.uiVersion, '5.10.0', 'the Homebridge UI version the page decides "Use its position as home" by');
  });

  it('/refresh, /connect-url and /disconnect reach the plugin', async () => {
    const refreshed = await ui.request('/refresh', { vehicleId: carId });
    assert.deepEqual(refreshed, { success: true, data: { answer: 'queued' } });
    const connect = await ui.request('/connect-url', {});
    assert.equal(connect.success, true);
    assert.equal(new URL(connect.data.url as string).origin, new URL(emu.origins.connect).origin);
    const gone = await ui.request('/disconnect', { vehicleId: otherId });
    assert.equal(gone.success, true, JSON.stringify(gone.data));
    assert.equal(accessories(world.api).length, 1);
  });

  it('hostile and malformed requests get clean errors and never reach Smartcar', async () => {
    const toCars = (): number => emu.requests.filter((r) => r.vehicleId !== undefined).length;
    const requests = toCars();
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['an unknown path', '/tokens', {}, /^Not Found$/],
      ['a path like a file', '../../server.js', {}, /^Not Found$/],
      ['an inherited name', 'constructor', { vehicleId: carId }, /^Not Found$/],
      ['another inherited name', 'toString', {}, /^Not Found$/],
      ['__proto__', '__proto__', {}, /^Not Found$/],
      ['a path that is not a string', 42 as unknown as string, {}, /^Not Found$/],
      ['a huge path', `/${'x'.repeat(1_000_000)}`, {}, /^Not Found$/],
      ['disconnect without a body', '/disconnect', undefined, /not a vehicle id/],
      ['disconnect with an empty body', '/disconnect', {}, /not a vehicle id/],
      ['a string body', '/refresh', 'vehicleId', /must be an object/],
      ['an array body', '/disconnect', [carId], /must be an object/],
      ['a number body', '/status', 42, /must be an object/],
      ['a vehicleId that is a number', '/disconnect', { vehicleId: 7 }, /not a vehicle id/],
      ['a vehicleId that is an object', '/refresh', { vehicleId: { $ne: null } }, /not a vehicle id/],
      ['a vehicleId of null', '/disconnect', { vehicleId: null }, /not a vehicle id/],
      ['a vehicleId of another shape', '/disconnect', { vehicleId: '../../etc/passwd' }, /not a vehicle id/],
      ['a vehicleId with a newline', '/refresh', { vehicleId: `${carId}\nINFO forged` }, /not a vehicle id/],
      ['a huge vehicleId', '/disconnect', { vehicleId: 'a'.repeat(1_000_000) }, /not a vehicle id/],
      ['a huge extra field', '/refresh', { vehicleId: carId, pad: 'x'.repeat(1_000_000) }, /field this plugin does not know/],
      ['an extra field', '/status', { all: true }, /field this plugin does not know/],
      ['a body for connect-url', '/connect-url', { redirect: 'https://evil.example/' }, /field this plugin does not know/],
    ];
    for (const [what, path, body, message] of cases) {
      const r = await ui.request(path, body);
      assert.equal(r.success, false, what);
      assert.match(r.data.message ?? '', message, `${what}: ${JSON.stringify(r.data).slice(0, 200)}`);
    }
    assert.equal(toCars(), requests, 'Smartcar never asked about a car');
    assert.equal(accessories(world.api).length, 1, 'no car removed');
    const unknown = await ui.request('/disconnect', { vehicleId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.success, false);
    assert.match(unknown.data.message ?? '', /not connected any more/);
    assert.equal(unknown.data.error?.status, 404);
    assert.equal((await ui.request('/status', {})).success, true, 'the server is still answering');
    assert.ok(!ui.output.includes(secret), 'the secret is not in the UI log');
    assert.doesNotMatch(ui.output, /Incoming Request/, 'no log line per request (the page polls)');
  });

  it('/charge-limit: the car takes the new limit with one command; bad percents are refused in the owner\'s words and never reach Smartcar', async () => {
    const commands = (): number => emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/commands/charge/set-limit')).length;
    const cases: Array<[string, unknown, RegExp]> = [
      ['a percent that is text', { vehicleId: carId, percent: '80' }, /whole percent/],
      ['a fraction', { vehicleId: carId, percent: 0.8 }, /whole percent/],
      ['too low', { vehicleId: carId, percent: 45 }, /The charge limit was not changed: A charge limit is a whole percent from 50 to 100/],
      ['too high', { vehicleId: carId, percent: 101 }, /from 50 to 100/],
      ['no car', { percent: 80 }, /not a vehicle id/],
      ['an extra field', { vehicleId: carId, percent: 80, force: true }, /field this plugin does not know/],
      ['a car without a battery', { vehicleId: otherId, percent: 80 }, /not connected any more|cannot be set/],
    ];
    for (const [what, body, message] of cases) {
      const r = await ui.request('/charge-limit', body);
      assert.equal(r.success, false, what);
      assert.match(r.data.message ?? '', message, `${what}: ${JSON.stringify(r.data).slice(0, 200)}`);
    }
    assert.equal(commands(), 0, 'nothing was sent');
    const set = await ui.request('/charge-limit', { vehicleId: carId, percent: 75 });
    assert.deepEqual(set, { success: true, data: { name: 'Model 3', percent: 75 } });
    assert.equal(commands(), 1);
    assert.equal(emu.vehicle(carId).charge!.limit, 0.75);
    const m3 = ((await ui.request('/status', {})).data.users as Array<{ vehicles: Array<Record<string, unknown>> }>).flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!;
    assert.equal(m3.chargeLimit, 75);
    assert.equal(m3.chargeLimitSettable, true);
    emu.inject({ target: 'command', vehicleId: carId }, { error: { type: 'VEHICLE_STATE', code: 'CHARGE_FAULT', status: 409, description: 'The charging system reported a fault.' } });
    const refused = await ui.request('/charge-limit', { vehicleId: carId, percent: 60 });
    assert.equal(refused.success, false);
    assert.match(refused.data.message ?? '', /The charge limit was not changed: .*(CHARGE_FAULT|charging system)/i);
    assert.equal(emu.vehicle(carId).charge!.limit, 0.75, 'unchanged');
  });

  it('/home-from-car: the car\'s position now, for the settings form only (one request, never in a log)', async () => {
    emu.updateVehicle(carId, { location: { latitude: 48.137154321, longitude: 11.575382 } });
    const used = world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!.requestsUsed!;
    const billed = emu.billedCount(carId);
    const r = await ui.request('/home-from-car', { vehicleId: carId });
    assert.equal(r.success, true, JSON.stringify(r.data));
    assert.equal(r.data.name, 'Model 3');
    assert.equal(r.data.latitude, 48.13715, 'about a metre, no finer');
    assert.equal(r.data.longitude, 11.57538);
    assert.equal(emu.billedCount(carId) - billed, 1, 'one billed request');
    assert.equal(world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!.requestsUsed, used + 1, 'counted in the month');
    for (const text of [world.logs.text(), ui.output]) {
      assert.ok(!/48\.13|11\.57/.test(text), 'the position is in no log');
    }
    const view = world.platform.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === carId)!;
    assert.ok(!JSON.stringify(view).includes('48.13'), 'nor in what the pages show');
    for (const [what, body, message] of [
      ['no car', {}, /not a vehicle id/],
      ['an extra field', { vehicleId: carId, latitude: 1 }, /field this plugin does not know/],
      ['an unknown car', { vehicleId: '00000000-0000-4000-8000-000000000000' }, /not connected any more/],
    ] as const) {
      const refused = await ui.request('/home-from-car', body);
      assert.equal(refused.success, false, what);
      assert.match(refused.data.message ?? '', message, what);
    }
    emu.inject({ target: 'read', vehicleId: carId }, { error: { type: 'VEHICLE_STATE', code: 'ASLEEP', status: 409, description: 'The vehicle is asleep.' } });
    const asleep = await ui.request('/home-from-car', { vehicleId: carId });
    assert.equal(asleep.success, false);
    assert.match(asleep.data.message ?? '', /The home point was not filled in: .*asleep/i);
  });

  it('/complete: the relay\'s answer finishes Connect once, with the setup page\'s state; anything else is refused and stores nothing', async () => {
    const before = accessories(world.api).length;
    assert.ok(!accessories(world.api).some((a) => a.displayName === 'F-150'), 'the F-150 was disconnected above');
    emu.autoApprove = { email: 'ui@example.com', vehicleIds: [otherId] };
    const started = await ui.request('/connect-url', {});
    const answer = await connectAnswer(started.data.url as string);
    const fields = { state: answer.get('state')!, code: answer.get('code')!, userId: answer.get('user_id')! };

    const done = await ui.request('/complete', fields);
    assert.equal(done.success, true, JSON.stringify(done.data));
    // v3 names every car of the account now connected: the one added and the one already there.
    assert.deepEqual([...(done.data.connected as string[])].sort(), ['F-150', 'Model 3']);
    await waitFor('the F-150 back in Home', () => accessories(world.api).some((a) => a.displayName === 'F-150'));
    const connected = accessories(world.api).length;
    assert.equal(connected, before + 1);

    // The same answer again, and one with a state the plugin never issued: refused in the owner's words.
    for (const [what, body] of [['a reused state', fields], ['an unknown state', { ...fields, state: 'A'.repeat(43) }]] as const) {
      const r = await ui.request('/complete', body);
      assert.equal(r.success, false, what);
      assert.match(r.data.message ?? '', /^This Smartcar answer cannot be used: .*already used\. Nothing was stored/, what);
    }

    // Smartcar's refusal, with its words as they came (the page shows them as text).
    const declined = await ui.request('/connect-url', {});
    const state = new URL(declined.data.url as string).searchParams.get('state')!;
    const no = await ui.request('/complete', { state, error: 'access_denied', errorDescription: '<b>User denied</b>' });
    assert.equal(no.success, false);
    assert.match(no.data.message ?? '', /^Nothing was connected\. You chose not to allow access.* Smartcar said: <b>User denied<\/b>$/);

    const freshUrl = (await ui.request('/connect-url', {})).data.url as string;
    const fresh = new URL(freshUrl).searchParams.get('state')!;
    const malformed: Array<[string, unknown, RegExp]> = [
      ['no body', undefined, /has no state/],
      ['an empty body', {}, /has no state/],
      ['an array', [fresh], /must be an object/],
      ['a state that is a number', { state: 42, code: 'c' }, /state must be text of at most 512 characters/],
      ['a code that is an object', { state: fresh, code: { $ne: null } }, /code must be text of at most 512 characters/],
      ['a huge code', { state: fresh, code: 'x'.repeat(100_000) }, /code must be text of at most 512 characters/],
      ['a huge description', { state: fresh, error: 'access_denied', errorDescription: 'x'.repeat(600) }, /errorDescription must be text of at most 501/],
      ['an unknown field', { state: fresh, code: 'c', redirect: 'https://evil.example/' }, /field this plugin does not know/],
      ['a state but no answer', { state: fresh }, /has no code, user id or error/],
    ];
    for (const [what, body, message] of malformed) {
      const r = await ui.request('/complete', body);
      assert.equal(r.success, false, what);
      assert.match(r.data.message ?? '', message, `${what}: ${JSON.stringify(r.data).slice(0, 200)}`);
    }
    // The endpoint checks again what server.js let through, and on its own says why.
    const { port } = JSON.parse(await readFile(join(world.storage, 'smartcar-admin.json'), 'utf8')) as { port: number };
    const direct = async (body: unknown): Promise<{ status: number; error: unknown }> => {
      const res = await fetch(`http://127.0.0.1:${port}/complete`, {
        method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      return { status: res.status, error: ((await res.json()) as { error?: unknown }).error };
    };
    assert.deepEqual(await direct({ state: fresh, userId: ['x'] }), { status: 400, error: 'userId must be text of at most 512 characters' });
    assert.deepEqual(await direct({ state: fresh, code: 'c', extra: 1 }), { status: 400, error: 'unexpected field in the body' });
    assert.deepEqual(await direct({ code: 'c' }), { status: 400, error: 'state is required' });
    assert.equal(accessories(world.api).length, connected, 'nothing more stored');
    // The fresh state was never spent by a malformed request: the real answer to its Connect still works.
    const again = await connectAnswer(freshUrl);
    const redone = await ui.request('/complete', { state: again.get('state')!, code: again.get('code')!, userId: again.get('user_id')! });
    assert.equal(redone.success, true, JSON.stringify(redone.data));
    assert.ok((redone.data.connected as string[]).includes('F-150'));
    emu.autoApprove = false;
    assert.ok(!ui.output.includes(fields.code), 'the code is not in the UI log');
  });

  it('a secret that changed under it (the plugin restarted) is read again; a dead one says reopen', async () => {
    const file = join(world.storage, 'smartcar-admin.json');
    const real = await readFile(file, 'utf8');
    const { port } = JSON.parse(real) as { port: number };
    await writeFile(file, JSON.stringify({ port, secret: 'a'.repeat(64) }), { mode: 0o600 });
    try {
      const r = await ui.request('/status', {});
      assert.equal(r.success, false);
      assert.match(r.data.message ?? '', /restarted while these settings were open: close and reopen them/);
    } finally {
      await writeFile(file, real, { mode: 0o600 });
    }
    assert.equal((await ui.request('/status', {})).success, true, 'the file is read on every request');
  });

  it('the plugin not running: every request says to start it, then reopen the settings', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hbsc-ui-'));
    const lonely = UiChild.start(empty);
    try {
      await lonely.ready;
      for (const path of ['/status', '/connect-url']) {
        const r = await lonely.request(path, {});
        assert.equal(r.success, false);
        assert.equal(r.data.message, NOT_RUNNING, path);
      }
      // A file left by a plugin that has stopped (its port closed), and one that is not ours.
      await writeFile(join(empty, 'smartcar-admin.json'), JSON.stringify({ port: 9, secret: 'b'.repeat(64) }));
      assert.equal((await lonely.request('/status', {})).data.message, NOT_RUNNING);
      await writeFile(join(empty, 'smartcar-admin.json'), '{"port": "x"');
      assert.match((await lonely.request('/status', {})).data.message ?? '', /^Homebridge is not running the Smartcar plugin: start it, then reopen these settings \(/);
    } finally {
      await lonely.stop();
    }
  });

  it('closing the settings ends the process (disconnect, as Config UI X does)', async () => {
    const extra = UiChild.start(world.storage);
    await extra.ready;
    await extra.stop();
    assert.notEqual(extra.child.exitCode ?? extra.child.signalCode, null);
  });
});
