// The v3 backend (smartcar-v3.md §3.6): one application token for every user, the user chosen per
// request with `sc-user-id`, the application's connections as the list of users and vehicles, signals
// as the data and `/commands/...` to lock. Plain HTTP (v3/http.ts): the SDK has no v3.
import { connectScopes } from '../connect.js';
import { applicationRefused, ReauthorizeError, TransientError, type MapContext, type SmartcarProblem } from '../errors.js';
import type { BackendEvents, ConnectApproval, DiscoveredVehicle, Discovery, ReadResult, Signal, SmartcarBackend, VehicleInfo } from '../types.js';
import { AppToken } from './app-token.js';
import { firstV3Error, problemFromV3Error } from './errors.js';
import { exchange, exchangeAny, problemForStatus, type HttpBounds, type JsonAnswer } from './http.js';
import { V3Webhooks } from './subscriptions.js';
import { mapSignals, SIGNAL_CODES, SIGNAL_SCOPE, throwIfCarRefused, toSignalResource, type SignalResource } from './signals.js';

export interface V3Hosts {
  connect: string;
  iam: string;
  vehicles: string;
  management: string;
}

export interface V3BackendOptions extends HttpBounds {
  applicationId: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  mode: 'live' | 'simulated' | 'test';
  /** Connect asks for the car's location (At Home is on). */
  askLocation: boolean;
  hosts: V3Hosts;
  /** Commands may hold the connection up to ~175 s and then stream a 202 (§3.4): never cut them shorter. */
  commandTimeoutMs: number;
  tokenMarginMs: number;
  now: () => number;
  events: BackendEvents;
  /** Webhooks 4.0, when the owner configured them: the Dashboard callback URI and the management token. */
  webhooks?: { callbackUri: string; managementToken: string };
}

const CONNECTIONS_PAGE_SIZE = 100;
const SIGNALS_PAGE_SIZE = 50;
/**
 * How to ask for a big first page of signals: the docs example pages with page/pageSize, the spec with
 * page[number]/page[size] (smartcar-v3.md §7.8). Tried in this order; the first one accepted is kept.
 * The last resort asks nothing and follows links.next through Smartcar's default pages.
 */
const SIGNALS_PAGING: readonly string[] = [
  `page=1&pageSize=${SIGNALS_PAGE_SIZE}`,
  `page%5Bnumber%5D=1&page%5Bsize%5D=${SIGNALS_PAGE_SIZE}`,
  '',
];
const MAX_PAGES = 50;

interface Connection {
  id: string;
  userId: string;
  vehicleId: string;
  make: string;
  model: string;
  year: number;
  permissions: string[];
  /** Epoch ms of the connection's last change (a new Connect run updates it). */
  updatedAt: number;
}

export class V3Backend implements SmartcarBackend {
  readonly api = 'v3';
  readonly discoversUsers = true;
  private readonly token: AppToken;
  private readonly known = new Set<string>();
  /** Per user: why Smartcar wants the owner back in Connect, and since when. */
  private readonly reauth = new Map<string, { reason: string; since: number }>();
  private paging = 0;
  /** Smartcar has accepted SIGNALS_PAGING[paging]: a later VALIDATION answer is about something else. */
  private pagingAccepted = false;
  readonly webhooks: V3Webhooks | undefined;

  constructor(private readonly options: V3BackendOptions) {
    this.token = new AppToken({
      iamOrigin: options.hosts.iam,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      marginMs: options.tokenMarginMs,
      now: options.now,
      timeoutMs: options.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.webhooks = options.webhooks === undefined ? undefined : new V3Webhooks({
      ...options.webhooks,
      origin: options.hosts.management,
      send: (request, ctx) => this.call(ctx, async (token) => {
        const answer = await exchangeAny({ ...request, headers: { ...request.headers, ...this.headers(token) } }, ctx, this.options);
        if (answer.status === 401) {
          throw problemForStatus(answer.status, answer.headers, answer.body, ctx); // call() fetches a new token once
        }
        return answer;
      }),
      fail: (answer, ctx) => problemForStatus(answer.status, answer.headers, answer.body, ctx),
    });
  }

  /** v3 keeps nothing between runs: users are whoever the application's connections belong to. */
  start(): Promise<{ users: string[]; complete: boolean }> {
    return Promise.resolve({ users: [], complete: false });
  }

  users(): string[] {
    return [...this.known];
  }

  connectUrl(state: string): string {
    const url = new URL('/oauth/authorize', this.options.hosts.connect);
    url.searchParams.set('response_type', 'code');
    // v3 Connect wants the Application ID here, not the client_… API client id (§2.4).
    url.searchParams.set('client_id', this.options.applicationId);
    url.searchParams.set('redirect_uri', this.options.redirectUri);
    url.searchParams.set('scope', connectScopes({ location: this.options.askLocation }).join(' '));
    url.searchParams.set('mode', this.options.mode === 'live' ? 'live' : 'simulated');
    url.searchParams.set('state', state);
    return url.toString();
  }

  async completeConnect(approval: ConnectApproval): Promise<string> {
    let userId = approval.userId;
    if (userId === undefined) {
      // Connect sent no user_id (a reading of §7.5): the newest connection is the one just made.
      const connections = (await this.listConnections(undefined)).connections;
      userId = connections.sort((a, b) => b.updatedAt - a.updatedAt)[0]?.userId;
      if (userId === undefined) {
        throw new TransientError('Smartcar Connect finished, but Smartcar lists no connected vehicle yet; the plugin will pick it up within a minute');
      }
    }
    this.known.add(userId);
    this.reauth.delete(userId);
    return userId;
  }

  async discover(userId: string | undefined, known: (vehicleId: string) => VehicleInfo | undefined): Promise<Discovery> {
    const listing = await this.listConnections(userId);
    const vehicles: DiscoveredVehicle[] = [];
    for (const c of listing.connections) {
      this.known.add(c.userId);
      const mark = this.reauth.get(c.userId);
      if (mark !== undefined && c.updatedAt > mark.since) {
        // Connected again somewhere else (a phone, the Dashboard): the new grant is what counts now.
        this.reauth.delete(c.userId);
      }
      const cached = known(c.vehicleId);
      const info: VehicleInfo = {
        id: c.vehicleId,
        make: c.make || cached?.make || '',
        model: c.model || cached?.model || '',
        year: c.year || cached?.year || 0,
        permissions: c.permissions,
        ...(cached?.vin !== undefined ? { vin: cached.vin } : {}),
      };
      // The connection listing is not billed and carries make, model and year: nothing else to ask.
      vehicles.push({ userId: c.userId, info, cost: 0 });
    }
    return { vehicles, conclusive: listing.complete && listing.connections.length > 0 };
  }

  async read(userId: string, vehicleId: string, signals: readonly Signal[]): Promise<ReadResult> {
    this.assertAuthorized(userId);
    const codes = signals.flatMap((s) => SIGNAL_CODES[s]);
    const ctx: MapContext = { operation: `Reading ${signals.join(', ')}`, scope: signals.map((s) => SIGNAL_SCOPE[s]).join(', ') };
    if (signals.length === 1 && SIGNAL_CODES[signals[0]!].length === 1) {
      // One value (the lock after a command): the single-signal path, one request whatever the billing unit.
      const code = codes[0]!;
      try {
        const answer = await this.call(ctx, (token) => exchange({ method: 'GET', url: this.vehicleUrl(vehicleId, `/signals/${code}`), headers: this.headers(token, userId) }, ctx, this.options));
        const raw = answer.body as { data?: unknown } | undefined;
        // Bare resource (docs) or wrapped in data (JSON:API): both are seen (§7.10).
        const resource = toSignalResource(raw?.data ?? raw);
        return throwIfCarRefused(mapSignals(resource ? [resource] : [], signals, 1), signals);
      } catch (err) {
        if ((err as SmartcarProblem).smartcar?.code === 'SIGNAL_NOT_FOUND') {
          // Unknown to Smartcar's store (nothing stored until subscribed, §3.3): no value, still billed.
          return mapSignals([], signals, 1);
        }
        throw err;
      }
    }
    const resources: SignalResource[] = [];
    let requests = 0;
    const first = (): string => {
      const query = SIGNALS_PAGING[this.paging]!;
      return this.vehicleUrl(vehicleId, `/signals${query === '' ? '' : `?${query}`}`);
    };
    let url: string | undefined = first();
    for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
      const pageUrl: string = url;
      let answer: JsonAnswer;
      try {
        answer = await this.call(ctx, (token) => exchange({ method: 'GET', url: pageUrl, headers: this.headers(token, userId) }, ctx, this.options));
      } catch (err) {
        // Refused for its paging parameters (a 400 is not billed): ask the other way, once each. Only
        // until a form is accepted: after that a VALIDATION answer is a glitch, and giving up the page
        // size for good would make every read walk Smartcar's small default pages, each one billed.
        if (page === 0 && !this.pagingAccepted && (err as SmartcarProblem).smartcar?.type === 'VALIDATION' && this.paging < SIGNALS_PAGING.length - 1) {
          this.paging++;
          url = first();
          page--;
          continue;
        }
        throw err;
      }
      requests++;
      this.pagingAccepted = true;
      const body = answer.body as { data?: unknown; links?: Record<string, unknown> } | undefined;
      if (!Array.isArray(body?.data)) {
        throw new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (no data list)`);
      }
      resources.push(...body.data.map(toSignalResource).filter((r): r is SignalResource => r !== undefined));
      url = this.nextPage(body.links, pageUrl);
    }
    return throwIfCarRefused(mapSignals(resources, signals, requests), signals);
  }

  setLock(userId: string, vehicleId: string, locked: boolean): Promise<void> {
    return this.command(userId, vehicleId, `security/${locked ? 'lock' : 'unlock'}`, { operation: locked ? 'Locking' : 'Unlocking', scope: 'control_security' });
  }

  setCharging(userId: string, vehicleId: string, charging: boolean): Promise<void> {
    return this.command(userId, vehicleId, `charge/${charging ? 'start' : 'stop'}`, { operation: charging ? 'Starting charging' : 'Stopping charging', scope: 'control_charge' });
  }

  setChargeLimit(userId: string, vehicleId: string, percent: number): Promise<void> {
    return this.command(userId, vehicleId, 'charge/set-limit', { operation: 'Setting the charge limit', scope: 'control_charge' },
      { data: { attributes: { percent } } });
  }

  /** POST /commands/<path>, bounded by the longer command timeout: long-running ones stream their outcome (§3.4). */
  private async command(userId: string, vehicleId: string, path: string, ctx: MapContext, body?: object): Promise<void> {
    this.assertAuthorized(userId);
    const bounds = { ...this.options, timeoutMs: Math.max(this.options.timeoutMs, this.options.commandTimeoutMs) };
    const answer = await this.call(ctx, (token) => exchange({
      method: 'POST',
      url: this.vehicleUrl(vehicleId, `/commands/${path}`),
      headers: { ...this.headers(token, userId), 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }, ctx, bounds));
    commandOutcome(answer, ctx);
  }

  async disconnect(userId: string, vehicleId: string): Promise<void> {
    const listing = await this.listConnections(userId, vehicleId);
    const ctx: MapContext = { operation: 'Disconnecting the vehicle' };
    for (const c of listing.connections.filter((x) => x.vehicleId === vehicleId)) {
      try {
        await this.call(ctx, (token) => exchange({ method: 'DELETE', url: `${this.options.hosts.vehicles}/v3/connections/${encodeURIComponent(c.id)}`, headers: this.headers(token) }, ctx, this.options));
      } catch (err) {
        // Already gone at Smartcar: disconnected either way.
        if ((err as SmartcarProblem).smartcar?.type !== 'RESOURCE_NOT_FOUND') {
          throw err;
        }
      }
    }
  }

  reauthorizeReason(userId: string): string | undefined {
    return this.reauth.get(userId)?.reason;
  }

  requireReauthorization(userId: string, reason: string, options: { quiet?: boolean } = {}): void {
    if (!this.reauth.has(userId)) {
      this.reauth.set(userId, { reason, since: this.options.now() });
      this.options.events.onReauthorizeNeeded(userId, reason, options.quiet);
    }
  }

  forgetUser(userId: string): Promise<void> {
    // Not DELETE /users: that would purge the owner's data at Smartcar for every app of theirs.
    this.known.delete(userId);
    this.reauth.delete(userId);
    return Promise.resolve();
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private assertAuthorized(userId: string): void {
    const mark = this.reauth.get(userId);
    if (mark !== undefined) {
      throw new ReauthorizeError(mark.reason);
    }
  }

  private headers(token: string, userId?: string): Record<string, string> {
    return { authorization: `Bearer ${token}`, ...(userId !== undefined ? { 'sc-user-id': userId } : {}) };
  }

  private vehicleUrl(vehicleId: string, path: string): string {
    return `${this.options.hosts.vehicles}/v3/vehicles/${encodeURIComponent(vehicleId)}${path}`;
  }

  /** Runs fn with the application token; a 401 gets one new token and one retry. */
  private async call<T>(ctx: MapContext, fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.token.get();
    try {
      return await fn(token);
    } catch (err) {
      if ((err as SmartcarProblem).kind !== 'unauthorized') {
        throw err;
      }
      this.token.invalidate(token);
      const fresh = await this.token.get();
      try {
        return await fn(fresh);
      } catch (again) {
        if ((again as SmartcarProblem).kind === 'unauthorized') {
          throw applicationRefused(`${ctx.operation}: Smartcar refused a freshly issued application token; check clientId and clientSecret (API Credentials tab) and that the application is on API v3`);
        }
        throw again;
      }
    }
  }

  /**
   * The next page from `links.next`, resolved against the page it came from. The application token
   * goes only to the host it was meant for: a link elsewhere ends the listing.
   */
  private nextPage(links: Record<string, unknown> | undefined, current: string): string | undefined {
    const next = links?.next;
    if (typeof next !== 'string' || next === '') {
      return undefined;
    }
    const url = new URL(next, current);
    const base = new URL(this.options.hosts.vehicles);
    if (url.origin !== base.origin) {
      return undefined;
    }
    // A relative link may omit the /v3 prefix the host needs.
    if (!url.pathname.startsWith('/v3/')) {
      url.pathname = `/v3${url.pathname}`;
    }
    return url.toString();
  }

  private async listConnections(userId: string | undefined, vehicleId?: string): Promise<{ connections: Connection[]; complete: boolean }> {
    const ctx: MapContext = { operation: 'Listing the Smartcar connections' };
    const query = new URLSearchParams();
    if (userId !== undefined) {
      query.set('filter[userId]', userId);
    }
    if (vehicleId !== undefined) {
      query.set('filter[vehicleId]', vehicleId);
    }
    // Simulated cars are listed only when asked for (the filter defaults to live, §3.1).
    query.set('filter[vehicle.mode]', this.options.mode === 'live' ? 'live' : 'simulated');
    query.set('page[number]', '1');
    query.set('page[size]', String(CONNECTIONS_PAGE_SIZE));
    const connections: Connection[] = [];
    let total: number | undefined;
    let url: string | undefined = `${this.options.hosts.vehicles}/v3/connections?${query.toString()}`;
    let pages = 0;
    for (; url !== undefined && pages < MAX_PAGES; pages++) {
      const pageUrl: string = url;
      const answer = await this.call(ctx, (token) => exchange({ method: 'GET', url: pageUrl, headers: this.headers(token) }, ctx, this.options));
      const body = answer.body as { data?: unknown; meta?: { totalCount?: unknown }; links?: Record<string, unknown> } | undefined;
      if (!Array.isArray(body?.data)) {
        throw new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (no data list)`);
      }
      connections.push(...body.data.map(toConnection).filter((c): c is Connection => c !== undefined));
      total = typeof body.meta?.totalCount === 'number' ? body.meta.totalCount : total;
      url = this.nextPage(body.links, pageUrl);
    }
    const unique = [...new Map(connections.map((c) => [`${c.userId}|${c.vehicleId}`, c])).values()];
    // Complete: the pages ended by themselves and hold what Smartcar said they would.
    const complete = url === undefined && (total === undefined || total === connections.length);
    return { connections: unique, complete };
  }
}

function toConnection(raw: unknown): Connection | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const r = raw as {
    id?: unknown;
    attributes?: { permissions?: unknown; vehicle?: { make?: unknown; model?: unknown; year?: unknown } };
    relationships?: { vehicle?: { data?: { id?: unknown } }; user?: { data?: { id?: unknown } } };
    meta?: { createdAt?: unknown; updatedAt?: unknown };
  };
  const vehicleId = r.relationships?.vehicle?.data?.id;
  const userId = r.relationships?.user?.data?.id;
  if (typeof r.id !== 'string' || typeof vehicleId !== 'string' || typeof userId !== 'string') {
    return undefined;
  }
  const permissions = Array.isArray(r.attributes?.permissions) ? r.attributes.permissions.filter((p): p is string => typeof p === 'string') : [];
  const v = r.attributes?.vehicle;
  const stamp = r.meta?.updatedAt ?? r.meta?.createdAt;
  const updated = typeof stamp === 'string' ? Date.parse(stamp) : NaN;
  return {
    id: r.id,
    userId,
    vehicleId,
    make: typeof v?.make === 'string' ? v.make : '',
    model: typeof v?.model === 'string' ? v.model : '',
    year: Number(v?.year) || 0,
    permissions,
    updatedAt: Number.isFinite(updated) ? updated : 0,
  };
}

/**
 * A command's answer decides, never its HTTP status alone (§3.4): a 202 streams the real outcome, whose
 * errors[] may carry another status than the header, and a body without SUCCESS is no proof the car did it.
 */
function commandOutcome(answer: JsonAnswer, ctx: MapContext): void {
  const error = firstV3Error(answer.body);
  if (error !== undefined) {
    throw problemFromV3Error(error, ctx, answer.status);
  }
  const status = (answer.body as { data?: { attributes?: { status?: { value?: unknown } } } } | undefined)?.data?.attributes?.status?.value;
  if (typeof status !== 'string' || status.toUpperCase() !== 'SUCCESS') {
    throw new TransientError(`${ctx.operation} failed: Smartcar's answer ${typeof status === 'string' ? `says ${status.slice(0, 20)}` : 'could not be read (no status)'}; the car may not have done it`);
  }
}
