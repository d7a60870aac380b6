// The v3 vehicle host (`/v3/...`, v3 ref §3): app bearer only, then the route. Vehicles are the ones
// the application has a connection to (else 404 RESOURCE_NOT_FOUND/PATH); signals and commands
// need sc-user-id, and one naming another user is answered per the `wrongUser` reading.
import { ApiError } from '../errors.js';
import type { Ctx, Reply } from '../http.js';
import { handleConnections } from './connections.js';
import { runCommand } from './commands.js';
import type { V3Deps } from './context.js';
import { gate, link, networkFault, NOT_BILLED, requireAppToken, scUserId, takeFaults, v3ErrorReply, v3Json, v3Rest } from './context.js';
import { v3Error } from './errors.js';
import type { VehicleScope } from './signals.js';
import { listSignals, oneSignal } from './signals.js';

function vehicleNotFound(id: string): ApiError {
  return v3Error('RESOURCE_NOT_FOUND', 'PATH', { description: `No vehicle ${id} is connected to this application.` });
}

/** The connected vehicle and the sc-user-id that must be its user. */
function scopeOf(ctx: Ctx, deps: V3Deps, vehicleId: string): VehicleScope {
  const userId = scUserId(ctx, true)!;
  const v = deps.state.vehicles.get(vehicleId);
  const connection = deps.state.connections.ofVehicle(vehicleId);
  if (!v || !connection) {
    throw vehicleNotFound(vehicleId);
  }
  if (connection.userId !== userId) {
    throw deps.readings.wrongUser === 'permission-403'
      ? v3Error('PERMISSION', null, { description: 'The sc-user-id is not the user of this vehicle.' })
      : vehicleNotFound(vehicleId);
  }
  return { v, connection, userId };
}

/** GET /vehicles/{id}: billed 1 like v2 attributes; does not need the car (no reachability check). */
async function getVehicle(deps: V3Deps, vehicleId: string): Promise<Reply> {
  const v = deps.state.vehicles.get(vehicleId);
  const connection = deps.state.connections.ofVehicle(vehicleId);
  if (!v || !connection) {
    throw vehicleNotFound(vehicleId);
  }
  const log = (billed: number): Reply['log'] => ({ vehicleId, billed });
  let admitted = false;
  try {
    gate(deps, vehicleId);
    admitted = true;
    const faults = await takeFaults(deps, { kind: 'read', method: 'GET', path: '/', vehicleId });
    deps.limits.bill(vehicleId);
    if (faults.terminal) {
      return { ...networkFault(faults.terminal), log: log(1) };
    }
    const body = {
      data: {
        id: v.id, type: 'vehicle',
        attributes: { make: v.make, model: v.model, year: v.year, powertrainType: v.powertrain, mode: connection.mode },
        links: { self: link(deps, 'v3', `/vehicles/${v.id}`) },
      },
    };
    return { ...v3Json(deps, 200, body), log: log(1) };
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    const billed = admitted && !NOT_BILLED.has(err.spec.status) ? 1 : 0;
    if (billed) {
      deps.limits.bill(vehicleId);
    }
    return { ...v3ErrorReply(deps, err.spec), log: log(billed) };
  }
}

async function route(ctx: Ctx, deps: V3Deps, rest: string): Promise<Reply> {
  const m = ctx.method;
  if (rest === '/connections' || rest.startsWith('/connections/') || rest.startsWith('/users/')) {
    return handleConnections(ctx, deps, rest);
  }
  const vm = /^\/vehicles\/([^/]+)(\/.*)?$/.exec(rest);
  if (!vm) {
    throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
  }
  const vehicleId = decodeURIComponent(vm[1]!);
  const sub = vm[2] ?? '/';
  if (sub === '/' && m === 'GET') {
    return getVehicle(deps, vehicleId);
  }
  if (sub === '/signals' && m === 'GET') {
    return listSignals(ctx, deps, scopeOf(ctx, deps, vehicleId));
  }
  const sm = /^\/signals\/([^/]+)$/.exec(sub);
  if (sm && m === 'GET') {
    return oneSignal(ctx, deps, scopeOf(ctx, deps, vehicleId), decodeURIComponent(sm[1]!));
  }
  // Only /commands/<group>/<action>: the JLR-style POST /commands {type} (and POST /signals) is not an endpoint.
  const cm = /^\/commands\/([^/]+\/[^/]+)$/.exec(sub);
  if (cm && m === 'POST') {
    return runCommand(ctx, deps, scopeOf(ctx, deps, vehicleId), cm[1]!);
  }
  throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
}

/** Entry for every request to the v3 vehicle host. */
export async function handleV3(ctx: Ctx, deps: V3Deps): Promise<Reply> {
  const headerUser = typeof ctx.headers['sc-user-id'] === 'string' ? ctx.headers['sc-user-id'] : undefined;
  try {
    const rest = v3Rest(ctx.url.pathname);
    requireAppToken(ctx, deps);
    return await route(ctx, deps, rest);
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    const vehicleId = /^\/v3\/vehicles\/([^/]+)/.exec(ctx.url.pathname)?.[1];
    return {
      ...v3ErrorReply(deps, err.spec),
      log: { billed: 0, ...(vehicleId ? { vehicleId: decodeURIComponent(vehicleId) } : {}), ...(headerUser ? { userId: headerUser } : {}) },
    };
  }
}
