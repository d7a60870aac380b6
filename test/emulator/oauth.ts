// Smartcar Connect (authorize, re-authenticate, sign-in and grant pages) and the v2 OAuth token
// endpoint, per reference §2 and the test/simulated login conventions of §9. A bad client or
// redirect URI gets an error page, never a redirect; every other problem goes back as `error=`.
// Approval creates the application's connections at once (v3 never exchanges the code, v3 ref §2.4)
// and the redirect carries `user_id` (and `external_id`), with or without `code` per the reading.
import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from './clock.js';
import type { Fault, FaultBook } from './faults.js';
import type { Ctx, Reply } from './http.js';
import { header, html, json, redirect, sleep } from './http.js';
import { errorPage, pickerPage, signInPage } from './pages.js';
import type { EmulatorState, Mode, User } from './state.js';
import { connectionMode, EmulatorState as State, isPermission } from './state.js';
import type { EmulatedVehicle, Permission, Powertrain, VehicleInit } from './vehicles.js';
import { isKnownError } from './errors.js';

export interface OAuthDeps {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  state: EmulatorState;
  clock: EmulatorClock;
  faults: FaultBook;
  autoApprove: () => false | { email?: string; vehicleIds?: string[] };
  /** v3 readings `redirect` and `connectParam` (v3 ref §7.4, §7.5). */
  redirectReading?: () => 'code-and-user-id' | 'user-id-only';
  connectParam?: () => 'client_id' | 'either';
}

interface ConnectSession {
  id: string;
  flow: 'code' | 'vehicle_id';
  redirectUri: string;
  /** Whether redirect_uri was in the authorize URL (else the app default was used). */
  redirectExplicit: boolean;
  scope: Permission[] | null;
  required: Permission[];
  state: string | null;
  mode: Mode;
  single: boolean;
  singleVin: string | null;
  reauthVehicleId: string | null;
  userId: string | null;
  /** Connect's `external_id` (v3): echoed in the redirect and stored on the connections. */
  externalId: string | null;
  expiresAt: number;
}

const SESSION_TTL_MS = 30 * 60 * 1000;

const CONNECT_ERRORS: Record<string, string> = {
  access_denied: 'User denied access to application.',
  invalid_subscription: 'User does not have an active connected vehicle subscription.',
  no_vehicles: 'No vehicles found. Please add vehicles to your account and try again.',
  vehicle_incompatible: 'The user\'s vehicle is not compatible.',
  configuration_error: 'There has been an error in the configuration of your application.',
  server_error: 'Unexpected server error. Please try again.',
};

function form(body: string): URLSearchParams {
  return new URLSearchParams(body);
}

export class OAuth {
  private readonly sessions = new Map<string, ConnectSession>();

  constructor(private readonly deps: OAuthDeps) {}

  // ---- Connect -------------------------------------------------------------------------------

  private back(s: Pick<ConnectSession, 'redirectUri' | 'state'>, params: Record<string, string>): Reply {
    const url = new URL(s.redirectUri);
    for (const [k, v] of Object.entries(params)) {
      url.searchParams.set(k, v);
    }
    if (s.state !== null) {
      url.searchParams.set('state', s.state);
    }
    return redirect(url.toString());
  }

  private connectError(s: Pick<ConnectSession, 'redirectUri' | 'state'>, error: string, extra: Record<string, string> = {}): Reply {
    return this.back(s, { error, error_description: CONNECT_ERRORS[error] ?? error, ...extra });
  }

  private configError(s: Pick<ConnectSession, 'redirectUri' | 'state'>, message: string): Reply {
    return this.connectError(s, 'configuration_error', { status_code: '400', error_message: message });
  }

  /** GET /oauth/authorize and GET /oauth/reauthenticate. */
  authorize(ctx: Ctx, flow: 'code' | 'vehicle_id'): Reply {
    const q = ctx.url.searchParams;
    if (ctx.method !== 'GET') {
      return html(405, errorPage('Method not allowed', 'Open this page with GET.'));
    }
    const either = this.deps.connectParam?.() === 'either';
    const clientId = q.get('client_id') ?? (either ? q.get('application_id') : null);
    if (clientId !== this.deps.clientId) {
      return html(400, errorPage('Invalid client', 'The client_id is missing or not registered with Smartcar.'));
    }
    const given = q.get('redirect_uri');
    const redirectUri = given ?? this.deps.redirectUris[0];
    if (redirectUri === undefined || !this.deps.redirectUris.includes(redirectUri)) {
      return html(400, errorPage('Invalid redirect URI', 'The redirect_uri does not match any URI registered for this application.'));
    }
    const base = { redirectUri, state: q.get('state') };
    if (q.get('response_type') !== (flow === 'code' ? 'code' : 'vehicle_id')) {
      return this.configError(base, `response_type must be ${flow === 'code' ? 'code' : 'vehicle_id'}`);
    }
    const mode = (q.get('mode') ?? 'live') as Mode;
    if (!['live', 'test', 'simulated'].includes(mode)) {
      return this.configError(base, 'mode must be live, test or simulated');
    }
    let scope: Permission[] | null = null;
    const required: Permission[] = [];
    const rawScope = q.get('scope');
    if (rawScope !== null) {
      scope = [];
      for (const item of rawScope.split(' ').filter(Boolean)) {
        const isRequired = item.startsWith('required:');
        const name = isRequired ? item.slice('required:'.length) : item;
        if (!isPermission(name)) {
          return this.configError(base, `Invalid scope: ${name}`);
        }
        scope.push(name);
        if (isRequired) {
          required.push(name);
        }
      }
    }
    let reauthVehicleId: string | null = null;
    if (flow === 'vehicle_id') {
      reauthVehicleId = q.get('vehicle_id');
      if (!reauthVehicleId || !this.deps.state.vehicles.has(reauthVehicleId)) {
        return this.configError(base, 'vehicle_id is missing or unknown');
      }
    }
    const session: ConnectSession = {
      id: randomUUID(), flow, redirectUri, redirectExplicit: given !== null, scope, required, state: base.state, mode,
      single: q.get('single_select') === 'true', singleVin: q.get('single_select_vin'), reauthVehicleId, userId: null,
      externalId: q.get('external_id'), expiresAt: this.deps.clock.now() + SESSION_TTL_MS,
    };
    this.sessions.set(session.id, session);

    const auto = this.deps.autoApprove();
    if (auto) {
      const user = auto.email ? this.deps.state.userByEmail(auto.email) : [...this.deps.state.users.values()][0];
      if (!user) {
        return this.connectError(session, 'no_vehicles');
      }
      session.userId = user.id;
      const candidates = this.candidates(session, user);
      const chosen = auto.vehicleIds ?? candidates.filter((c) => c.selectable).map((c) => c.v.id);
      return this.complete(session, chosen);
    }
    return html(200, signInPage({ sid: session.id, mode }));
  }

  private session(params: URLSearchParams): ConnectSession | undefined {
    const s = this.sessions.get(params.get('sid') ?? '');
    if (!s || s.expiresAt <= this.deps.clock.now()) {
      return undefined;
    }
    return s;
  }

  /** POST /oauth/login: sign in; live mode needs a known user, test/simulated modes follow §9 conventions. */
  login(ctx: Ctx): Reply {
    const params = form(ctx.body);
    const s = this.session(params);
    if (ctx.method !== 'POST' || !s) {
      return html(400, errorPage('Session expired', 'Start again from the application.'));
    }
    const email = (params.get('email') ?? '').trim().toLowerCase();
    const password = params.get('password') ?? '';
    let user: User | undefined;
    if (s.mode === 'live') {
      user = this.deps.state.userByEmail(email);
      if (!user || user.password !== password) {
        return html(200, signInPage({ sid: s.id, mode: s.mode, error: 'Incorrect email or password.' }));
      }
    } else {
      if (!email || !password) {
        return html(200, signInPage({ sid: s.id, mode: s.mode, error: 'Enter an email and a password.' }));
      }
      if (email === 'smartcar@invalid-subscription.com') {
        return this.connectError(s, 'invalid_subscription');
      }
      if (email === 'smartcar@vehicle-incompatible.com' || /@incompatible\.smartcar\.com$/.test(email)) {
        const vin = email.endsWith('@incompatible.smartcar.com') ? email.split('@')[0]!.toUpperCase() : '0SCAUDI012FE3B132';
        return this.connectError(s, 'vehicle_incompatible', { vin, make: 'AUDI', model: 'A4', year: '2017' });
      }
      user = this.deps.state.userByEmail(email) ?? this.testUser(email, password);
    }
    s.userId = user.id;
    const candidates = this.candidates(s, user);
    if (candidates.length === 0) {
      return this.connectError(s, 'no_vehicles');
    }
    if (s.flow === 'code' && !candidates.some((c) => c.selectable)) {
      return this.connectError(s, 'vehicle_incompatible');
    }
    return this.picker(s, candidates);
  }

  /** Creates the on-the-fly user of test/simulated mode with the vehicles its email asks for. */
  private testUser(email: string, password: string): User {
    const state = this.deps.state;
    const user = state.addUser(email, password);
    const many = /^(\d{1,3})-vehicles@smartcar\.com$/.exec(email);
    const level = /^([a-z0-9]{17})@(compatible|phev|bev|fuel)\.smartcar\.com$/.exec(email);
    const errorLogin = /^([a-z_]+)\.([a-z_]+)@smartcar\.com$/.exec(email);
    const kinds: Powertrain[] = ['BEV', 'PHEV', 'ICE'];
    if (many && Number(many[1]) >= 1) {
      for (let i = 0; i < Number(many[1]); i++) {
        state.addVehicle(user.id, { powertrain: kinds[i % 3]! });
      }
    } else if (level) {
      const powertrain: Powertrain = level[2] === 'bev' ? 'BEV' : level[2] === 'fuel' ? 'ICE' : 'PHEV';
      state.addVehicle(user.id, { powertrain, vin: level[1]!.toUpperCase() });
    } else if (errorLogin && isKnownError(errorLogin[1]!.toUpperCase(), errorLogin[2]!.toUpperCase())) {
      const init: VehicleInit = { powertrain: 'BEV', forcedError: { type: errorLogin[1]!.toUpperCase(), code: errorLogin[2]!.toUpperCase() } };
      state.addVehicle(user.id, init);
    } else {
      state.addVehicle(user.id, { powertrain: 'BEV', make: 'TESLA', model: 'Model S', year: 2014 });
    }
    return user;
  }

  private candidates(s: ConnectSession, user: User): { v: EmulatedVehicle; selectable: boolean; note?: string }[] {
    let vehicles = this.deps.state.vehiclesOf(user.id);
    if (s.flow === 'vehicle_id') {
      vehicles = vehicles.filter((v) => v.id === s.reauthVehicleId);
    } else if (s.single && s.singleVin) {
      vehicles = vehicles.filter((v) => v.vin === s.singleVin);
    }
    return vehicles.map((v) => {
      const missing = s.required.filter((p) => !v.capabilities.includes(p));
      return missing.length ? { v, selectable: false, note: `not compatible: ${missing.join(', ')}` } : { v, selectable: true };
    });
  }

  private picker(s: ConnectSession, candidates: ReturnType<OAuth['candidates']>, error?: string): Reply {
    return html(200, pickerPage({
      sid: s.id,
      appName: 'homebridge-smartcar',
      single: s.single || s.flow === 'vehicle_id',
      permissions: s.scope ?? ['(as configured for the application)'],
      vehicles: candidates.map((c) => ({
        id: c.v.id, make: c.v.make, model: c.v.model, year: c.v.year, vin: c.v.vin, selectable: c.selectable,
        ...(c.note ? { note: c.note } : {}),
      })),
      ...(error ? { error } : {}),
    }));
  }

  /** POST /oauth/grant: approve (with the checked vehicles) or deny. */
  grant(ctx: Ctx): Reply {
    const params = form(ctx.body);
    const s = this.session(params);
    if (ctx.method !== 'POST' || !s || s.userId === null) {
      return html(400, errorPage('Session expired', 'Start again from the application.'));
    }
    if (params.get('action') === 'deny') {
      this.sessions.delete(s.id);
      return this.connectError(s, 'access_denied');
    }
    if (params.get('action') !== 'approve') {
      return html(400, errorPage('Bad request', 'Choose Allow or Deny access.'));
    }
    const chosen = params.getAll('vehicle');
    const user = this.deps.state.users.get(s.userId)!;
    const candidates = this.candidates(s, user);
    const selectable = new Set(candidates.filter((c) => c.selectable).map((c) => c.v.id));
    if (chosen.length === 0) {
      return this.picker(s, candidates, 'Select at least one vehicle.');
    }
    if ((s.single || s.flow === 'vehicle_id') && chosen.length > 1) {
      return this.picker(s, candidates, 'Select only one vehicle.');
    }
    if (!chosen.every((id) => selectable.has(id))) {
      return this.picker(s, candidates, 'That vehicle cannot be selected.');
    }
    return this.complete(s, chosen);
  }

  private complete(s: ConnectSession, vehicleIds: string[]): Reply {
    this.sessions.delete(s.id);
    const state = this.deps.state;
    if (vehicleIds.length === 0) {
      return this.connectError(s, 'no_vehicles');
    }
    if (s.flow === 'vehicle_id') {
      const v = state.vehicles.get(vehicleIds[0]!)!;
      // Re-authenticating repairs a broken connected-services login (reference §2.1).
      if (v.forcedError?.code === 'AUTHENTICATION_FAILED') {
        v.forcedError = null;
      }
      return this.back(s, { vehicle_id: v.id });
    }
    const granted = new Map<string, Permission[]>();
    for (const id of vehicleIds) {
      const v = state.vehicles.get(id);
      if (!v || v.userId !== s.userId) {
        return this.connectError(s, 'server_error');
      }
      granted.set(id, State.grant(v, s.scope));
    }
    state.connect(s.userId!, connectionMode(s.mode), granted, s.externalId);
    const params: Record<string, string> = {};
    if ((this.deps.redirectReading?.() ?? 'code-and-user-id') === 'code-and-user-id') {
      params.code = state.createCode({
        clientId: this.deps.clientId, redirectUri: s.redirectExplicit ? s.redirectUri : null,
        userId: s.userId!, mode: s.mode, vehicles: granted,
      }).code;
    }
    params.user_id = s.userId!;
    if (s.externalId !== null) {
      params.external_id = s.externalId;
    }
    return this.back(s, params);
  }

  // ---- token endpoint ------------------------------------------------------------------------

  private oauthError(status: number, error: string, description: string): Reply {
    return json(status, { error, error_description: description }, { 'cache-control': 'no-store' });
  }

  /** POST /oauth/token (reference §2.3). */
  async token(ctx: Ctx): Promise<Reply> {
    if (ctx.method !== 'POST') {
      return this.oauthError(405, 'invalid_request', 'The token endpoint only accepts POST.');
    }
    const basic = /^Basic (\S+)$/.exec(header(ctx, 'authorization') ?? '');
    const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(/:(.*)/s) : [];
    if (id !== this.deps.clientId || secret !== this.deps.clientSecret) {
      const r = this.oauthError(401, 'invalid_client', 'Invalid client credentials.');
      r.headers['www-authenticate'] = 'Basic realm="smartcar"';
      return r;
    }
    if (!(header(ctx, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return this.oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.');
    }
    const params = form(ctx.body);
    const grant = params.get('grant_type') ?? '';
    let terminal: Fault | undefined;
    for (const f of this.deps.faults.take({ kind: 'token', method: 'POST', path: '/oauth/token', grant })) {
      if ('delayMs' in f) {
        await sleep(f.delayMs);
      } else {
        terminal = f;
      }
    }
    if (terminal && 'error' in terminal) {
      const r = this.oauthError(terminal.error.status, terminal.error.type, terminal.error.description ?? terminal.error.type);
      if (terminal.error.retryAfter !== undefined) {
        r.headers['retry-after'] = String(terminal.error.retryAfter);
      }
      return r;
    }
    if (terminal) {
      return { status: 200, headers: {}, body: '', fault: 'drop' in terminal ? 'drop' : 'malformed' };
    }

    if (grant === 'authorization_code') {
      return this.exchangeCode(params);
    }
    if (grant === 'refresh_token') {
      const token = params.get('refresh_token') ?? '';
      const issued = this.deps.state.refresh(token);
      return issued ? this.tokens(issued) : this.oauthError(400, 'invalid_grant', `Invalid refresh_token: ${token}.`);
    }
    return this.oauthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant}.`);
  }

  private exchangeCode(params: URLSearchParams): Reply {
    const state = this.deps.state;
    const value = params.get('code') ?? '';
    const code = state.codes.get(value);
    if (!code || code.used || code.expiresAt <= this.deps.clock.now() || code.clientId !== this.deps.clientId) {
      return this.oauthError(400, 'invalid_grant', `Invalid code: ${value}.`);
    }
    const sent = params.get('redirect_uri');
    // The SDK sends the literal string "undefined" when AuthClient has no redirectUri; that is only
    // legitimate when Connect was opened without one too (reference §4.2, §10).
    const ok = code.redirectUri === null
      ? sent === null || sent === 'undefined' || sent === this.deps.redirectUris[0]
      : sent === code.redirectUri;
    if (!ok) {
      return this.oauthError(400, 'invalid_grant', `Invalid redirect_uri: ${sent ?? ''}.`);
    }
    code.used = true;
    return this.tokens(state.createAuthorization(code.userId, code.mode, code.vehicles));
  }

  private tokens(t: { accessToken: string; refreshToken: string; expiresIn: number }): Reply {
    return json(200, { access_token: t.accessToken, token_type: 'Bearer', expires_in: t.expiresIn, refresh_token: t.refreshToken },
      { 'cache-control': 'no-store' });
  }

}
