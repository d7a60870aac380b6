// Shared pieces of the conformance suite: the real `smartcar` SDK (loaded untyped, with the few
// shapes we assert on), an emulator per test file, Connect driven by posting its forms over HTTP,
// and an assertion that a promise rejects with a SmartcarError carrying exactly the expected fields.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { EmulatorOptions } from '../emulator/index.js';
import { SmartcarEmulator } from '../emulator/index.js';

export const CLIENT_ID = 'conformance-client';
export const CLIENT_SECRET = 'conformance-secret';
export const REDIRECT_URI = 'http://localhost:8765/callback';

export interface SdkMeta { requestId?: string; dataAge?: Date; fetchedAt?: Date; unitSystem?: string }
export interface SdkAccess { accessToken: string; refreshToken: string; expiration: Date; refreshExpiration: Date }
export interface SdkError extends Error {
  type?: string; code?: string; statusCode: number; description?: string; docURL?: string; requestId?: string;
  retryAfter?: string; resolution?: { type: string | null; url?: string }; suggestedUserMessage?: string; detail?: unknown[];
}
/* The SDK ships no types; these are the parts the suite touches (reference §4.2). */
export interface SdkAuthClient {
  getAuthUrl(scope?: string[], options?: Record<string, unknown>): string;
  exchangeCode(code: string): Promise<SdkAccess>;
  exchangeRefreshToken(token: string): Promise<SdkAccess>;
}
export type WithMeta<T> = T & { meta: SdkMeta };
type Open = 'OPEN' | 'CLOSED' | 'UNKNOWN';
export interface SdkSuccess { message: string; status: string }
export interface SdkVehicle {
  id: string;
  attributes(): Promise<WithMeta<{ id: string; make: string; model: string; year: number }>>;
  vin(): Promise<WithMeta<{ vin: string }>>;
  lockStatus(): Promise<WithMeta<{
    isLocked: boolean; doors: { type: string; status: Open }[]; windows: { type: string; status: Open }[];
    sunroof: { type: string; status: Open }[]; storage: { type: string; status: Open }[]; chargingPort: { type: string; status: Open }[];
  }>>;
  lock(): Promise<WithMeta<SdkSuccess>>;
  unlock(): Promise<WithMeta<SdkSuccess>>;
  battery(): Promise<WithMeta<{ percentRemaining: number; range: number }>>;
  batteryCapacity(): Promise<WithMeta<{ capacity: number }>>;
  charge(): Promise<WithMeta<{ isPluggedIn: boolean; state: string }>>;
  startCharge(): Promise<WithMeta<SdkSuccess>>;
  stopCharge(): Promise<WithMeta<SdkSuccess>>;
  getChargeLimit(): Promise<WithMeta<{ limit: number }>>;
  setChargeLimit(limit: number): Promise<WithMeta<SdkSuccess>>;
  fuel(): Promise<WithMeta<{ amountRemaining: number; percentRemaining: number; range: number }>>;
  odometer(): Promise<WithMeta<{ distance: number }>>;
  location(): Promise<WithMeta<{ latitude: number; longitude: number }>>;
  tirePressure(): Promise<WithMeta<{ frontLeft: number; frontRight: number; backLeft: number; backRight: number }>>;
  engineOil(): Promise<WithMeta<{ lifeRemaining: number }>>;
  permissions(paging?: { limit?: number; offset?: number }): Promise<WithMeta<{ permissions: string[]; paging: { count: number; offset: number } }>>;
  disconnect(): Promise<WithMeta<{ status: string }>>;
  batch(paths: string[]): Promise<Record<string, () => WithMeta<Record<string, unknown>>>>;
  request(method: string, path: string, body?: object, headers?: Record<string, string>): Promise<{ body: unknown; meta: SdkMeta }>;
}
export interface Sdk {
  AuthClient: new (o: { clientId: string; clientSecret: string; redirectUri?: string; mode?: string }) => SdkAuthClient;
  Vehicle: new (id: string, token: string, o?: { unitSystem?: 'metric' | 'imperial' }) => SdkVehicle;
  SmartcarError: new (...args: unknown[]) => SdkError;
  getVehicles(token: string, paging?: { limit?: number; offset?: number }): Promise<{ vehicles: string[]; paging: { count: number; offset: number }; meta: SdkMeta }>;
  getUser(token: string): Promise<{ id: string; meta: SdkMeta }>;
}

export const sdk = createRequire(import.meta.url)('smartcar') as Sdk;

/** Starts an emulator and points the SDK at it (env is read at AuthClient/Vehicle construction). */
export async function startEmulator(options: Partial<EmulatorOptions> = {}): Promise<SmartcarEmulator> {
  const emu = await SmartcarEmulator.start({
    clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI], ...options,
  });
  process.env.SMARTCAR_API_ORIGIN = emu.origin;
  process.env.SMARTCAR_AUTH_ORIGIN = emu.origin;
  return emu;
}

export function authClient(overrides: { redirectUri?: string | undefined; mode?: string } = {}): SdkAuthClient {
  return new sdk.AuthClient({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, ...overrides });
}

export function hiddenSid(page: string): string {
  const m = /name="sid" value="([^"]+)"/.exec(page);
  assert.ok(m, 'page has a sid field');
  return m[1]!;
}

/** Vehicle ids offered (and enabled) on the picker page. */
export function offeredVehicles(page: string): string[] {
  return [...page.matchAll(/<input type="(?:checkbox|radio)" name="vehicle" id="[^"]*" value="([^"]+)"(?! disabled)/g)].map((m) => m[1]!);
}

async function post(url: string, fields: [string, string][]): Promise<Response> {
  return fetch(url, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

export interface ConnectRun { signIn: Response; signInPage: string; picker?: Response; pickerPage?: string; final: Response; location?: URL }

/**
 * Walks Connect like a browser would: open the authorize URL, post the sign-in form, then post the
 * picker with the chosen vehicles (default: every enabled one) and approve or deny.
 */
export async function runConnect(authUrl: string, o: { email: string; password: string; action?: 'approve' | 'deny'; vehicles?: string[] }): Promise<ConnectRun> {
  const signIn = await fetch(authUrl, { redirect: 'manual' });
  assert.equal(signIn.status, 200, 'authorize shows the sign-in page');
  const signInPage = await signIn.text();
  assert.match(signInPage, /id="email"/);
  assert.match(signInPage, /id="password"/);
  assert.match(signInPage, /id="sign-in"/);
  const origin = new URL(authUrl).origin;
  const sid = hiddenSid(signInPage);
  const picker = await post(`${origin}/oauth/login`, [['sid', sid], ['email', o.email], ['password', o.password]]);
  if (picker.status === 302) {
    return { signIn, signInPage, final: picker, location: new URL(picker.headers.get('location')!) };
  }
  const pickerPage = await picker.text();
  if (!/id="approve"/.test(pickerPage)) {
    return { signIn, signInPage, picker, pickerPage, final: picker };
  }
  const chosen = o.vehicles ?? offeredVehicles(pickerPage);
  const final = await post(`${origin}/oauth/grant`, [['sid', sid], ...chosen.map((v): [string, string] => ['vehicle', v]), ['action', o.action ?? 'approve']]);
  const location = final.headers.get('location');
  return { signIn, signInPage, picker, pickerPage, final, ...(location ? { location: new URL(location) } : {}) };
}

/** Connect + exchangeCode through the SDK; returns the tokens. */
export async function connectAndExchange(client: SdkAuthClient, email: string, password: string, scope?: string[], vehicles?: string[]): Promise<SdkAccess> {
  const run = await runConnect(client.getAuthUrl(scope, { state: 'st' }), { email, password, ...(vehicles ? { vehicles } : {}) });
  assert.equal(run.final.status, 302);
  const code = run.location?.searchParams.get('code');
  assert.ok(code, `Connect returned a code (got ${run.location?.toString()})`);
  return client.exchangeCode(code);
}

export interface ExpectedError {
  type: string; code?: string | undefined; statusCode: number; retryAfter?: string; resolution?: string | null; description?: RegExp | string;
}

/** Asserts a SmartcarError with exactly these fields (absent `code` means the body's code was null). */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), e: ExpectedError): Promise<SdkError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected a SmartcarError ${e.type}:${String(e.code)}, got success`);
  assert.ok(caught instanceof sdk.SmartcarError, `expected SmartcarError, got ${caught instanceof Error ? caught.stack : JSON.stringify(caught)}`);
  const err = caught;
  assert.equal(err.type, e.type, `type (${err.message})`);
  assert.equal(err.code, e.code, `code (${err.message})`);
  assert.equal(err.statusCode, e.statusCode, `statusCode (${err.message})`);
  assert.equal(err.retryAfter, e.retryAfter, 'retryAfter');
  if (e.resolution !== undefined) {
    assert.equal(err.resolution?.type ?? null, e.resolution, 'resolution.type');
  }
  if (e.description instanceof RegExp) {
    assert.match(err.description ?? '', e.description);
  } else if (e.description !== undefined) {
    assert.equal(err.description, e.description);
  }
  return err;
}
