// An emulator plus the plugin loaded in a fake Homebridge, wired the way a user would: the plugin
// pointed at the emulator through the env vars (the SDK's for v2, SMARTCAR_*_ORIGIN for v3), cars
// connected through Connect (auto-approved), seeded tokens (v2) or seeded connections (v3), and short
// scheduler delays so tests do not wait minutes.
import { SmartcarEmulator } from '../emulator/index.js';
import { timing } from '../../src/platform.js';
import { TokenFileStore } from '../../src/tokens/store.js';
import { startPlatform, tempStorage, type StartedPlatform } from './homebridge-api.js';

export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-client-secret-must-never-be-logged';
export const REDIRECT_URI = 'http://localhost:8585/callback';
/** v3: the API Credentials tab's client id and secret (the Application ID is CLIENT_ID, as in v2). */
export const V3_CLIENT_ID = 'client_test-v3-api-client';
export const V3_CLIENT_SECRET = 'test-v3-api-secret-must-never-be-logged';

Object.assign(timing, { startupDelayMs: 0, spreadMs: 30, backoffInitialMs: 200, confirmDelayMs: 50, refreshNowDebounceMs: 0, discoveryIntervalMs: 400 });

export async function startEmulator(options: Partial<Parameters<typeof SmartcarEmulator.start>[0]> = {}): Promise<SmartcarEmulator> {
  const emu = await SmartcarEmulator.start({
    clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], vehicleThrottle: null,
    v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }, ...options,
  });
  Object.assign(process.env, emulatorEnv(emu));
  return emu;
}

/** The environment that points the plugin at this emulator (the SDK reads the v2 ones at construction, reference §4.3). */
export function emulatorEnv(emu: SmartcarEmulator): Record<string, string> {
  return {
    SMARTCAR_API_ORIGIN: emu.origin,
    SMARTCAR_AUTH_ORIGIN: emu.origin,
    SMARTCAR_CONNECT_ORIGIN: emu.origins.connect,
    SMARTCAR_IAM_ORIGIN: emu.origins.iam,
    SMARTCAR_API_V3_ORIGIN: emu.origins.v3,
    SMARTCAR_MANAGEMENT_API_ORIGIN: emu.origins.management,
  };
}

/** A v3 platform block against the emulator: Application ID, API client id and secret. */
export function pluginConfigV3(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    applicationId: CLIENT_ID, clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET, redirectUri: REDIRECT_URI, setupPort: 0, setupBind: '127.0.0.1', ...extra,
  };
}

/** v3: the user's cars connected to the application (as Connect would), then the plugin started. */
export async function startConnected(emu: SmartcarEmulator, userId: string, options: { scope?: string[]; vehicleIds?: string[]; config?: Record<string, unknown>; storage?: string; cache?: unknown[] } = {}): Promise<StartedPlatform & { storage: string }> {
  const storage = options.storage ?? await tempStorage();
  emu.connect(userId, { ...(options.scope ? { scope: options.scope } : {}), ...(options.vehicleIds ? { vehicleIds: options.vehicleIds } : {}) });
  const started = await startPlatform(pluginConfigV3(options.config), { storage, ...(options.cache ? { cache: options.cache } : {}) });
  return { ...started, storage };
}

export function pluginConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, setupPort: 0, setupBind: '127.0.0.1', ...extra };
}

/** Runs Smartcar Connect through the emulator (auto-approve) and returns the code it redirects with. */
export async function connectCode(authUrl: string): Promise<string> {
  const code = (await connectAnswer(authUrl)).get('code');
  if (!code) {
    throw new Error('Connect redirected without a code');
  }
  return code;
}

/** Runs Smartcar Connect through the emulator (auto-approve) and returns the query it redirects with. */
export async function connectAnswer(authUrl: string): Promise<URLSearchParams> {
  const res = await fetch(authUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) {
    throw new Error(`Connect did not redirect (${res.status}): ${await res.text()}`);
  }
  return new URL(location).searchParams;
}

/** Writes tokens the emulator issued straight into the plugin's token store (Connect skipped). */
export async function seedTokens(storage: string, userId: string, issued: { accessToken: string; refreshToken: string; expiresIn: number }, expiresAt?: number): Promise<void> {
  const now = Date.now();
  await new TokenFileStore(storage).save({
    userId,
    accessToken: issued.accessToken,
    refreshToken: issued.refreshToken,
    expiresAt: expiresAt ?? now + issued.expiresIn * 1000,
    refreshExpiresAt: now + 60 * 24 * 3600_000,
    updatedAt: now,
  });
}

export async function startWithTokens(emu: SmartcarEmulator, userId: string, options: { scope?: string[]; vehicleIds?: string[]; config?: Record<string, unknown>; storage?: string; cache?: unknown[]; expiresAt?: number } = {}): Promise<StartedPlatform & { storage: string }> {
  const storage = options.storage ?? await tempStorage();
  const issued = emu.issueTokens(userId, { ...(options.scope ? { scope: options.scope } : {}), ...(options.vehicleIds ? { vehicleIds: options.vehicleIds } : {}) });
  await seedTokens(storage, userId, issued, options.expiresAt);
  const started = await startPlatform(pluginConfig(options.config), { storage, ...(options.cache ? { cache: options.cache } : {}) });
  return { ...started, storage };
}
