// Shared pieces of the fault suite: the documented Smartcar error table (reference §5.2) as
// injectable faults, recorders for unhandled rejections, and the setup page driven over HTTP.
import type { Fault } from '../emulator/faults.js';

export interface FaultRow {
  /** What the table prints: "UPSTREAM:NO_RESPONSE", "timeout", ... */
  label: string;
  fault: Fault;
  /** What the owner's log line must name. */
  cause: RegExp;
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
