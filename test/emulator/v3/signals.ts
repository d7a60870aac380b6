// v3 signals (v3 ref §3.3, §4): the catalogue of codes derived from the shared vehicle state, with
// the permission each needs, and GET /vehicles/{id}/signals[/{code}] in the JSON:API shapes of the
// reference, per the readings (store, paging, timestamps, units, fuel level, envelope, ungranted,
// offline, billing). Per-signal failures sit inside a 200 answer as status ERROR / UNAVAILABLE.
// VEHICLE_STATE webhooks carry the same evaluation (evaluateSignals), so the two cannot drift.
import type { Connection } from '../connections.js';
import { ApiError } from '../errors.js';
import type { SignalFault } from '../faults.js';
import type { Ctx, Reply } from '../http.js';
import type { EmulatedVehicle, OpenState, Permission, Quad } from '../vehicles.js';
import type { V3Deps } from './context.js';
import { checkBracketKeys, gate, intParam, link, networkFault, NOT_BILLED, paginate, takeFaults, v3ErrorReply, v3Json } from './context.js';
import { asV3, v3Error } from './errors.js';
import type { V3Readings } from './readings.js';
import type { Retrieved, Source } from './store.js';

export interface SignalDef {
  code: string;
  name: string;
  group: string;
  permission: Permission;
  /** False for values Smartcar has without the car (the VIN): they are served even when it sleeps. */
  reachesVehicle: boolean;
  /** The body from a vehicle state, or undefined when this powertrain cannot have the signal. */
  body: (v: EmulatedVehicle, r: V3Readings) => object | undefined;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const pct = (fraction: number): number => round(fraction * 100, 1);
const km = (r: V3Readings): string => (r.units === 'long' ? 'kilometers' : 'km');
const isOpen = (s: OpenState): boolean | null => (s === 'UNKNOWN' ? null : s === 'OPEN');
const POSITIONS: [keyof Quad, number, number][] = [['frontLeft', 0, 0], ['frontRight', 0, 1], ['backLeft', 1, 0], ['backRight', 1, 1]];

const def = (code: string, name: string, group: string, permission: Permission, body: SignalDef['body'], reachesVehicle = true): SignalDef =>
  ({ code, name, group, permission, reachesVehicle, body });

/** In list order. Row 0 = front, column 0 = left (v3 ref §4). */
export const SIGNALS: readonly SignalDef[] = [
  def('closure-islocked', 'IsLocked', 'Closure', 'read_security', (v) => ({ value: v.locked })),
  def('closure-doors', 'Doors', 'Closure', 'read_security', (v, r) => ({
    [r.doorsKey]: POSITIONS.map(([k, row, column]) => ({ row, column, isOpen: isOpen(v.doors[k]), isLocked: v.locked })),
    rowCount: 2, columnCount: 2,
  })),
  def('closure-windows', 'Windows', 'Closure', 'read_security', (v) => ({
    values: POSITIONS.map(([k, row, column]) => ({ row, column, isOpen: isOpen(v.windows[k]) })), rowCount: 2, columnCount: 2,
  })),
  def('closure-reartrunk', 'RearTrunk', 'Closure', 'read_security', (v) => ({ isOpen: isOpen(v.trunk), isLocked: v.locked })),
  // The front storage is a frunk on a BEV and the engine cover elsewhere (as v2's storage "front").
  def('closure-fronttrunk', 'FrontTrunk', 'Closure', 'read_security',
    (v) => (v.powertrain === 'BEV' ? { isOpen: isOpen(v.hood), isLocked: v.locked } : undefined)),
  def('closure-enginecover', 'EngineCover', 'Closure', 'read_security', (v) => (v.powertrain === 'BEV' ? undefined : { isOpen: isOpen(v.hood) })),
  def('closure-sunroof', 'Sunroof', 'Closure', 'read_security', (v) => ({ isOpen: isOpen(v.sunroof) })),
  def('tractionbattery-stateofcharge', 'StateOfCharge', 'TractionBattery', 'read_battery',
    (v) => (v.battery ? { value: pct(v.battery.percentRemaining), unit: 'percent' } : undefined)),
  def('tractionbattery-range', 'Range', 'TractionBattery', 'read_battery',
    (v, r) => (v.battery ? { value: round(v.battery.rangeKm), additionalValues: [], unit: km(r) } : undefined)),
  def('charge-ischarging', 'IsCharging', 'Charge', 'read_charge', (v) => (v.charge ? { value: v.charge.state === 'CHARGING' } : undefined)),
  def('charge-detailedchargingstatus', 'DetailedChargingStatus', 'Charge', 'read_charge', (v) => (v.charge ? { value: v.charge.state } : undefined)),
  def('charge-ischargingcableconnected', 'IsChargingCableConnected', 'Charge', 'read_charge',
    (v) => (v.charge ? { value: v.charge.isPluggedIn } : undefined)),
  // activeLimit is null when not plugged in (docs); the real payload's values[] is empty.
  def('charge-chargelimits', 'ChargeLimits', 'Charge', 'read_charge',
    (v) => (v.charge ? { values: [], activeLimit: v.charge.isPluggedIn ? pct(v.charge.limit) : null, unit: 'percent' } : undefined)),
  def('internalcombustionengine-fuellevel', 'FuelLevel', 'InternalCombustionEngine', 'read_fuel', (v, r) => {
    if (!v.fuel) {
      return undefined;
    }
    return r.fuelLevel === 'percent' ? { value: pct(v.fuel.percentRemaining), unit: 'percent' } : { value: round(v.fuel.percentRemaining, 4) };
  }),
  def('internalcombustionengine-range', 'Range', 'InternalCombustionEngine', 'read_fuel',
    (v, r) => (v.fuel ? { value: round(v.fuel.rangeKm), unit: km(r) } : undefined)),
  def('internalcombustionengine-oillife', 'OilLife', 'InternalCombustionEngine', 'read_engine_oil',
    (v) => (v.oilLifeRemaining === null ? undefined : { value: pct(v.oilLifeRemaining), unit: 'percent' })),
  def('odometer-traveleddistance', 'TraveledDistance', 'Odometer', 'read_odometer', (v, r) => ({ value: round(v.odometerKm), unit: km(r) })),
  def('location-preciselocation', 'PreciseLocation', 'Location', 'read_location', (v) => ({
    latitude: v.location.latitude, longitude: v.location.longitude, heading: 0, direction: 'N', locationType: 'CURRENT',
  })),
  // Needs a home the car's maker knows (v3 ref §4): without one, VEHICLE_NOT_CAPABLE, as most cars answer.
  def('location-isathome', 'IsAtHome', 'Location', 'read_location', (v) => (v.oemHome ? { value: metersBetween(v.location, v.oemHome) <= 100 } : undefined)),
  def('lowvoltagebattery-stateofcharge', 'StateOfCharge', 'LowVoltageBattery', 'read_battery',
    (v) => ({ value: pct(v.lowVoltageBattery), unit: 'percent' })),
  def('vehicleidentification-vin', 'Vin', 'VehicleIdentification', 'read_vin', (v) => ({ value: v.vin }), false),
];

export const signalDef = (code: string): SignalDef | undefined => SIGNALS.find((s) => s.code === code);

/** The connected vehicle a signals or command request is about. */
export interface VehicleScope { v: EmulatedVehicle; connection: Connection; userId: string }

export type SignalStatus = { value: 'SUCCESS' } | { value: 'ERROR'; error: { type: string; code: string | null } } | { value: 'UNAVAILABLE' };
/** One signal as Smartcar holds it for a vehicle: status, body (if any), and the values it came from. */
export interface Evaluated { def: SignalDef; status: SignalStatus; body?: object; values?: Retrieved; at: number }

function timestamp(r: V3Readings, ms: number): number | string {
  return r.timestamps === 'ms' ? ms : r.timestamps === 's' ? Math.floor(ms / 1000) : new Date(ms).toISOString();
}

/** One signal's outcome, or 'omit' when it is ungranted and the reading leaves such signals out. */
function evaluate(deps: V3Deps, scope: VehicleScope, d: SignalDef, source: Exclude<Source, { kind: 'empty' }>, faults: SignalFault[]): Evaluated | 'omit' {
  const r = deps.readings;
  const now = deps.clock.now();
  let out: Evaluated;
  if (d.body(scope.v, r) === undefined) {
    out = { def: d, status: { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } }, at: now };
  } else if (!scope.connection.permissions.includes(d.permission)) {
    if (r.ungrantedSignals === 'omit') {
      return 'omit';
    }
    out = { def: d, status: { value: 'ERROR', error: { type: 'PERMISSION', code: null } }, at: now };
  } else if (source.kind === 'offline' && d.reachesVehicle) {
    const cached = source.cached;
    out = {
      def: d, status: { value: 'ERROR', error: { type: source.error.type, code: source.error.code } }, at: cached?.retrievedAt ?? now,
      ...(cached ? { body: d.body(cached.vehicle, r)!, values: cached } : {}),
    };
  } else {
    const values: Retrieved = source.kind === 'ok' ? source.values : { vehicle: scope.v, retrievedAt: now };
    out = { def: d, status: { value: 'SUCCESS' }, body: d.body(values.vehicle, r)!, values, at: values.retrievedAt };
  }
  for (const f of faults) {
    if ('signalErrors' in f && f.signalErrors[d.code]) {
      const e = f.signalErrors[d.code]!;
      out = { ...out, status: { value: 'ERROR', error: { type: e.type, code: e.code ?? null } } };
      if (!f.keepBody) {
        delete out.body;
      }
    }
    if ('signalUnavailable' in f && f.signalUnavailable.includes(d.code)) {
      out = { def: d, status: { value: 'UNAVAILABLE' }, at: out.at };
    }
  }
  return out;
}

/**
 * Every signal of the vehicle in list order (ungranted ones left out under `ungrantedSignals: omit`):
 * what GET /signals serves and what a VEHICLE_STATE webhook carries, so the two cannot drift.
 */
export function evaluateSignals(deps: V3Deps, scope: VehicleScope, source: Exclude<Source, { kind: 'empty' }>, faults: SignalFault[]): Evaluated[] {
  return SIGNALS.map((d) => evaluate(deps, scope, d, source, faults)).filter((e): e is Evaluated => e !== 'omit');
}

function resource(deps: V3Deps, vehicleId: string, e: Evaluated): object {
  const r = deps.readings;
  const meta = e.body !== undefined && e.values
    ? { retrievedAt: timestamp(r, e.values.retrievedAt), oemUpdatedAt: timestamp(r, e.values.vehicle.dataAt) }
    : { retrievedAt: timestamp(r, e.at) };
  return {
    id: e.def.code,
    type: 'signal',
    attributes: {
      code: e.def.code, name: e.def.name, group: e.def.group, status: e.status,
      ...(e.body !== undefined ? { body: e.body } : {}),
    },
    meta,
    links: { self: link(deps, 'v3', `/vehicles/${vehicleId}/signals/${e.def.code}`), vehicle: link(deps, 'v3', `/vehicles/${vehicleId}`) },
  };
}

function reply(deps: V3Deps, scope: VehicleScope, status: number, body: unknown, billed: number, headers: Record<string, string> = {}): Reply {
  for (let i = 0; i < billed; i++) {
    deps.limits.bill(scope.v.id);
  }
  return { ...v3Json(deps, status, body, headers), log: { vehicleId: scope.v.id, userId: scope.userId, billed } };
}

function failed(deps: V3Deps, scope: VehicleScope, err: unknown, admitted: boolean): Reply {
  if (!(err instanceof ApiError)) {
    throw err;
  }
  const r = v3ErrorReply(deps, err.spec);
  const billed = admitted && !NOT_BILLED.has(err.spec.status) ? 1 : 0;
  for (let i = 0; i < billed; i++) {
    deps.limits.bill(scope.v.id);
  }
  return { ...r, log: { vehicleId: scope.v.id, userId: scope.userId, billed } };
}

/** Both query styles are accepted (v3 ref §7.8); mixing them is a 400. Default size 10, max 50. */
function signalsPage(query: URLSearchParams): { number: number; size: number } {
  const brackets = query.has('page[number]') || query.has('page[size]');
  if (brackets && (query.has('page') || query.has('pageSize'))) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'Use either page/pageSize or page[number]/page[size], not both.' });
  }
  checkBracketKeys(query, ['page[number]', 'page[size]']);
  return {
    number: intParam(query, brackets ? 'page[number]' : 'page', 1, Number.MAX_SAFE_INTEGER),
    size: intParam(query, brackets ? 'page[size]' : 'pageSize', 10, 50),
  };
}

function signalsLinks(deps: V3Deps, vehicleId: string, p: { number: number; size: number; last: number }): Record<string, string | null> {
  const brackets = deps.readings.signalsPaging === 'page-brackets';
  const at = (n: number): string => link(deps, 'v3', `/vehicles/${vehicleId}/signals`, new URLSearchParams(brackets
    ? [['page[number]', String(n)], ['page[size]', String(p.size)]]
    : [['page', String(n)], ['pageSize', String(p.size)]]));
  const prev = p.number > 1 ? at(Math.min(p.number - 1, p.last)) : null;
  return {
    self: at(p.number), first: at(1), [brackets ? 'prev' : 'previous']: prev,
    next: p.number < p.last ? at(p.number + 1) : null, last: at(p.last),
  };
}

/** GET /vehicles/{id}/signals. */
export async function listSignals(ctx: Ctx, deps: V3Deps, scope: VehicleScope): Promise<Reply> {
  let admitted = false;
  try {
    const { number, size } = signalsPage(ctx.url.searchParams);
    gate(deps, scope.v.id);
    admitted = true;
    const faults = await takeFaults(deps, { kind: 'read', method: 'GET', path: '/signals', vehicleId: scope.v.id, signals: true });
    if (faults.terminal) {
      return { ...reply(deps, scope, 200, null, 1), ...networkFault(faults.terminal) };
    }
    const source = deps.store.read(scope.v, deps.readings.signalStore, deps.webhooks.isSubscribed(scope.v.id), true);
    if (source.kind === 'offline' && deps.readings.offlineRead === 'request-error') {
      throw new ApiError(asV3(source.error));
    }
    const all = source.kind === 'empty' ? [] : evaluateSignals(deps, scope, source, faults.signal);
    const p = paginate(all, number, size);
    const r = deps.readings;
    const v = scope.v;
    const body = {
      data: p.items.map((e) => resource(deps, v.id, e)),
      meta: r.signalsPaging === 'page'
        ? { page: p.number, pageSize: p.size, totalCount: p.total }
        : { pageNumber: p.number, pageSize: p.size, totalCount: p.total },
      links: signalsLinks(deps, v.id, p),
      included: {
        vehicle: { id: v.id, type: 'vehicle', attributes: { make: v.make, model: v.model, year: v.year }, links: { self: link(deps, 'v3', `/vehicles/${v.id}`) } },
      },
    };
    const billed = r.billing === 'per-request' ? 1 : p.items.filter((e) => e.status.value === 'SUCCESS').length;
    return reply(deps, scope, 200, body, billed);
  } catch (err) {
    return failed(deps, scope, err, admitted);
  }
}

/** GET /vehicles/{id}/signals/{code}: billed 1 under both billing readings. */
export async function oneSignal(_ctx: Ctx, deps: V3Deps, scope: VehicleScope, code: string): Promise<Reply> {
  let admitted = false;
  try {
    const d = signalDef(code);
    if (!d) {
      throw v3Error('RESOURCE_NOT_FOUND', 'SIGNAL_NOT_FOUND', { description: `There is no signal ${code}.` });
    }
    if (deps.readings.ungrantedSignals === 'omit' && d.body(scope.v, deps.readings) !== undefined && !scope.connection.permissions.includes(d.permission)) {
      throw v3Error('PERMISSION', null);
    }
    gate(deps, scope.v.id);
    admitted = true;
    const faults = await takeFaults(deps, { kind: 'read', method: 'GET', path: `/signals/${code}`, vehicleId: scope.v.id, signals: true });
    if (faults.terminal) {
      return { ...reply(deps, scope, 200, null, 1), ...networkFault(faults.terminal) };
    }
    const source = deps.store.read(scope.v, deps.readings.signalStore, deps.webhooks.isSubscribed(scope.v.id), d.reachesVehicle);
    if (source.kind === 'empty') {
      throw v3Error('RESOURCE_NOT_FOUND', 'SIGNAL_NOT_FOUND', { description: `Signal ${code} has no value for this vehicle yet.` });
    }
    if (source.kind === 'offline' && deps.readings.offlineRead === 'request-error') {
      throw new ApiError(asV3(source.error));
    }
    const e = evaluate(deps, scope, d, source, faults.signal);
    if (e === 'omit') {
      throw v3Error('PERMISSION', null);
    }
    const res = resource(deps, scope.v.id, e);
    return reply(deps, scope, 200, deps.readings.singleSignalEnvelope === 'bare' ? res : { data: res }, 1);
  } catch (err) {
    return failed(deps, scope, err, admitted);
  }
}

/** Great-circle distance in meters (haversine), as a car's maker would judge "at home". */
function metersBetween(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = (d: number): number => (d * Math.PI) / 180;
  const h = Math.sin(rad(b.latitude - a.latitude) / 2) ** 2
    + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(rad(b.longitude - a.longitude) / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(h)));
}
