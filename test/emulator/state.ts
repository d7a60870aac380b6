// Everything the emulator remembers: users, vehicles, the application's connections (shared by v2
// and v3), v2 authorizations (what one Connect run granted), authorization codes and tokens. Token
// rules follow reference §2.3: access 2 h, refresh 60 days, refresh tokens rotate and the used one
// keeps working for a grace period.
import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from './clock.js';
import type { Connection, ConnectionMode } from './connections.js';
import { ConnectionBook } from './connections.js';
import type { EmulatedVehicle, Permission, VehicleInit } from './vehicles.js';
import { createVehicle, PERMISSIONS } from './vehicles.js';

export const ACCESS_TOKEN_TTL_S = 7200;
export const REFRESH_TOKEN_TTL_MS = 60 * 24 * 3600 * 1000;
export const CODE_TTL_MS = 10 * 60 * 1000;

export type Mode = 'live' | 'test' | 'simulated';

export interface User { id: string; email: string; password: string }

export interface Authorization {
  id: string;
  userId: string;
  mode: Mode;
  /** Granted permissions per vehicle, in approval order (the order /vehicles lists them). */
  vehicles: Map<string, Permission[]>;
  revoked: boolean;
}

export interface AuthCode {
  code: string;
  clientId: string;
  /** The redirect_uri sent to Connect, or null when Connect used the app default (SDK then sends "undefined"). */
  redirectUri: string | null;
  userId: string;
  mode: Mode;
  vehicles: Map<string, Permission[]>;
  expiresAt: number;
  used: boolean;
}

interface AccessToken { token: string; authId: string; expiresAt: number }
interface RefreshToken { token: string; authId: string; expiresAt: number; usedAt: number | null }

export interface IssuedTokens { accessToken: string; refreshToken: string; expiresIn: number }

export const isPermission = (s: string): s is Permission => (PERMISSIONS as readonly string[]).includes(s);

/** v3 knows live and simulated; Connect's deprecated `test` mode is simulated. */
export const connectionMode = (mode: Mode): ConnectionMode => (mode === 'live' ? 'live' : 'simulated');

export class EmulatorState {
  readonly users = new Map<string, User>();
  readonly vehicles = new Map<string, EmulatedVehicle>();
  readonly authorizations = new Map<string, Authorization>();
  readonly codes = new Map<string, AuthCode>();
  readonly connections: ConnectionBook;
  /** Called after a connection is removed (v3 subscriptions go with it). */
  readonly onDisconnect: ((c: Connection) => void)[] = [];
  /** Called after a connection is created (webhooks with autoSubscribe pick it up). */
  readonly onConnect: ((c: Connection) => void)[] = [];
  /**
   * Called after anything that may change what a vehicle's signals report (updateVehicle, a command
   * that succeeded, a connection's permissions): v3 webhooks compare and deliver what changed.
   */
  readonly onVehicleChange: ((vehicleId: string) => void)[] = [];
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, RefreshToken>();

  constructor(private readonly clock: EmulatorClock, public refreshGraceMs: number) {
    this.connections = new ConnectionBook(clock);
  }

  /** Connect approval, issueTokens and emu.connect: create or update each vehicle's connection. */
  connect(userId: string, mode: ConnectionMode, granted: Map<string, Permission[]>, externalId: string | null = null): Connection[] {
    return [...granted].map(([vehicleId, permissions]) => {
      const known = this.connections.find(userId, vehicleId) !== undefined;
      const c = this.connections.upsert(userId, vehicleId, permissions, mode, externalId);
      if (!known) {
        for (const fn of this.onConnect) {
          fn(c);
        }
      }
      // Re-connecting may grant or take permissions: the PERMISSION signal errors change with them.
      this.vehicleChanged(vehicleId);
      return c;
    });
  }

  vehicleChanged(vehicleId: string): void {
    for (const fn of this.onVehicleChange) {
      fn(vehicleId);
    }
  }

  /**
   * Disconnect through either API: the connection goes, and the vehicle leaves every v2 authorization
   * of that user (the app's access is revoked, not one token's). Returns false when there was none.
   */
  disconnect(userId: string, vehicleId: string): boolean {
    let removed = false;
    for (const auth of this.authorizations.values()) {
      if (auth.userId === userId && auth.vehicles.delete(vehicleId)) {
        removed = true;
      }
    }
    return this.dropConnection(userId, vehicleId) || removed;
  }

  /** Removes only the shared connection (v2 DELETE /application keeps the user's other tokens, as the v2 suite pins). */
  dropConnection(userId: string, vehicleId: string): boolean {
    const c = this.connections.find(userId, vehicleId);
    if (!c) {
      return false;
    }
    this.connections.delete(c.id);
    for (const fn of this.onDisconnect) {
      fn(c);
    }
    return true;
  }

  /** Every access and refresh token ever issued: leak tests search captured logs for them. */
  issuedTokens(): string[] {
    return [...this.accessTokens.keys(), ...this.refreshTokens.keys()];
  }

  addUser(email: string, password: string): User {
    const normalized = email.trim().toLowerCase();
    if (this.userByEmail(normalized)) {
      throw new Error(`user ${normalized} already exists`);
    }
    const user: User = { id: randomUUID(), email: normalized, password };
    this.users.set(user.id, user);
    return user;
  }

  userByEmail(email: string): User | undefined {
    const normalized = email.trim().toLowerCase();
    return [...this.users.values()].find((u) => u.email === normalized);
  }

  addVehicle(userId: string, init: VehicleInit): EmulatedVehicle {
    if (!this.users.has(userId)) {
      throw new Error(`unknown user ${userId}`);
    }
    const v = createVehicle(userId, init, this.clock.now());
    if (this.vehicles.has(v.id)) {
      throw new Error(`vehicle ${v.id} already exists`);
    }
    this.vehicles.set(v.id, v);
    return v;
  }

  vehiclesOf(userId: string): EmulatedVehicle[] {
    return [...this.vehicles.values()].filter((v) => v.userId === userId);
  }

  /** Granted = requested ∩ capable; no scope means "whatever the app is configured for" = all capable. */
  static grant(v: EmulatedVehicle, scope: Permission[] | null): Permission[] {
    return scope === null ? [...v.capabilities] : scope.filter((p) => v.capabilities.includes(p));
  }

  createCode(init: Omit<AuthCode, 'code' | 'expiresAt' | 'used'>): AuthCode {
    const code: AuthCode = { ...init, code: randomUUID(), expiresAt: this.clock.now() + CODE_TTL_MS, used: false };
    this.codes.set(code.code, code);
    return code;
  }

  createAuthorization(userId: string, mode: Mode, vehicles: Map<string, Permission[]>): IssuedTokens {
    const auth: Authorization = { id: randomUUID(), userId, mode, vehicles: new Map(vehicles), revoked: false };
    this.authorizations.set(auth.id, auth);
    return this.issue(auth.id);
  }

  private issue(authId: string): IssuedTokens {
    const now = this.clock.now();
    const access: AccessToken = { token: randomUUID(), authId, expiresAt: now + ACCESS_TOKEN_TTL_S * 1000 };
    const refresh: RefreshToken = { token: randomUUID(), authId, expiresAt: now + REFRESH_TOKEN_TTL_MS, usedAt: null };
    this.accessTokens.set(access.token, access);
    this.refreshTokens.set(refresh.token, refresh);
    return { accessToken: access.token, refreshToken: refresh.token, expiresIn: ACCESS_TOKEN_TTL_S };
  }

  /** The authorization behind a live access token, or undefined (unknown, expired, revoked). */
  authorizationFor(accessToken: string): Authorization | undefined {
    const t = this.accessTokens.get(accessToken);
    if (!t || t.expiresAt <= this.clock.now()) {
      return undefined;
    }
    const auth = this.authorizations.get(t.authId);
    return auth && !auth.revoked ? auth : undefined;
  }

  /** Rotates: a new pair each time; the used token stays valid for `refreshGraceMs` after its first use. */
  refresh(refreshToken: string): IssuedTokens | undefined {
    const now = this.clock.now();
    const t = this.refreshTokens.get(refreshToken);
    if (!t || t.expiresAt <= now) {
      return undefined;
    }
    if (t.usedAt !== null && now - t.usedAt >= this.refreshGraceMs) {
      return undefined;
    }
    const auth = this.authorizations.get(t.authId);
    if (!auth || auth.revoked) {
      return undefined;
    }
    t.usedAt ??= now;
    return this.issue(auth.id);
  }

  expireAccessTokens(userId?: string): void {
    const now = this.clock.now();
    for (const t of this.accessTokens.values()) {
      if (userId === undefined || this.authorizations.get(t.authId)?.userId === userId) {
        t.expiresAt = Math.min(t.expiresAt, now);
      }
    }
  }

  revokeTokens(userId: string): void {
    for (const auth of this.authorizations.values()) {
      if (auth.userId === userId) {
        auth.revoked = true;
      }
    }
  }

  snapshot(): object {
    return {
      users: [...this.users.values()].map(({ id, email }) => ({ id, email })),
      vehicles: [...this.vehicles.values()],
      authorizations: [...this.authorizations.values()].map((a) => ({
        id: a.id, userId: a.userId, mode: a.mode, revoked: a.revoked, vehicles: Object.fromEntries(a.vehicles),
      })),
      connections: this.connections.list(),
    };
  }
}
