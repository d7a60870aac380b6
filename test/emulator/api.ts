// The Vehicle API v2.0 (reference §3, §4.3): exact SDK paths, trailing-slash tolerant. Every vehicle
// request, batch items included, goes through `vehicleRequest`, so auth, permission, limits, faults,
// vehicle state and billing are applied identically whether a path is called alone or inside a batch.
import type { EmulatorClock } from './clock.js';
import type { ErrorSpec, ResolutionType } from './errors.js';
import { ApiError, apiError, errorBody, errorSpec } from './errors.js';
import type { Fault, FaultBook, FaultSubject } from './faults.js';
import { normalizePath } from './faults.js';
import type { Ctx, Reply } from './http.js';
import { header, parseJson, sleep } from './http.js';
import type { VehicleLimits } from './limits.js';
import type { Authorization, EmulatorState } from './state.js';
import type { EmulatedVehicle, Permission, UnitSystem } from './vehicles.js';
import * as V from './vehicles.js';

export interface ApiDeps {
  state: EmulatorState;
  clock: EmulatorClock;
  faults: FaultBook;
  limits: VehicleLimits;
  commandLatencyMs: () => number;
}

interface Endpoint {
  permission: Permission | null;
  /** Counts against the monthly plan and the per-vehicle throttle (reference §8). */
  billable: boolean;
  /** Needs the car itself (so UNREACHABLE / ASLEEP apply); attributes, VIN and app-level calls do not. */
  reachesVehicle: boolean;
  /** Carries sc-data-age / sc-fetched-at / sc-unit-system. */
  data: boolean;
  run: (r: VehicleCall) => object | Promise<object>;
}

interface VehicleCall {
  v: EmulatedVehicle;
  auth: Authorization;
  state: EmulatorState;
  units: UnitSystem;
  body: string;
  query: URLSearchParams;
  now: number;
}

interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  billed: number;
  fault?: 'drop' | 'malformed';
}

const SUCCESS = { message: 'Successfully sent request to vehicle', status: 'success' };
const NOT_BILLED = new Set([401, 403, 404, 429, 430]);
const JSON_TYPE = 'application/json; charset=utf-8';

const read = (permission: Permission, run: Endpoint['run'], reachesVehicle = true): Endpoint =>
  ({ permission, billable: true, reachesVehicle, data: true, run });
const command = (permission: Permission, run: Endpoint['run']): Endpoint =>
  ({ permission, billable: true, reachesVehicle: true, data: false, run });

function actionOf<A extends string>(body: string, allowed: readonly A[]): A {
  const parsed = parseJson(body);
  const action = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).action : undefined;
  if (typeof action !== 'string' || !(allowed as readonly string[]).includes(action)) {
    throw apiError('VALIDATION', 'PARAMETER', {
      description: `Request body must be {"action": ${allowed.map((a) => `"${a}"`).join(' | ')}}.`,
      detail: [{ field: 'action', message: `must be one of ${allowed.join(', ')}` }],
    });
  }
  return action as A;
}

/** `limit`/`offset` paging as on /vehicles and /permissions; count is the total (reference §3.2). */
function page<T>(items: T[], query: URLSearchParams, defaultLimit: number, maxLimit: number): { items: T[]; paging: { count: number; offset: number } } {
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const raw = query.get(name);
    if (raw === null) {
      return fallback;
    }
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw apiError('VALIDATION', 'PARAMETER', {
        description: `Query parameter ${name} must be an integer between ${min} and ${max}.`,
        detail: [{ field: name, message: `must be an integer between ${min} and ${max}` }],
      });
    }
    return n;
  };
  const limit = num('limit', defaultLimit, 1, maxLimit);
  const offset = num('offset', 0, 0, Number.MAX_SAFE_INTEGER);
  return { items: items.slice(offset, offset + limit), paging: { count: items.length, offset } };
}

const ROUTES: Record<string, Endpoint> = {
  'GET /': read('read_vehicle_info', ({ v }) => V.attributesBody(v), false),
  'GET /vin': read('read_vin', ({ v }) => ({ vin: v.vin }), false),
  'GET /security': read('read_security', ({ v }) => V.securityBody(v)),
  'POST /security': command('control_security', ({ v, body, now }) => {
    V.securityCommand(v, actionOf(body, ['LOCK', 'UNLOCK'] as const), now);
    return SUCCESS;
  }),
  'GET /battery': read('read_battery', ({ v, units }) => V.batteryBody(v, units)),
  'GET /battery/capacity': read('read_battery', ({ v }) => V.batteryCapacityBody(v)),
  'GET /charge': read('read_charge', ({ v }) => V.chargeBody(v)),
  'POST /charge': command('control_charge', ({ v, body, now }) => {
    V.chargeCommand(v, actionOf(body, ['START', 'STOP'] as const), now);
    return SUCCESS;
  }),
  'GET /charge/limit': read('read_charge', ({ v }) => V.chargeLimitBody(v)),
  'POST /charge/limit': command('control_charge', ({ v, body, now }) => {
    const parsed = parseJson(body) as { limit?: unknown } | undefined;
    // The SDK sends the limit as a string ("0.9"), reference §4.2.
    const limit = Number(typeof parsed === 'object' && parsed !== null ? parsed.limit : NaN);
    if (!Number.isFinite(limit) || limit < 0.5 || limit > 1) {
      throw apiError('VALIDATION', 'PARAMETER', {
        description: 'limit must be a number between 0.5 and 1.',
        detail: [{ field: 'limit', message: 'must be between 0.5 and 1' }],
      });
    }
    V.setChargeLimit(v, limit, now);
    return SUCCESS;
  }),
  'GET /fuel': read('read_fuel', ({ v, units }) => V.fuelBody(v, units)),
  'GET /odometer': read('read_odometer', ({ v, units }) => V.odometerBody(v, units)),
  'GET /location': read('read_location', ({ v }) => V.locationBody(v)),
  'GET /tires/pressure': read('read_tires', ({ v, units }) => V.tirePressureBody(v, units)),
  'GET /engine/oil': read('read_engine_oil', ({ v }) => V.engineOilBody(v)),
  'GET /permissions': {
    permission: null, billable: false, reachesVehicle: false, data: false,
    run: ({ v, auth, query }) => {
      const { items, paging } = page(auth.vehicles.get(v.id) ?? [], query, 25, 100);
      return { permissions: items, paging };
    },
  },
  'DELETE /application': {
    permission: null, billable: false, reachesVehicle: false, data: false,
    // This token's authorization loses the vehicle (other tokens keep it), and the shared connection goes (v3 sees it).
    run: ({ v, auth, state }) => {
      auth.vehicles.delete(v.id);
      state.dropConnection(auth.userId, v.id);
      return { status: 'success' };
    },
  },
};

export function unitSystemOf(ctx: Ctx): UnitSystem {
  const raw = header(ctx, 'sc-unit-system');
  if (raw === undefined || raw.toLowerCase() === 'metric') {
    return 'metric';
  }
  if (raw.toLowerCase() === 'imperial') {
    return 'imperial';
  }
  throw apiError('VALIDATION', 'PARAMETER', {
    description: 'SC-Unit-System must be "metric" or "imperial".',
    detail: [{ field: 'sc-unit-system', message: 'must be metric or imperial' }],
  });
}

function errorOutcome(spec: ErrorSpec, requestId: string): Outcome {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  if (spec.retryAfter !== undefined) {
    headers['retry-after'] = String(spec.retryAfter);
  }
  return { status: spec.status, headers, body: errorBody(spec, requestId), billed: 0 };
}

export function injectedSpec(fault: Extract<Fault, { error: unknown }>): ErrorSpec {
  const e = fault.error;
  const resolution = e.resolution === undefined ? undefined
    : (typeof e.resolution === 'string' || e.resolution === null ? e.resolution as ResolutionType : e.resolution as { type: ResolutionType; url?: string });
  return errorSpec(e.type, e.code ?? null, {
    status: e.status,
    ...(e.description !== undefined ? { description: e.description } : {}),
    ...(e.suggestedUserMessage !== undefined ? { suggestedUserMessage: e.suggestedUserMessage } : {}),
    ...(resolution !== undefined ? { resolution } : {}),
    ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
  });
}

/** Applies delays and returns the terminal fault (if any) for this subject. */
async function applyFaults(deps: ApiDeps, subject: FaultSubject): Promise<Fault | undefined> {
  let terminal: Fault | undefined;
  for (const f of deps.faults.take(subject)) {
    if ('delayMs' in f) {
      await sleep(f.delayMs);
    } else {
      terminal = f;
    }
  }
  return terminal;
}

function authenticate(ctx: Ctx, deps: ApiDeps): Authorization {
  const m = /^Bearer (\S+)$/.exec(header(ctx, 'authorization') ?? '');
  const auth = m ? deps.state.authorizationFor(m[1]!) : undefined;
  if (!auth) {
    throw apiError('AUTHENTICATION', null);
  }
  return auth;
}

/** One vehicle endpoint call: shared by direct requests and batch items. */
async function vehicleRequest(
  deps: ApiDeps, auth: Authorization, v: EmulatedVehicle, method: string, subPath: string,
  body: string, query: URLSearchParams, units: UnitSystem, requestId: string,
): Promise<Outcome> {
  const endpoint = ROUTES[`${method} ${subPath}`];
  let admitted = false;
  try {
    if (!endpoint) {
      throw apiError('RESOURCE_NOT_FOUND', 'PATH');
    }
    if (endpoint.permission && !(auth.vehicles.get(v.id) ?? []).includes(endpoint.permission)) {
      throw apiError('PERMISSION', null);
    }
    if (endpoint.billable) {
      if (deps.limits.overMonthlyCap(v.id)) {
        throw apiError('BILLING', 'VEHICLE_REQUEST_LIMIT');
      }
      const retryAfter = deps.limits.admit(v.id);
      if (retryAfter !== null) {
        throw apiError('RATE_LIMIT', 'VEHICLE', { retryAfter });
      }
      admitted = true;
    }
    const fault = await applyFaults(deps, { kind: method === 'GET' ? 'read' : 'command', method, path: subPath, vehicleId: v.id });
    if (fault && 'error' in fault) {
      throw new ApiError(injectedSpec(fault));
    }
    if (fault) {
      return { status: 200, headers: {}, body: null, billed: admitted ? 1 : 0, fault: 'drop' in fault ? 'drop' : 'malformed' };
    }
    if (endpoint.reachesVehicle) {
      V.assertReachable(v);
    }
    if (!endpoint.data && endpoint.reachesVehicle) {
      await sleep(deps.commandLatencyMs());
    }
    const now = deps.clock.now();
    const result = await endpoint.run({ v, auth, state: deps.state, units, body, query, now });
    if (method !== 'GET') {
      // A command changed the car: v3 webhooks deliver what its signals now report.
      deps.state.vehicleChanged(v.id);
    }
    const headers: Record<string, string> = { 'content-type': JSON_TYPE };
    if (endpoint.data) {
      headers['sc-data-age'] = new Date(v.dataAt).toISOString();
      headers['sc-fetched-at'] = new Date(now).toISOString();
      headers['sc-unit-system'] = units;
    }
    return { status: 200, headers, body: result, billed: endpoint.billable ? 1 : 0 };
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    const out = errorOutcome(err.spec, requestId);
    out.billed = admitted && !NOT_BILLED.has(err.spec.status) ? 1 : 0;
    return out;
  }
}

function finish(deps: ApiDeps, out: Outcome, vehicleId: string | undefined, auth: Authorization | undefined): Reply {
  for (let i = 0; i < out.billed; i++) {
    deps.limits.bill(vehicleId!);
  }
  return {
    status: out.status,
    headers: out.headers,
    body: out.body === null ? '' : JSON.stringify(out.body),
    ...(out.fault ? { fault: out.fault } : {}),
    log: { billed: out.billed, ...(vehicleId ? { vehicleId } : {}), ...(auth ? { userId: auth.userId } : {}) },
  };
}

async function batch(deps: ApiDeps, ctx: Ctx, auth: Authorization, v: EmulatedVehicle, units: UnitSystem): Promise<Outcome> {
  const parsed = parseJson(ctx.body) as { requests?: unknown } | undefined;
  const requests = typeof parsed === 'object' && parsed !== null ? parsed.requests : undefined;
  if (!Array.isArray(requests) || requests.length === 0
    || !requests.every((r) => typeof r === 'object' && r !== null && typeof (r as { path?: unknown }).path === 'string')) {
    throw apiError('VALIDATION', 'PARAMETER', {
      description: 'Request body must be {"requests": [{"path": "/odometer"}, ...]} with at least one path.',
      detail: [{ field: 'requests', message: 'must be a non-empty array of {path}' }],
    });
  }
  const outer = await applyFaults(deps, { kind: 'read', method: 'POST', path: '/batch', vehicleId: v.id });
  if (outer && 'error' in outer) {
    throw new ApiError(injectedSpec(outer));
  }
  if (outer) {
    return { status: 200, headers: {}, body: null, billed: 0, fault: 'drop' in outer ? 'drop' : 'malformed' };
  }
  const responses: object[] = [];
  let billed = 0;
  let fault: Outcome['fault'];
  for (const r of requests as { path: string }[]) {
    const [rawPath = '', rawQuery = ''] = r.path.split('?', 2);
    const path = normalizePath(rawPath);
    const item = await vehicleRequest(deps, auth, v, 'GET', path, '', new URLSearchParams(rawQuery), units, ctx.requestId);
    billed += item.billed;
    fault ??= item.fault;
    // Every item carries a headers object: the SDK crashes on an item without one (reference §3.4).
    responses.push({ path, code: item.status, headers: item.headers, body: item.body });
  }
  return { status: 200, headers: { 'content-type': JSON_TYPE }, body: { responses }, billed, ...(fault ? { fault } : {}) };
}

/** Entry for every `/v{version}/...` request. */
export async function handleApi(ctx: Ctx, deps: ApiDeps): Promise<Reply> {
  let auth: Authorization | undefined;
  let vehicleId: string | undefined;
  try {
    const m = /^\/v([^/]*)(\/.*)?$/.exec(ctx.url.pathname);
    // Any numeric `major.minor` version is accepted; anything else is RESOURCE_NOT_FOUND/VERSION (reference §3.2).
    if (!m || !/^\d+\.\d+$/.test(m[1]!)) {
      throw apiError('RESOURCE_NOT_FOUND', 'VERSION');
    }
    const rest = normalizePath(m[2] ?? '/');
    auth = authenticate(ctx, deps);
    const units = unitSystemOf(ctx);

    if (rest === '/user' || rest === '/vehicles') {
      if (ctx.method !== 'GET') {
        throw apiError('RESOURCE_NOT_FOUND', 'PATH');
      }
      const fault = await applyFaults(deps, { kind: 'read', method: 'GET', path: rest });
      if (fault && 'error' in fault) {
        throw new ApiError(injectedSpec(fault));
      }
      if (fault) {
        return finish(deps, { status: 200, headers: {}, body: null, billed: 0, fault: 'drop' in fault ? 'drop' : 'malformed' }, undefined, auth);
      }
      const a = auth;
      const body = rest === '/user'
        ? { id: a.userId }
        : (() => {
          const { items, paging } = page([...a.vehicles.keys()], ctx.url.searchParams, 10, 50);
          return { paging, vehicles: items };
        })();
      return finish(deps, { status: 200, headers: { 'content-type': JSON_TYPE }, body, billed: 0 }, undefined, auth);
    }

    const vm = /^\/vehicles\/([^/]+)(\/.*)?$/.exec(rest);
    if (!vm) {
      throw apiError('RESOURCE_NOT_FOUND', 'PATH');
    }
    vehicleId = decodeURIComponent(vm[1]!);
    const v = deps.state.vehicles.get(vehicleId);
    if (!v || !auth.vehicles.has(vehicleId)) {
      throw apiError('CONNECTED_SERVICES_ACCOUNT', 'VEHICLE_MISSING');
    }
    const sub = normalizePath(vm[2] ?? '/');
    if (sub === '/batch' && ctx.method === 'POST') {
      return finish(deps, await batch(deps, ctx, auth, v, units), vehicleId, auth);
    }
    const out = await vehicleRequest(deps, auth, v, ctx.method, sub, ctx.body, ctx.url.searchParams, units, ctx.requestId);
    return finish(deps, out, vehicleId, auth);
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    return finish(deps, errorOutcome(err.spec, ctx.requestId), vehicleId, auth);
  }
}
