// Webhooks (made in the Dashboard, so only in-process or through the control API: there is no
// POST /webhooks, v3 ref §3.5) and subscriptions of connected vehicles to them. A vehicle with a
// subscription to an enabled webhook is served live by the 'daily' and 'empty-until-subscribed'
// signal stores, and gets webhooks 4.0 events: a new subscription tells `onSubscribe` (its
// FIRST_DELIVERY, webhook-events.ts), which decides what is sent; delivery.ts sends it.
import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from '../clock.js';
import type { Connection } from '../connections.js';

export interface Webhook {
  id: string;
  name: string;
  callbackUri: string;
  isEnabled: boolean;
  autoSubscribe: boolean;
  errorCallbackUri: string | null;
  createdAt: number;
  /** The last VERIFY challenge was answered correctly (emu.verifyWebhook); a failed one clears it. */
  verified: boolean;
  /** When it last was (emulator clock), or null. */
  verifiedAt: number | null;
}

export interface WebhookInit { name: string; callbackUri: string; isEnabled?: boolean; autoSubscribe?: boolean; errorCallbackUri?: string | null }

/** What the Dashboard lets one change on a webhook. */
export type WebhookPatch = Partial<Pick<Webhook, 'name' | 'callbackUri' | 'isEnabled' | 'autoSubscribe' | 'errorCallbackUri'>>;

export interface Subscription {
  id: string;
  webhookId: string;
  userId: string;
  vehicleId: string;
  createdAt: number;
  updatedAt: number;
}

export class WebhookBook {
  readonly webhooks = new Map<string, Webhook>();
  /** Called after a new subscription is made (API, emu.subscribe, autoSubscribe): its first delivery. */
  readonly onSubscribe: ((s: Subscription) => void)[] = [];
  private readonly subs = new Map<string, Subscription>();

  constructor(private readonly clock: EmulatorClock) {}

  addWebhook(init: WebhookInit): Webhook {
    if (typeof init.name !== 'string' || init.name === '' || typeof init.callbackUri !== 'string' || init.callbackUri === '') {
      throw new Error('addWebhook needs a name and a callbackUri');
    }
    const w: Webhook = {
      id: randomUUID(), name: init.name, callbackUri: init.callbackUri, isEnabled: init.isEnabled ?? true,
      autoSubscribe: init.autoSubscribe ?? false, errorCallbackUri: init.errorCallbackUri ?? null, createdAt: this.clock.now(),
      verified: false, verifiedAt: null,
    };
    this.webhooks.set(w.id, w);
    return w;
  }

  /** Edits a webhook; a new callback URI is unverified until the next VERIFY (as the Dashboard re-verifies on a URL change). */
  update(id: string, patch: WebhookPatch): Webhook {
    const w = this.webhooks.get(id);
    if (!w) {
      throw new Error(`unknown webhook ${id}`);
    }
    const next = { ...w, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
    if (typeof next.name !== 'string' || next.name === '' || typeof next.callbackUri !== 'string' || next.callbackUri === ''
      || typeof next.isEnabled !== 'boolean' || typeof next.autoSubscribe !== 'boolean'
      || (next.errorCallbackUri !== null && typeof next.errorCallbackUri !== 'string')) {
      throw new Error('updateWebhook: name and callbackUri must be non-empty strings, isEnabled and autoSubscribe booleans');
    }
    if (next.callbackUri !== w.callbackUri) {
      next.verified = false;
      next.verifiedAt = null;
    }
    Object.assign(w, next);
    return w;
  }

  /** The new subscription, or the existing one (`existed`) for the same webhook, user and vehicle. */
  subscribe(webhookId: string, userId: string, vehicleId: string): { sub: Subscription; existed: boolean } {
    const existing = this.list().find((s) => s.webhookId === webhookId && s.userId === userId && s.vehicleId === vehicleId);
    if (existing) {
      return { sub: existing, existed: true };
    }
    const now = this.clock.now();
    const sub: Subscription = { id: randomUUID(), webhookId, userId, vehicleId, createdAt: now, updatedAt: now };
    this.subs.set(sub.id, sub);
    for (const fn of this.onSubscribe) {
      fn(sub);
    }
    return { sub, existed: false };
  }

  get(id: string): Subscription | undefined {
    return this.subs.get(id);
  }

  delete(id: string): boolean {
    return this.subs.delete(id);
  }

  /** Oldest first. */
  list(): Subscription[] {
    return [...this.subs.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Whether the signal store serves this vehicle live: a subscription to an enabled webhook. */
  isSubscribed(vehicleId: string): boolean {
    return this.active(vehicleId).length > 0;
  }

  /** The vehicle's subscriptions to enabled webhooks: the ones that get its events. */
  active(vehicleId: string): Subscription[] {
    return this.list().filter((s) => s.vehicleId === vehicleId && this.webhooks.get(s.webhookId)?.isEnabled === true);
  }

  /** A disconnect takes the connection's subscriptions with it. */
  dropConnection(c: Connection): void {
    for (const s of this.list()) {
      if (s.userId === c.userId && s.vehicleId === c.vehicleId) {
        this.subs.delete(s.id);
      }
    }
  }

  /** A new connection joins every enabled autoSubscribe webhook (name-based inference, v3 ref §3.5). */
  autoSubscribe(c: Connection): void {
    for (const w of this.webhooks.values()) {
      if (w.autoSubscribe && w.isEnabled) {
        this.subscribe(w.id, c.userId, c.vehicleId);
      }
    }
  }
}
