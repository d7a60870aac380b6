// How webhooks 4.0 events travel (smartcar-api.md §6.1, v3 ref §6): one POST per attempt carrying the
// exact JSON string that was signed (SC-Signature = hex HMAC-SHA256 keyed by the Application Management
// Token); any 2xx within 15 s is delivered, anything else is retried at +25, +50, +100 s after the failed
// attempt, then dropped; same eventId, a new deliveryId each attempt. Timers are real and scaled by
// webhookTimeScale so a suite runs the schedule in milliseconds. What is sent is webhook-events.ts's job.
// Deliveries are never billed and never in emu.requests: Smartcar calls the receiver, not the other way.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { EmulatorClock } from '../clock.js';
import type { AppliedFaults, DeliveryFaultKind } from './delivery-faults.js';
import { DeliveryFaultBook } from './delivery-faults.js';
import type { WebhookBook } from './webhooks.js';

export const WEBHOOK_TIMEOUT_MS = 15_000;
/** Delay before retry 1, 2 and 3, counted from the failed attempt (an exponential backoff: the reference gives only the numbers). */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [25_000, 50_000, 100_000];
/** The reference says `Smartcar/{version}` without the version; this one is the emulator's. */
export const WEBHOOK_USER_AGENT = 'Smartcar/1.0';
export const WEBHOOK_MAX_PAYLOAD_BYTES = 50 * 1024;
/** Enough of a receiver's answer for a VERIFY check; the rest is read and ignored. */
const MAX_ANSWER_BYTES = 64 * 1024;

export type WebhookEventType = 'VERIFY' | 'VEHICLE_STATE' | 'VEHICLE_ERROR';
/** An HTTP status, no answer within the (scaled) 15 s, a failed connection, or a `drop` fault (never sent). */
export type DeliveryStatus = number | 'timeout' | 'network' | 'dropped';

export interface DeliveryLogEntry {
  eventId: string;
  deliveryId: string;
  eventType: WebhookEventType;
  webhookId: string;
  vehicleId?: string;
  /** 1 for the first send, 2–4 for the retries (a `duplicate` copy repeats the number). */
  attempt: number;
  /** When the attempt was sent (emulator clock): also its meta.deliveredAt. */
  at: number;
  status: DeliveryStatus;
  /** 2xx within the timeout (VERIFY: also the right challenge answer). */
  ok: boolean;
  /** Delivery faults applied to this attempt. */
  faults?: DeliveryFaultKind[];
}

/** What changes per attempt inside a payload. */
export interface AttemptMeta { deliveryId: string; deliveredAt: number; mode: 'LIVE' | 'TEST' }

/** A VEHICLE_STATE or VEHICLE_ERROR event for one subscription; the body is fixed but for `meta`. */
export interface VehicleEvent {
  eventId: string;
  eventType: 'VEHICLE_STATE' | 'VEHICLE_ERROR';
  webhookId: string;
  subscriptionId: string;
  vehicleId: string;
  payload: (meta: AttemptMeta) => object;
}

export interface ReceiverAnswer { status: number | 'timeout' | 'network'; headers: IncomingHttpHeaders; body: string }

export interface DeliveryDeps {
  clock: EmulatorClock;
  webhooks: WebhookBook;
  managementToken: string;
  timeScale: () => number;
  log: (line: string) => void;
}

interface Held { ev: VehicleEvent; attempt: number; faults: AppliedFaults }

export const signBody = (key: string, raw: string): string => createHmac('sha256', key).update(raw, 'utf8').digest('hex');

/** Only IP literals and localhost: a test tool must never resolve a name or reach the internet. */
function unreachableReason(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `callback ${url.protocol} is not http(s)`;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0 && host !== 'localhost') {
    return `the emulator delivers only to IP addresses and localhost, not to ${host}`;
  }
  return undefined;
}

export class WebhookDelivery {
  readonly log: DeliveryLogEntry[] = [];
  readonly faults = new DeliveryFaultBook();
  private readonly agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<ClientRequest>();
  private held: Held[] = [];
  /** Events (and VERIFY calls) not finished yet: sending, waiting for a retry, or held. */
  private pending = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  /** A key that is not the management token, for the badSignature fault. */
  private readonly wrongKey = randomBytes(32).toString('hex');

  constructor(private readonly deps: DeliveryDeps) {}

  /** Queues an event; the caller (an API request, a test) never waits for the receiver. */
  send(ev: VehicleEvent): void {
    if (this.closed) {
      return;
    }
    this.pending++;
    this.later(0, () => this.attempt(ev, 1));
  }

  /** One unsigned or signed POST with no retries and no faults (VERIFY), logged; resolves with the receiver's answer. */
  async once(target: { eventId: string; eventType: WebhookEventType; webhookId: string; signed: boolean }, payload: (meta: AttemptMeta) => object,
    judge: (answer: ReceiverAnswer) => boolean): Promise<ReceiverAnswer & { ok: boolean }> {
    const w = this.deps.webhooks.webhooks.get(target.webhookId);
    if (!w) {
      throw new Error(`unknown webhook ${target.webhookId}`);
    }
    if (this.closed) {
      throw new Error('emulator closed');
    }
    this.pending++;
    try {
      const deliveryId = randomUUID();
      const at = this.deps.clock.now();
      const raw = JSON.stringify(payload({ deliveryId, deliveredAt: at, mode: 'LIVE' }));
      const answer = await this.post(w.callbackUri, raw, target.signed ? this.deps.managementToken : null);
      const ok = judge(answer);
      this.record({ eventId: target.eventId, deliveryId, eventType: target.eventType, webhookId: w.id, attempt: 1, at, status: answer.status, ok });
      return { ...answer, ok };
    } finally {
      this.done();
    }
  }

  /** Resolves once nothing is sending, waiting for a retry or held (held `reorder` attempts are let go then). */
  settle(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.checkIdle();
    });
  }

  /** Cancels every retry, timer and request in flight; nothing is sent afterwards. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t);
    }
    this.timers.clear();
    for (const req of this.inFlight) {
      req.destroy();
    }
    this.inFlight.clear();
    this.held = [];
    this.pending = 0;
    this.agents.http.destroy();
    this.agents.https.destroy();
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }

  /** Never resolves once closed: the attempt waiting on it is abandoned with its timer. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private scaled(ms: number): number {
    return ms * this.deps.timeScale();
  }

  private done(): void {
    if (this.closed) {
      return;
    }
    this.pending--;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.closed || this.waiters.length === 0) {
      return;
    }
    if (this.pending === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((w) => w());
    } else if (this.pending === this.held.length) {
      // Only held attempts are left and no later delivery will come to release them: send them now.
      const held = this.held;
      this.held = [];
      held.forEach((h) => this.sendHeld(h));
    }
  }

  private sendHeld(h: Held): void {
    void this.sendNow(h.ev, h.attempt, h.faults);
  }

  /** A retry of an event whose subscription went (disconnect, DELETE) or whose webhook was disabled is not sent. */
  private stillWanted(ev: VehicleEvent): boolean {
    return this.deps.webhooks.get(ev.subscriptionId) !== undefined && this.deps.webhooks.webhooks.get(ev.webhookId)?.isEnabled === true;
  }

  private async attempt(ev: VehicleEvent, n: number): Promise<void> {
    try {
      if (this.closed) {
        return;
      }
      if (n > 1 && !this.stillWanted(ev)) {
        this.done();
        return;
      }
      const faults = this.faults.take(ev.vehicleId);
      if (faults.drop) {
        this.record({ ...this.ids(ev), deliveryId: randomUUID(), attempt: n, at: this.deps.clock.now(), status: 'dropped', ok: false, faults: faults.kinds });
        this.done();
        return;
      }
      if (faults.delayMs > 0) {
        await this.sleep(faults.delayMs);
      }
      if (faults.reorder) {
        this.held.push({ ev, attempt: n, faults });
        this.checkIdle();
        return;
      }
      await this.sendNow(ev, n, faults);
    } catch (err) {
      this.deps.log(`webhook delivery error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.done();
    }
  }

  private ids(ev: VehicleEvent): Pick<DeliveryLogEntry, 'eventId' | 'eventType' | 'webhookId' | 'vehicleId'> {
    return { eventId: ev.eventId, eventType: ev.eventType, webhookId: ev.webhookId, vehicleId: ev.vehicleId };
  }

  private async sendNow(ev: VehicleEvent, n: number, faults: AppliedFaults): Promise<void> {
    try {
      const ok = await this.postEvent(ev, n, faults);
      if (faults.duplicate && !this.closed) {
        await this.postEvent(ev, n, faults);
      }
      this.release(ev.vehicleId);
      if (this.closed) {
        return;
      }
      if (ok) {
        this.done();
      } else if (n > WEBHOOK_RETRY_DELAYS_MS.length) {
        this.deps.log(`webhook ${ev.eventType} ${ev.eventId} dropped after ${WEBHOOK_RETRY_DELAYS_MS.length} retries`);
        this.done();
      } else {
        this.later(this.scaled(WEBHOOK_RETRY_DELAYS_MS[n - 1]!), () => this.attempt(ev, n + 1));
      }
    } catch (err) {
      this.deps.log(`webhook delivery error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      this.done();
    }
  }

  /** Attempts held by `reorder` for this vehicle go out now, after the one that was just answered. */
  private release(vehicleId: string): void {
    const mine = this.held.filter((h) => h.ev.vehicleId === vehicleId);
    if (mine.length === 0) {
      return;
    }
    this.held = this.held.filter((h) => h.ev.vehicleId !== vehicleId);
    mine.forEach((h) => this.sendHeld(h));
  }

  private async postEvent(ev: VehicleEvent, n: number, faults: AppliedFaults): Promise<boolean> {
    const w = this.deps.webhooks.webhooks.get(ev.webhookId);
    if (!w) {
      return true;
    }
    const deliveryId = randomUUID();
    const at = this.deps.clock.now();
    const raw = JSON.stringify(ev.payload({ deliveryId, deliveredAt: at, mode: faults.test ? 'TEST' : 'LIVE' }));
    if (Buffer.byteLength(raw) > WEBHOOK_MAX_PAYLOAD_BYTES) {
      // Smartcar caps payloads at 50 KB; the emulator's are a few KB, so this is an emulator bug.
      throw new Error(`emulator bug: webhook payload of ${Buffer.byteLength(raw)} bytes exceeds 50 KB`);
    }
    const key = faults.unsigned ? null : faults.badSignature ? this.wrongKey : this.deps.managementToken;
    const answer = await this.post(w.callbackUri, raw, key);
    if (this.closed) {
      return false;
    }
    const ok = typeof answer.status === 'number' && answer.status >= 200 && answer.status < 300;
    this.record({ ...this.ids(ev), deliveryId, attempt: n, at, status: answer.status, ok, ...(faults.kinds.length ? { faults: faults.kinds } : {}) });
    return ok;
  }

  private record(entry: DeliveryLogEntry): void {
    this.log.push(entry);
    const faults = entry.faults?.length ? ` [${entry.faults.join(', ')}]` : '';
    this.deps.log(`[webhook] ${entry.eventType} ${entry.eventId} attempt ${entry.attempt} → ${entry.status}${faults}`);
  }

  /** POSTs exactly `raw`, signed with `key` unless null; never rejects. */
  private post(uri: string, raw: string, key: string | null): Promise<ReceiverAnswer> {
    const failed = (): ReceiverAnswer => ({ status: 'network', headers: {}, body: '' });
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return Promise.resolve(failed());
    }
    const refused = unreachableReason(url);
    if (refused) {
      this.deps.log(`[webhook] not sent: ${refused}`);
      return Promise.resolve(failed());
    }
    const headers: Record<string, string> = {
      'Content-Type': 'application/json', 'User-Agent': WEBHOOK_USER_AGENT, 'Content-Length': String(Buffer.byteLength(raw)),
    };
    if (key !== null) {
      headers['SC-Signature'] = signBody(key, raw);
    }
    return new Promise((resolve) => {
      const https_ = url.protocol === 'https:';
      const req = (https_ ? https : http).request(url, { method: 'POST', headers, agent: https_ ? this.agents.https : this.agents.http });
      let finished = false;
      const finish = (answer: ReceiverAnswer): void => {
        if (finished) {
          return;
        }
        finished = true;
        clearTimeout(timer);
        this.timers.delete(timer);
        this.inFlight.delete(req);
        resolve(answer);
      };
      const timer = setTimeout(() => {
        finish({ status: 'timeout', headers: {}, body: '' });
        req.destroy();
      }, this.scaled(WEBHOOK_TIMEOUT_MS));
      this.timers.add(timer);
      this.inFlight.add(req);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) {
            chunks.push(c);
          }
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => finish(failed()));
      });
      req.on('error', () => finish(failed()));
      req.end(raw);
    });
  }
}
