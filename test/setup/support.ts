// Shared pieces of the setup-page route tests: a fake SetupHost that records calls (the web layer's
// own boundary, so a fake is honest here), a capturing Homebridge log, and small HTTP helpers.
import { connect } from 'node:net';

import type { Logging } from 'homebridge';

import type { CarPosition, ConnectResult, RefreshNowAnswer, SetupHost, UserStatusView } from '../../src/setup/host.js';
import type { ConnectApproval } from '../../src/smartcar/types.js';
import { SetupServer } from '../../src/setup/server.js';

export const REDIRECT_URI = 'http://localhost:8585/callback';
export const AUTH_BASE = 'https://connect.example.test/oauth/authorize';

export class FakeHost implements SetupHost {
  users: UserStatusView[] = [];
  authorizeCalls: string[] = [];
  refreshCalls: (string | undefined)[] = [];
  disconnectCalls: string[] = [];
  chargeLimitCalls: { vehicleId: string; percent: number }[] = [];
  failChargeLimit: Error | undefined;
  nextConnect: ConnectResult | Error = {
    userId: 'user-1',
    vehicles: [{ id: 'v-1', name: 'Model 3' }, { id: 'v-2', name: 'Golf' }],
  };
  failRefresh: Error | undefined;
  refreshAnswer: RefreshNowAnswer | undefined;
  /** Refresh now "reads" the asked cars at once: their last read moves and each costs this many requests. */
  readOnRefresh: number | undefined;

  authUrl(state: string): string {
    return `${AUTH_BASE}?response_type=code&state=${encodeURIComponent(state)}`;
  }

  completeAuthorization(approval: ConnectApproval): Promise<ConnectResult> {
    this.authorizeCalls.push(approval.code ?? `user:${approval.userId ?? ''}`);
    return this.nextConnect instanceof Error ? Promise.reject(this.nextConnect) : Promise.resolve(this.nextConnect);
  }

  status(): UserStatusView[] {
    return this.users;
  }

  disconnect(vehicleId: string): Promise<void> {
    this.disconnectCalls.push(vehicleId);
    for (const user of this.users) {
      user.vehicles = user.vehicles.filter((v) => v.vehicleId !== vehicleId);
    }
    return Promise.resolve();
  }

  setChargeLimit(vehicleId: string, percent: number): Promise<{ name: string }> {
    this.chargeLimitCalls.push({ vehicleId, percent });
    const v = this.users.flatMap((u) => u.vehicles).find((x) => x.vehicleId === vehicleId);
    if (this.failChargeLimit || v === undefined) {
      return Promise.reject(this.failChargeLimit ?? new Error('This vehicle is not connected'));
    }
    v.chargeLimit = percent;
    return Promise.resolve({ name: v.name });
  }

  carPosition(): Promise<CarPosition> {
    // The web layer never asks for it (only the Homebridge UI's endpoint does, tested against the platform).
    return Promise.reject(new Error('The fake host has no car to locate'));
  }

  refreshNow(vehicleId?: string): Promise<RefreshNowAnswer | void> {
    this.refreshCalls.push(vehicleId);
    if (this.readOnRefresh !== undefined && !this.failRefresh) {
      for (const v of this.users.flatMap((u) => u.vehicles).filter((x) => vehicleId === undefined || x.vehicleId === vehicleId)) {
        v.lastRefreshAt = (v.lastRefreshAt ?? 0) + 1;
        v.requestsUsed = (v.requestsUsed ?? 0) + this.readOnRefresh;
      }
    }
    return this.failRefresh ? Promise.reject(this.failRefresh) : Promise.resolve(this.refreshAnswer);
  }
}

export interface LogLine {
  level: string;
  message: string;
}

export function captureLog(): { log: Logging; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, ...rest: unknown[]) => {
    lines.push({ level, message: [message, ...rest.map(String)].join(' ') });
  };
  const log = Object.assign(at('info'), {
    prefix: 'Smartcar',
    info: at('info'),
    success: at('success'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    log: (level: string, message: string) => at(level)(message),
  });
  return { log, lines };
}

export function sampleUsers(): UserStatusView[] {
  const now = Date.now();
  return [{
    userId: 'user-1',
    needsReauth: false,
    vehicles: [{
      vehicleId: 'v-1', userId: 'user-1', name: 'Model 3', make: 'TESLA', model: 'Model 3', year: 2021,
      permissions: ['read_vehicle_info', 'read_security', 'control_security', 'read_battery', 'read_charge'],
      lock: 'locked', level: 76, levelSource: 'battery', charging: 'CHARGING', pluggedIn: true,
      lastRefreshAt: now - 3 * 60_000, dataAt: now - 5 * 60_000, nextRefreshAt: now + 25 * 60_000,
      requestsUsed: 12, requestBudget: 500, problems: [],
    }],
  }];
}

export interface Started {
  server: SetupServer;
  base: string;
  host: FakeHost;
  lines: LogLine[];
  clock: { now: number };
}

export async function startServer(options: { redirectUri?: string; users?: UserStatusView[]; bind?: string; setupCodeFile?: string } = {}): Promise<Started> {
  const host = new FakeHost();
  host.users = options.users ?? sampleUsers();
  const { log, lines } = captureLog();
  const clock = { now: Date.now() };
  const server = new SetupServer({
    port: 0, bind: options.bind ?? '127.0.0.1', redirectUri: options.redirectUri ?? REDIRECT_URI, log, host, now: () => clock.now, refreshWaitMs: 300,
    ...(options.setupCodeFile !== undefined ? { setupCodeFile: options.setupCodeFile } : {}),
  });
  const base = await server.start();
  return { server, base, host, lines, clock };
}

export async function get(base: string, path: string): Promise<Response> {
  return fetch(new URL(path, base), { redirect: 'manual' });
}

export async function post(base: string, path: string, form: Record<string, string>): Promise<Response> {
  return fetch(new URL(path, base), { method: 'POST', redirect: 'manual', body: new URLSearchParams(form) });
}

/** The state Connect would echo back: taken from the /connect redirect. */
export async function newState(base: string): Promise<string> {
  const res = await get(base, '/connect');
  const location = res.headers.get('location') ?? '';
  const state = new URL(location).searchParams.get('state');
  if (state === null) {
    throw new Error(`no state in ${location}`);
  }
  return state;
}

/** The CSRF token of a freshly rendered status page. */
export async function csrfToken(base: string, path = '/'): Promise<string> {
  const body = await (await get(base, path)).text();
  const match = /name="csrf" value="([^"]+)"/.exec(body);
  if (!match?.[1]) {
    throw new Error('no csrf token on the page');
  }
  return match[1];
}

/**
 * Sends bytes fetch would refuse to send (bad methods, raw non-ASCII, broken request lines) and
 * returns the status code of the answer, or 0 when the server just closed the connection.
 */
export function rawStatus(base: string, request: string | Buffer): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = '';
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error('raw request timed out'));
    });
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
    });
    socket.on('error', () => resolve(statusFrom(data)));
    socket.on('close', () => resolve(statusFrom(data)));
    socket.write(request);
  });
}

function statusFrom(data: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  return match ? Number(match[1]) : 0;
}
