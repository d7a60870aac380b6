// Shared pieces of the fault suite: the documented Smartcar error table (reference §5.2) as
// injectable faults, recorders for unhandled rejections, and the setup page driven over HTTP.
import type { Fault } from '../emulator/faults.js';
import { v3Spec } from '../emulator/v3/errors.js';

export interface FaultRow {
  /** What the table prints: "UPSTREAM:NO_RESPONSE", "timeout", ... */
  label: string;
  fault: Fault;
  /** What the owner's log line must name. */
  cause: RegExp;
  /** v3: the resolution.type the catalogue sends with it (REAUTHENTICATE: the owner must connect again). */
  resolution?: string | null;
}

const e = (type: string, code: string | null, status: number, retryAfter?: number): FaultRow => ({
  label: code ? `${type}:${code}` : type,
  fault: { error: { type, code, status, ...(retryAfter !== undefined ? { retryAfter } : {}) } },
  cause: new RegExp(`${type}${code ? `|${code}` : ''}`, 'i'),
});

const VEHICLE_STATE_CODES = ['ASLEEP', 'CHARGING_IN_PROGRESS', 'CHARGING_PLUG_CONNECTED', 'CHARGING_PLUG_NOT_CONNECTED', 'DOOR_OPEN',
  'FULLY_CHARGED', 'NOT_CHARGING', 'CHARGE_FAULT', 'HOOD_OPEN', 'IGNITION_ON', 'IN_MOTION', 'REMOTE_ACCESS_DISABLED', 'TRUNK_OPEN',
  'UNREACHABLE', 'VEHICLE_OFFLINE_FOR_SERVICE', 'UNKNOWN', 'LOW_BATTERY'];

/** Every documented type/code (reference §5.2); retry-after of 1 s keeps rate limits fast to recover from. */
export const ERROR_ROWS: FaultRow[] = [
  e('AUTHENTICATION', null, 401),
  e('PERMISSION', null, 403),
  e('VALIDATION', 'PARAMETER', 400),
  e('RESOURCE_NOT_FOUND', 'PATH', 404),
  e('BILLING', 'VEHICLE_LIMIT', 430),
  e('BILLING', 'INVALID_PLAN', 430),
  e('BILLING', 'VEHICLE_REQUEST_LIMIT', 430, 1),
  e('BILLING', 'ACCOUNT_SUSPENDED', 430),
  e('COMPATIBILITY', 'VEHICLE_NOT_CAPABLE', 501),
  e('COMPATIBILITY', 'PLATFORM_NOT_CAPABLE', 501),
  e('CONNECTED_SERVICES_ACCOUNT', 'ACCOUNT_ISSUE', 400),
  e('CONNECTED_SERVICES_ACCOUNT', 'SUBSCRIPTION', 400),
  e('CONNECTED_SERVICES_ACCOUNT', 'VEHICLE_MISSING', 400),
  e('CONNECTED_SERVICES_ACCOUNT', 'VIRTUAL_KEY_REQUIRED', 400),
  e('CONNECTED_SERVICES_ACCOUNT', 'AUTHENTICATION_FAILED', 400),
  e('RATE_LIMIT', 'SMARTCAR_API', 429, 1),
  e('RATE_LIMIT', 'VEHICLE', 429, 1),
  e('SERVER', 'INTERNAL', 500),
  e('UPSTREAM', 'NO_RESPONSE', 502),
  e('UPSTREAM', 'RATE_LIMIT', 502, 1),
  e('UPSTREAM', 'UNKNOWN_ISSUE', 502),
  ...VEHICLE_STATE_CODES.map((c) => e('VEHICLE_STATE', c, 409)),
];

/** The v3 catalogue (smartcar-v3.md §5) as [type, HTTP status, codes]; `null` is the code-less PERMISSION. */
const V3_CATALOGUE: [string, number, (string | null)[]][] = [
  ['AUTHENTICATION', 401, ['UNAUTHORIZED']],
  ['AUTHENTICATION', 403, ['ACCESS_DENIED']],
  ['VALIDATION', 400, ['INVALID_INPUT_FORMAT', 'BAD_REQUEST', 'MISSING_PARAMETER']],
  ['PERMISSION', 403, [null]],
  ['RESOURCE_NOT_FOUND', 404, ['PATH', 'VERSION', 'INVALID_PATH', 'SIGNAL_NOT_FOUND']],
  ['VEHICLE_STATE', 409, ['ASLEEP', 'CHARGING_IN_PROGRESS', 'CHARGING_PLUG_NOT_CONNECTED', 'DOOR_OPEN', 'FULLY_CHARGED', 'NOT_CHARGING', 'CHARGE_FAULT',
    'HOOD_OPEN', 'IGNITION_ON', 'IN_MOTION', 'REMOTE_ACCESS_DISABLED', 'TRUNK_OPEN', 'UNKNOWN', 'UNREACHABLE', 'VEHICLE_OFFLINE_FOR_SERVICE',
    'DEVICE_PAIRING_REQUIRED']],
  ['RATE_LIMIT', 429, ['SMARTCAR_API', 'VEHICLE']],
  ['BILLING', 430, ['INVALID_PLAN', 'VEHICLE_LIMIT', 'VEHICLE_REQUEST_LIMIT', 'ACCOUNT_SUSPENDED']],
  ['COMPATIBILITY', 501, ['MAKE_NOT_COMPATIBLE', 'SMARTCAR_NOT_CAPABLE', 'VEHICLE_NOT_CAPABLE', 'PLATFORM_NOT_CAPABLE']],
  ['CONNECTED_SERVICES_ACCOUNT', 400, ['ACCOUNT_ISSUE', 'AUTHENTICATION_FAILED', 'NO_VEHICLES', 'SUBSCRIPTION', 'VEHICLE_MISSING', 'PERMISSION',
    'VIRTUAL_KEY_REQUIRED']],
  ['SERVER', 500, ['INTERNAL', 'MULTIPLE_RECORDS_FOUND', 'RECORD_NOT_FOUND']],
  ['UPSTREAM', 502, ['INVALID_DATA', 'KNOWN_ISSUE', 'NO_RESPONSE', 'RATE_LIMIT', 'UNKNOWN_ISSUE']],
];

/** Waits Smartcar asks for with retry-after: 1 s keeps them fast to recover from. */
const V3_RETRY_AFTER = new Set(['RATE_LIMIT:SMARTCAR_API', 'RATE_LIMIT:VEHICLE', 'BILLING:VEHICLE_REQUEST_LIMIT', 'UPSTREAM:RATE_LIMIT']);

/** Every v3 type/code of §5, with the resolution the emulator's catalogue sends for it. */
export const V3_ERROR_ROWS: FaultRow[] = V3_CATALOGUE.flatMap(([type, status, codes]) => codes.map((code) => {
  const row = e(type, code, status, V3_RETRY_AFTER.has(`${type}:${code}`) ? 1 : undefined);
  const r = v3Spec(type, code).resolution;
  return { ...row, resolution: typeof r === 'object' && r !== null ? r.type : r ?? null };
}));

export function networkRows(timeoutDelayMs: number, boundSeconds: number): FaultRow[] {
  return [
    { label: 'timeout', fault: { delayMs: timeoutDelayMs }, cause: new RegExp(`no answer from Smartcar within ${boundSeconds} s`) },
    { label: 'dropped connection', fault: { drop: true }, cause: /fetch failed|socket|ECONNRESET|closed|network/i },
    { label: 'malformed body', fault: { malformed: true }, cause: /could not be read/ },
  ];
}

/** Records what would take a Homebridge host down; tests assert the lists stay empty. */
export function crashRecorder(): { rejections: unknown[]; exceptions: unknown[]; stop(): void } {
  const rejections: unknown[] = [];
  const exceptions: unknown[] = [];
  const onRejection = (reason: unknown): void => { rejections.push(reason); };
  const onException = (err: unknown): void => { exceptions.push(err); };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    rejections, exceptions,
    stop: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Smartcar Connect through the setup page, following redirects like a browser (the emulator auto-approves). */
export async function connectViaSetupPage(setupUrl: string): Promise<{ status: number; url: string; body: string }> {
  let url = `${setupUrl}/connect`;
  for (let hop = 0; hop < 6; hop++) {
    const res = await fetch(url, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) {
      return { status: res.status, url, body: await res.text() };
    }
    await res.arrayBuffer();
    const next = new URL(location, url);
    // The app's redirectUri names localhost:<configured port>; the page really listens on setupUrl.
    url = next.pathname === '/callback' ? `${setupUrl}/callback${next.search}` : next.toString();
    if (next.pathname === '/' && next.origin === new URL(setupUrl).origin) {
      return { status: res.status, url, body: '' };
    }
  }
  throw new Error('too many redirects');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
