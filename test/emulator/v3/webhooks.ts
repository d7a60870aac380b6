// Webhooks (made in the Dashboard, so only in-process or through the control API: there is no
// POST /webhooks, v3 ref §3.5) and subscriptions of connected vehicles to them. A vehicle with a
// subscription to an enabled webhook is served live by the 'daily' and 'empty-until-subscribed'
// signal stores. Delivery is not emulated (yet).
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
}

export interface WebhookInit { name: string; callbackUri: string; isEnabled?: boolean; autoSubscribe?: boolean; errorCallbackUri?: string | null }

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
  private readonly subs = new Map<string, Subscription>();

  constructor(private readonly clock: EmulatorClock) {}

  addWebhook(init: WebhookInit): Webhook {
    if (typeof init.name !== 'string' || init.name === '' || typeof init.callbackUri !== 'string' || init.callbackUri === '') {
      throw new Error('addWebhook needs a name and a callbackUri');
    }
    const w: Webhook = {
      id: randomUUID(), name: init.name, callbackUri: init.callbackUri, isEnabled: init.isEnabled ?? true,
      autoSubscribe: init.autoSubscribe ?? false, errorCallbackUri: init.errorCallbackUri ?? null, createdAt: this.clock.now(),
    };
    this.webhooks.set(w.id, w);
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
    return this.list().some((s) => s.vehicleId === vehicleId && this.webhooks.get(s.webhookId)?.isEnabled === true);
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
