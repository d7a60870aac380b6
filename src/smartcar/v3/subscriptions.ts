// Webhooks 4.0 on the management host (smartcar-v3.md §3.5): the webhook is made in the Dashboard (there
// is no POST /webhooks), so it is found by its callback URI; each car is subscribed to it and
// unsubscribed again. The sources name two paths for subscriptions (§7.18): the spec's /subscriptions
// is tried first, the blog's /webhooks/{id}/subscriptions when the host says the first does not exist.
import { ConfigurationError, type MapContext, type SmartcarProblem } from '../errors.js';
import type { BackendWebhooks, DeliveryReceipt } from '../types.js';
import { readDelivery } from './deliveries.js';
import type { JsonAnswer, JsonRequest } from './http.js';

export interface SubscriptionsOptions {
  managementToken: string;
  /** The callback URI the owner registered in the Dashboard (config webhookUrl). */
  callbackUri: string;
  /** The management host's origin. */
  origin: string;
  /** One exchange with the application token; resolves with any HTTP status (the caller judges it). */
  send: (request: Omit<JsonRequest, 'headers'> & { headers?: Record<string, string> }, ctx: MapContext) => Promise<JsonAnswer>;
  /** Throws the plugin's error for a non-2xx answer. */
  fail: (answer: JsonAnswer, ctx: MapContext) => SmartcarProblem;
}

const PAGE_SIZE = 100;
const MAX_PAGES = 20;

type PathForm = 'spec' | 'blog';

/** "https://x/a/" and "https://x/a" are the same URI to an owner; hosts compare case-insensitively. */
function sameUri(a: string, b: string): boolean {
  try {
    const [x, y] = [new URL(a), new URL(b)];
    return x.origin === y.origin && x.pathname.replace(/\/+$/, '') === y.pathname.replace(/\/+$/, '') && x.search === y.search;
  } catch {
    return a === b;
  }
}

export class V3Webhooks implements BackendWebhooks {
  private webhookId: Promise<string> | undefined;
  private form: PathForm = 'spec';

  constructor(private readonly options: SubscriptionsOptions) {}

  receive(rawBody: Buffer, signature: string | undefined): DeliveryReceipt {
    return readDelivery(this.options.managementToken, rawBody, signature);
  }

  async subscribe(userId: string, vehicleId: string): Promise<void> {
    const ctx = { operation: 'Subscribing the car to the webhook' };
    const webhookId = await this.webhook();
    const body = JSON.stringify({ data: { attributes: { webhookId, userId, vehicleId } } });
    const post = (path: string): Promise<JsonAnswer> => this.options.send({ method: 'POST', url: this.url(path), body, headers: { 'content-type': 'application/json' } }, ctx);
    const answer = await this.byForm(() => post('/subscriptions'), () => post(`/webhooks/${encodeURIComponent(webhookId)}/subscriptions`));
    // 409: it exists already, which is what was wanted.
    if (answer.status !== 409 && (answer.status < 200 || answer.status >= 300)) {
      throw this.options.fail(answer, ctx);
    }
  }

  async unsubscribe(userId: string, vehicleId: string): Promise<void> {
    const ctx = { operation: 'Unsubscribing the car from the webhook' };
    const webhookId = await this.webhook();
    if (this.form === 'blog') {
      const answer = await this.options.send({ method: 'DELETE', url: this.url(`/webhooks/${encodeURIComponent(webhookId)}/subscriptions/${encodeURIComponent(vehicleId)}`) }, ctx);
      this.judge(answer, ctx, [404]);
      return;
    }
    const query = new URLSearchParams({ 'filter[webhookId]': webhookId, 'filter[userId]': userId, 'filter[vehicleId]': vehicleId, 'page[size]': String(PAGE_SIZE) });
    const listed = await this.options.send({ method: 'GET', url: this.url(`/subscriptions?${query.toString()}`) }, ctx);
    this.judge(listed, ctx);
    for (const s of dataOf(listed.body)) {
      const id = typeof s.id === 'string' ? s.id : undefined;
      if (id !== undefined) {
        const answer = await this.options.send({ method: 'DELETE', url: this.url(`/subscriptions/${encodeURIComponent(id)}`) }, ctx);
        this.judge(answer, ctx, [404]);
      }
    }
  }

  /** The Dashboard webhook whose callback URI is the configured one; found once, again after a failure. */
  private webhook(): Promise<string> {
    this.webhookId ??= this.findWebhook().catch((err: unknown) => {
      this.webhookId = undefined;
      throw err;
    });
    return this.webhookId;
  }

  private async findWebhook(): Promise<string> {
    const ctx = { operation: 'Finding the webhook in the Smartcar Dashboard' };
    const wanted = this.options.callbackUri;
    const candidates: Record<string, unknown>[] = [];
    // Every page: the filter may be exact where an owner's URI differs by a trailing slash.
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query = new URLSearchParams({ 'page[number]': String(page), 'page[size]': String(PAGE_SIZE) });
      const answer = await this.options.send({ method: 'GET', url: this.url(`/webhooks?${query.toString()}`) }, ctx);
      this.judge(answer, ctx);
      const items = dataOf(answer.body);
      candidates.push(...items);
      if (items.length < PAGE_SIZE) {
        break;
      }
    }
    const matching = candidates.filter((w) => typeof w.id === 'string' && typeof attributesOf(w).callbackUri === 'string' && sameUri(attributesOf(w).callbackUri as string, wanted));
    const enabled = matching.find((w) => attributesOf(w).isEnabled !== false);
    if (enabled !== undefined) {
      return enabled.id as string;
    }
    throw new ConfigurationError(matching.length > 0
      ? `The webhook with the callback URI ${wanted} is disabled in the Smartcar Dashboard: enable it there`
      : `No webhook in the Smartcar Dashboard has the callback URI ${wanted} (webhookUrl): add one there (Webhooks, with the signals the car should send) with exactly this URI, or correct webhookUrl`);
  }

  /** The spec's path first; the blog's when the host answers 404 for it, and from then on. */
  private async byForm(spec: () => Promise<JsonAnswer>, blog: () => Promise<JsonAnswer>): Promise<JsonAnswer> {
    if (this.form === 'spec') {
      const answer = await spec();
      if (answer.status !== 404 || !isPathNotFound(answer.body)) {
        return answer;
      }
      this.form = 'blog';
    }
    return blog();
  }

  private judge(answer: JsonAnswer, ctx: MapContext, alsoFine: readonly number[] = []): void {
    if ((answer.status < 200 || answer.status >= 300) && !alsoFine.includes(answer.status)) {
      throw this.options.fail(answer, ctx);
    }
  }

  private url(path: string): string {
    return `${this.options.origin}/v3${path}`;
  }
}

function dataOf(body: unknown): Record<string, unknown>[] {
  const data = (body as { data?: unknown } | undefined)?.data;
  return Array.isArray(data) ? data.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null) : [];
}

function attributesOf(resource: Record<string, unknown>): Record<string, unknown> {
  const a = resource.attributes;
  return typeof a === 'object' && a !== null ? a as Record<string, unknown> : {};
}

/** A 404 about the path itself (RESOURCE_NOT_FOUND:PATH), not about a webhook or connection named in it. */
function isPathNotFound(body: unknown): boolean {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  const first = Array.isArray(errors) ? errors[0] as { code?: unknown } | undefined : undefined;
  return typeof first?.code !== 'string' || first.code.toUpperCase() === 'PATH';
}
