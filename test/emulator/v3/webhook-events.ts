// Which webhooks 4.0 events Smartcar sends, and when (smartcar-api.md §6.2, v3 ref §6): a subscription's
// FIRST_DELIVERY, a VEHICLE_STATE whenever what the vehicle's signals report changes (triggers = the
// changed codes, compared per subscription with what it was last sent), VEHICLE_ERROR on request, and
// the VERIFY challenge. A car that cannot be reached cannot report: its changes wait until it can.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ResolutionType } from '../errors.js';
import { errorBody } from '../errors.js';
import type { EmulatedVehicle } from '../vehicles.js';
import type { V3Deps } from './context.js';
import type { ReceiverAnswer, WebhookDelivery } from './delivery.js';
import { signBody } from './delivery.js';
import { v3Spec } from './errors.js';
import type { Evaluated } from './signals.js';
import { evaluateSignals, signalDef } from './signals.js';
import { reachError } from './store.js';
import type { VehicleErrorItem } from './webhook-payloads.js';
import { FIRST_DELIVERY, vehicleErrorBody, vehicleStateBody, verifyBody } from './webhook-payloads.js';
import type { Subscription } from './webhooks.js';

export interface VerifyResult {
  /** 200, JSON, and `challenge` = hex HMAC-SHA256(management token, challenge), within the (scaled) 15 s. */
  ok: boolean;
  status: number | 'timeout' | 'network';
  /** The receiver's answer as sent (up to 64 KB). */
  body: string;
  /** Why it was not ok. */
  reason?: string;
}

export interface VehicleErrorInit {
  type: string;
  /** null for PERMISSION (v3 ref §6); default null. */
  code?: string | null;
  state: 'ERROR' | 'RESOLVED';
  /** Signal codes the error concerns; absent = the whole vehicle. */
  signals?: string[];
  description?: string;
  suggestedUserMessage?: string;
  resolution?: ResolutionType;
}

export interface DeliverStateOptions {
  /** Signal codes (or FIRST_DELIVERY) to name as triggers; default: what changed since the last delivery. */
  triggers?: string[];
}

/** What a receiver compares: status and body, not the timestamps (they move on every fetch). */
const fingerprints = (signals: Evaluated[]): Map<string, string> =>
  new Map(signals.map((e) => [e.def.code, JSON.stringify([e.status, e.body ?? null])]));

function judgeVerify(a: ReceiverAnswer, expected: string): string | undefined {
  if (a.status !== 200) {
    return typeof a.status === 'number' ? `answered ${a.status}, not 200` : `no answer (${a.status})`;
  }
  if (!String(a.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
    return `content-type ${String(a.headers['content-type'])}, not application/json`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.body);
  } catch {
    return 'body is not JSON';
  }
  const challenge = typeof parsed === 'object' && parsed !== null ? (parsed as { challenge?: unknown }).challenge : undefined;
  return challenge === expected ? undefined : 'challenge is not hex HMAC-SHA256(management token, challenge)';
}

export class WebhookEvents {
  /** Per subscription: the fingerprints of what it was last sent. None yet = its FIRST_DELIVERY is due. */
  private readonly sent = new Map<string, Map<string, string>>();

  constructor(private readonly deps: V3Deps, private readonly delivery: WebhookDelivery, private readonly managementToken: string,
    private readonly log: (line: string) => void) {}

  /** Something may have changed what the vehicle reports; never throws into the API request that caused it. */
  observe(vehicleId: string): void {
    try {
      this.stateEvents(vehicleId, false);
    } catch (err) {
      this.log(`webhook events error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  }

  subscribed(sub: Subscription): void {
    this.observe(sub.vehicleId);
  }

  /** A VEHICLE_STATE to every subscription now, changed or not; the event ids. */
  deliverState(vehicleId: string, opts: DeliverStateOptions = {}): string[] {
    if (!this.deps.state.vehicles.has(vehicleId)) {
      throw new Error(`unknown vehicle ${vehicleId}`);
    }
    for (const code of opts.triggers ?? []) {
      if (code !== FIRST_DELIVERY && !signalDef(code)) {
        throw new Error(`unknown signal code ${code}`);
      }
    }
    return this.stateEvents(vehicleId, true, opts.triggers);
  }

  private stateEvents(vehicleId: string, forced: boolean, triggers?: string[]): string[] {
    for (const id of this.sent.keys()) {
      if (!this.deps.webhooks.get(id)) {
        this.sent.delete(id);
      }
    }
    const v = this.deps.state.vehicles.get(vehicleId);
    const subs = this.deps.webhooks.active(vehicleId);
    if (!v || subs.length === 0) {
      return [];
    }
    const offline = reachError(v);
    if (offline) {
      if (forced) {
        throw new Error(`vehicle ${vehicleId} cannot be reached (${offline.type}:${String(offline.code)}): Smartcar has nothing new to deliver`);
      }
      return [];
    }
    const now = this.deps.clock.now();
    const vehicle = structuredClone(v);
    const ids: string[] = [];
    for (const sub of subs) {
      const connection = this.deps.state.connections.find(sub.userId, sub.vehicleId);
      if (!connection) {
        continue;
      }
      const signals = evaluateSignals(this.deps, { v: vehicle, connection, userId: sub.userId }, { kind: 'ok', values: { vehicle, retrievedAt: now } }, []);
      const prints = fingerprints(signals);
      const before = this.sent.get(sub.id);
      const changed = before ? [...prints].filter(([code, p]) => before.get(code) !== p).map(([code]) => code) : [FIRST_DELIVERY];
      const named = triggers ?? changed;
      if (!forced && named.length === 0) {
        continue;
      }
      this.sent.set(sub.id, prints);
      ids.push(this.emitState(sub, vehicle, signals, named));
    }
    return ids;
  }

  private emitState(sub: Subscription, vehicle: EmulatedVehicle, signals: Evaluated[], triggers: string[]): string {
    const w = this.deps.webhooks.webhooks.get(sub.webhookId)!;
    const r = { ...this.deps.readings };
    const eventId = randomUUID();
    const webhook = { id: w.id, name: w.name };
    this.delivery.send({
      eventId, eventType: 'VEHICLE_STATE', webhookId: w.id, subscriptionId: sub.id, vehicleId: vehicle.id,
      payload: (m) => vehicleStateBody(r, { eventId, webhook, userId: sub.userId, vehicle, signals, triggers }, m),
    });
    return eventId;
  }

  /** A VEHICLE_ERROR (state ERROR or RESOLVED) to every subscription of the vehicle; the event ids. */
  vehicleError(vehicleId: string, init: VehicleErrorInit): string[] {
    const v = this.deps.state.vehicles.get(vehicleId);
    if (!v) {
      throw new Error(`unknown vehicle ${vehicleId}`);
    }
    if (typeof init.type !== 'string' || init.type === '') {
      throw new Error('vehicleError needs a type');
    }
    if (init.state !== 'ERROR' && init.state !== 'RESOLVED') {
      throw new Error('vehicleError state must be ERROR or RESOLVED');
    }
    const code = init.code ?? null;
    if (init.type === 'PERMISSION' && code !== null) {
      throw new Error('a PERMISSION error has code null (v3 ref §6)');
    }
    for (const s of init.signals ?? []) {
      if (!signalDef(s)) {
        throw new Error(`unknown signal code ${s}`);
      }
    }
    // Texts and resolution from the catalogue (PERMISSION → REAUTHENTICATE); status plays no part in a webhook.
    const spec = v3Spec(init.type, code, {
      status: 0,
      ...(init.description !== undefined ? { description: init.description } : {}),
      ...(init.suggestedUserMessage !== undefined ? { suggestedUserMessage: init.suggestedUserMessage } : {}),
      ...(init.resolution !== undefined ? { resolution: init.resolution } : {}),
    });
    const rendered = errorBody(spec, '');
    const item: VehicleErrorItem = {
      type: spec.type, code: spec.code, state: init.state, description: rendered.description, suggestedUserMessage: rendered.suggestedUserMessage,
      docURL: rendered.docURL, resolution: { type: rendered.resolution.type },
      ...(init.signals ? { signals: [...init.signals] } : {}),
    };
    const vehicle = structuredClone(v);
    const r = { ...this.deps.readings };
    return this.deps.webhooks.active(vehicleId).map((sub) => {
      const w = this.deps.webhooks.webhooks.get(sub.webhookId)!;
      const eventId = randomUUID();
      const webhook = { id: w.id, name: w.name };
      this.delivery.send({
        eventId, eventType: 'VEHICLE_ERROR', webhookId: w.id, subscriptionId: sub.id, vehicleId,
        payload: (m) => vehicleErrorBody(r, { eventId, webhook, userId: sub.userId, vehicle, errors: [item] }, m),
      });
      return eventId;
    });
  }

  /** The Dashboard's Verify: an unsigned VERIFY (v3 ref §6); the webhook remembers the outcome. */
  async verify(webhookId: string): Promise<VerifyResult> {
    const w = this.deps.webhooks.webhooks.get(webhookId);
    if (!w) {
      throw new Error(`unknown webhook ${webhookId}`);
    }
    const challenge = randomBytes(16).toString('hex');
    const expected = signBody(this.managementToken, challenge);
    const eventId = randomUUID();
    const r = { ...this.deps.readings };
    const webhook = { id: w.id, name: w.name };
    let reason: string | undefined;
    const answer = await this.delivery.once({ eventId, eventType: 'VERIFY', webhookId: w.id, signed: false },
      (m) => verifyBody(r, { eventId, webhook, challenge }, m),
      (a) => (reason = judgeVerify(a, expected)) === undefined);
    w.verified = answer.ok;
    if (answer.ok) {
      w.verifiedAt = this.deps.clock.now();
    }
    return { ok: answer.ok, status: answer.status, body: answer.body, ...(reason !== undefined ? { reason } : {}) };
  }
}
