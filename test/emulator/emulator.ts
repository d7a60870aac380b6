// SmartcarEmulator: one world (clock, users, vehicles, connections, limits, faults, request log)
// served by four listeners: the v2 origin (Connect, the v2 token endpoint, the v2.0 API and the
// control API), the IAM host, the v3 vehicle host and the v3 management host. Each listener answers
// only its own paths, so a call sent to the wrong host fails. Delivers v3 webhooks 4.0 to subscribed
// receivers (v3/webhook-events.ts decides what, v3/delivery.ts sends). Exposes the in-process test
// controls documented in README.md.
import { randomBytes } from 'node:crypto';
import { beforeFlush, recordSecrets } from '../helpers/suite-capture.js';
import type { ApiDeps } from './api.js';
import { handleApi } from './api.js';
import { EmulatorClock } from './clock.js';
import type { Connection, ConnectionMode } from './connections.js';
import { connectionView } from './connections.js';
import { handleControl } from './control.js';
import { apiError, errorBody } from './errors.js';
import type { Fault, FaultMatch } from './faults.js';
import { FaultBook } from './faults.js';
import type { Ctx, Reply } from './http.js';
import { json } from './http.js';
import type { ThrottleOptions } from './limits.js';
import { VehicleLimits } from './limits.js';
import { OAuth } from './oauth.js';
import type { HttpServer } from './server.js';
import { startHttpServer } from './server.js';
import type { IssuedTokens } from './state.js';
import { EmulatorState, isPermission } from './state.js';
import type { EmulatedVehicle, Permission, VehicleInit } from './vehicles.js';
import { mergeVehicle } from './vehicles.js';
import { handleV3 } from './v3/api.js';
import type { V3Deps } from './v3/context.js';
import type { V3Credentials } from './v3/iam.js';
import { AppTokens, iamNotFound, iamToken } from './v3/iam.js';
import { handleManagement } from './v3/management.js';
import type { V3Readings } from './v3/readings.js';
import { checkReadings, DEFAULT_READINGS } from './v3/readings.js';
import { SignalStore } from './v3/store.js';
import type { DeliveryLogEntry } from './v3/delivery.js';
import { WebhookDelivery } from './v3/delivery.js';
import type { DeliveryFault, DeliveryFaultBook } from './v3/delivery-faults.js';
import type { DeliverStateOptions, VehicleErrorInit, VerifyResult } from './v3/webhook-events.js';
import { WebhookEvents } from './v3/webhook-events.js';
import type { Subscription, Webhook, WebhookInit, WebhookPatch } from './v3/webhooks.js';
import { WebhookBook } from './v3/webhooks.js';

export type AutoApprove = false | { email?: string; vehicleIds?: string[] };

export interface EmulatorOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  port?: number;
  host?: string;
  refreshGraceMs?: number;
  commandLatencyMs?: number;
  vehicleThrottle?: ThrottleOptions | null;
  monthlyRequestLimit?: number | null;
  autoApprove?: AutoApprove;
  log?: (line: string) => void;
  /** API Credentials for the IAM token endpoint. Default: a random `client_…` id and secret (emu.v3Credentials). */
  v3?: V3Credentials;
  /** Readings of the unconfirmed v3 behaviours (v3/readings.ts); also mutable later as emu.readings.X. */
  readings?: Partial<V3Readings>;
  /** v3 commands whose latency (commandLatencyMs) exceeds this answer 202 and stream the outcome. Default 175 000. */
  longRunningAfterMs?: number;
  /** Ports of the IAM, v3 vehicle and management listeners (default 0 = any free port). */
  ports?: { iam?: number; v3?: number; management?: number };
  /** The Application Management Token that signs webhook deliveries. Default: random (emu.managementToken). */
  managementToken?: string;
  /** Multiplies the webhook timeout (15 s) and retry delays (25/50/100 s); tests use e.g. 0.01. Default 1. */
  webhookTimeScale?: number;
}

/** Which listener a request came to. */
export type Host = 'api' | 'iam' | 'v3' | 'management';

export interface Origins { api: string; auth: string; connect: string; iam: string; v3: string; management: string }

export interface ConnectOptions { vehicleIds?: string[]; scope?: string[]; mode?: ConnectionMode; externalId?: string }

export interface RequestLogEntry {
  host: Host;
  /** When the answer went out (emulator clock). */
  at: number;
  /** When the request arrived: a delayed answer is logged late but was sent early. */
  receivedAt: number;
  method: string;
  path: string;
  vehicleId?: string;
  status: number;
  billed: number;
  userId?: string;
}

export const DEFAULT_VEHICLE_THROTTLE: ThrottleOptions = { limit: 60, windowMs: 60_000 };
export const DEFAULT_LONG_RUNNING_AFTER_MS = 175_000;

export class SmartcarEmulator {
  readonly clock = new EmulatorClock();
  readonly state: EmulatorState;
  readonly faults = new FaultBook();
  readonly limits: VehicleLimits;
  readonly requests: RequestLogEntry[] = [];
  /** The live readings object: assign a field to switch a behaviour at runtime. */
  readonly readings: V3Readings;
  readonly v3Credentials: V3Credentials;
  /** The application's AMT (Dashboard): key of every SC-Signature and of the VERIFY answer. */
  readonly managementToken: string;
  commandLatencyMs: number;
  longRunningAfterMs: number;
  autoApprove: AutoApprove;
  private readonly oauth: OAuth;
  private readonly apiDeps: ApiDeps;
  private readonly v3Deps: V3Deps;
  private readonly appTokens: AppTokens;
  private readonly webhookBook: WebhookBook;
  private readonly delivery: WebhookDelivery;
  private readonly webhookEvents: WebhookEvents;
  private timeScale = 1;
  private http: HttpServer | undefined;
  private readonly listeners: Partial<Record<Exclude<Host, 'api'>, HttpServer>> = {};
  private readonly logLine: (line: string) => void;
  private stopRecording: () => unknown = () => undefined;

  private constructor(readonly options: EmulatorOptions) {
    if (!options.clientId || !options.clientSecret) {
      throw new Error('SmartcarEmulator needs clientId and clientSecret');
    }
    this.state = new EmulatorState(this.clock, options.refreshGraceMs ?? 60_000);
    this.limits = new VehicleLimits(this.clock,
      options.vehicleThrottle === undefined ? { ...DEFAULT_VEHICLE_THROTTLE } : options.vehicleThrottle,
      options.monthlyRequestLimit ?? null);
    this.commandLatencyMs = options.commandLatencyMs ?? 0;
    this.longRunningAfterMs = options.longRunningAfterMs ?? DEFAULT_LONG_RUNNING_AFTER_MS;
    this.readings = { ...DEFAULT_READINGS, ...checkReadings(options.readings ?? {}) };
    this.v3Credentials = options.v3 ? { ...options.v3 } : {
      clientId: `client_${randomBytes(12).toString('hex')}`, clientSecret: randomBytes(24).toString('hex'),
    };
    if (!this.v3Credentials.clientId || !this.v3Credentials.clientSecret) {
      throw new Error('SmartcarEmulator: v3 needs clientId and clientSecret');
    }
    if (options.managementToken !== undefined && (typeof options.managementToken !== 'string' || options.managementToken === '')) {
      throw new Error('SmartcarEmulator: managementToken must be a non-empty string');
    }
    this.managementToken = options.managementToken ?? randomBytes(32).toString('hex');
    if (options.webhookTimeScale !== undefined) {
      this.webhookTimeScale = options.webhookTimeScale;
    }
    this.autoApprove = options.autoApprove ?? false;
    this.logLine = options.log ?? (() => undefined);
    this.oauth = new OAuth({
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      redirectUris: [...options.redirectUris],
      state: this.state,
      clock: this.clock,
      faults: this.faults,
      autoApprove: () => this.autoApprove,
      redirectReading: () => this.readings.redirect,
      connectParam: () => this.readings.connectParam,
    });
    this.apiDeps = { state: this.state, clock: this.clock, faults: this.faults, limits: this.limits, commandLatencyMs: () => this.commandLatencyMs };
    this.appTokens = new AppTokens(this.clock);
    this.webhookBook = new WebhookBook(this.clock);
    this.state.onConnect.push((c) => this.webhookBook.autoSubscribe(c));
    this.state.onDisconnect.push((c) => this.webhookBook.dropConnection(c));
    this.v3Deps = {
      state: this.state, clock: this.clock, faults: this.faults, limits: this.limits, readings: this.readings,
      appTokens: this.appTokens, webhooks: this.webhookBook, store: new SignalStore(this.clock),
      commandLatencyMs: () => this.commandLatencyMs, longRunningAfterMs: () => this.longRunningAfterMs,
      origin: (host) => this.origins[host],
    };
    this.delivery = new WebhookDelivery({
      clock: this.clock, webhooks: this.webhookBook, managementToken: this.managementToken, timeScale: () => this.timeScale, log: this.logLine,
    });
    this.webhookEvents = new WebhookEvents(this.v3Deps, this.delivery, this.managementToken, this.logLine);
    this.webhookBook.onSubscribe.push((sub) => this.webhookEvents.subscribed(sub));
    this.state.onVehicleChange.push((id) => this.webhookEvents.observe(id));
  }

  static async start(options: EmulatorOptions): Promise<SmartcarEmulator> {
    const emu = new SmartcarEmulator(options);
    const v3 = emu.v3Credentials;
    // The whole-suite secrets check (test/zz-suite) proves none of these ever reaches captured output.
    recordSecrets('emulator', [
      options.clientSecret, Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64'),
      v3.clientSecret, Buffer.from(`${v3.clientId}:${v3.clientSecret}`).toString('base64'), emu.managementToken,
    ]);
    emu.stopRecording = beforeFlush(() => recordSecrets('emulator', emu.issuedSecrets()));
    const host = options.host ?? '127.0.0.1';
    const onError = (err: unknown): void => emu.logLine(`emulator error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    try {
      emu.http = await startHttpServer(host, options.port ?? 0, (ctx) => emu.dispatch(ctx), onError);
      emu.listeners.iam = await startHttpServer(host, options.ports?.iam ?? 0, (ctx) => emu.serve('iam', ctx), onError);
      emu.listeners.v3 = await startHttpServer(host, options.ports?.v3 ?? 0, (ctx) => emu.serve('v3', ctx), onError);
      emu.listeners.management = await startHttpServer(host, options.ports?.management ?? 0, (ctx) => emu.serve('management', ctx), onError);
    } catch (err) {
      await emu.close();
      throw err;
    }
    const o = emu.origins;
    emu.logLine(`smartcar emulator listening on ${o.api} (iam ${o.iam}, v3 ${o.v3}, management ${o.management})`);
    return emu;
  }

  /** Use as both SMARTCAR_API_ORIGIN and SMARTCAR_AUTH_ORIGIN. */
  get origin(): string {
    if (!this.http) {
      throw new Error('emulator not started');
    }
    return this.http.origin;
  }

  /**
   * Every host's origin (scheme://host:port, no path). api/auth/connect are `origin`; v3 calls go to
   * `${origins.v3}/v3/...`, management calls to `${origins.management}/v3/...`, tokens to `${origins.iam}/oauth2/token`.
   */
  get origins(): Origins {
    const of = (h: Exclude<Host, 'api'>): string => {
      const l = this.listeners[h];
      if (!l) {
        throw new Error('emulator not started');
      }
      return l.origin;
    };
    return { api: this.origin, auth: this.origin, connect: this.origin, iam: of('iam'), v3: of('v3'), management: of('management') };
  }

  async close(): Promise<void> {
    // First, so no retry or receiver call outlives the emulator (node --test would wait for it).
    this.delivery.close();
    recordSecrets('emulator', this.issuedSecrets());
    this.stopRecording();
    const all = [this.http, this.listeners.iam, this.listeners.v3, this.listeners.management];
    this.http = undefined;
    delete this.listeners.iam;
    delete this.listeners.v3;
    delete this.listeners.management;
    await Promise.all(all.map((l) => (l ? l.close() : Promise.resolve())));
  }

  private issuedSecrets(): string[] {
    return [...this.state.issuedTokens(), ...this.appTokens.all()];
  }

  private record(host: Host, ctx: Ctx, receivedAt: number, reply: Reply): Reply {
    const entry: RequestLogEntry = {
      host, at: this.clock.now(), receivedAt, method: ctx.method, path: ctx.url.pathname, status: reply.status, billed: reply.log?.billed ?? 0,
    };
    if (reply.log?.vehicleId) {
      entry.vehicleId = reply.log.vehicleId;
    }
    if (reply.log?.userId) {
      entry.userId = reply.log.userId;
    }
    this.requests.push(entry);
    const where = host === 'api' ? '' : `[${host}] `;
    const held = reply.stream ? ' (held)' : '';
    this.logLine(`${where}${ctx.method} ${ctx.url.pathname}${ctx.url.search} → ${reply.fault ?? reply.status}${held}${entry.billed ? ` (billed ${entry.billed})` : ''}`);
    return reply;
  }

  /** The IAM, v3 and management listeners: each knows only its own paths. */
  private async serve(host: Exclude<Host, 'api'>, ctx: Ctx): Promise<Reply> {
    const receivedAt = this.clock.now();
    let reply: Reply;
    if (host === 'iam') {
      reply = ctx.url.pathname === '/oauth2/token'
        ? await iamToken(ctx, { credentials: this.v3Credentials, readings: this.readings, clock: this.clock, faults: this.faults, tokens: this.appTokens })
        : iamNotFound(ctx);
    } else if (host === 'v3') {
      reply = await handleV3(ctx, this.v3Deps);
    } else {
      reply = handleManagement(ctx, this.v3Deps);
    }
    return this.record(host, ctx, receivedAt, reply);
  }

  private async dispatch(ctx: Ctx): Promise<Reply> {
    const path = ctx.url.pathname;
    const receivedAt = this.clock.now();
    let reply: Reply;
    if (path.startsWith('/_emulator/')) {
      return handleControl(ctx, this);
    } else if (path === '/oauth/authorize') {
      reply = this.oauth.authorize(ctx, 'code');
    } else if (path === '/oauth/reauthenticate') {
      reply = this.oauth.authorize(ctx, 'vehicle_id');
    } else if (path === '/oauth/login') {
      reply = this.oauth.login(ctx);
    } else if (path === '/oauth/grant') {
      reply = this.oauth.grant(ctx);
    } else if (path === '/oauth/token') {
      reply = await this.oauth.token(ctx);
    } else if (path.startsWith('/v')) {
      reply = await handleApi(ctx, this.apiDeps);
    } else {
      const err = apiError('RESOURCE_NOT_FOUND', 'PATH');
      reply = json(404, errorBody(err.spec, ctx.requestId));
    }
    return this.record('api', ctx, receivedAt, reply);
  }

  // ---- fleet ------------------------------------------------------------------------------

  addUser(init: { email: string; password: string }): { id: string; email: string } {
    const u = this.state.addUser(init.email, init.password);
    return { id: u.id, email: u.email };
  }

  addVehicle(userId: string, init: VehicleInit = {}): EmulatedVehicle {
    return this.state.addVehicle(userId, init);
  }

  /** The live, mutable state object of a vehicle. */
  vehicle(id: string): EmulatedVehicle {
    const v = this.state.vehicles.get(id);
    if (!v) {
      throw new Error(`unknown vehicle ${id}`);
    }
    return v;
  }

  /** Merges a patch (nested objects merged one level deep); the car "records" new data now unless dataAt is given. */
  updateVehicle(id: string, patch: VehicleInit): EmulatedVehicle {
    const v = this.vehicle(id);
    mergeVehicle(v, { dataAt: this.clock.now(), ...patch });
    this.state.vehicleChanged(id);
    return v;
  }

  // ---- tokens -----------------------------------------------------------------------------

  /** Granted permissions per vehicle for an in-process "Connect" (scope ∩ capabilities, like the pages). */
  private grantFor(userId: string, opts: { vehicleIds?: string[]; scope?: string[] }): Map<string, Permission[]> {
    if (!this.state.users.has(userId)) {
      throw new Error(`unknown user ${userId}`);
    }
    let scope: Permission[] | null = null;
    if (opts.scope) {
      const bad = opts.scope.filter((p) => !isPermission(p));
      if (bad.length) {
        throw new Error(`unknown permission(s): ${bad.join(', ')}`);
      }
      scope = opts.scope as Permission[];
    }
    const ids = opts.vehicleIds ?? this.state.vehiclesOf(userId).map((v) => v.id);
    const granted = new Map<string, Permission[]>();
    for (const id of ids) {
      const v = this.vehicle(id);
      if (v.userId !== userId) {
        throw new Error(`vehicle ${id} does not belong to user ${userId}`);
      }
      granted.set(id, EmulatorState.grant(v, scope));
    }
    return granted;
  }

  /** An authorization as if the user had gone through Connect, without the pages; connects the vehicles too. */
  issueTokens(userId: string, opts: { vehicleIds?: string[]; scope?: string[] } = {}): IssuedTokens {
    const granted = this.grantFor(userId, opts);
    this.state.connect(userId, 'live', granted);
    return this.state.createAuthorization(userId, 'live', granted);
  }

  /** The v3 equivalent of issueTokens: connections as if the user had approved Connect, no tokens. */
  connect(userId: string, opts: ConnectOptions = {}): Connection[] {
    const mode = opts.mode ?? 'live';
    if (mode !== 'live' && mode !== 'simulated') {
      throw new Error(`connect: mode must be live or simulated, got ${String(mode)}`);
    }
    return this.state.connect(userId, mode, this.grantFor(userId, opts), opts.externalId ?? null).map(connectionView);
  }

  /** Every connection, oldest first (copies). */
  connections(): Connection[] {
    return this.state.connections.list().map(connectionView);
  }

  /** Disconnects as DELETE /v3/connections/{id} does (v2 loses the vehicle too). */
  removeConnection(connectionId: string): void {
    const c = this.state.connections.get(connectionId);
    if (!c) {
      throw new Error(`unknown connection ${connectionId}`);
    }
    this.state.disconnect(c.userId, c.vehicleId);
  }

  expireAccessTokens(userId?: string): void {
    this.state.expireAccessTokens(userId);
  }

  revokeTokens(userId: string): void {
    this.state.revokeTokens(userId);
  }

  /** Every app token issued so far expires now (→ 401 AUTHENTICATION/UNAUTHORIZED on v3 and management). */
  expireAppTokens(): void {
    this.appTokens.expireAll();
  }

  // ---- webhooks and subscriptions (management API) ------------------------------------------------

  /** A webhook as made in the Dashboard (the API cannot create one). */
  addWebhook(init: WebhookInit): Webhook {
    return { ...this.webhookBook.addWebhook(init) };
  }

  webhooks(): Webhook[] {
    return [...this.webhookBook.webhooks.values()].map((w) => ({ ...w }));
  }

  /** Edits a webhook as the Dashboard does (a disabled one gets nothing; a new URL is unverified). */
  updateWebhook(id: string, patch: WebhookPatch): Webhook {
    return { ...this.webhookBook.update(id, patch) };
  }

  /**
   * Subscribes the vehicle's connection to a webhook (default: the first one, made if there is none);
   * returns the existing subscription when there already is one.
   */
  subscribe(vehicleId: string, webhookId?: string): Subscription {
    const c = this.state.connections.ofVehicle(vehicleId);
    if (!c) {
      throw new Error(`vehicle ${vehicleId} has no connection`);
    }
    const id = webhookId ?? this.webhooks()[0]?.id ?? this.addWebhook({ name: 'Emulator webhook', callbackUri: 'https://example.invalid/webhook' }).id;
    if (!this.webhookBook.webhooks.has(id)) {
      throw new Error(`unknown webhook ${id}`);
    }
    return { ...this.webhookBook.subscribe(id, c.userId, vehicleId).sub };
  }

  subscriptions(): Subscription[] {
    return this.webhookBook.list().map((s) => ({ ...s }));
  }

  // ---- webhook delivery (webhooks 4.0) ----------------------------------------------------------

  /** The Dashboard's Verify: POSTs the VERIFY challenge and resolves with the receiver's answer and whether it was right. */
  verifyWebhook(webhookId: string): Promise<VerifyResult> {
    return this.webhookEvents.verify(webhookId);
  }

  /**
   * A VEHICLE_STATE to every subscription of the vehicle to an enabled webhook now, even when nothing
   * changed (e.g. after editing `emu.vehicle(id)` directly). Returns the event ids; sending is async.
   */
  deliverState(vehicleId: string, opts?: DeliverStateOptions): string[] {
    return this.webhookEvents.deliverState(vehicleId, opts);
  }

  /** A VEHICLE_ERROR (ERROR or RESOLVED) to every subscription of the vehicle. Returns the event ids. */
  vehicleError(vehicleId: string, init: VehicleErrorInit): string[] {
    return this.webhookEvents.vehicleError(vehicleId, init);
  }

  /** Arms a delivery fault for the next `times` attempts (of one vehicle, when given). */
  injectDelivery(fault: DeliveryFault, opts: { times?: number; vehicleId?: string } = {}): void {
    this.delivery.faults.add(fault, opts.times ?? 1, opts.vehicleId);
  }

  /** The armed delivery faults (list, clear). */
  get deliveryFaults(): DeliveryFaultBook {
    return this.delivery.faults;
  }

  /** Every delivery attempt, in the order their outcome was known (the live array; resetLog clears it). */
  get deliveries(): readonly DeliveryLogEntry[] {
    return this.delivery.log;
  }

  /** Clears the delivery log only. */
  clearDeliveries(): void {
    this.delivery.log.length = 0;
  }

  /** Resolves when no delivery is in flight, waiting for a retry, or held by a reorder fault. */
  settleDeliveries(): Promise<void> {
    return this.delivery.settle();
  }

  get webhookTimeScale(): number {
    return this.timeScale;
  }

  set webhookTimeScale(scale: number) {
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
      throw new RangeError(`webhookTimeScale must be a positive number, got ${String(scale)}`);
    }
    this.timeScale = scale;
  }

  // ---- faults, log, billing ---------------------------------------------------------------

  inject(match: FaultMatch, fault: Fault, times = 1): void {
    this.faults.add(match, fault, times);
  }

  billedCount(vehicleId: string): number {
    return this.limits.billedCount(vehicleId);
  }

  /** Clears the request log and the delivery log. */
  resetLog(): void {
    this.requests.length = 0;
    this.delivery.log.length = 0;
  }

  set refreshGraceMs(ms: number) {
    this.state.refreshGraceMs = ms;
  }

  get refreshGraceMs(): number {
    return this.state.refreshGraceMs;
  }
}
