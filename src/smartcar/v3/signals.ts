// v3 signals → the plugin's snapshot values. Pure, so it is table-tested. The sources disagree on many
// details (smartcar-v3.md §4, §7): timestamps in seconds, ms or ISO; `kilometers` or `km`; fuel as 0–100
// with a unit or 0–1 without; the list either keeps ungranted signals as ERROR or leaves them out. Every
// reading is accepted, and a value that fits none is a failure of that signal, never a guess.
import { KM_PER_MILE } from '../../settings.js';
import { NotCapableError, PermissionError, TransientError, VehicleStateError, type SmartcarProblem } from '../errors.js';
import type { ChargeState, ReadResult, Signal } from '../types.js';
import { validPosition } from '../position.js';
import { problemFromV3Error } from './errors.js';

/** One signal as REST lists it (under data[].attributes) or a webhook carries it (flat). */
export interface SignalResource {
  code: string;
  status?: { value?: string; error?: { type?: string; code?: string | null; description?: string } };
  body?: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

export const SIGNAL_CODES: Record<Signal, readonly string[]> = {
  lock: ['closure-islocked'],
  battery: ['tractionbattery-stateofcharge'],
  fuel: ['internalcombustionengine-fuellevel'],
  // The cable decides "plugged in"; the detailed status (or, without it, isCharging) the charge state.
  charge: ['charge-ischargingcableconnected', 'charge-detailedchargingstatus', 'charge-ischarging'],
  // The position, for the owner's home point; is-at-home (the car's own verdict, often not capable) rides along.
  location: ['location-preciselocation', 'location-isathome'],
};
export const VIN_CODE = 'vehicleidentification-vin';
/** The 12 V battery: its charge (percent) and Smartcar's GOOD/WARN/BAD (smartcar-v3.md §4). */
export const LOW_VOLTAGE_CODES = ['lowvoltagebattery-stateofcharge', 'lowvoltagebattery-status'] as const;

/** Values that ride along with every signals read at no cost (§4): range, the odometer, the charge limit. */
export const RANGE_CODES = { battery: 'tractionbattery-range', fuel: 'internalcombustionengine-range' } as const;
export const ODOMETER_CODE = 'odometer-traveleddistance';
export const CHARGE_LIMITS_CODE = 'charge-chargelimits';

/** The permission each signal group needs (smartcar-v3.md §4, after HA's mapping). */
export const SIGNAL_SCOPE: Record<Signal, string> = { lock: 'read_security', battery: 'read_battery', fuel: 'read_fuel', charge: 'read_charge', location: 'read_location' };

const CHARGE_STATES: readonly string[] = ['CHARGING', 'FULLY_CHARGED', 'NOT_CHARGING'];

/** Epoch ms from a v3 timestamp: a number below 1e12 is seconds, above is ms, a string is ISO-8601. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return value < 1e12 ? value * 1000 : value;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const asNumber = Number(value);
    if (Number.isFinite(asNumber)) {
      return parseTimestamp(asNumber);
    }
    const at = Date.parse(value);
    return Number.isFinite(at) && at > 0 ? at : undefined;
  }
  return undefined;
}

/** A percent from `{value, unit}`: 0–100 with a percent unit; a bare 0–1 without one is a fraction. */
export function percentOf(body: Record<string, unknown> | undefined, fractionWithoutUnit: boolean): number | undefined {
  const value = body?.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return undefined;
  }
  const unit = typeof body?.unit === 'string' ? body.unit.toLowerCase() : undefined;
  const percent = fractionWithoutUnit && unit === undefined && value <= 1 ? value * 100 : value;
  return percent >= 0 && percent <= 100 ? percent : undefined;
}

/**
 * A distance from `{value, unit}` in km: `km`/`kilometers` (real payloads, the docs), `mi`/`miles`; no unit
 * is taken as km (every source shows km). An unknown unit is no value rather than a guess.
 */
export function kmOf(body: Record<string, unknown> | undefined): number | undefined {
  const value = body?.value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    return undefined;
  }
  const unit = typeof body?.unit === 'string' ? body.unit.trim().toLowerCase() : 'km';
  if (['km', 'kilometer', 'kilometers', 'kilometre', 'kilometres'].includes(unit)) {
    return value;
  }
  return ['mi', 'mile', 'miles'].includes(unit) ? value * KM_PER_MILE : undefined;
}

function bool(body: Record<string, unknown> | undefined): boolean | undefined {
  return typeof body?.value === 'boolean' ? body.value : undefined;
}

/**
 * The owner reads a per-signal failure as it is (the accessory logs its message alone), so the message
 * says what happens next. Missing permissions name their own fix; not-capable signals are dropped.
 */
function retriedAtNextRead<T extends SmartcarProblem>(problem: T): T {
  if (problem.kind !== 'permission' && problem.kind !== 'not-capable' && problem.kind !== 'reauthorize') {
    problem.message = `${problem.message}; the plugin will retry at the next refresh`;
  }
  return problem;
}

/** Why a signal did not deliver, in the plugin's error kinds, with what happens next. */
function signalProblem(resource: SignalResource | undefined, signal: Signal, stored: boolean): SmartcarProblem {
  return retriedAtNextRead(signalCause(resource, signal, stored));
}

function signalCause(resource: SignalResource | undefined, signal: Signal, stored: boolean): SmartcarProblem {
  const what = `Reading ${SIGNAL_CODES[signal][0]}`;
  if (resource === undefined) {
    return stored
      ? new TransientError(`${what}: not in Smartcar's answer`)
      : new TransientError(`${what}: Smartcar has no data for this car yet (without a webhook subscription it may serve none)`);
  }
  const status = resource.status?.value?.toUpperCase();
  if (status === 'UNAVAILABLE') {
    return new TransientError(`${what}: Smartcar says the value is unavailable right now`);
  }
  const error = resource.status?.error;
  const type = error?.type?.toUpperCase();
  if (type === 'PERMISSION') {
    return new PermissionError(SIGNAL_SCOPE[signal]);
  }
  if (type === 'COMPATIBILITY') {
    return new NotCapableError(`${what}: the car cannot deliver it (${error?.code ?? 'COMPATIBILITY'})`);
  }
  if (type === 'VEHICLE_STATE') {
    return new VehicleStateError(error?.code ?? 'UNKNOWN', error?.description ?? 'The vehicle could not deliver the value');
  }
  if (type !== undefined) {
    return problemFromV3Error({ type, code: error?.code ?? null, detail: error?.description }, { operation: what, scope: SIGNAL_SCOPE[signal] });
  }
  return new TransientError(`${what}: Smartcar's answer could not be read (status ${status ?? 'missing'})`);
}

function delivered(resource: SignalResource | undefined): resource is SignalResource & { body: Record<string, unknown> } {
  return resource?.status?.value?.toUpperCase() === 'SUCCESS' && typeof resource.body === 'object' && resource.body !== null;
}

/**
 * Maps one signals answer to a ReadResult for the signals asked. `stored`: Smartcar's store held
 * anything for this car at all (an empty store is "no data yet", not a failure of one signal).
 */
export function mapSignals(resources: readonly SignalResource[], signals: readonly Signal[], requests: number): ReadResult {
  const byCode = new Map(resources.map((r) => [r.code.toLowerCase(), r]));
  const result: ReadResult = { values: {}, failures: {}, requests };
  const stored = resources.length > 0;
  if (!stored) {
    result.empty = true;
  }
  const oemAges: number[] = [];
  const served: number[] = [];
  const signalAt: Partial<Record<Signal, number>> = {};
  let current: Signal = 'lock';
  const used = (r: SignalResource): void => {
    const oem = parseTimestamp(r.meta?.oemUpdatedAt);
    const retrieved = parseTimestamp(r.meta?.retrievedAt ?? r.meta?.fetchedAt);
    if (oem !== undefined) {
      oemAges.push(oem);
      signalAt[current] = Math.max(signalAt[current] ?? 0, oem);
    }
    if (retrieved !== undefined) {
      served.push(retrieved);
    }
  };
  for (const signal of signals) {
    current = signal;
    const [main, ...rest] = SIGNAL_CODES[signal].map((c) => byCode.get(c));
    switch (signal) {
      case 'lock': {
        const locked = delivered(main) ? bool(main.body) : undefined;
        if (locked === undefined) {
          result.failures.lock = delivered(main) ? retriedAtNextRead(new TransientError('Reading closure-islocked: no true/false in it')) : signalProblem(main, signal, stored);
        } else {
          result.values.locked = locked;
          used(main!);
        }
        const openings = openingsOfClosures(byCode);
        if (openings !== undefined) {
          result.values.openings = openings;
        }
        break;
      }
      case 'battery':
      case 'fuel': {
        const percent = delivered(main) ? percentOf(main.body, signal === 'fuel') : undefined;
        if (percent === undefined) {
          result.failures[signal] = delivered(main) ? retriedAtNextRead(new TransientError(`Reading ${main.code}: no percentage in it`)) : signalProblem(main, signal, stored);
        } else {
          result.values[signal === 'battery' ? 'batteryPercent' : 'fuelPercent'] = percent;
          used(main!);
        }
        break;
      }
      case 'charge': {
        const [detailed, isCharging] = rest;
        const plugged = delivered(main) ? bool(main.body) : undefined;
        let state: ChargeState | undefined;
        if (delivered(detailed) && typeof detailed.body.value === 'string' && CHARGE_STATES.includes(detailed.body.value.toUpperCase())) {
          state = detailed.body.value.toUpperCase() as ChargeState;
          used(detailed);
        } else if (delivered(isCharging) && bool(isCharging.body) !== undefined) {
          // Without the detailed status, "not charging" cannot tell a full battery from an idle one.
          state = bool(isCharging.body) ? 'CHARGING' : 'NOT_CHARGING';
          used(isCharging);
        }
        if (plugged !== undefined) {
          result.values.pluggedIn = plugged;
          used(main!);
        }
        if (state !== undefined) {
          result.values.chargeState = state;
        }
        if (plugged === undefined) {
          // The cable alone is "plugged in": without it that value would pass for fresh while it is not,
          // so the charge signal fails (a charge state that did arrive is still used). A car that cannot
          // tell its cable at all but does tell its charge state keeps the charge state.
          const problem = delivered(main) ? retriedAtNextRead(new TransientError(`Reading ${main.code}: no true/false in it`)) : signalProblem(main, signal, stored);
          if (state === undefined || problem.kind !== 'not-capable') {
            result.failures.charge = problem;
          }
        }
        break;
      }
      case 'location': {
        const position = delivered(main) ? validPosition(main.body.latitude, main.body.longitude) : undefined;
        if (position !== undefined) {
          result.whereabouts = { ...result.whereabouts, ...position };
          used(main!);
        } else {
          result.failures.location = delivered(main) ? retriedAtNextRead(new TransientError(`Reading ${main.code}: no usable position in it`)) : signalProblem(main, signal, stored);
        }
        break;
      }
    }
  }
  // The car's own at-home verdict comes with every signals read at no cost, asked for or not.
  const isAtHome = byCode.get(SIGNAL_CODES.location[1]!);
  if (delivered(isAtHome) && typeof isAtHome.body.value === 'boolean') {
    result.whereabouts = { ...result.whereabouts, atHome: isAtHome.body.value };
    if (result.failures.location !== undefined && signals.includes('location')) {
      // The verdict is what the sensor needs: a position that failed beside it is no failure of the signal.
      delete result.failures.location;
    }
  }
  // The 12 V battery comes with every signals read at no cost: kept whenever the car reports it.
  const lowVoltage = byCode.get(LOW_VOLTAGE_CODES[0]);
  const lowVoltagePercent = delivered(lowVoltage) ? percentOf(lowVoltage.body, false) : undefined;
  if (lowVoltagePercent !== undefined) {
    result.values.lowVoltagePercent = lowVoltagePercent;
  }
  const lowVoltageStatus = byCode.get(LOW_VOLTAGE_CODES[1]);
  const verdict = delivered(lowVoltageStatus) && typeof lowVoltageStatus.body.value === 'string' ? lowVoltageStatus.body.value.toUpperCase() : undefined;
  if (verdict === 'GOOD' || verdict === 'WARN' || verdict === 'BAD') {
    result.values.lowVoltageStatus = verdict;
  }
  for (const [signal, code] of Object.entries(RANGE_CODES) as ['battery' | 'fuel', string][]) {
    const range = byCode.get(code);
    const km = delivered(range) ? kmOf(range.body) : undefined;
    // Beside a delivered level of its own group only (a plug-in hybrid's tank too, though the battery is
    // what its Battery service shows): a range with no level beside it is a figure from nowhere.
    const level = byCode.get(SIGNAL_CODES[signal][0]!);
    if (km !== undefined && delivered(level) && percentOf(level.body, signal === 'fuel') !== undefined) {
      result.values[signal === 'battery' ? 'electricRangeKm' : 'fuelRangeKm'] = km;
    }
  }
  const odometer = byCode.get(ODOMETER_CODE);
  const odometerKm = delivered(odometer) ? kmOf(odometer.body) : undefined;
  if (odometerKm !== undefined) {
    result.values.odometerKm = odometerKm;
  }
  // activeLimit is null while unplugged (§4): then the last known limit stays.
  const limits = byCode.get(CHARGE_LIMITS_CODE);
  const limit = delivered(limits) ? limits.body.activeLimit : undefined;
  if (typeof limit === 'number' && Number.isFinite(limit) && limit > 0 && limit <= 100) {
    result.values.chargeLimitPercent = limit;
  }
  const vin = byCode.get(VIN_CODE);
  if (delivered(vin) && typeof vin.body.value === 'string' && /^[A-HJ-NPR-Z0-9]{11,17}$/i.test(vin.body.value)) {
    result.vin = vin.body.value.toUpperCase();
  }
  if (oemAges.length > 0) {
    result.values.dataAt = Math.min(...oemAges);
  }
  if (served.length > 0) {
    result.servedAt = Math.max(...served);
  }
  if (Object.keys(signalAt).length > 0) {
    result.signalAt = signalAt;
  }
  return result;
}

const POSITION = [['front left', 'front right'], ['rear left', 'rear right']] as const;

/**
 * The closure signals (smartcar-v3.md §4) as the parts that are open, in the owner's words; undefined
 * when the car reports none. Doors and windows are grids (row 0 front, column 0 left) under `values`
 * (real payloads) or `doors` (the spec's example, §7.13).
 */
export function openingsOfClosures(byCode: ReadonlyMap<string, SignalResource>): string[] | undefined {
  const open: string[] = [];
  let reported = 0;
  const grid = (code: string, noun: string): void => {
    const r = byCode.get(code);
    if (!delivered(r)) {
      return;
    }
    const cells = Array.isArray(r.body.values) ? r.body.values : Array.isArray(r.body.doors) ? r.body.doors : [];
    for (const cell of cells as { row?: unknown; column?: unknown; isOpen?: unknown }[]) {
      const where = typeof cell?.row === 'number' && typeof cell.column === 'number' ? POSITION[cell.row]?.[cell.column] : undefined;
      if (typeof cell?.isOpen !== 'boolean') {
        continue;
      }
      reported++;
      if (cell.isOpen) {
        open.push(`${where ?? 'a'} ${noun}`);
      }
    }
  };
  const lid = (code: string, name: string): void => {
    const r = byCode.get(code);
    if (delivered(r) && typeof r.body.isOpen === 'boolean') {
      reported++;
      if (r.body.isOpen) {
        open.push(name);
      }
    }
  };
  grid('closure-doors', 'door');
  grid('closure-windows', 'window');
  lid('closure-sunroof', 'sunroof');
  lid('closure-reartrunk', 'trunk');
  lid('closure-fronttrunk', 'frunk');
  lid('closure-enginecover', 'hood');
  return reported > 0 ? open : undefined;
}

/**
 * Every signal asked failed for one and the same state of the car (asleep, unreachable): the read failed
 * as a whole, the same as when Smartcar answers it with a 409 (offlineRead readings, smartcar-v3.md §3.3).
 * Thrown, so the owner reads one line for the car and the read is retried, not one line per signal.
 */
export function throwIfCarRefused(result: ReadResult, signals: readonly Signal[]): ReadResult {
  const failures = signals.map((s) => result.failures[s]);
  const first = failures[0];
  // What rides along (closures, the 12 V battery, the data age) does not make the asked signals answered.
  const delivered = (['locked', 'batteryPercent', 'fuelPercent', 'pluggedIn', 'chargeState'] as const).some((k) => result.values[k] !== undefined)
    || result.whereabouts?.latitude !== undefined;
  if (!delivered && first instanceof VehicleStateError && failures.every((f) => f instanceof VehicleStateError && f.code === first.code)) {
    throw new VehicleStateError(first.code, first.userMessage);
  }
  return result;
}

/** A REST signal resource (`{id, type, attributes:{code,…}, meta}`) or a bare/flat one, as SignalResource. */
export function toSignalResource(raw: unknown): SignalResource | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const attributes = typeof r.attributes === 'object' && r.attributes !== null ? r.attributes as Record<string, unknown> : r;
  if (typeof attributes.code !== 'string') {
    return undefined;
  }
  const meta = (typeof r.meta === 'object' && r.meta !== null ? r.meta : attributes.meta) as Record<string, unknown> | undefined;
  return {
    code: attributes.code,
    ...(typeof attributes.status === 'object' && attributes.status !== null ? { status: attributes.status } : {}),
    ...(typeof attributes.body === 'object' && attributes.body !== null ? { body: attributes.body as Record<string, unknown> } : {}),
    ...(meta ? { meta } : {}),
  };
}
