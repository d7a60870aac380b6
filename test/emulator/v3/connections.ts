// v3 connections on the vehicle host (v3 ref §3.1): GET /connections (filters, default live mode,
// page[number]/page[size]), GET and DELETE /connections/{id}, DELETE /users/{userId}. Not billed.
// A delete disconnects in the shared world, so v2 loses the vehicle too.
import type { Connection } from '../connections.js';
import type { Ctx, Reply } from '../http.js';
import type { V3Deps } from './context.js';
import { bracketLinks, checkBracketKeys, intParam, link, networkFault, noContent, paginate, scUserId, takeFaults, v3Json } from './context.js';
import { v3Error } from './errors.js';

const FILTERS = ['filter[userId]', 'filter[vehicleId]', 'filter[vehicle.mode]', 'filter[user.externalId]'];

export function connectionResource(deps: V3Deps, c: Connection): object {
  const v = deps.state.vehicles.get(c.vehicleId)!;
  return {
    id: c.id,
    type: 'connection',
    attributes: {
      permissions: [...c.permissions],
      vehicle: { make: v.make, model: v.model, year: v.year, mode: c.mode, powertrainType: v.powertrain },
    },
    relationships: {
      vehicle: { data: { id: c.vehicleId, type: 'vehicle' }, links: { related: link(deps, 'v3', `/vehicles/${c.vehicleId}`) } },
      user: { data: { id: c.userId, type: 'user' } },
    },
    meta: { createdAt: new Date(c.createdAt).toISOString(), updatedAt: new Date(c.updatedAt).toISOString() },
    links: { self: link(deps, 'v3', `/connections/${c.id}`) },
  };
}

function list(ctx: Ctx, deps: V3Deps): unknown {
  const q = ctx.url.searchParams;
  checkBracketKeys(q, [...FILTERS, 'page[number]', 'page[size]']);
  const mode = q.get('filter[vehicle.mode]') ?? 'live';
  if (mode !== 'live' && mode !== 'simulated') {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'filter[vehicle.mode] must be live or simulated.' });
  }
  const headerUser = scUserId(ctx, false);
  const userId = q.get('filter[userId]');
  const vehicleId = q.get('filter[vehicleId]');
  const externalId = q.get('filter[user.externalId]');
  const all = deps.state.connections.list().filter((c) => c.mode === mode
    && (headerUser === undefined || c.userId === headerUser)
    && (userId === null || c.userId === userId)
    && (vehicleId === null || c.vehicleId === vehicleId)
    && (externalId === null || c.externalId === externalId));
  const p = paginate(all, intParam(q, 'page[number]', 1, Number.MAX_SAFE_INTEGER), intParam(q, 'page[size]', 10, 100));
  return {
    data: p.items.map((c) => connectionResource(deps, c)),
    meta: { totalCount: p.total, pageNumber: p.number, pageSize: p.size, orderBy: 'createdAt', orderDirection: 'asc' },
    links: bracketLinks(deps, 'v3', '/connections', q, p),
  };
}

function find(deps: V3Deps, id: string): Connection {
  const c = deps.state.connections.get(id);
  if (!c) {
    throw v3Error('RESOURCE_NOT_FOUND', 'PATH', { description: `There is no connection ${id}.` });
  }
  return c;
}

/** /connections, /connections/{id}, /users/{id} (the path under /v3). */
export async function handleConnections(ctx: Ctx, deps: V3Deps, rest: string): Promise<Reply> {
  const m = ctx.method;
  const item = /^\/connections\/([^/]+)$/.exec(rest);
  const user = /^\/users\/([^/]+)$/.exec(rest);
  const known = (rest === '/connections' && m === 'GET') || (item && (m === 'GET' || m === 'DELETE')) || (user && m === 'DELETE');
  if (!known) {
    throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
  }
  const headerUser = scUserId(ctx, false);
  const log: Reply['log'] = { billed: 0, ...(headerUser ? { userId: headerUser } : {}) };
  const faults = await takeFaults(deps, { kind: m === 'GET' ? 'read' : 'command', method: m, path: rest });
  if (faults.terminal) {
    return { ...networkFault(faults.terminal), log };
  }
  if (rest === '/connections') {
    return { ...v3Json(deps, 200, list(ctx, deps)), log };
  }
  if (item) {
    const c = find(deps, decodeURIComponent(item[1]!));
    if (m === 'GET') {
      return { ...v3Json(deps, 200, { data: connectionResource(deps, c) }), log: { ...log, vehicleId: c.vehicleId } };
    }
    deps.state.disconnect(c.userId, c.vehicleId);
    return { ...noContent(), log: { ...log, vehicleId: c.vehicleId } };
  }
  // DELETE /users/{id}: every connection of the user goes, and with them v2 access and subscriptions.
  const userId = decodeURIComponent(user![1]!);
  const vehicleIds = new Set(deps.state.connections.list().filter((c) => c.userId === userId).map((c) => c.vehicleId));
  for (const auth of deps.state.authorizations.values()) {
    if (auth.userId === userId) {
      for (const id of auth.vehicles.keys()) {
        vehicleIds.add(id);
      }
    }
  }
  if (vehicleIds.size === 0) {
    throw v3Error('RESOURCE_NOT_FOUND', 'PATH', { description: `User ${userId} has no connection to this application.` });
  }
  for (const id of vehicleIds) {
    deps.state.disconnect(userId, id);
  }
  return { ...noContent(), log: { ...log, userId } };
}
