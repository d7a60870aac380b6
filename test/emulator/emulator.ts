// SmartcarEmulator: wires clock, state, Connect/token, the v2.0 API and the control API onto one
// server, and exposes the in-process test controls documented in README.md.
import { beforeFlush, recordSecrets } from '../helpers/suite-capture.js';
import type { ApiDeps } from './api.js';
import { handleApi } from './api.js';
import { EmulatorClock } from './clock.js';
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
}

export interface RequestLogEntry {
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

export class SmartcarEmulator {
  readonly clock = new EmulatorClock();
  readonly state: EmulatorState;
  readonly faults = new FaultBook();
  readonly limits: VehicleLimits;
  readonly requests: RequestLogEntry[] = [];
  commandLatencyMs: number;
  autoApprove: AutoApprove;
  private readonly oauth: OAuth;
  private readonly apiDeps: ApiDeps;
  private http: HttpServer | undefined;
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
    });
    this.apiDeps = { state: this.state, clock: this.clock, faults: this.faults, limits: this.limits, commandLatencyMs: () => this.commandLatencyMs };
  }

  static async start(options: EmulatorOptions): Promise<SmartcarEmulator> {
    const emu = new SmartcarEmulator(options);
    // The whole-suite secrets check (test/zz-suite) proves none of these ever reaches captured output.
    recordSecrets('emulator', [options.clientSecret, Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')]);
    emu.stopRecording = beforeFlush(() => recordSecrets('emulator', emu.state.issuedTokens()));
    emu.http = await startHttpServer(options.host ?? '127.0.0.1', options.port ?? 0, (ctx) => emu.dispatch(ctx),
      (err) => emu.logLine(`emulator error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
    emu.logLine(`smartcar emulator listening on ${emu.origin}`);
    return emu;
  }

  /** Use as both SMARTCAR_API_ORIGIN and SMARTCAR_AUTH_ORIGIN. */
  get origin(): string {
    if (!this.http) {
      throw new Error('emulator not started');
    }
    return this.http.origin;
  }

  async close(): Promise<void> {
    recordSecrets('emulator', this.state.issuedTokens());
    this.stopRecording();
    await this.http?.close();
    this.http = undefined;
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
    const entry: RequestLogEntry = { at: this.clock.now(), receivedAt, method: ctx.method, path, status: reply.status, billed: reply.log?.billed ?? 0 };
    if (reply.log?.vehicleId) {
      entry.vehicleId = reply.log.vehicleId;
    }
    if (reply.log?.userId) {
      entry.userId = reply.log.userId;
    }
    this.requests.push(entry);
    this.logLine(`${ctx.method} ${path}${ctx.url.search} → ${reply.fault ?? reply.status}${entry.billed ? ` (billed ${entry.billed})` : ''}`);
    return reply;
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
    return v;
  }

  // ---- tokens -----------------------------------------------------------------------------

  /** An authorization as if the user had gone through Connect, without the pages. */
  issueTokens(userId: string, opts: { vehicleIds?: string[]; scope?: string[] } = {}): IssuedTokens {
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
    return this.state.createAuthorization(userId, 'live', granted);
  }

  expireAccessTokens(userId?: string): void {
    this.state.expireAccessTokens(userId);
  }

  revokeTokens(userId: string): void {
    this.state.revokeTokens(userId);
  }

  // ---- faults, log, billing ---------------------------------------------------------------

  inject(match: FaultMatch, fault: Fault, times = 1): void {
    this.faults.add(match, fault, times);
  }

  billedCount(vehicleId: string): number {
    return this.limits.billedCount(vehicleId);
  }

  resetLog(): void {
    this.requests.length = 0;
  }

  set refreshGraceMs(ms: number) {
    this.state.refreshGraceMs = ms;
  }

  get refreshGraceMs(): number {
    return this.state.refreshGraceMs;
  }
}
