// The platform block of config.json, typed and normalized once: defaults applied, ranges checked.
// A bad value never throws: it gets one warning naming the option and the value used instead.
// Missing credentials return undefined after one line pointing at the docs.
import { isIP } from 'node:net';

import type { Logging, PlatformConfig } from 'homebridge';

import {
  DOCS_URL, LOW_BATTERY_PERCENT, MAX_REFRESH_INTERVAL_MINUTES, MIN_REFRESH_INTERVAL_MINUTES, REDIRECT_PATH,
  REQUEST_TIMEOUT_SECONDS, REQUESTS_PER_VEHICLE_PER_MONTH, SETUP_BIND, SETUP_PORT, WEBHOOK_BIND, WEBHOOK_PORT, HOME_RADIUS_METERS,
} from './settings.js';

export type Mode = 'live' | 'simulated' | 'test';
export type ApiVersion = 'v3' | 'v2';
export type UnitSystem = 'metric' | 'imperial';

export interface ServiceSwitches {
  lock: boolean;
  battery: boolean;
  pluggedIn: boolean;
  closedUp: boolean;
  lowVoltage: boolean;
  /** The Charging switch: start and stop charging from HomeKit. */
  charging: boolean;
  /** The one "Smartcar Connection" sensor: open when something needs the owner. */
  connection: boolean;
  /** The At Home sensor: the car's own verdict, or its position against the home point. */
  atHome: boolean;
}

export interface PluginConfig {
  name: string;
  /** Which Smartcar API the application speaks; only src/smartcar/ acts on it. */
  api: ApiVersion;
  /** v3: the Application ID (a UUID), Connect's client_id. v2: the clientId is that same id. */
  applicationId: string;
  /** v3: the API Credentials tab's client id (client_…); v2: the Application ID. */
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
  /**
   * The owner's home point for At Home, in degrees (both or neither: one alone is dropped with a warning),
   * and how far from it still counts as home. Never logged.
   */
  homeLatitude: number | undefined;
  homeLongitude: number | undefined;
  homeRadiusMeters: number;
  /**
   * Webhooks 4.0 (v3 only) are on when both are set: the public URL registered as the webhook's callback
   * URI in the Smartcar Dashboard, and the Application Management Token Smartcar signs deliveries with
   * (a secret). A half-given pair or a v2 application leaves both undefined after one warning.
   */
  webhookUrl: string | undefined;
  managementToken: string | undefined;
  /** The receiver's own listener (it answers on the path of webhookUrl); 0 = any free port. */
  webhookPort: number;
  webhookBind: string;
}

/** Limits config.schema.json states too (a test keeps them equal). */
export const NAME_MAX_LENGTH = 64;
export const HOST_MAX_LENGTH = 253;
export const URL_MAX_LENGTH = 2048;
export const REQUESTS_PER_VEHICLE_PER_MONTH_MIN = 150;
export const REQUESTS_PER_VEHICLE_PER_MONTH_MAX = 1_000_000;
export const STALE_AFTER_MINUTES_MAX = 4 * MAX_REFRESH_INTERVAL_MINUTES;

type Warn = (message: string) => void;

export function normalizeConfig(raw: PlatformConfig | Record<string, unknown> | null | undefined, log: Pick<Logging, 'warn' | 'error'>): PluginConfig | undefined {
  const warn: Warn = (m) => log.warn(m);
  // Homebridge hands over whatever the platform block holds; anything but an object means "nothing set".
  const r: Record<string, unknown> = isRecord(raw) ? raw : {};
  const api = oneOf(r, 'api', ['v3', 'v2'] as const, 'v3', warn);
  const clientId = credential(r, 'clientId', warn);
  const clientSecret = credential(r, 'clientSecret', warn);
  const applicationId = credential(r, 'applicationId', warn);
  const missing = missingCredentials(api, { applicationId, clientId, clientSecret });
  if (missing !== undefined) {
    log.warn(`${missing} Nothing else starts until then. See ${DOCS_URL}`);
    return undefined;
  }
  const setupPort = integer(r, 'setupPort', SETUP_PORT, 0, 65535, warn);
  const setupBind = text(r, 'setupBind', SETUP_BIND, HOST_MAX_LENGTH, warn, isHost, 'an IP address or host name');
  const defaultRedirect = `http://localhost:${setupPort}${REDIRECT_PATH}`;
  const redirectUri = text(r, 'redirectUri', defaultRedirect, URL_MAX_LENGTH, warn, isHttpUrl, 'an http(s) URL');

  return {
    name: text(r, 'name', 'Smartcar', NAME_MAX_LENGTH, warn),
    api,
    // v2 has no separate Application ID: its client id is that id (Connect's client_id in both APIs).
    applicationId: api === 'v3' ? applicationId! : clientId!,
    clientId: clientId!,
    clientSecret: clientSecret!,
    redirectUri,
    mode: oneOf(r, 'mode', ['live', 'simulated', 'test'] as const, 'live', warn),
    setupPort,
    setupBind,
    unitSystem: oneOf(r, 'unitSystem', ['metric', 'imperial'] as const, 'metric', warn),
    lowBatteryPercent: integer(r, 'lowBatteryPercent', LOW_BATTERY_PERCENT, 0, 100, warn),
    refreshIntervalMinutes: optionalInteger(r, 'refreshIntervalMinutes', MIN_REFRESH_INTERVAL_MINUTES, MAX_REFRESH_INTERVAL_MINUTES,
      'automatic (fits the request budget)', warn),
    requestsPerVehiclePerMonth: integer(r, 'requestsPerVehiclePerMonth', REQUESTS_PER_VEHICLE_PER_MONTH,
      REQUESTS_PER_VEHICLE_PER_MONTH_MIN, REQUESTS_PER_VEHICLE_PER_MONTH_MAX, warn),
    staleAfterMinutes: optionalInteger(r, 'staleAfterMinutes', MIN_REFRESH_INTERVAL_MINUTES, STALE_AFTER_MINUTES_MAX,
      'automatic (two refresh intervals + 15 min)', warn),
    requestTimeoutSeconds: integer(r, 'requestTimeoutSeconds', REQUEST_TIMEOUT_SECONDS, 5, 300, warn),
    services: serviceSwitches(r, warn),
    ...homePoint(r, warn),
    homeRadiusMeters: integer(r, 'homeRadiusMeters', HOME_RADIUS_METERS, 25, 10_000, warn),
    ...webhookPair(r, api, warn),
    webhookPort: integer(r, 'webhookPort', WEBHOOK_PORT, 0, 65535, warn),
    webhookBind: text(r, 'webhookBind', WEBHOOK_BIND, HOST_MAX_LENGTH, warn, isHost, 'an IP address or host name'),
  };
}

/** Both coordinates or neither: half a point is no place, said once (the value itself is not repeated). */
function homePoint(r: Record<string, unknown>, warn: Warn): Pick<PluginConfig, 'homeLatitude' | 'homeLongitude'> {
  const latitude = optionalDecimal(r, 'homeLatitude', -90, 90, warn);
  const longitude = optionalDecimal(r, 'homeLongitude', -180, 180, warn);
  if ((latitude === undefined) !== (longitude === undefined)) {
    const missing = latitude === undefined ? 'homeLatitude' : 'homeLongitude';
    // A wrong one was warned about already; an absent one is named here.
    if (r[missing] === undefined || r[missing] === '') {
      warn(`Config option "${missing}" is needed with the other coordinate for a home point, got none; using none`);
    }
    return { homeLatitude: undefined, homeLongitude: undefined };
  }
  return { homeLatitude: latitude, homeLongitude: longitude };
}

/** Empty means none; anything else must be a plain decimal in range (a coordinate is never clamped: that would move it). */
function optionalDecimal(r: Record<string, unknown>, key: string, min: number, max: number, warn: Warn): number | undefined {
  const value = r[key];
  if (value === undefined || value === '') {
    return undefined;
  }
  const n = parseNumber(value);
  if (n === undefined || n < min || n > max) {
    // The value is not repeated: it may be where the owner lives.
    warn(`Config option "${key}" must be a number from ${min} to ${max}, got ${n === undefined ? 'something else' : 'one out of range'}; using none`);
    return undefined;
  }
  return n + 0;
}

/**
 * Webhooks need the URL Smartcar delivers to and the token it signs with; one without the other is
 * named, and so is a v2 application (webhooks 4.0 are v3's).
 */
function webhookPair(r: Record<string, unknown>, api: ApiVersion, warn: Warn): Pick<PluginConfig, 'webhookUrl' | 'managementToken'> {
  const off = { webhookUrl: undefined, managementToken: undefined };
  let url: string | undefined = text(r, 'webhookUrl', '', URL_MAX_LENGTH, warn, isHttpUrl, 'an https URL', 'none');
  url = url === '' ? undefined : url;
  const managementToken = credential(r, 'managementToken', warn);
  if (url === undefined && managementToken === undefined) {
    return off;
  }
  if (url === undefined || managementToken === undefined) {
    warn(url === undefined
      ? 'Webhooks are off: "managementToken" is set but "webhookUrl" is not (the public https URL you registered as the webhook\'s callback URI in the Smartcar Dashboard).'
      : 'Webhooks are off: "webhookUrl" is set but "managementToken" is not (the Application Management Token from the Smartcar Dashboard, which signs every delivery).');
    return off;
  }
  if (api !== 'v3') {
    warn('Webhooks are off: they need Smartcar API v3 ("api": "v3"); this application uses v2, so the plugin polls.');
    return off;
  }
  return { webhookUrl: url, managementToken };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Credentials {
  applicationId: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
}

/**
 * One sentence naming exactly what is missing for the chosen API, or undefined when nothing is. A v2
 * block switched to v3 (the default) has a UUID clientId, which is the Application ID: say where it goes.
 */
function missingCredentials(api: ApiVersion, c: Credentials): string | undefined {
  if (api === 'v2') {
    const missing = [c.clientId === undefined ? 'clientId' : '', c.clientSecret === undefined ? 'clientSecret' : ''].filter(Boolean);
    return missing.length === 0 ? undefined
      : `Smartcar is not configured yet: add ${missing.join(' and ')} from the Smartcar Dashboard to the platform block.`;
  }
  const v2Style = c.clientId !== undefined && UUID.test(c.clientId);
  if (v2Style && c.applicationId === undefined) {
    return 'Smartcar API v3 (the default) needs the Application ID in applicationId and the API Credentials tab\'s client ID (client_…) and secret in clientId and clientSecret: '
      + 'your clientId is a UUID, the Application ID of a v2 setup, so move it to applicationId and copy the client ID and secret from the Dashboard\'s API Credentials tab '
      + '(or set "api": "v2" while your Smartcar application still has v2).';
  }
  if (v2Style) {
    return 'Smartcar API v3 needs the API Credentials tab\'s client ID (it starts with client_) in clientId: yours is a UUID (the Application ID, which belongs in applicationId).';
  }
  const missing = [
    c.applicationId === undefined ? 'applicationId (the Application ID, a UUID, on the Dashboard\'s Configuration page)' : '',
    c.clientId === undefined ? 'clientId (the client ID on the Dashboard\'s API Credentials tab, client_…)' : '',
    c.clientSecret === undefined ? 'clientSecret (the secret on the API Credentials tab)' : '',
  ].filter(Boolean);
  const list = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)!}` : missing[0];
  return list === undefined ? undefined : `Smartcar is not configured yet: add ${list} to the platform block (Smartcar API v3).`;
}

/** A credential: text, trimmed. Blank counts as missing; a wrong type is named (the secret's value never is). */
function credential(r: Record<string, unknown>, key: 'clientId' | 'clientSecret' | 'applicationId' | 'managementToken', warn: Warn): string | undefined {
  const value = r[key];
  if (typeof value === 'string') {
    return value.trim() !== '' ? value.trim() : undefined;
  }
  if (value !== undefined) {
    const got = (key === 'clientSecret' || key === 'managementToken') && value !== null ? `${withArticle(kindOf(value))} (not shown)` : shown(value);
    warn(`Config option "${key}" should be text, got ${got}; using none`);
  }
  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isHost(value: string): boolean {
  return isIP(value) !== 0 || HOST_NAME.test(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'list' : typeof value;
}

function withArticle(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

const SHOWN_MAX_CHARS = 60;

/** The offending value as the owner typed it, cut short: a pasted novel must not flood the log. */
function shown(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' || isRecord(value) || Array.isArray(value) ? JSON.stringify(value) : String(value);
  } catch {
    s = kindOf(value);
  }
  return s.length > SHOWN_MAX_CHARS ? `${s.slice(0, SHOWN_MAX_CHARS)}… (${s.length} characters)` : s;
}

function text(r: Record<string, unknown>, key: string, fallback: string, maxLength: number, warn: Warn,
  valid: (v: string) => boolean = () => true, what = 'text', fallbackName = JSON.stringify(fallback)): string {
  const value = r[key];
  if (value === undefined || value === '') {
    return fallback;
  }
  const trimmed = typeof value === 'string' ? value.trim() : undefined;
  if (trimmed === undefined) {
    warn(`Config option "${key}" should be ${what}, got ${shown(value)}; using ${fallbackName}`);
    return fallback;
  }
  if (trimmed === '') {
    return fallback;
  }
  if (trimmed.length > maxLength) {
    warn(`Config option "${key}" must be at most ${maxLength} characters, got ${shown(value)}; using ${fallbackName}`);
    return fallback;
  }
  if (!valid(trimmed)) {
    warn(`Config option "${key}" should be ${what}, got ${shown(value)}; using ${fallbackName}`);
    return fallback;
  }
  return trimmed;
}

function oneOf<T extends string>(r: Record<string, unknown>, key: string, allowed: readonly T[], fallback: T, warn: Warn): T {
  const value = r[key];
  if (value === undefined || value === '') {
    return fallback;
  }
  const lower = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (allowed.includes(lower as T)) {
    return lower as T;
  }
  warn(`Config option "${key}" must be one of ${allowed.join(', ')}, got ${shown(value)}; using "${fallback}"`);
  return fallback;
}

// Plain decimal only: "0x10", "1e999" or "Infinity" are not what an owner means by a number.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : undefined;
  }
  // Config UI X and hand-edited files sometimes carry numbers as strings: accept them quietly.
  if (typeof value === 'string' && DECIMAL.test(value.trim())) {
    const n = Number(value.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function integer(r: Record<string, unknown>, key: string, fallback: number, min: number, max: number, warn: Warn): number {
  const value = r[key];
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = parseNumber(value);
  if (n === undefined) {
    warn(`Config option "${key}" should be a number, got ${shown(value)}; using ${fallback}`);
    return fallback;
  }
  // `+ 0` turns a -0 into 0.
  const clamped = Math.min(max, Math.max(min, Math.round(n))) + 0;
  if (clamped !== n) {
    warn(`Config option "${key}" must be a whole number from ${min} to ${max}, got ${shown(value)}; using ${clamped}`);
  }
  return clamped;
}

/** Empty or 0 mean "automatic" (undefined); anything else must be a whole number in range. */
function optionalInteger(r: Record<string, unknown>, key: string, min: number, max: number, automatic: string, warn: Warn): number | undefined {
  const value = r[key];
  if (value === undefined || value === '' || value === 0) {
    return undefined;
  }
  if (parseNumber(value) === undefined) {
    warn(`Config option "${key}" should be a number, got ${shown(value)}; using ${automatic}`);
    return undefined;
  }
  return integer(r, key, min, min, max, warn);
}

function serviceSwitches(r: Record<string, unknown>, warn: Warn): ServiceSwitches {
  let services: Record<string, unknown> = {};
  if (isRecord(r.services)) {
    services = r.services;
  } else if (r.services !== undefined) {
    warn(`Config option "services" should be an object, got ${shown(r.services)}; using every service (lock, battery, pluggedIn, closedUp, lowVoltage, charging, connection, atHome)`);
  }
  return {
    lock: flag(services, 'lock', warn), battery: flag(services, 'battery', warn), pluggedIn: flag(services, 'pluggedIn', warn),
    closedUp: flag(services, 'closedUp', warn), lowVoltage: flag(services, 'lowVoltage', warn), charging: flag(services, 'charging', warn),
    connection: flag(services, 'connection', warn),
    atHome: flag(services, 'atHome', warn),
  };
}

function flag(r: Record<string, unknown>, key: string, warn: Warn): boolean {
  const value = r[key];
  if (value === undefined) {
    return true;
  }
  if (typeof value === 'boolean') {
    return value;
  }
  // Same leniency as numbers: a hand-edited "false" means false.
  const word = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (word === 'true' || word === 'false') {
    return word === 'true';
  }
  warn(`Config option "services.${key}" should be true or false, got ${shown(value)}; using true`);
  return true;
}
