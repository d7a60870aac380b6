// One webhook 4.0 delivery (smartcar-api.md §6, smartcar-v3.md §6) checked and read into the plugin's
// terms. Pure, so it is table-tested. The checks, in the order Smartcar's documents imply: the event
// type first (VERIFY challenges come unsigned), then SC-Signature over the raw bytes (not a re-serialised
// object: only the bytes sent were signed), compared in constant time. The sources disagree on where
// `triggers` sit and how VEHICLE_ERROR names its signals: every reading is accepted.
import { createHmac, timingSafeEqual } from 'node:crypto';

import { TransientError } from '../errors.js';
import type { DeliveredError, DeliveryReceipt, Signal } from '../types.js';
import { problemFromV3Error } from './errors.js';
import { mapSignals, parseTimestamp, SIGNAL_CODES, SIGNAL_SCOPE, toSignalResource, type SignalResource } from './signals.js';

const ALL_SIGNALS: readonly Signal[] = ['lock', 'battery', 'fuel', 'charge', 'location'];
const EVENT_ID_MAX_CHARS = 200;
/**
 * The answer to a challenge is HMAC(token, challenge): whoever may send a challenge gets that for any
 * text it likes. Were a challenge allowed to be a JSON body, its answer would be a valid signature for
 * that body (a forged state change). Smartcar's challenges are random tokens; a body starts with "{".
 */
const CHALLENGE = /^[A-Za-z0-9._~-]{1,512}$/;
const SIGNATURE = /^[0-9a-f]{64}$/i;

const SIGNAL_BY_CODE = new Map<string, Signal>(ALL_SIGNALS.flatMap((s) => SIGNAL_CODES[s].map((code) => [code, s] as [string, Signal])));

export function hmacHex(key: string, message: string | Buffer): string {
  return createHmac('sha256', key).update(message).digest('hex');
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Whether `signature` is the hex HMAC-SHA256 of the raw body under the management token. */
export function signatureMatches(managementToken: string, rawBody: Buffer, signature: string): boolean {
  if (!SIGNATURE.test(signature)) {
    return false;
  }
  const expected = createHmac('sha256', managementToken).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

const refused = (status: 400 | 401, reason: string, forged = false): DeliveryReceipt => ({ kind: 'refused', status, reason, ...(forged ? { forged } : {}) });

/** Checks and reads one delivery. Never throws. */
export function readDelivery(managementToken: string, rawBody: Buffer, signature: string | undefined): DeliveryReceipt {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString('utf8')) as unknown;
  } catch {
    return refused(400, 'the body is not JSON');
  }
  const body = record(parsed);
  const eventType = text(body?.eventType)?.toUpperCase() ?? (text(body?.eventName)?.toLowerCase() === 'verify' ? 'VERIFY' : undefined);
  if (body === undefined || eventType === undefined) {
    return refused(400, 'no eventType in it');
  }
  if (eventType === 'VERIFY') {
    const challenge = text(record(body.data)?.challenge) ?? text(record(body.payload)?.challenge);
    if (challenge === undefined || !CHALLENGE.test(challenge)) {
      return refused(400, 'a VERIFY without a well-formed challenge');
    }
    return { kind: 'challenge', reply: { challenge: hmacHex(managementToken, challenge) } };
  }
  if (signature === undefined || signature.trim() === '') {
    return refused(401, 'it is not signed (no SC-Signature)');
  }
  if (!signatureMatches(managementToken, rawBody, signature.trim())) {
    return refused(401, 'its SC-Signature does not match (is managementToken the Application Management Token of this application?)', true);
  }
  const eventId = text(body.eventId);
  if (eventId === undefined || eventId.length > EVENT_ID_MAX_CHARS) {
    return refused(400, 'no eventId in it');
  }
  const data = record(body.data) ?? {};
  const meta = record(body.meta) ?? {};
  const vehicleId = text(record(data.vehicle)?.id) ?? text(body.vehicleId);
  if (vehicleId === undefined && (eventType === 'VEHICLE_STATE' || eventType === 'VEHICLE_ERROR')) {
    return refused(400, `a ${eventType} without a vehicle id`);
  }
  const common = {
    eventId,
    test: text(meta.mode)?.toUpperCase() === 'TEST',
    vehicleId: vehicleId ?? '',
    userId: text(record(data.user)?.id) ?? text(body.userId),
    deliveredAt: parseTimestamp(meta.deliveredAt),
  };
  if (eventType === 'VEHICLE_STATE') {
    if (!Array.isArray(data.signals)) {
      return refused(400, 'a VEHICLE_STATE without a signals list');
    }
    const resources = data.signals.map(toSignalResource).filter((r): r is SignalResource => r !== undefined)
      // A delivered signal carries its body and no status (only failed ones have one, smartcar-api.md §6.2).
      .map((r) => (r.status === undefined && r.body !== undefined ? { ...r, status: { value: 'SUCCESS' } } : r));
    const present = new Set(resources.map((r) => r.code.toLowerCase()));
    // A webhook carries the signals chosen in the Dashboard (the free plan allows few): only those are news.
    const carried = ALL_SIGNALS.filter((s) => SIGNAL_CODES[s].some((code) => present.has(code)));
    const result = mapSignals(resources, carried, 0);
    delete result.empty;
    if (common.deliveredAt !== undefined) {
      // A signal without its own oemUpdatedAt is as new as the delivery: still ordered against the others.
      for (const signal of carried.filter((s) => result.failures[s] === undefined && result.signalAt?.[s] === undefined)) {
        result.signalAt = { ...result.signalAt, [signal]: common.deliveredAt };
      }
    }
    return { kind: 'event', event: { ...common, body: { type: 'state', result, first: triggerCodes(body, data).includes('FIRST_DELIVERY'), carried } } };
  }
  if (eventType === 'VEHICLE_ERROR') {
    if (!Array.isArray(data.errors)) {
      return refused(400, 'a VEHICLE_ERROR without an errors list');
    }
    const errors = data.errors.map(readError).filter((e): e is DeliveredError => e !== undefined);
    return { kind: 'event', event: { ...common, body: { type: 'errors', errors } } };
  }
  return { kind: 'event', event: { ...common, body: { type: 'other', name: eventType } } };
}

/** Trigger codes wherever they are: `data.triggers[]` of signal refs (docs) or top-level `{type, signal}` (a real payload). */
function triggerCodes(body: Record<string, unknown>, data: Record<string, unknown>): string[] {
  const lists = [body.triggers, data.triggers].filter(Array.isArray) as unknown[][];
  return lists.flat().map((t) => {
    const r = record(t);
    return text(r?.code) ?? text(record(r?.signal)?.code) ?? text(r?.type) ?? '';
  }).map((c) => c.toUpperCase());
}

/** A signal reference: a code, a "Group.Name" string, or `{code}` / `{group, name}`. */
function signalOf(ref: unknown): Signal | undefined {
  const r = record(ref);
  const code = r !== undefined
    ? text(r.code) ?? (text(r.group) && text(r.name) ? `${String(r.group)}-${String(r.name)}` : undefined)
    : typeof ref === 'string' ? ref.replace('.', '-') : undefined;
  return code === undefined ? undefined : SIGNAL_BY_CODE.get(code.toLowerCase());
}

function readError(raw: unknown): DeliveredError | undefined {
  const e = record(raw);
  if (e === undefined) {
    return undefined;
  }
  const listed = Array.isArray(e.signals) ? e.signals : undefined;
  const signals = [...new Set((listed ?? []).map(signalOf).filter((s): s is Signal => s !== undefined))];
  if (listed !== undefined && listed.length > 0 && signals.length === 0) {
    return undefined; // about signals this plugin does not show
  }
  const type = text(e.type);
  const resolution = record(e.resolution)?.type ?? e.resolution;
  const problem = type === undefined
    ? new TransientError('Smartcar reports a problem with the car it does not name')
    : problemFromV3Error({
      type,
      code: text(e.code) ?? null,
      ...(text(e.description) ? { detail: text(e.description)! } : {}),
      ...(text(e.suggestedUserMessage) ? { suggestedUserMessage: text(e.suggestedUserMessage)! } : {}),
      resolution: typeof resolution === 'string' ? { type: resolution } : null,
    }, { operation: 'Smartcar\'s webhook', ...(signals.length === 1 ? { scope: SIGNAL_SCOPE[signals[0]!] } : {}) });
  return { resolved: text(e.state)?.toUpperCase() === 'RESOLVED', signals, problem };
}

