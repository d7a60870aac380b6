// An emulator plus the plugin loaded in a fake Homebridge, wired the way a user would: the SDK
// pointed at the emulator through its env vars, tokens obtained through Connect (auto-approved)
// or seeded into the token store, and short scheduler delays so tests do not wait minutes.
import { SmartcarEmulator } from '../emulator/index.js';
import { timing } from '../../src/platform.js';
import { TokenFileStore } from '../../src/tokens/store.js';
import { startPlatform, tempStorage, type StartedPlatform } from './homebridge-api.js';

export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-client-secret-must-never-be-logged';
export const REDIRECT_URI = 'http://localhost:8585/callback';

Object.assign(timing, { startupDelayMs: 0, spreadMs: 30, backoffInitialMs: 200, confirmDelayMs: 50, refreshNowDebounceMs: 0 });

export async function startEmulator(options: Partial<Parameters<typeof SmartcarEmulator.start>[0]> = {}): Promise<SmartcarEmulator> {
  const emu = await SmartcarEmulator.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], vehicleThrottle: null, ...options });
  // The SDK reads these when a client is constructed (reference §4.3).
  process.env.SMARTCAR_API_ORIGIN = emu.origin;
  process.env.SMARTCAR_AUTH_ORIGIN = emu.origin;
  return emu;
}

export function pluginConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { api: 'v2', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, setupPort: 0, setupBind: '127.0.0.1', ...extra };
}

/** Runs Smartcar Connect through the emulator (auto-approve) and returns the code it redirects with. */
export async function connectCode(authUrl: string): Promise<string> {
  const res = await fetch(authUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) {
    throw new Error(`Connect did not redirect (${res.status}): ${await res.text()}`);
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) {
    throw new Error(`Connect redirected without a code: ${location}`);
  }
  return code;
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
