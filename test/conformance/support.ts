// Shared pieces of the conformance suite: the real `smartcar` SDK (loaded untyped, with the few
// shapes we assert on), an emulator per test file, Connect driven by posting its forms over HTTP,
// and an assertion that a promise rejects with a SmartcarError carrying exactly the expected fields;
// for v3 (no SDK), a small fetch client that follows links, app tokens in each encoding, and an
// assertion of the whole JSON:API error body.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { DefaultFleet, EmulatorOptions } from '../emulator/index.js';
import { defaultFleet, PERMISSIONS, SmartcarEmulator } from '../emulator/index.js';

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

// ---- v3 (no SDK speaks it: plain fetch) ----------------------------------------------------------

export const V3_CLIENT_ID = 'client_conformance-v3';
export const V3_CLIENT_SECRET = 'conformance-v3-secret';

/** A v3 answer: status, headers, the parsed body (null when empty or not JSON) and the raw text. */
export interface V3Answer { status: number; headers: Headers; body: any; text: string } // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON asserted field by field

export async function answer(res: Response): Promise<V3Answer> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body, text };
}

export type TokenForm = 'form' | 'json' | 'basic';

/** POST /oauth2/token in one of the three encodings of v3 ref §2.2. */
export async function requestAppToken(emu: SmartcarEmulator, form: TokenForm, creds = emu.v3Credentials, extra: Record<string, string> = {}): Promise<V3Answer> {
  const fields = { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret, ...extra };
  const init: RequestInit = { method: 'POST' };
  if (form === 'form') {
    init.headers = { 'content-type': 'application/x-www-form-urlencoded' };
    init.body = new URLSearchParams(fields).toString();
  } else if (form === 'json') {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(fields);
  } else {
    init.headers = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`,
    };
    init.body = new URLSearchParams({ grant_type: fields.grant_type, ...extra }).toString();
  }
  return answer(await fetch(`${emu.origins.iam}/oauth2/token`, init));
}

/** A valid app token (whatever encoding the current tokenBody reading accepts). */
export async function appToken(emu: SmartcarEmulator): Promise<string> {
  const form: TokenForm = emu.readings.tokenBody === 'any' ? 'form' : emu.readings.tokenBody;
  const res = await requestAppToken(emu, form);
  assert.equal(res.status, 200, `token: ${res.text}`);
  return res.body.access_token as string;
}

export interface V3Call { userId?: string; query?: Record<string, string>; headers?: Record<string, string>; body?: unknown; rawBody?: string }

/** A tiny v3 client: `path` is under /v3 on the given host (or a full URL from a link). */
export class V3Client {
  constructor(readonly emu: SmartcarEmulator, public token: string, readonly host: 'v3' | 'management' = 'v3') {}

  url(path: string, query?: Record<string, string>): string {
    const u = new URL(/^https?:/.test(path) ? path : `${this.emu.origins[this.host]}/v3${path}`);
    for (const [k, v] of Object.entries(query ?? {})) {
      u.searchParams.set(k, v);
    }
    return u.toString();
  }

  async call(method: string, path: string, o: V3Call = {}): Promise<V3Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...o.headers };
    if (o.userId !== undefined) {
      headers['sc-user-id'] = o.userId;
    }
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
    }
    if (method === 'POST' && headers['content-type'] === undefined && !('content-type' in (o.headers ?? {}))) {
      headers['content-type'] = 'application/json';
    }
    return answer(await fetch(this.url(path, o.query), { method, headers, ...(body !== undefined ? { body } : {}) }));
  }

  get(path: string, o: V3Call = {}): Promise<V3Answer> {
    return this.call('GET', path, o);
  }

  post(path: string, o: V3Call = {}): Promise<V3Answer> {
    return this.call('POST', path, o);
  }

  delete(path: string, o: V3Call = {}): Promise<V3Answer> {
    return this.call('DELETE', path, o);
  }

  /** Resolves a links.* value under either `links` reading: absolute, or relative to the host's /v3 base. */
  resolve(link: string): string {
    return /^https?:/.test(link) ? link : `${this.emu.origins[this.host]}/v3${link}`;
  }

  /** Follows links.next from `path` until null; returns every page's answer. */
  async pages(path: string, o: V3Call = {}, limit = 50): Promise<V3Answer[]> {
    const out: V3Answer[] = [await this.get(path, o)];
    for (;;) {
      const last = out.at(-1)!;
      assert.equal(last.status, 200, `page ${out.length}: ${last.text}`);
      const next = last.body.links.next as string | null;
      if (next === null) {
        return out;
      }
      assert.ok(out.length < limit, 'links.next ends');
      out.push(await this.get(this.resolve(next), { ...o, query: {} }));
    }
  }
}

export interface ExpectedV3Error { status: number; type: string; code: string | null; bodyStatus?: string; detail?: string | RegExp }

/** Asserts the whole JSON:API error body of v3 ref §5 (one error). */
export function assertV3Error(res: V3Answer, e: ExpectedV3Error): void {
  assert.equal(res.status, e.status, `HTTP status (${res.text})`);
  assert.ok(Array.isArray(res.body?.errors) && res.body.errors.length === 1, `one errors[] entry (${res.text})`);
  const err = res.body.errors[0];
  assert.deepEqual(Object.keys(err).sort(), ['code', 'detail', 'links', 'meta', 'resolution', 'status', 'suggestedUserMessage', 'title', 'type']);
  assert.equal(err.status, e.bodyStatus ?? String(e.status), 'errors[0].status is a string');
  assert.equal(err.type, e.type);
  assert.equal(err.code, e.code);
  assert.equal(typeof err.title, 'string');
  assert.ok(err.title.length > 0);
  assert.equal(typeof err.detail, 'string');
  if (e.detail instanceof RegExp) {
    assert.match(err.detail, e.detail);
  } else if (e.detail !== undefined) {
    assert.equal(err.detail, e.detail);
  }
  assert.equal(err.links.about, `https://smartcar.com/docs/errors/api-errors/v3/${e.type.toLowerCase().replace(/_/g, '-')}-errors`);
  assert.ok('type' in err.resolution, 'resolution.type present');
  assert.equal(typeof err.suggestedUserMessage, 'string');
  assert.equal(typeof err.meta, 'object');
}

/** An emulator with the conformance v3 credentials, the default fleet, and its cars connected (live). */
export async function startV3(options: Partial<EmulatorOptions> = {}): Promise<{ emu: SmartcarEmulator; fleet: DefaultFleet; client: V3Client }> {
  const emu = await startEmulator({ vehicleThrottle: null, v3: { clientId: V3_CLIENT_ID, clientSecret: V3_CLIENT_SECRET }, ...options });
  const fleet = defaultFleet(emu);
  emu.connect(fleet.user.id, { scope: [...PERMISSIONS] });
  return { emu, fleet, client: new V3Client(emu, await appToken(emu)) };
}
