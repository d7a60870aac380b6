// What the v3 route modules share: their dependencies (the one world both APIs see), JSON:API
// replies in the content type of the reading, the app-token and sc-user-id checks, paging, links,
// the per-vehicle gate (monthly cap, throttle) and fault application in the v3 shape.
import type { EmulatorClock } from '../clock.js';
import type { ErrorSpec, ResolutionType } from '../errors.js';
import { ApiError } from '../errors.js';
import type { FaultBook, FaultSubject, SignalFault, TerminalFault } from '../faults.js';
import { isSignalFault, isTerminal, normalizePath } from '../faults.js';
import type { Ctx, Reply } from '../http.js';
import { header, sleep } from '../http.js';
import type { VehicleLimits } from '../limits.js';
import type { EmulatorState } from '../state.js';
import { v3Error, v3ErrorBody, v3Spec } from './errors.js';
import type { AppTokens } from './iam.js';
import type { V3Readings } from './readings.js';
import type { SignalStore } from './store.js';
import type { WebhookBook } from './webhooks.js';

export interface V3Deps {
  state: EmulatorState;
  clock: EmulatorClock;
  faults: FaultBook;
  limits: VehicleLimits;
  readings: V3Readings;
  appTokens: AppTokens;
  webhooks: WebhookBook;
  store: SignalStore;
  commandLatencyMs: () => number;
  longRunningAfterMs: () => number;
  /** Origin of the v3 vehicle host and of the management host (for absolute links). */
  origin: (host: 'v3' | 'management') => string;
}

/** Statuses that never count as a billed request (v2 precedent: refused before reaching the car). */
export const NOT_BILLED = new Set([401, 403, 404, 429, 430]);

export const contentType = (deps: V3Deps): string =>
  deps.readings.contentType === 'jsonapi' ? 'application/vnd.api+json' : 'application/json; charset=utf-8';

export function v3Json(deps: V3Deps, status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': contentType(deps), ...headers }, body: JSON.stringify(body) };
}

export function v3ErrorReply(deps: V3Deps, spec: ErrorSpec): Reply {
  const headers: Record<string, string> = {};
  if (spec.retryAfter !== undefined) {
    headers['retry-after'] = String(spec.retryAfter);
  }
  return v3Json(deps, spec.status, v3ErrorBody(spec), headers);
}

/** Strips `/v3`; another version is RESOURCE_NOT_FOUND/VERSION, anything else RESOURCE_NOT_FOUND/PATH. */
export function v3Rest(pathname: string): string {
  const path = normalizePath(pathname);
  if (path === '/v3' || path.startsWith('/v3/')) {
    return normalizePath(path.slice(3) || '/');
  }
  throw /^\/v\d/.test(path) ? v3Error('RESOURCE_NOT_FOUND', 'VERSION') : v3Error('RESOURCE_NOT_FOUND', 'PATH');
}

export const noContent = (): Reply => ({ status: 204, headers: {}, body: '' });

/** The app token from IAM; per-user v2 tokens (and anything else) are 401 here. */
export function requireAppToken(ctx: Ctx, deps: V3Deps): void {
  const m = /^Bearer (\S+)$/.exec(header(ctx, 'authorization') ?? '');
  if (!m || !deps.appTokens.valid(m[1]!)) {
    throw v3Error('AUTHENTICATION', 'UNAUTHORIZED');
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The sc-user-id header: required → 400 MISSING_PARAMETER "missing userId" (live probe, v3 ref §2.3). */
export function scUserId(ctx: Ctx, required: boolean): string | undefined {
  const raw = header(ctx, 'sc-user-id');
  if (raw === undefined || raw.trim() === '') {
    if (required) {
      throw v3Error('VALIDATION', 'MISSING_PARAMETER', { description: 'missing userId' });
    }
    return undefined;
  }
  if (!UUID.test(raw.trim())) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'sc-user-id must be a user id (UUID).' });
  }
  return raw.trim().toLowerCase();
}

/** A positive integer query parameter within bounds, else 400 VALIDATION/INVALID_INPUT_FORMAT. */
export function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) {
    return fallback;
  }
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: `Query parameter ${name} must be an integer between 1 and ${max}.` });
  }
  return n;
}

/** Rejects `filter[…]` / `page[…]` keys a list endpoint does not know (a typo would silently list everything). */
export function checkBracketKeys(query: URLSearchParams, known: string[]): void {
  for (const k of query.keys()) {
    if (/^(filter|page)\[/.test(k) && !known.includes(k)) {
      throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: `Unknown query parameter ${k}.` });
    }
  }
}

export interface Page<T> { items: T[]; number: number; size: number; total: number; last: number }

export function paginate<T>(all: T[], number: number, size: number): Page<T> {
  const last = Math.max(1, Math.ceil(all.length / size));
  return { items: all.slice((number - 1) * size, number * size), number, size, total: all.length, last };
}

/** A link per the `links` reading: base-relative (`/vehicles/…`) or absolute (`http://host/v3/vehicles/…`). */
export function link(deps: V3Deps, host: 'v3' | 'management', path: string, query?: URLSearchParams): string {
  const qs = query && [...query.keys()].length ? `?${query.toString()}` : '';
  return deps.readings.links === 'absolute' ? `${deps.origin(host)}/v3${path}${qs}` : `${path}${qs}`;
}

/** JSON:API `page[number]`/`page[size]` links for connections, subscriptions and webhooks. */
export function bracketLinks<T>(deps: V3Deps, host: 'v3' | 'management', path: string, query: URLSearchParams, p: Page<T>): Record<string, string | null> {
  const at = (n: number): string => {
    const q = new URLSearchParams([...query].filter(([k]) => k !== 'page[number]' && k !== 'page[size]'));
    q.set('page[number]', String(n));
    q.set('page[size]', String(p.size));
    return link(deps, host, path, q);
  };
  return {
    self: at(p.number), first: at(1),
    prev: p.number > 1 ? at(Math.min(p.number - 1, p.last)) : null,
    next: p.number < p.last ? at(p.number + 1) : null,
    last: at(p.last),
  };
}

/**
 * Counts the request against the vehicle: 430 past the monthly cap, 429 with retry-after from the
 * throttle (the same VehicleLimits as v2, so both APIs share one budget).
 */
export function gate(deps: V3Deps, vehicleId: string): void {
  if (deps.limits.overMonthlyCap(vehicleId)) {
    throw v3Error('BILLING', 'VEHICLE_REQUEST_LIMIT');
  }
  const retryAfter = deps.limits.admit(vehicleId);
  if (retryAfter !== null) {
    throw v3Error('RATE_LIMIT', 'VEHICLE', { retryAfter });
  }
}

/** An injected error, filled from the v3 catalogue (so v3-only codes get their texts too). */
export function injectedV3Spec(fault: Extract<TerminalFault, { error: unknown }>): ErrorSpec {
  const e = fault.error;
  const resolution = e.resolution === undefined ? undefined
    : (typeof e.resolution === 'string' || e.resolution === null ? e.resolution as ResolutionType : e.resolution as { type: ResolutionType; url?: string });
  return v3Spec(e.type, e.code ?? null, {
    status: e.status,
    ...(e.description !== undefined ? { description: e.description } : {}),
    ...(e.suggestedUserMessage !== undefined ? { suggestedUserMessage: e.suggestedUserMessage } : {}),
    ...(resolution !== undefined ? { resolution } : {}),
    ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
  });
}

export interface TakenFaults { terminal?: TerminalFault; signal: SignalFault[] }

/** Applies delays now; throws an injected error (v3 shape); returns drop/malformed and per-signal faults. */
export async function takeFaults(deps: V3Deps, subject: Omit<FaultSubject, 'api'>): Promise<TakenFaults> {
  const out: TakenFaults = { signal: [] };
  for (const f of deps.faults.take({ ...subject, api: 'v3' })) {
    if ('delayMs' in f) {
      await sleep(f.delayMs);
    } else if (isSignalFault(f)) {
      out.signal.push(f);
    } else if (isTerminal(f)) {
      out.terminal = f;
    }
  }
  if (out.terminal && 'error' in out.terminal) {
    throw new ApiError(injectedV3Spec(out.terminal));
  }
  return out;
}

/** The reply for a drop/malformed fault. */
export const networkFault = (f: TerminalFault): Reply => ({ status: 200, headers: {}, body: '', fault: 'drop' in f ? 'drop' : 'malformed' });
