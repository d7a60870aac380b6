// The management host (`/v3/...`, v3 ref §3.5), same app bearer: webhooks (read only: they are made
// in the Dashboard) and subscriptions, both in the spec form (/subscriptions) and the BLOG form
// (/webhooks/{id}/subscriptions) since the reference cannot tell which is real (§7.18). Not billed.
import { ApiError } from '../errors.js';
import type { Ctx, Reply } from '../http.js';
import { header, parseJson } from '../http.js';
import type { V3Deps } from './context.js';
import { bracketLinks, checkBracketKeys, intParam, link, noContent, paginate, requireAppToken, v3ErrorReply, v3Json, v3Rest } from './context.js';
import { v3Error, v3Spec } from './errors.js';
import type { Subscription, Webhook } from './webhooks.js';

function webhookResource(deps: V3Deps, w: Webhook): object {
  return {
    id: w.id,
    type: 'webhook',
    attributes: {
      name: w.name, callbackUri: w.callbackUri, isEnabled: w.isEnabled, triggers: [], data: [],
      errorCallbackUri: w.errorCallbackUri, autoSubscribe: w.autoSubscribe,
    },
    links: { self: link(deps, 'management', `/webhooks/${w.id}`) },
    meta: { createdAt: new Date(w.createdAt).toISOString() },
  };
}

function subscriptionResource(deps: V3Deps, s: Subscription): object {
  const v = deps.state.vehicles.get(s.vehicleId)!;
  const mode = deps.state.connections.find(s.userId, s.vehicleId)?.mode ?? 'live';
  return {
    id: s.id,
    type: 'subscription',
    attributes: { vehicle: { make: v.make, model: v.model, year: v.year, mode } },
    relationships: {
      webhook: { data: { id: s.webhookId, type: 'webhook' } },
      user: { data: { id: s.userId, type: 'user' } },
      vehicle: { data: { id: s.vehicleId, type: 'vehicle' } },
    },
    meta: { createdAt: new Date(s.createdAt).toISOString(), updatedAt: new Date(s.updatedAt).toISOString() },
    links: { self: link(deps, 'management', `/subscriptions/${s.id}`) },
  };
}

const notFound = (what: string): ApiError => v3Error('RESOURCE_NOT_FOUND', 'PATH', { description: `There is no ${what}.` });

function webhook(deps: V3Deps, id: string): Webhook {
  const w = deps.webhooks.webhooks.get(id);
  if (!w) {
    throw notFound(`webhook ${id}`);
  }
  return w;
}

function listWebhooks(ctx: Ctx, deps: V3Deps): unknown {
  const q = ctx.url.searchParams;
  checkBracketKeys(q, ['filter[name]', 'filter[callbackUri]', 'filter[isEnabled]', 'filter[autoSubscribe]', 'page[number]', 'page[size]']);
  const bool = (name: string): boolean | null => {
    const raw = q.get(name);
    if (raw === null) {
      return null;
    }
    if (raw !== 'true' && raw !== 'false') {
      throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: `${name} must be true or false.` });
    }
    return raw === 'true';
  };
  const [name, uri, enabled, auto] = [q.get('filter[name]'), q.get('filter[callbackUri]'), bool('filter[isEnabled]'), bool('filter[autoSubscribe]')];
  const all = [...deps.webhooks.webhooks.values()].filter((w) => (name === null || w.name === name) && (uri === null || w.callbackUri === uri)
    && (enabled === null || w.isEnabled === enabled) && (auto === null || w.autoSubscribe === auto));
  const p = paginate(all, intParam(q, 'page[number]', 1, Number.MAX_SAFE_INTEGER), intParam(q, 'page[size]', 50, 100));
  return {
    data: p.items.map((w) => webhookResource(deps, w)),
    meta: { totalCount: p.total, pageNumber: p.number, pageSize: p.size },
    links: bracketLinks(deps, 'management', '/webhooks', q, p),
  };
}

function listSubscriptions(ctx: Ctx, deps: V3Deps, path: string, webhookId?: string): unknown {
  const q = ctx.url.searchParams;
  checkBracketKeys(q, ['filter[userId]', 'filter[webhookId]', 'filter[vehicleId]', 'filter[vehicle.mode]', 'page[number]', 'page[size]']);
  const mode = q.get('filter[vehicle.mode]');
  if (mode !== null && mode !== 'live' && mode !== 'simulated') {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'filter[vehicle.mode] must be live or simulated.' });
  }
  const wanted = { userId: q.get('filter[userId]'), webhookId: webhookId ?? q.get('filter[webhookId]'), vehicleId: q.get('filter[vehicleId]') };
  const all = deps.webhooks.list().filter((s) => (wanted.userId === null || s.userId === wanted.userId)
    && (wanted.webhookId === null || s.webhookId === wanted.webhookId) && (wanted.vehicleId === null || s.vehicleId === wanted.vehicleId)
    && (mode === null || (deps.state.connections.find(s.userId, s.vehicleId)?.mode ?? 'live') === mode));
  const p = paginate(all, intParam(q, 'page[number]', 1, Number.MAX_SAFE_INTEGER), intParam(q, 'page[size]', 25, 100));
  return {
    data: p.items.map((s) => subscriptionResource(deps, s)),
    meta: { totalCount: p.total, pageNumber: p.number, pageSize: p.size },
    links: bracketLinks(deps, 'management', path, q, p),
  };
}

/** `data.attributes` of a JSON:API request body, or {} when it has none. */
function attributesOf(body: unknown): Record<string, unknown> {
  const data = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).data : undefined;
  const attributes = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).attributes : undefined;
  return typeof attributes === 'object' && attributes !== null ? attributes as Record<string, unknown> : {};
}

/** POST /subscriptions or /webhooks/{id}/subscriptions: 202 "in progress"; 409 when it exists. */
function createSubscription(ctx: Ctx, deps: V3Deps, pathWebhookId?: string): Reply {
  if (!(header(ctx, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'Content-Type must be application/json.' });
  }
  const parsed = parseJson(ctx.body);
  if (parsed === undefined) {
    throw v3Error('VALIDATION', 'BAD_REQUEST');
  }
  const attributes = attributesOf(parsed);
  const field = (name: string): string => {
    const value = attributes[name];
    if (typeof value !== 'string' || value === '') {
      throw v3Error('VALIDATION', 'MISSING_PARAMETER', { description: `missing data.attributes.${name}` });
    }
    return value;
  };
  const webhookId = pathWebhookId ?? field('webhookId');
  if (pathWebhookId !== undefined && attributes.webhookId !== undefined && attributes.webhookId !== pathWebhookId) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'data.attributes.webhookId differs from the path.' });
  }
  const userId = field('userId');
  const vehicleId = field('vehicleId');
  webhook(deps, webhookId);
  if (!deps.state.connections.find(userId, vehicleId)) {
    throw notFound(`connection of user ${userId} to vehicle ${vehicleId}`);
  }
  const { existed } = deps.webhooks.subscribe(webhookId, userId, vehicleId);
  if (existed) {
    // The reference gives only the status; type and code are the emulator's choice.
    throw new ApiError(v3Spec('CONFLICT', 'ALREADY_EXISTS', {
      status: 409, description: 'A subscription for this webhook, user and vehicle already exists.', suggestedUserMessage: '',
    }));
  }
  return { ...v3Json(deps, 202, { meta: { message: 'subscription creation in progress' } }), log: { billed: 0, vehicleId, userId } };
}

function route(ctx: Ctx, deps: V3Deps, rest: string): Reply {
  const m = ctx.method;
  const json = (body: unknown): Reply => v3Json(deps, 200, body);
  if (rest === '/webhooks' && m === 'GET') {
    return json(listWebhooks(ctx, deps));
  }
  const wm = /^\/webhooks\/([^/]+)(\/subscriptions(?:\/([^/]+))?)?$/.exec(rest);
  if (wm) {
    const webhookId = decodeURIComponent(wm[1]!);
    const w = webhook(deps, webhookId);
    if (!wm[2] && m === 'GET') {
      return json({ data: webhookResource(deps, w) });
    }
    if (wm[2] && !wm[3] && m === 'GET') {
      return json(listSubscriptions(ctx, deps, `/webhooks/${webhookId}/subscriptions`, webhookId));
    }
    if (wm[2] && !wm[3] && m === 'POST') {
      return createSubscription(ctx, deps, webhookId);
    }
    if (wm[3] && m === 'DELETE') {
      const vehicleId = decodeURIComponent(wm[3]);
      const subs = deps.webhooks.list().filter((s) => s.webhookId === webhookId && s.vehicleId === vehicleId);
      if (subs.length === 0) {
        throw notFound(`subscription of vehicle ${vehicleId} to webhook ${webhookId}`);
      }
      subs.forEach((s) => deps.webhooks.delete(s.id));
      return { ...noContent(), log: { billed: 0, vehicleId } };
    }
    throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
  }
  if (rest === '/subscriptions' && m === 'GET') {
    return json(listSubscriptions(ctx, deps, '/subscriptions'));
  }
  if (rest === '/subscriptions' && m === 'POST') {
    return createSubscription(ctx, deps);
  }
  const sm = /^\/subscriptions\/([^/]+)$/.exec(rest);
  if (sm && (m === 'GET' || m === 'DELETE')) {
    const s = deps.webhooks.get(decodeURIComponent(sm[1]!));
    if (!s) {
      throw notFound(`subscription ${sm[1]!}`);
    }
    if (m === 'GET') {
      return json({ data: subscriptionResource(deps, s) });
    }
    deps.webhooks.delete(s.id);
    return { ...noContent(), log: { billed: 0, vehicleId: s.vehicleId } };
  }
  throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
}

/** Entry for every request to the management host. */
export function handleManagement(ctx: Ctx, deps: V3Deps): Reply {
  try {
    const rest = v3Rest(ctx.url.pathname);
    requireAppToken(ctx, deps);
    const reply = route(ctx, deps, rest);
    return { ...reply, log: reply.log ?? { billed: 0 } };
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    return { ...v3ErrorReply(deps, err.spec), log: { billed: 0 } };
  }
}
