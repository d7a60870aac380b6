// The admin endpoint the Homebridge UI's server process talks to, through the real platform and the
// emulator over real HTTP: with the secret it serves status, Refresh now, Disconnect and a Connect URL;
// everything else (no or a wrong secret, a foreign Host, big or broken JSON, unknown routes, methods and
// cars) gets a 4xx and changes nothing. The secret file is owner-only and the secret is never logged.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { SmartcarEmulator } from '../emulator/index.js';
import { accessories, startPlatform, waitFor, type StartedPlatform } from '../helpers/homebridge-api.js';
import { connectAnswer, pluginConfigV3, startConnected, startEmulator } from '../helpers/plugin-world.js';
import { recordSecrets } from '../helpers/suite-capture.js';

interface Answer { status: number; body: Record<string, unknown>; headers: Record<string, string | string[] | undefined> }

function call(port: number, options: { method?: string; path: string; secret?: string; authorization?: string; host?: string; body?: string | Buffer; type?: string; chunked?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${port}` };
    if (options.authorization !== undefined) {
      headers.authorization = options.authorization;
    } else if (options.secret !== undefined) {
      headers.authorization = `Bearer ${options.secret}`;
    }
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'application/json';
    }
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (options.chunked === true && options.body !== undefined) {
      // No Content-Length: the cap must hold while the body streams in.
      req.setHeader('transfer-encoding', 'chunked');
      const half = Math.floor(options.body.length / 2);
      req.write(options.body.slice(0, half));
      req.end(options.body.slice(half));
      return;
    }
    req.end(options.body);
  });
}

describe('Admin endpoint for the Homebridge UI, through the real platform', () => {
  let emu: SmartcarEmulator;
  let world: StartedPlatform & { storage: string };
  let port: number;
  let secret: string;
  let carId: string;
  let otherId: string;

  const json = (body: unknown): string => JSON.stringify(body);
  const post = (path: string, body: unknown, extra: Partial<Parameters<typeof call>[1]> = {}): Promise<Answer> =>
    call(port, { method: 'POST', path, secret, body: json(body), ...extra });
  const carCount = (): number => accessories(world.api).length;
  const billed = (): number => emu.requests.filter((r) => r.billed !== undefined && r.billed > 0).length;

  before(async () => {
    emu = await startEmulator();
    const userId = emu.addUser({ email: 'admin@example.com', password: 'pw' }).id;
    carId = emu.addVehicle(userId, {
      powertrain: 'BEV', make: 'TESLA', model: 'Model 3', locked: true,
      battery: { percentRemaining: 0.7, rangeKm: 300, capacityKwh: 75 }, charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 0.9 },
    }).id;
    otherId = emu.addVehicle(userId, {
      powertrain: 'ICE', make: 'FORD', model: 'F-150', locked: true,
      fuel: { percentRemaining: 0.5, amountRemainingLiters: 40, rangeKm: 400, tankLiters: 90 },
    }).id;
    world = await startConnected(emu, userId);
    await waitFor('both cars', () => carCount() === 2);
    const file = JSON.parse(await readFile(join(world.storage, 'smartcar-admin.json'), 'utf8')) as { port: number; secret: string };
    port = file.port;
    secret = file.secret;
    recordSecrets('admin-api', [secret]);
    await waitFor('first reads', () => world.platform.status().flatMap((u) => u.vehicles).every((v) => v.lastRefreshAt !== undefined));
  });

  after(async () => {
    await world?.shutdown();
    await emu?.close();
  });

  it('publishes {port, secret} owner-only (0600): a 32-byte secret and a loopback port', async () => {
    const s = await stat(join(world.storage, 'smartcar-admin.json'));
    assert.equal(s.mode & 0o777, 0o600);
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.ok(Number.isInteger(port) && port > 0);
  });

  it('GET /status with the secret: every car with its values, ages and month', async () => {
    const res = await call(port, { path: '/status', secret });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const users = res.body.users as Array<{ vehicles: Array<Record<string, unknown>> }>;
    const cars = users.flatMap((u) => u.vehicles);
    assert.deepEqual(cars.map((v) => v.name).sort(), ['F-150', 'Model 3']);
    const m3 = cars.find((v) => v.vehicleId === carId)!;
    assert.equal(m3.lock, 'locked');
    assert.equal(m3.level, 70);
    assert.equal(typeof m3.lastRefreshAt, 'number');
    assert.equal(typeof m3.requestBudget, 'number');
    assert.ok(Array.isArray(m3.permissions));
    assert.equal(typeof res.body.now, 'number');
  });

  it('POST /refresh {vehicleId}: Refresh now for that car, its answer', async () => {
    const before = billed();
    const res = await post('/refresh', { vehicleId: carId });
    assert.equal(res.status, 200);
    assert.equal(res.body.answer, 'queued');
    await waitFor('the refresh read', () => billed() > before);
  });

  it('POST /connect-url: a Connect URL with a fresh random state each time', async () => {
    const a = await post('/connect-url', {});
    const b = await post('/connect-url', {});
    assert.equal(a.status, 200);
    const ua = new URL(a.body.url as string);
    const ub = new URL(b.body.url as string);
    assert.equal(ua.origin, new URL(emu.origins.connect).origin);
    assert.ok((ua.searchParams.get('state') ?? '').length >= 24);
    assert.notEqual(ua.searchParams.get('state'), ub.searchParams.get('state'));
  });

  it('the Connect URL\'s answer is accepted by the setup page\'s callback (one store of Connect states)', async () => {
    const readAt = (): number[] => world.platform.status().flatMap((u) => u.vehicles).map((v) => v.lastRefreshAt ?? 0);
    const before = readAt();
    const { url } = (await post('/connect-url', {})).body as { url: string };
    emu.autoApprove = { email: 'admin@example.com' };
    const answer = await connectAnswer(url);
    emu.autoApprove = false;
    const page = /Setup page: (http:\/\/\S+)/.exec(world.logs.text())![1]!.replace('0.0.0.0', '127.0.0.1');
    const callback = new URL(`/callback?${answer.toString()}`, page);
    const res = await fetch(callback, { redirect: 'manual' });
    assert.equal(res.status, 303, await res.text());
    assert.match(res.headers.get('location') ?? '', /connected=2/);
    // Connect again reads each car at once: let those reads land before the next test counts requests.
    await waitFor('the reads after Connect', () => readAt().every((at, i) => at > before[i]!));
  });

  it('refuses, each with a 4xx and no state change, everything that is not exactly ours', async () => {
    const before = { cars: carCount(), billed: billed(), requests: emu.requests.filter((r) => r.vehicleId !== undefined).length };
    const big = json({ vehicleId: carId, pad: 'x'.repeat(20_000) });
    const cases: Array<[string, Promise<Answer>, number]> = [
      ['no secret', call(port, { method: 'POST', path: '/disconnect', body: json({ vehicleId: carId }) }), 401],
      ['a wrong secret', post('/disconnect', { vehicleId: carId }, { secret: 'f'.repeat(64) }), 401],
      ['a secret one character short', post('/disconnect', { vehicleId: carId }, { secret: secret.slice(0, -1) }), 401],
      ['not Bearer', post('/disconnect', { vehicleId: carId }, { authorization: `Basic ${secret}` }), 401],
      ['a foreign Host (DNS rebinding)', post('/disconnect', { vehicleId: carId }, { host: `evil.example:${port}` }), 403],
      ['a Host on another port', post('/disconnect', { vehicleId: carId }, { host: `127.0.0.1:${port + 1}` }), 403],
      ['a LAN Host', call(port, { path: '/status', secret, host: `192.168.1.2:${port}` }), 403],
      ['an oversized body', call(port, { method: 'POST', path: '/disconnect', secret, body: big }), 413],
      ['an oversized body, streamed without a length', call(port, { method: 'POST', path: '/disconnect', secret, body: big, chunked: true }), 413],
      ['malformed JSON', call(port, { method: 'POST', path: '/disconnect', secret, body: '{"vehicleId":' }), 400],
      ['a JSON array', call(port, { method: 'POST', path: '/disconnect', secret, body: json([carId]) }), 400],
      ['JSON null', call(port, { method: 'POST', path: '/refresh', secret, body: 'null' }), 400],
      ['not JSON at all', call(port, { method: 'POST', path: '/disconnect', secret, body: `vehicleId=${carId}`, type: 'application/x-www-form-urlencoded' }), 415],
      ['an unknown route', call(port, { path: '/tokens', secret }), 404],
      ['a route with a query', call(port, { path: '/status?x=1', secret }), 404],
      ['a path traversal', call(port, { path: '/../status', secret }), 404],
      ['GET on a POST route', call(port, { path: '/disconnect', secret }), 405],
      ['DELETE on /status', call(port, { method: 'DELETE', path: '/status', secret }), 405],
      ['an unknown car', post('/disconnect', { vehicleId: '00000000-0000-4000-8000-000000000000' }), 404],
      ['an unknown car to refresh', post('/refresh', { vehicleId: '00000000-0000-4000-8000-000000000000' }), 404],
      ['a vehicleId of another shape', post('/disconnect', { vehicleId: '../../etc/passwd' }), 400],
      ['a vehicleId that is a number', post('/disconnect', { vehicleId: 42 }), 400],
      ['a huge vehicleId', post('/disconnect', { vehicleId: 'a'.repeat(5000) }), 400],
      ['no vehicleId to disconnect', post('/disconnect', {}), 400],
      ['an extra field', post('/disconnect', { vehicleId: carId, all: true }), 400],
      ['a body to connect-url', post('/connect-url', { state: 'mine' }), 400],
    ];
    for (const [what, answer, status] of cases) {
      const res = await answer;
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.error, 'string', `${what} says why`);
    }
    assert.equal(carCount(), before.cars, 'no car removed');
    assert.equal(billed(), before.billed, 'nothing read');
    assert.equal(emu.requests.filter((r) => r.vehicleId !== undefined).length, before.requests, 'Smartcar never asked about a car');
    const res405 = await call(port, { path: '/disconnect', secret });
    assert.equal(res405.headers.allow, 'POST');
  });

  it('POST /disconnect {vehicleId}: the car leaves Smartcar and Home; the other stays', async () => {
    const res = await post('/disconnect', { vehicleId: otherId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, 'F-150');
    assert.equal(carCount(), 1);
    assert.ok(emu.requests.some((r) => r.vehicleId === otherId && r.method === 'DELETE'), 'Smartcar was told');
    const again = await post('/disconnect', { vehicleId: otherId });
    assert.equal(again.status, 404, 'a second Disconnect is an unknown car');
  });

  it('never logs the secret', () => {
    assert.ok(!world.logs.text().includes(secret));
  });

  it('on shutdown the endpoint closes and its file is removed; a restart publishes a new secret', async () => {
    await world.shutdown();
    const file = join(world.storage, 'smartcar-admin.json');
    await waitFor('the file removed', () => stat(file).then(() => false, () => true));
    await assert.rejects(call(port, { path: '/status', secret }), { code: 'ECONNREFUSED' });
    world = { ...await startPlatform(pluginConfigV3(), { storage: world.storage }), storage: world.storage };
    const next = JSON.parse(await readFile(file, 'utf8')) as { port: number; secret: string };
    recordSecrets('admin-api', [next.secret]);
    assert.notEqual(next.secret, secret);
    assert.equal((await call(next.port, { path: '/status', secret })).status, 401, 'the old secret is dead');
    assert.equal((await call(next.port, { path: '/status', secret: next.secret })).status, 200);
  });
});

describe('Admin endpoint: the setup code for the owner', () => {
  it('shows the setup page\'s code when the page is open to the network, and none on loopback', async () => {
    const emu = await startEmulator();
    try {
      const userId = emu.addUser({ email: 'code@example.com', password: 'pw' }).id;
      emu.addVehicle(userId, { powertrain: 'ICE', make: 'FORD', model: 'F-150', locked: true });
      for (const [bind, shown] of [['0.0.0.0', true], ['127.0.0.1', false]] as const) {
        const world = await startConnected(emu, userId, { config: { setupBind: bind } });
        try {
          const file = JSON.parse(await readFile(join(world.storage, 'smartcar-admin.json'), 'utf8')) as { port: number; secret: string };
          recordSecrets('admin-api-code', [file.secret]);
          const res = await call(file.port, { path: '/status', secret: file.secret });
          assert.equal(res.status, 200);
          if (shown) {
            assert.equal(res.body.setupCode, (await readFile(join(world.storage, 'smartcar-setup-code'), 'utf8')).trim());
          } else {
            assert.equal(res.body.setupCode, undefined);
          }
        } finally {
          await world.shutdown();
        }
      }
    } finally {
      await emu.close();
    }
  });
});
