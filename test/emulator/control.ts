// The `/_emulator/*` JSON control API: the in-process controls over HTTP, for out-of-process users
// (the `npm start` demo, Homebridge end-to-end tests), v2 and v3 alike, webhook delivery included.
// Local test tool only, so no auth.
import type { SmartcarEmulator } from './emulator.js';
import type { Fault, FaultMatch } from './faults.js';
import type { Ctx, Reply } from './http.js';
import { json, parseJson } from './http.js';
import { defaultFleet } from './fleet.js';
import type { ConnectOptions } from './emulator.js';
import { checkReadings } from './v3/readings.js';
import { checkDeliveryFault } from './v3/delivery-faults.js';
import type { VehicleErrorInit } from './v3/webhook-events.js';

type Body = Record<string, unknown>;

class BadRequest extends Error {}

function bodyOf(ctx: Ctx): Body {
  if (ctx.body === '') {
    return {};
  }
  const parsed = parseJson(ctx.body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequest('body must be a JSON object');
  }
  return parsed as Body;
}

function str(b: Body, key: string): string {
  const v = b[key];
  if (typeof v !== 'string' || v === '') {
    throw new BadRequest(`${key} must be a non-empty string`);
  }
  return v;
}

function num(b: Body, key: string): number {
  const v = b[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new BadRequest(`${key} must be a number`);
  }
  return v;
}

const optionalStrings = (b: Body, key: string): string[] | undefined => {
  const v = b[key];
  if (v === undefined) {
    return undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new BadRequest(`${key} must be an array of strings`);
  }
  return v;
};

const PATCHABLE_WEBHOOK_KEYS = ['name', 'callbackUri', 'isEnabled', 'autoSubscribe', 'errorCallbackUri'];

/** The webhook delivery routes (the only async ones: VERIFY and settle wait for the receiver). */
async function deliveryRoute(ctx: Ctx, emu: SmartcarEmulator, path: string): Promise<unknown> {
  const m = ctx.method;
  const webhookMatch = /^\/_emulator\/webhooks\/([^/]+)(\/verify)?$/.exec(path);
  const vehicleEvent = /^\/_emulator\/vehicles\/([^/]+)\/(deliver-state|vehicle-error)$/.exec(path);
  if (webhookMatch && webhookMatch[2] && m === 'POST') {
    return emu.verifyWebhook(decodeURIComponent(webhookMatch[1]!));
  }
  if (webhookMatch && !webhookMatch[2] && m === 'PATCH') {
    const b = bodyOf(ctx);
    const unknown = Object.keys(b).filter((k) => !PATCHABLE_WEBHOOK_KEYS.includes(k));
    if (unknown.length) {
      throw new BadRequest(`not a webhook field: ${unknown.join(', ')} (known: ${PATCHABLE_WEBHOOK_KEYS.join(', ')})`);
    }
    return emu.updateWebhook(decodeURIComponent(webhookMatch[1]!), b);
  }
  if (vehicleEvent && m === 'POST') {
    const vehicleId = decodeURIComponent(vehicleEvent[1]!);
    const b = bodyOf(ctx);
    if (vehicleEvent[2] === 'deliver-state') {
      const triggers = optionalStrings(b, 'triggers');
      return { eventIds: emu.deliverState(vehicleId, triggers ? { triggers } : {}) };
    }
    const signals = optionalStrings(b, 'signals');
    return { eventIds: emu.vehicleError(vehicleId, { ...b, ...(signals ? { signals } : {}) } as unknown as VehicleErrorInit) };
  }
  if (path === '/_emulator/deliveries' && m === 'GET') {
    return { deliveries: emu.deliveries };
  }
  if (path === '/_emulator/deliveries' && m === 'DELETE') {
    emu.clearDeliveries();
    return { ok: true };
  }
  if (path === '/_emulator/deliveries/settle' && m === 'POST') {
    await emu.settleDeliveries();
    return { ok: true, deliveries: emu.deliveries.length };
  }
  if (path === '/_emulator/deliveries/faults' && m === 'POST') {
    const b = bodyOf(ctx);
    emu.injectDelivery(checkDeliveryFault(b.fault), {
      ...(b.times !== undefined ? { times: num(b, 'times') } : {}),
      ...(b.vehicleId !== undefined ? { vehicleId: str(b, 'vehicleId') } : {}),
    });
    return { ok: true, faults: emu.deliveryFaults.list() };
  }
  if (path === '/_emulator/deliveries/faults' && m === 'DELETE') {
    emu.deliveryFaults.clear();
    return { ok: true };
  }
  return undefined;
}

function route(ctx: Ctx, emu: SmartcarEmulator): unknown {
  const path = ctx.url.pathname.replace(/\/+$/, '');
  const m = ctx.method;
  const vehicleMatch = /^\/_emulator\/vehicles\/([^/]+)$/.exec(path);
  const billedMatch = /^\/_emulator\/billed\/([^/]+)$/.exec(path);
  const connectionMatch = /^\/_emulator\/connections\/([^/]+)$/.exec(path);

  if (m === 'GET' && path === '/_emulator/state') {
    return {
      now: emu.clock.now(), ...emu.state.snapshot(), faults: emu.faults.list(), readings: emu.readings, origins: emu.origins,
      webhooks: emu.webhooks(), subscriptions: emu.subscriptions(),
      managementToken: emu.managementToken, webhookTimeScale: emu.webhookTimeScale, deliveryFaults: emu.deliveryFaults.list(),
    };
  }
  if (m === 'POST' && path === '/_emulator/users') {
    const b = bodyOf(ctx);
    return emu.addUser({ email: str(b, 'email'), password: str(b, 'password') });
  }
  if (m === 'POST' && path === '/_emulator/vehicles') {
    const { userId, ...init } = bodyOf(ctx);
    if (typeof userId !== 'string') {
      throw new BadRequest('userId must be a string');
    }
    return emu.addVehicle(userId, init);
  }
  if (vehicleMatch && m === 'GET') {
    return emu.vehicle(decodeURIComponent(vehicleMatch[1]!));
  }
  if (vehicleMatch && m === 'PATCH') {
    return emu.updateVehicle(decodeURIComponent(vehicleMatch[1]!), bodyOf(ctx));
  }
  if (m === 'POST' && path === '/_emulator/fleet') {
    const b = bodyOf(ctx);
    return defaultFleet(emu, typeof b.email === 'string' ? b.email : undefined, typeof b.password === 'string' ? b.password : undefined);
  }
  if (m === 'POST' && path === '/_emulator/tokens') {
    const b = bodyOf(ctx);
    const opts: { vehicleIds?: string[]; scope?: string[] } = {};
    const vehicleIds = optionalStrings(b, 'vehicleIds');
    const scope = optionalStrings(b, 'scope');
    if (vehicleIds) {
      opts.vehicleIds = vehicleIds;
    }
    if (scope) {
      opts.scope = scope;
    }
    return emu.issueTokens(str(b, 'userId'), opts);
  }
  if (m === 'POST' && path === '/_emulator/tokens/expire') {
    const b = bodyOf(ctx);
    emu.expireAccessTokens(typeof b.userId === 'string' ? b.userId : undefined);
    return { ok: true };
  }
  if (m === 'POST' && path === '/_emulator/connections') {
    const b = bodyOf(ctx);
    const opts: ConnectOptions = {};
    const vehicleIds = optionalStrings(b, 'vehicleIds');
    const scope = optionalStrings(b, 'scope');
    if (vehicleIds) {
      opts.vehicleIds = vehicleIds;
    }
    if (scope) {
      opts.scope = scope;
    }
    if (b.mode !== undefined) {
      opts.mode = b.mode as ConnectOptions['mode'];
    }
    if (b.externalId !== undefined) {
      opts.externalId = str(b, 'externalId');
    }
    return { connections: emu.connect(str(b, 'userId'), opts) };
  }
  if (m === 'GET' && path === '/_emulator/connections') {
    return { connections: emu.connections() };
  }
  if (connectionMatch && m === 'DELETE') {
    emu.removeConnection(decodeURIComponent(connectionMatch[1]!));
    return { ok: true };
  }
  if (m === 'POST' && path === '/_emulator/app-tokens/expire') {
    emu.expireAppTokens();
    return { ok: true };
  }
  if (m === 'POST' && path === '/_emulator/webhooks') {
    const b = bodyOf(ctx);
    return emu.addWebhook({
      name: str(b, 'name'), callbackUri: str(b, 'callbackUri'),
      ...(typeof b.isEnabled === 'boolean' ? { isEnabled: b.isEnabled } : {}),
      ...(typeof b.autoSubscribe === 'boolean' ? { autoSubscribe: b.autoSubscribe } : {}),
    });
  }
  if (m === 'GET' && path === '/_emulator/webhooks') {
    return { webhooks: emu.webhooks() };
  }
  if (m === 'POST' && path === '/_emulator/subscriptions') {
    const b = bodyOf(ctx);
    return emu.subscribe(str(b, 'vehicleId'), b.webhookId === undefined ? undefined : str(b, 'webhookId'));
  }
  if (m === 'GET' && path === '/_emulator/subscriptions') {
    return { subscriptions: emu.subscriptions() };
  }
  if (m === 'POST' && path === '/_emulator/tokens/revoke') {
    emu.revokeTokens(str(bodyOf(ctx), 'userId'));
    return { ok: true };
  }
  if (m === 'POST' && path === '/_emulator/inject') {
    const b = bodyOf(ctx);
    const times = b.times === undefined ? 1 : num(b, 'times');
    emu.inject(b.match as FaultMatch, b.fault as Fault, times);
    return { ok: true };
  }
  if (m === 'DELETE' && path === '/_emulator/inject') {
    emu.faults.clear();
    return { ok: true };
  }
  if (m === 'GET' && path === '/_emulator/clock') {
    return { now: emu.clock.now() };
  }
  if (m === 'POST' && path === '/_emulator/clock/advance') {
    return { now: emu.clock.advance(num(bodyOf(ctx), 'ms')) };
  }
  if (m === 'POST' && path === '/_emulator/clock/set') {
    return { now: emu.clock.set(num(bodyOf(ctx), 'epochMs')) };
  }
  if (m === 'GET' && path === '/_emulator/requests') {
    return { requests: emu.requests };
  }
  if (m === 'DELETE' && path === '/_emulator/requests') {
    emu.resetLog();
    return { ok: true };
  }
  if (billedMatch && m === 'GET') {
    const vehicleId = decodeURIComponent(billedMatch[1]!);
    return { vehicleId, billed: emu.billedCount(vehicleId) };
  }
  if (m === 'PATCH' && path === '/_emulator/options') {
    const b = bodyOf(ctx);
    if (b.commandLatencyMs !== undefined) {
      emu.commandLatencyMs = num(b, 'commandLatencyMs');
    }
    if (b.refreshGraceMs !== undefined) {
      emu.refreshGraceMs = num(b, 'refreshGraceMs');
    }
    if (b.vehicleThrottle !== undefined) {
      emu.limits.throttle = b.vehicleThrottle as { limit: number; windowMs: number } | null;
    }
    if (b.monthlyRequestLimit !== undefined) {
      emu.limits.monthlyRequestLimit = b.monthlyRequestLimit as number | null;
    }
    if (b.autoApprove !== undefined) {
      emu.autoApprove = b.autoApprove as SmartcarEmulator['autoApprove'];
    }
    if (b.longRunningAfterMs !== undefined) {
      emu.longRunningAfterMs = num(b, 'longRunningAfterMs');
    }
    if (b.webhookTimeScale !== undefined) {
      emu.webhookTimeScale = num(b, 'webhookTimeScale');
    }
    if (b.readings !== undefined) {
      Object.assign(emu.readings, checkReadings(b.readings));
    }
    return { ok: true, readings: emu.readings };
  }
  return undefined;
}

export async function handleControl(ctx: Ctx, emu: SmartcarEmulator): Promise<Reply> {
  try {
    const path = ctx.url.pathname.replace(/\/+$/, '');
    const result = (await deliveryRoute(ctx, emu, path)) ?? route(ctx, emu);
    return result === undefined ? json(404, { error: `no control route ${ctx.method} ${ctx.url.pathname}` }) : json(200, result);
  } catch (err) {
    // Misuse of the control API (unknown ids, bad shapes) is the caller's bug: say exactly what.
    return json(400, { error: err instanceof Error ? err.message : String(err) });
  }
}
