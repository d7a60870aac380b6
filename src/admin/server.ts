// The running platform's admin endpoint for the Homebridge UI's server process (homebridge-ui/server.js):
// loopback only, an ephemeral port, a bearer secret compared in constant time, small JSON bodies, and
// five routes onto SetupHost. The UI never touches tokens or state itself: the platform stays their one writer.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Logging } from 'homebridge';

import { CHARGE_LIMIT_RULE, parseChargeLimit } from '../setup/charge-limit.js';
import { explainConnectError } from '../setup/connect-answer.js';
import type { ConnectOutcome } from '../setup/finish-connect.js';
import type { SetupHost, VehicleStatusView } from '../setup/host.js';
import { newSecret, removeCredentials, writeCredentials } from './credentials.js';

export interface AdminServerOptions {
  host: SetupHost;
  log: Logging;
  storagePath: string;
  /** The Smartcar API spoken: the UI tells a v2 owner where Connect's answer must land. */
  api?: string;
  /**
   * A Connect URL whose state the setup page accepts (its callback and paste box), or undefined when the
   * page is not running: then a state of our own (v3 still finds the new car by itself).
   */
  connectUrl?: () => string | undefined;
  /**
   * Finishes a Connect whose answer the Connect relay handed to the Homebridge UI, exactly as the setup page's
   * callback does (its one-time states); undefined when the page is not running.
   */
  completeConnect?: (params: URLSearchParams) => Promise<ConnectOutcome> | undefined;
  /** The redirect URI registered with Smartcar, named when Smartcar refuses the application's setup. */
  redirectUri?: string;
  /** The setup page's setup code, when the page is open to the network: the owner reads it here, behind the UI's login. */
  setupCode?: () => string | undefined;
  now?: () => number;
}

/** Every body we accept is `{}`, `{"vehicleId": "<uuid>"}` or Connect's answer; anything near this size is not ours. */
export const ADMIN_BODY_LIMIT_BYTES = 16 * 1024;
/** Smartcar vehicle ids are UUIDs; the bound keeps a hostile id out of lookups and logs. */
export const VEHICLE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
/**
 * Connect's answer as the relay hands it over, and the longest each field may be: Smartcar codes and user ids
 * are UUIDs (src/setup/connect-answer.ts allows 512), states ours (43), the relay clips texts to 500 and "…".
 */
export const COMPLETE_FIELDS = { state: 512, code: 512, userId: 512, error: 501, errorDescription: 501 } as const;
const COMPLETE_PARAMS: Record<keyof typeof COMPLETE_FIELDS, string> = {
  state: 'state', code: 'code', userId: 'user_id', error: 'error', errorDescription: 'error_description',
};

const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

type Body = Record<string, unknown>;
type Route = (body: Body) => Promise<unknown>;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class AdminServer {
  private server: Server | undefined;
  private secretDigest: Buffer | undefined;
  private secret: string | undefined;
  private port = 0;

  constructor(private readonly options: AdminServerOptions) {}

  /** Listens on 127.0.0.1 (a port the OS picks), then publishes {port, secret} for the UI. Returns the port. */
  async start(): Promise<number> {
    const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
      void this.handle(req, res);
    });
    server.on('connect', (_req, socket: NodeJS.WritableStream & { destroy(): void }) => {
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.log.error(`Homebridge UI endpoint error: ${err.message}`));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    const secret = newSecret();
    this.secret = secret;
    this.secretDigest = digest(secret);
    await writeCredentials(this.options.storagePath, { port: this.port, secret });
    this.options.log.debug(`Homebridge UI endpoint listening on 127.0.0.1:${this.port}`);
    return this.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) {
      return;
    }
    this.server = undefined;
    const closed = new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
    server.closeAllConnections();
    await closed;
    if (this.secret !== undefined) {
      await removeCredentials(this.options.storagePath, this.secret);
    }
  }

  private routes(): Record<string, Record<string, Route>> {
    const { host } = this.options;
    const now = this.options.now ?? Date.now;
    return {
      '/status': {
        GET: () => {
          const setupCode = this.options.setupCode?.();
          return Promise.resolve({ now: now(), api: this.options.api, users: host.status(), ...(setupCode !== undefined ? { setupCode } : {}) });
        },
      },
      '/refresh': {
        POST: async (body) => {
          const vehicleId = optionalVehicle(body, host);
          only(body, ['vehicleId']);
          const answer = await host.refreshNow(vehicleId) ?? 'queued';
          return { answer };
        },
      },
      '/disconnect': {
        POST: async (body) => {
          const vehicleId = requiredVehicle(body, host, []);
          const name = nameOf(host, vehicleId);
          await host.disconnect(vehicleId);
          this.options.log.info(`Disconnected ${name}`);
          return { disconnected: vehicleId, name };
        },
      },
      '/charge-limit': {
        POST: async (body) => {
          const vehicleId = requiredVehicle(body, host, ['percent']);
          const percent = parseChargeLimit(body.percent);
          if (percent === undefined) {
            throw new HttpError(400, `A charge limit is ${CHARGE_LIMIT_RULE}`);
          }
          if (viewOf(host, vehicleId)?.chargeLimitSettable !== true) {
            throw new HttpError(409, `${nameOf(host, vehicleId)}'s charge limit cannot be set: that needs read_charge and control_charge (connect the car again and tick both)`);
          }
          const { name } = await host.setChargeLimit(vehicleId, percent);
          return { name, percent };
        },
      },
      // The custom UI's "Use as home": the position goes to the owner's own settings form, and nowhere else.
      '/home-from-car': {
        POST: async (body) => {
          const at = await host.carPosition(requiredVehicle(body, host, []));
          // About a metre: all a home radius of 25 m or more can use, and no finer trace of the car.
          return { name: at.name, latitude: round5(at.latitude), longitude: round5(at.longitude), ...(at.recordedAt !== undefined ? { recordedAt: at.recordedAt } : {}) };
        },
      },
      '/complete': {
        POST: async (body) => {
          const params = connectAnswer(body);
          const outcome = await this.options.completeConnect?.(params);
          if (outcome === undefined) {
            throw new HttpError(503, 'The setup page is not running, so this Connect cannot be finished here. With API v3 the car still appears within a minute; otherwise check the Homebridge log for why the setup page did not start');
          }
          return this.completed(outcome);
        },
      },
      '/connect-url': {
        POST: (body) => {
          only(body, []);
          return Promise.resolve({ url: this.options.connectUrl?.() ?? host.authUrl(randomBytes(24).toString('base64url')) });
        },
      },
    };
  }

  /** The outcome in the owner's words: connected cars as data, everything else a refusal with its reason. */
  private completed(outcome: ConnectOutcome): unknown {
    switch (outcome.kind) {
      case 'connected':
        return { connected: outcome.names };
      case 'pending':
        return { pending: outcome.message };
      case 'malformed':
        throw new HttpError(400, `That is not an answer from Smartcar: ${outcome.reason}. Nothing was connected`);
      case 'expired':
        throw new HttpError(400, 'This Smartcar answer cannot be used: it does not belong to a Connect started in the last 10 minutes, or it was already used. Nothing was stored; press "Connect a vehicle" again');
      case 'declined': {
        const explained = explainConnectError(outcome.error, outcome.ours ? outcome.extra : '', this.options.redirectUri ?? 'the redirect URI');
        const said = outcome.ours && outcome.description !== '' ? ` Smartcar said: ${outcome.description}` : '';
        throw new HttpError(400, `${explained.heading}. ${explained.paragraphs.join(' ')}${said}`);
      }
      case 'failed':
        throw new HttpError(502, `Smartcar did not complete the connection, so nothing changed: ${outcome.detail}. Press "Connect a vehicle" again; the Homebridge log has the details`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // DNS rebinding: a page on a public name resolving to 127.0.0.1 would still send that name.
      if (!this.hostAllowed(req.headers.host)) {
        throw new HttpError(403, 'unknown host');
      }
      if (!this.authorized(req.headers.authorization)) {
        throw new HttpError(401, 'missing or wrong secret');
      }
      // Own keys only: a request-target like "constructor" must not reach Object's properties.
      const routes = this.routes();
      const url = req.url ?? '';
      const route = Object.hasOwn(routes, url) ? routes[url]! : undefined;
      if (route === undefined) {
        throw new HttpError(404, 'no such route');
      }
      const method = req.method ?? '';
      const fn = Object.hasOwn(route, method) ? route[method] : undefined;
      if (fn === undefined) {
        res.setHeader('allow', Object.keys(route).join(', '));
        throw new HttpError(405, 'method not allowed');
      }
      const body = method === 'POST' ? await readJson(req) : {};
      send(res, 200, await fn(body));
    } catch (err) {
      if (err instanceof HttpError) {
        // Drain nothing more: a refused request's remaining body is not read.
        send(res, err.status, { error: err.message }, err.status === 413);
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn(`The Homebridge UI's request ${oneLine(req.method ?? '')} ${oneLine(req.url ?? '')} failed: ${oneLine(message)}`);
      send(res, 502, { error: message });
    }
  }

  private hostAllowed(value: string | undefined): boolean {
    const h = (value ?? '').toLowerCase();
    return h === `127.0.0.1:${this.port}` || h === `localhost:${this.port}`;
  }

  private authorized(value: string | undefined): boolean {
    const match = /^Bearer ([^\s]+)$/.exec(value ?? '');
    if (match === null || this.secretDigest === undefined) {
      return false;
    }
    // Digests first: equal lengths for timingSafeEqual, and no early exit on the first wrong byte.
    return timingSafeEqual(digest(match[1]!), this.secretDigest);
  }
}

function round5(degrees: number): number {
  return Math.round(degrees * 1e5) / 1e5;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function optionalVehicle(body: Body, host: SetupHost): string | undefined {
  const id = body.vehicleId;
  if (id === undefined) {
    return undefined;
  }
  if (typeof id !== 'string' || !VEHICLE_ID_PATTERN.test(id)) {
    throw new HttpError(400, 'vehicleId is not a vehicle id');
  }
  if (!host.status().some((u) => u.vehicles.some((v) => v.vehicleId === id))) {
    throw new HttpError(404, 'This vehicle is not connected');
  }
  return id;
}

/** A body that names one car (and perhaps `fields` beside it): the car's id, or the 4xx that says what is wrong. */
function requiredVehicle(body: Body, host: SetupHost, fields: string[]): string {
  only(body, ['vehicleId', ...fields]);
  const vehicleId = optionalVehicle(body, host);
  if (vehicleId === undefined) {
    throw new HttpError(400, 'vehicleId is required');
  }
  return vehicleId;
}

function viewOf(host: SetupHost, vehicleId: string): VehicleStatusView | undefined {
  return host.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === vehicleId);
}

function nameOf(host: SetupHost, vehicleId: string): string {
  return viewOf(host, vehicleId)?.name ?? vehicleId;
}

/** The relay's fields, checked again here (server.js checked them first): strings, bounded, a state, an answer. */
function connectAnswer(body: Body): URLSearchParams {
  only(body, Object.keys(COMPLETE_FIELDS));
  const params = new URLSearchParams();
  for (const [field, max] of Object.entries(COMPLETE_FIELDS) as Array<[keyof typeof COMPLETE_FIELDS, number]>) {
    const value = body[field];
    if (value === undefined) {
      continue;
    }
    if (typeof value !== 'string' || value.length > max) {
      throw new HttpError(400, `${field} must be text of at most ${max} characters`);
    }
    params.set(COMPLETE_PARAMS[field], value);
  }
  if (!params.has('state')) {
    throw new HttpError(400, 'state is required');
  }
  if (!params.has('code') && !params.has('user_id') && !params.has('error')) {
    throw new HttpError(400, 'the answer has no code, userId or error');
  }
  return params;
}

function only(body: Body, keys: string[]): void {
  const extra = Object.keys(body).find((k) => !keys.includes(k));
  if (extra !== undefined) {
    throw new HttpError(400, 'unexpected field in the body');
  }
}

async function readJson(req: IncomingMessage): Promise<Body> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'the body must be application/json');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > ADMIN_BODY_LIMIT_BYTES) {
    throw new HttpError(413, 'body too large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > ADMIN_BODY_LIMIT_BYTES) {
      throw new HttpError(413, 'body too large');
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'the body must be a JSON object');
  }
  return value as Body;
}

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
}
