// Emulated vehicle state (BEV, PHEV, ICE), shared by v2 and v3, its v2.0 read bodies in metric or
// imperial units, and the command rules of reference §5.2/§9 (both APIs use them): a command either
// fails with the documented VEHICLE_STATE error or changes the state and its data timestamp.
import { randomUUID, randomInt } from 'node:crypto';
import { apiError } from './errors.js';

export type Powertrain = 'BEV' | 'PHEV' | 'ICE';
export type OpenState = 'OPEN' | 'CLOSED' | 'UNKNOWN';
export type ChargeState = 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING';
export type UnitSystem = 'metric' | 'imperial';

export const PERMISSIONS = [
  'read_alerts', 'read_battery', 'read_charge', 'read_charge_locations', 'read_charge_records', 'read_charge_events',
  'read_climate', 'read_compass', 'read_diagnostics', 'read_engine_oil', 'read_extended_vehicle_info', 'read_fuel',
  'read_location', 'read_odometer', 'read_security', 'read_service_history', 'read_speedometer', 'read_thermometer',
  'read_tires', 'read_user_profile', 'read_vehicle_info', 'read_vin',
  'control_charge', 'control_climate', 'control_navigation', 'control_security', 'control_pin', 'control_trunk',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Quad { frontLeft: OpenState; frontRight: OpenState; backLeft: OpenState; backRight: OpenState }

export interface EmulatedVehicle {
  id: string;
  userId: string;
  vin: string;
  make: string;
  model: string;
  year: number;
  powertrain: Powertrain;
  /** What Connect may grant for this car (granted = requested scope ∩ capabilities). */
  capabilities: Permission[];
  locked: boolean;
  doors: Quad;
  windows: Quad;
  hood: OpenState;
  trunk: OpenState;
  sunroof: OpenState;
  chargingPort: OpenState;
  battery: { percentRemaining: number; rangeKm: number; capacityKwh: number } | null;
  charge: { isPluggedIn: boolean; state: ChargeState; limit: number } | null;
  fuel: { percentRemaining: number; amountRemainingLiters: number; rangeKm: number; tankLiters: number } | null;
  odometerKm: number;
  location: { latitude: number; longitude: number };
  tirePressureKpa: { frontLeft: number; frontRight: number; backLeft: number; backRight: number };
  oilLifeRemaining: number | null;
  /** 12 V battery state of charge, 0–1 (v3 signal lowvoltagebattery-stateofcharge; v2 has no endpoint). */
  lowVoltageBattery: number;
  /**
   * The home the car's maker knows (set in the car or its app), if any: then v3 location-isathome answers
   * whether the car is within 100 m of it; without one that signal is VEHICLE_NOT_CAPABLE (v3 ref §4).
   */
  oemHome: { latitude: number; longitude: number } | null;
  motion: 'PARKED' | 'DRIVING';
  reachable: boolean;
  asleep: boolean;
  /** Simulated-mode error logins (`TYPE.CODE@smartcar.com`): every vehicle request fails with this. */
  forcedError: { type: string; code: string | null } | null;
  /** Epoch ms (emulator clock) when the car last recorded its data: `sc-data-age`. */
  dataAt: number;
}

type NestedKeys = 'doors' | 'windows' | 'battery' | 'charge' | 'fuel' | 'location' | 'tirePressureKpa';
/** A vehicle description for addVehicle/updateVehicle: any field, nested objects partially. */
export type VehicleInit = Partial<Omit<EmulatedVehicle, 'id' | 'userId' | NestedKeys>> & {
  id?: string;
  doors?: Partial<Quad>;
  windows?: Partial<Quad>;
  battery?: Partial<NonNullable<EmulatedVehicle['battery']>> | null;
  charge?: Partial<NonNullable<EmulatedVehicle['charge']>> | null;
  fuel?: Partial<NonNullable<EmulatedVehicle['fuel']>> | null;
  location?: Partial<EmulatedVehicle['location']>;
  tirePressureKpa?: Partial<EmulatedVehicle['tirePressureKpa']>;
};

const COMMON: Permission[] = ['read_vehicle_info', 'read_vin', 'read_odometer', 'read_location', 'read_security', 'control_security', 'read_tires'];
export const DEFAULT_CAPABILITIES: Record<Powertrain, Permission[]> = {
  BEV: [...COMMON, 'read_battery', 'read_charge', 'control_charge'],
  PHEV: [...COMMON, 'read_battery', 'read_charge', 'control_charge', 'read_fuel', 'read_engine_oil'],
  ICE: [...COMMON, 'read_fuel', 'read_engine_oil'],
};

const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';
export function randomVin(): string {
  let vin = '0SC';
  while (vin.length < 17) {
    vin += VIN_CHARS[randomInt(VIN_CHARS.length)];
  }
  return vin;
}

const closedQuad = (): Quad => ({ frontLeft: 'CLOSED', frontRight: 'CLOSED', backLeft: 'CLOSED', backRight: 'CLOSED' });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merges a patch one level deep (nested objects such as `doors` or `battery` are merged, not replaced). */
export function mergeVehicle(target: EmulatedVehicle, patch: Record<string, unknown>): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'id' || key === 'userId' || value === undefined) {
      continue;
    }
    const current = t[key];
    t[key] = isPlainObject(value) && isPlainObject(current) ? { ...current, ...value } : value;
  }
}

export function createVehicle(userId: string, init: VehicleInit, now: number): EmulatedVehicle {
  const powertrain: Powertrain = init.powertrain ?? 'BEV';
  const electric = powertrain !== 'ICE';
  const v: EmulatedVehicle = {
    id: init.id ?? randomUUID(),
    userId,
    vin: randomVin(),
    make: powertrain === 'ICE' ? 'FORD' : 'TESLA',
    model: powertrain === 'ICE' ? 'F-150' : 'Model S',
    year: 2022,
    powertrain,
    capabilities: [...DEFAULT_CAPABILITIES[powertrain]],
    locked: true,
    doors: closedQuad(),
    windows: closedQuad(),
    hood: 'CLOSED',
    trunk: 'CLOSED',
    sunroof: 'CLOSED',
    chargingPort: 'CLOSED',
    battery: electric ? { percentRemaining: 0.5, rangeKm: powertrain === 'BEV' ? 250 : 30, capacityKwh: powertrain === 'BEV' ? 75 : 18 } : null,
    charge: electric ? { isPluggedIn: false, state: 'NOT_CHARGING', limit: 0.9 } : null,
    fuel: powertrain !== 'BEV' ? { percentRemaining: 0.5, amountRemainingLiters: 30, rangeKm: 400, tankLiters: 60 } : null,
    odometerKm: 12_345.6,
    location: { latitude: 37.4292, longitude: -122.1381 },
    tirePressureKpa: { frontLeft: 240, frontRight: 240, backLeft: 240, backRight: 240 },
    oilLifeRemaining: powertrain === 'BEV' ? null : 0.8,
    lowVoltageBattery: 0.9,
    oemHome: null,
    motion: 'PARKED',
    reachable: true,
    asleep: false,
    forcedError: null,
    dataAt: now,
  };
  const { id: _id, ...rest } = init;
  mergeVehicle(v, rest);
  // Keep derived amounts consistent when only the percentage was given.
  if (v.fuel && init.fuel?.percentRemaining !== undefined && init.fuel.amountRemainingLiters === undefined) {
    v.fuel.amountRemainingLiters = round(v.fuel.tankLiters * v.fuel.percentRemaining, 1);
  }
  return v;
}

// ---- read bodies -------------------------------------------------------------------------------

const KM_PER_MILE = 1.609344;
const LITERS_PER_US_GALLON = 3.785411784;
const PSI_PER_KPA = 0.1450377;

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
const distance = (km: number, units: UnitSystem): number => round(units === 'imperial' ? km / KM_PER_MILE : km);
const volume = (l: number, units: UnitSystem): number => round(units === 'imperial' ? l / LITERS_PER_US_GALLON : l);
const pressure = (kpa: number, units: UnitSystem): number => round(units === 'imperial' ? kpa * PSI_PER_KPA : kpa);

export const notCapable = (): Error => apiError('COMPATIBILITY', 'VEHICLE_NOT_CAPABLE');

export function attributesBody(v: EmulatedVehicle): object {
  return { id: v.id, make: v.make, model: v.model, year: v.year };
}

export function securityBody(v: EmulatedVehicle): object {
  const quad = (q: Quad) => (['frontLeft', 'frontRight', 'backRight', 'backLeft'] as const).map((type) => ({ type, status: q[type] }));
  return {
    isLocked: v.locked,
    doors: quad(v.doors),
    windows: quad(v.windows),
    sunroof: [{ type: 'sunroof', status: v.sunroof }],
    // front = hood on ICE/PHEV, frunk on BEV (reference §3.3).
    storage: [{ type: 'rear', status: v.trunk }, { type: 'front', status: v.hood }],
    chargingPort: v.charge ? [{ type: 'chargingPort', status: v.chargingPort }] : [],
  };
}

export function batteryBody(v: EmulatedVehicle, units: UnitSystem): object {
  if (!v.battery) {
    throw notCapable();
  }
  return { percentRemaining: v.battery.percentRemaining, range: distance(v.battery.rangeKm, units) };
}

export function batteryCapacityBody(v: EmulatedVehicle): object {
  if (!v.battery) {
    throw notCapable();
  }
  return { capacity: v.battery.capacityKwh };
}

export function chargeBody(v: EmulatedVehicle): object {
  if (!v.charge) {
    throw notCapable();
  }
  return { isPluggedIn: v.charge.isPluggedIn, state: v.charge.state };
}

export function chargeLimitBody(v: EmulatedVehicle): object {
  if (!v.charge) {
    throw notCapable();
  }
  return { limit: v.charge.limit };
}

export function fuelBody(v: EmulatedVehicle, units: UnitSystem): object {
  if (!v.fuel) {
    throw notCapable();
  }
  return {
    amountRemaining: volume(v.fuel.amountRemainingLiters, units),
    percentRemaining: v.fuel.percentRemaining,
    range: distance(v.fuel.rangeKm, units),
  };
}

export function odometerBody(v: EmulatedVehicle, units: UnitSystem): object {
  return { distance: distance(v.odometerKm, units) };
}

export function locationBody(v: EmulatedVehicle): object {
  return { latitude: v.location.latitude, longitude: v.location.longitude };
}

export function tirePressureBody(v: EmulatedVehicle, units: UnitSystem): object {
  const t = v.tirePressureKpa;
  return {
    frontLeft: pressure(t.frontLeft, units), frontRight: pressure(t.frontRight, units),
    backLeft: pressure(t.backLeft, units), backRight: pressure(t.backRight, units),
  };
}

export function engineOilBody(v: EmulatedVehicle): object {
  if (v.oilLifeRemaining === null) {
    throw notCapable();
  }
  return { lifeRemaining: v.oilLifeRemaining };
}

// ---- reachability and commands -------------------------------------------------------------------

const stateError = (code: string): Error => apiError('VEHICLE_STATE', code);

/** Checks that apply to every request that has to reach the car (reads and commands). */
export function assertReachable(v: EmulatedVehicle): void {
  if (v.forcedError) {
    throw apiError(v.forcedError.type, v.forcedError.code);
  }
  if (!v.reachable) {
    throw stateError('UNREACHABLE');
  }
  if (v.asleep) {
    throw stateError('ASLEEP');
  }
}

export function securityCommand(v: EmulatedVehicle, action: 'LOCK' | 'UNLOCK', now: number): void {
  if (v.motion === 'DRIVING') {
    throw stateError('IN_MOTION');
  }
  if (action === 'LOCK') {
    if (Object.values(v.doors).includes('OPEN')) {
      throw stateError('DOOR_OPEN');
    }
    if (v.hood === 'OPEN') {
      throw stateError('HOOD_OPEN');
    }
    if (v.trunk === 'OPEN') {
      throw stateError('TRUNK_OPEN');
    }
  }
  v.locked = action === 'LOCK';
  v.dataAt = now;
}

export function chargeCommand(v: EmulatedVehicle, action: 'START' | 'STOP', now: number): void {
  const charge = v.charge;
  if (!charge) {
    throw notCapable();
  }
  if (!charge.isPluggedIn) {
    throw stateError('CHARGING_PLUG_NOT_CONNECTED');
  }
  if (action === 'START') {
    if (charge.state === 'CHARGING') {
      throw stateError('CHARGING_IN_PROGRESS');
    }
    if (charge.state === 'FULLY_CHARGED' || (v.battery && v.battery.percentRemaining >= charge.limit)) {
      throw stateError('FULLY_CHARGED');
    }
    charge.state = 'CHARGING';
  } else {
    if (charge.state !== 'CHARGING') {
      throw stateError('NOT_CHARGING');
    }
    charge.state = 'NOT_CHARGING';
  }
  v.dataAt = now;
}

export function setChargeLimit(v: EmulatedVehicle, limit: number, now: number): void {
  if (!v.charge) {
    throw notCapable();
  }
  v.charge.limit = limit;
  v.dataAt = now;
}
