// The webhooks 4.0 bodies (smartcar-api.md §6.2, v3 ref §6): VERIFY, VEHICLE_STATE and VEHICLE_ERROR,
// in the shape each reading names (triggers in `data` or at the top level, error signals as objects or
// dotted names, deliveredAt in ms or ISO). Pure: the signals come from signals.ts already evaluated,
// so a webhook carries exactly what GET /signals would serve. Webhook timestamps are epoch ms always.
import type { Evaluated } from './signals.js';
import { signalDef } from './signals.js';
import type { V3Readings } from './readings.js';
import type { AttemptMeta } from './delivery.js';
import type { EmulatedVehicle } from '../vehicles.js';
import type { ResolutionType } from '../errors.js';

export const WEBHOOK_VERSION = '4.0';
export const FIRST_DELIVERY = 'FIRST_DELIVERY';

export interface WebhookRef { id: string; name: string }

/** One entry of `data.signals`: the REST resource's attributes, without status when it is SUCCESS (docs example). */
export function webhookSignal(e: Evaluated): object {
  return {
    code: e.def.code, name: e.def.name, group: e.def.group,
    ...(e.status.value === 'SUCCESS' ? {} : { status: e.status }),
    ...(e.body !== undefined && e.values
      ? { body: e.body, meta: { oemUpdatedAt: e.values.vehicle.dataAt, fetchedAt: e.values.retrievedAt } }
      : {}),
  };
}

const deliveredAt = (r: V3Readings, ms: number): number | string => (r.webhookDeliveredAt === 'ms' ? ms : new Date(ms).toISOString());

function ref(code: string): { code: string; name: string; group: string } {
  const d = signalDef(code);
  if (!d) {
    throw new Error(`unknown signal code ${code}`);
  }
  return { code: d.code, name: d.name, group: d.group };
}

/**
 * A trigger in the reading's shape. FIRST_DELIVERY is `{code}` in `data.triggers` (docs) and `{type}` at
 * the top level: the real payload shows only SIGNAL_UPDATED, so that form is the emulator's inference.
 */
function trigger(r: V3Readings, code: string): object {
  if (r.webhookTriggers === 'data') {
    return code === FIRST_DELIVERY ? { code } : ref(code);
  }
  if (code === FIRST_DELIVERY) {
    return { type: FIRST_DELIVERY };
  }
  const { name, group } = ref(code);
  return { type: 'SIGNAL_UPDATED', signal: { name, code, group } };
}

export function verifyBody(r: V3Readings, o: { eventId: string; webhook: WebhookRef; challenge: string }, m: AttemptMeta): object {
  return {
    eventId: o.eventId,
    eventType: 'VERIFY',
    data: { challenge: o.challenge },
    meta: { version: WEBHOOK_VERSION, webhookId: o.webhook.id, webhookName: o.webhook.name, deliveryId: m.deliveryId, deliveredAt: deliveredAt(r, m.deliveredAt) },
  };
}

interface VehicleEventBase { eventId: string; webhook: WebhookRef; userId: string; vehicle: EmulatedVehicle }

const vehicleRef = (v: EmulatedVehicle): object => ({ id: v.id, make: v.make, model: v.model, year: v.year });

/** A body for VEHICLE_STATE / VEHICLE_ERROR: the docs reading also carries the vehicle id at the top level. */
function vehicleEventBody(r: V3Readings, eventType: string, o: VehicleEventBase, data: object, topTriggers: object[] | undefined, meta: object): object {
  return {
    eventId: o.eventId,
    eventType,
    ...(r.webhookTriggers === 'data' ? { vehicleId: o.vehicle.id } : {}),
    ...(topTriggers ? { triggers: topTriggers } : {}),
    data: { user: { id: o.userId }, vehicle: vehicleRef(o.vehicle), ...data },
    meta,
  };
}

export function vehicleStateBody(r: V3Readings, o: VehicleEventBase & { signals: Evaluated[]; triggers: string[] }, m: AttemptMeta): object {
  const triggers = o.triggers.map((code) => trigger(r, code));
  const signals = o.signals.map(webhookSignal);
  return vehicleEventBody(r, 'VEHICLE_STATE', o,
    r.webhookTriggers === 'data' ? { triggers, signals } : { signals },
    r.webhookTriggers === 'top-level' ? triggers : undefined,
    {
      version: WEBHOOK_VERSION, deliveryId: m.deliveryId, deliveredAt: deliveredAt(r, m.deliveredAt), webhookId: o.webhook.id,
      webhookName: o.webhook.name, signalCount: signals.length, mode: m.mode,
    });
}

export interface VehicleErrorItem {
  type: string;
  code: string | null;
  state: 'ERROR' | 'RESOLVED';
  description: string;
  suggestedUserMessage: string;
  docURL: string;
  resolution: { type: ResolutionType };
  /** Codes; absent = the whole vehicle (v3 ref §6). */
  signals?: string[];
}

export function vehicleErrorBody(r: V3Readings, o: VehicleEventBase & { errors: VehicleErrorItem[] }, m: AttemptMeta): object {
  const errors = o.errors.map(({ signals, ...e }) => ({
    ...e,
    ...(signals ? { signals: signals.map((code) => (r.webhookErrorSignals === 'objects' ? ref(code) : `${ref(code).group}.${ref(code).name}`)) } : {}),
  }));
  return vehicleEventBody(r, 'VEHICLE_ERROR', o, { errors }, undefined, {
    version: WEBHOOK_VERSION, deliveryId: m.deliveryId, deliveredAt: deliveredAt(r, m.deliveredAt), webhookId: o.webhook.id,
    webhookName: o.webhook.name, mode: m.mode,
  });
}
