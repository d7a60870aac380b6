// `npm start`: the whole product on its embedded default. Starts the local Smartcar emulator with a
// BEV, a PHEV and an ICE car, and a real Homebridge with this plugin configured against it (Smartcar
// API v3; `npm start -- --api v2` for the old one), then prints the setup page and the HomeKit code.
// On v3 the emulator also delivers webhooks to the plugin's receiver, so a car changed through the
// emulator's control API shows in Home within a second, at no request cost.
// Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { defaultFleet, SmartcarEmulator } from '../test/emulator/index.js';
import { freePort } from '../test/helpers/free-port.js';

const PROJECT_DIR = resolve(import.meta.dirname, '..');
const STORAGE = join(PROJECT_DIR, '.homebridge-demo');
const PIN = '031-45-154';
const CLIENT_ID = 'demo-client';
const V3_CLIENT_ID = 'client_demo';

const { values: args } = parseArgs({ options: { api: { type: 'string', default: 'v3' } } });
if (args.api !== 'v3' && args.api !== 'v2') {
  console.error(`--api must be v3 or v2, got ${String(args.api)}`);
  process.exit(2);
}
const apiVersion = args.api;

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, () => probe.close(() => done(true)));
  });
}

async function pickSetupPort(): Promise<number> {
  const wanted = Number(process.env.DEMO_SETUP_PORT ?? 8585);
  return (await portIsFree(wanted)) ? wanted : freePort();
}

function randomUsername(): string {
  return ['0E', ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0'))].join(':').toUpperCase();
}

const setupPort = await pickSetupPort();
const webhookPort = await freePort();
const webhookUrl = `http://127.0.0.1:${webhookPort}/smartcar`;
const managementToken = randomBytes(16).toString('hex');
// Fresh secrets per run: the emulator and the plugin share them, nobody else needs them.
const clientSecret = randomBytes(16).toString('hex');
const v3Secret = randomBytes(16).toString('hex');
const emulator = await SmartcarEmulator.start({
  clientId: CLIENT_ID,
  clientSecret,
  v3: { clientId: V3_CLIENT_ID, clientSecret: v3Secret },
  redirectUris: [`http://localhost:${setupPort}/callback`],
  // The plan most owners have: 500 billed requests per vehicle per month.
  monthlyRequestLimit: 500,
  commandLatencyMs: 1500,
  managementToken,
});
const fleet = defaultFleet(emulator);
// At Home: the Model 3 and the RAV4 are parked at home (the demo's home point), the F-150 is out, 4 km off.
const home = { ...fleet.bev.location };
emulator.updateVehicle(fleet.ice.id, { location: { latitude: home.latitude + 0.036, longitude: home.longitude } });
if (apiVersion === 'v3') {
  // As an owner would make it in the Smartcar Dashboard; the plugin subscribes each car to it.
  emulator.addWebhook({ name: 'Homebridge demo', callbackUri: webhookUrl });
}

// The emulator lives in this process only, so tokens from an earlier run mean nothing: start clean.
await rm(STORAGE, { recursive: true, force: true });
await mkdir(STORAGE, { recursive: true });
const username = randomUsername();
await writeFile(join(STORAGE, 'config.json'), JSON.stringify({
  bridge: { name: 'Smartcar Demo', username, pin: PIN },
  accessories: [],
  platforms: [{
    platform: 'Smartcar', name: 'Smartcar', mode: 'simulated', setupPort, setupBind: '127.0.0.1',
    homeLatitude: home.latitude, homeLongitude: home.longitude,
    ...(apiVersion === 'v3'
      ? { applicationId: CLIENT_ID, clientId: V3_CLIENT_ID, clientSecret: v3Secret, webhookUrl, managementToken, webhookPort, webhookBind: '127.0.0.1' }
      : { api: 'v2', clientId: CLIENT_ID, clientSecret }),
  }],
}, null, 2));

const homebridge = spawn(process.execPath, [
  join(PROJECT_DIR, 'node_modules/homebridge/bin/homebridge'), '-U', STORAGE, '-P', PROJECT_DIR, '--strict-plugin-resolution', '-I',
], {
  env: {
    ...process.env, SMARTCAR_API_ORIGIN: emulator.origin, SMARTCAR_AUTH_ORIGIN: emulator.origin, SMARTCAR_CONNECT_ORIGIN: emulator.origins.connect,
    SMARTCAR_IAM_ORIGIN: emulator.origins.iam, SMARTCAR_API_V3_ORIGIN: emulator.origins.v3, SMARTCAR_MANAGEMENT_API_ORIGIN: emulator.origins.management,
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

console.log(`
  homebridge-smartcar demo (Smartcar API ${apiVersion})
  ─────────────────────────────────────────────────────────────
  Smartcar emulator   ${emulator.origin}  (control API: ${emulator.origin}/_emulator/state)
  Setup page          http://localhost:${setupPort}/
                      Connect a vehicle, sign in as ${fleet.user.email} / ${fleet.password},
                      allow all three cars (Tesla Model 3, Toyota RAV4 Prime, Ford F-150).
  HomeKit code        ${PIN}  (bridge "Smartcar Demo", ${username}; Home app → Add Accessory → More options)${apiVersion === 'v3' ? `
  Webhooks            on: change a car and Home follows within a second, no request billed, e.g.
                      curl -X PATCH ${emulator.origin}/_emulator/vehicles/${fleet.bev.id} \\
                        -H 'content-type: application/json' -d '{"locked": true}'` : ''}
  Stop                Ctrl-C
  ─────────────────────────────────────────────────────────────
`);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  if (homebridge.exitCode === null) {
    homebridge.kill('SIGTERM');
    const forced = setTimeout(() => homebridge.kill('SIGKILL'), 8_000);
    await new Promise((done) => homebridge.once('exit', done));
    clearTimeout(forced);
  }
  await emulator.close();
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
homebridge.once('exit', (code) => {
  if (!stopping) {
    console.error(`Homebridge exited (${code ?? 'signal'}); stopping the demo`);
    void stop(code ?? 1);
  }
});
