// Pure Smartcar→HomeKit value mappers, table-tested. They take numbers HomeKit defines (see
// homebridge.md §5) so they need no HAP import; an unknown input maps to an explicit "unknown",
// never to a guess.
import { KM_PER_MILE } from '../settings.js';
import type { ChargeState, VehicleSnapshot } from '../smartcar/types.js';

// HAP enum values, identical in hap-nodejs 0.14 and @homebridge/hap-nodejs 2.x.
export const LockState = { UNSECURED: 0, SECURED: 1, JAMMED: 2, UNKNOWN: 3 } as const;
export const LockTarget = { UNSECURED: 0, SECURED: 1 } as const;
export const Charging = { NOT_CHARGING: 0, CHARGING: 1, NOT_CHARGEABLE: 2 } as const;
export const LowBattery = { NORMAL: 0, LOW: 1 } as const;
export const Contact = { DETECTED: 0, NOT_DETECTED: 1 } as const;
// HAPStatus is an ambient const enum (unusable under verbatimModuleSyntax); its values are stable.
export const HapStatus = { INSUFFICIENT_PRIVILEGES: -70401, SERVICE_COMMUNICATION_FAILURE: -70402 } as const;

export function lockCurrentState(locked: boolean | undefined): number {
  if (locked === true) {
    return LockState.SECURED;
  }
  if (locked === false) {
    return LockState.UNSECURED;
  }
  return LockState.UNKNOWN;
}

/** Target to show when HomeKit has none of ours yet: follow a known current state; undefined when unknown (services/lock.ts keeps what HomeKit holds). */
export function lockTargetFor(locked: boolean | undefined): number | undefined {
  if (locked === undefined) {
    return undefined;
  }
  return locked ? LockTarget.SECURED : LockTarget.UNSECURED;
}

/** The level HomeKit's Battery shows: battery for EV/PHEV, fuel for ICE. */
export function levelPercent(snapshot: Pick<VehicleSnapshot, 'batteryPercent' | 'fuelPercent'> | undefined, source: 'battery' | 'fuel'): number | undefined {
  const raw = source === 'battery' ? snapshot?.batteryPercent : snapshot?.fuelPercent;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    return undefined;
  }
  return Math.min(100, Math.max(0, Math.round(raw)));
}

export function statusLowBattery(level: number | undefined, lowBatteryPercent: number): number | undefined {
  if (level === undefined) {
    return undefined;
  }
  return level <= lowBatteryPercent ? LowBattery.LOW : LowBattery.NORMAL;
}

export function chargingState(chargeState: ChargeState | undefined, chargeable: boolean): number | undefined {
  if (!chargeable) {
    return Charging.NOT_CHARGEABLE;
  }
  switch (chargeState) {
    case 'CHARGING':
      return Charging.CHARGING;
    case 'FULLY_CHARGED':
    case 'NOT_CHARGING':
      return Charging.NOT_CHARGING;
    default:
      return undefined;
  }
}

/**
 * The Charging switch: on while the car charges (the owner's pending wish wins until it settles);
 * undefined before the charge state was ever read, so HomeKit shows No Response rather than a guess.
 */
export function chargingSwitchOn(wish: boolean | undefined, chargeState: ChargeState | undefined): number | undefined {
  if (wish !== undefined) {
    return wish ? 1 : 0;
  }
  return chargeState === undefined ? undefined : chargeState === 'CHARGING' ? 1 : 0;
}

const EARTH_RADIUS_METERS = 6_371_000;

/** Great-circle distance in meters (haversine): exact enough for "within 150 m of home". */
export function distanceMeters(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = (d: number): number => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_METERS * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * At home or not: the car's own verdict where it gives one, else its position within the radius of the
 * owner's home point; undefined when neither is known (no guess).
 */
export function atHomeVerdict(
  where: { latitude?: number; longitude?: number; atHome?: boolean } | undefined,
  home: { latitude: number; longitude: number; radiusMeters: number } | undefined,
): boolean | undefined {
  if (where?.atHome !== undefined) {
    return where.atHome;
  }
  if (where?.latitude === undefined || where.longitude === undefined || home === undefined) {
    return undefined;
  }
  return distanceMeters({ latitude: where.latitude, longitude: where.longitude }, home) <= home.radiusMeters;
}

/** OccupancyDetected: the car at home is "occupancy detected" (1); unknown stays unknown. */
export function atHomeOccupancy(atHome: boolean | undefined): number | undefined {
  return atHome === undefined ? undefined : atHome ? 1 : 0;
}

/** A distance kept in km, as the owner reads it: "12,346 km" or "7,671 mi" (unitSystem). */
export function distanceText(km: number, unitSystem: 'metric' | 'imperial'): string {
  const value = Math.round(unitSystem === 'imperial' ? km / KM_PER_MILE : km);
  return `${value.toLocaleString('en-US')} ${unitSystem === 'imperial' ? 'mi' : 'km'}`;
}

/** The range as the page shows it: one figure, or both for a plug-in hybrid ("41 km electric, 520 km fuel"). */
export function rangeText(electricKm: number | undefined, fuelKm: number | undefined, unitSystem: 'metric' | 'imperial'): string | undefined {
  if (electricKm !== undefined && fuelKm !== undefined) {
    return `${distanceText(electricKm, unitSystem)} electric, ${distanceText(fuelKm, unitSystem)} fuel`;
  }
  const km = electricKm ?? fuelKm;
  return km === undefined ? undefined : distanceText(km, unitSystem);
}

/** "Plugged in" reads as a closed contact, so HomeKit says "closed"/"detected" when the cable is in. */
export function pluggedInContact(pluggedIn: boolean | undefined): number | undefined {
  if (pluggedIn === undefined) {
    return undefined;
  }
  return pluggedIn ? Contact.DETECTED : Contact.NOT_DETECTED;
}

/**
 * A 12 V battery at half charge or less is one a cold night or a week parked can leave flat (lead-acid
 * is considered discharged at 50 %); Smartcar's own WARN or BAD wins when it gives one.
 */
export const LOW_VOLTAGE_LOW_PERCENT = 50;

export function lowVoltageStatus(percent: number | undefined, verdict: 'GOOD' | 'WARN' | 'BAD' | undefined): number | undefined {
  if (verdict !== undefined) {
    return verdict === 'GOOD' ? LowBattery.NORMAL : LowBattery.LOW;
  }
  return percent === undefined ? undefined : percent <= LOW_VOLTAGE_LOW_PERCENT ? LowBattery.LOW : LowBattery.NORMAL;
}

/** Closed Up: contact (closed) only when the car reports everything closed; unknown when it reports nothing. */
export function closedUpContact(openings: readonly string[] | undefined): number | undefined {
  if (openings === undefined) {
    return undefined;
  }
  return openings.length === 0 ? Contact.DETECTED : Contact.NOT_DETECTED;
}

// HAP 2.x name rule: starts and ends with a letter or digit; inside also spaces and ’'&!._:;()/,-
const NAME_INSIDE = /[^\p{L}\p{N}\p{Zs}’'&!._:;()/,-]/gu;
const NAME_EDGE = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;

/** A name HAP 2.x accepts without its "invalid Name" warning, or the fallback. */
export function sanitizeName(name: string, fallback = 'Car'): string {
  const cleaned = name.replace(NAME_INSIDE, ' ').replace(/\s+/g, ' ').replace(NAME_EDGE, '').trim();
  return cleaned.length >= 2 ? cleaned.slice(0, 64).replace(NAME_EDGE, '') : fallback;
}

/** Smartcar spells makes in capitals ("TESLA"); HomeKit shows them to people. */
export function displayMake(make: string): string {
  if (make === '' || make.length <= 3) {
    return make;
  }
  return make.toLowerCase().replace(/(^|[\s-])(\p{L})/gu, (_, sep: string, c: string) => sep + c.toUpperCase());
}
