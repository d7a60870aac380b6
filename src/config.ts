// The platform block of config.json, typed and normalized once: defaults applied, ranges checked.
// A bad value never throws: it gets one warning naming the option and the value used instead.
// Missing credentials return undefined after one line pointing at the docs.
import type { Logging, PlatformConfig } from 'homebridge';

import {
  DOCS_URL, LOW_BATTERY_PERCENT, MAX_REFRESH_INTERVAL_MINUTES, MIN_REFRESH_INTERVAL_MINUTES, REDIRECT_PATH,
  REQUEST_TIMEOUT_SECONDS, REQUESTS_PER_VEHICLE_PER_MONTH, SETUP_BIND, SETUP_PORT,
} from './settings.js';

export type Mode = 'live' | 'simulated' | 'test';
export type UnitSystem = 'metric' | 'imperial';

export interface ServiceSwitches {
  lock: boolean;
  battery: boolean;
  pluggedIn: boolean;
}

export interface PluginConfig {
  name: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  mode: Mode;
  setupPort: number;
  setupBind: string;
  unitSystem: UnitSystem;
  lowBatteryPercent: number;
  /** Fixed interval for every vehicle; undefined = derived per vehicle from the request budget. */
  refreshIntervalMinutes: number | undefined;
  requestsPerVehiclePerMonth: number;
  /** undefined = two refresh intervals plus a margin, per vehicle. */
  staleAfterMinutes: number | undefined;
  requestTimeoutSeconds: number;
  services: ServiceSwitches;
}

type Warn = (message: string) => void;

export function normalizeConfig(raw: PlatformConfig | Record<string, unknown>, log: Pick<Logging, 'warn' | 'error'>): PluginConfig | undefined {
  const r = raw as Record<string, unknown>;
  const warn: Warn = (m) => log.warn(m);
  const clientId = credential(r.clientId);
  const clientSecret = credential(r.clientSecret);
  if (clientId === undefined || clientSecret === undefined) {
    const missing = [clientId === undefined ? 'clientId' : '', clientSecret === undefined ? 'clientSecret' : ''].filter(Boolean).join(' and ');
    log.warn(`Smartcar is not configured yet: add ${missing} from the Smartcar Dashboard to the platform block. Nothing else starts until then. See ${DOCS_URL}`);
    return undefined;
  }

  const setupPort = integer(r, 'setupPort', SETUP_PORT, 0, 65535, warn);
  const setupBind = text(r, 'setupBind', SETUP_BIND, warn);
  const defaultRedirect = `http://localhost:${setupPort}${REDIRECT_PATH}`;
  let redirectUri = text(r, 'redirectUri', defaultRedirect, warn);
  if (!isHttpUrl(redirectUri)) {
    warn(`Config option "redirectUri" is not an http(s) URL (${JSON.stringify(redirectUri)}); using ${defaultRedirect}`);
    redirectUri = defaultRedirect;
  }

  const services = (typeof r.services === 'object' && r.services !== null ? r.services : {}) as Record<string, unknown>;
  if (r.services !== undefined && (typeof r.services !== 'object' || r.services === null)) {
    warn('Config option "services" should be an object; using every service');
  }
  return {
    name: text(r, 'name', 'Smartcar', warn),
    clientId,
    clientSecret,
    redirectUri,
    mode: oneOf(r, 'mode', ['live', 'simulated', 'test'] as const, 'live', warn),
    setupPort,
    setupBind,
    unitSystem: oneOf(r, 'unitSystem', ['metric', 'imperial'] as const, 'metric', warn),
    lowBatteryPercent: integer(r, 'lowBatteryPercent', LOW_BATTERY_PERCENT, 0, 100, warn),
    refreshIntervalMinutes: optionalInteger(r, 'refreshIntervalMinutes', MIN_REFRESH_INTERVAL_MINUTES, MAX_REFRESH_INTERVAL_MINUTES, warn),
    requestsPerVehiclePerMonth: integer(r, 'requestsPerVehiclePerMonth', REQUESTS_PER_VEHICLE_PER_MONTH, 150, 1_000_000, warn),
    staleAfterMinutes: optionalInteger(r, 'staleAfterMinutes', MIN_REFRESH_INTERVAL_MINUTES, 4 * MAX_REFRESH_INTERVAL_MINUTES, warn),
    requestTimeoutSeconds: integer(r, 'requestTimeoutSeconds', REQUEST_TIMEOUT_SECONDS, 5, 300, warn),
    services: {
      lock: flag(services, 'lock', warn),
      battery: flag(services, 'battery', warn),
      pluggedIn: flag(services, 'pluggedIn', warn),
    },
  };
}

function credential(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function text(r: Record<string, unknown>, key: string, fallback: string, warn: Warn): string {
  const value = r[key];
  if (value === undefined || value === null || value === '') {
    return fallback;
  }
  if (typeof value !== 'string') {
    warn(`Config option "${key}" should be text, got ${shown(value)}; using ${JSON.stringify(fallback)}`);
    return fallback;
  }
  return value.trim();
}

function oneOf<T extends string>(r: Record<string, unknown>, key: string, allowed: readonly T[], fallback: T, warn: Warn): T {
  const value = r[key];
  if (value === undefined || value === null || value === '') {
    return fallback;
  }
  const lower = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (allowed.includes(lower as T)) {
    return lower as T;
  }
  warn(`Config option "${key}" must be one of ${allowed.join(', ')}, got ${shown(value)}; using "${fallback}"`);
  return fallback;
}

function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return value;
  }
  // Config UI X and hand-edited files sometimes carry numbers as strings: accept them quietly.
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return undefined;
}

function integer(r: Record<string, unknown>, key: string, fallback: number, min: number, max: number, warn: Warn): number {
  const value = r[key];
  if (value === undefined || value === null || value === '') {
    return fallback;
  }
  const n = parseNumber(value);
  if (n === undefined || !Number.isFinite(n)) {
    warn(`Config option "${key}" should be a number, got ${shown(value)}; using ${fallback}`);
    return fallback;
  }
  const clamped = Math.min(max, Math.max(min, Math.round(n)));
  if (clamped !== n) {
    warn(`Config option "${key}" must be a whole number from ${min} to ${max}, got ${shown(value)}; using ${clamped}`);
  }
  return clamped;
}

function optionalInteger(r: Record<string, unknown>, key: string, min: number, max: number, warn: Warn): number | undefined {
  const value = r[key];
  if (value === undefined || value === null || value === '' || value === 0) {
    return undefined;
  }
  const n = parseNumber(value);
  if (n === undefined) {
    warn(`Config option "${key}" should be a number, got ${shown(value)}; using the default derived from the request budget`);
    return undefined;
  }
  return integer(r, key, min, min, max, warn);
}

function flag(r: Record<string, unknown>, key: string, warn: Warn): boolean {
  const value = r[key];
  if (value === undefined || value === null) {
    return true;
  }
  if (typeof value !== 'boolean') {
    warn(`Config option "services.${key}" should be true or false, got ${shown(value)}; using true`);
    return true;
  }
  return value;
}
