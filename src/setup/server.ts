// The setup web server's lifecycle: listen on the configured port and address, report a busy port
// in one clear line (the platform carries on without the page), and close every socket on stop so
// Homebridge shutdown never waits on an idle browser connection.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';

import type { Logging } from 'homebridge';

import { finishConnect, type ConnectOutcome } from './finish-connect.js';
import type { SetupHost } from './host.js';
import { TokenStore } from './oauth-state.js';
import { loadSetupCode, newSetupCode, OwnerGate } from './owner-gate.js';
import { createApp } from './routes.js';

export interface SetupServerOptions {
  port: number;
  bind: string;
  /** The redirect URI registered with Smartcar; its path is where Connect's answer arrives. */
  redirectUri: string;
  log: Logging;
  host: SetupHost;
  /** Clock for state and CSRF expiry and "5 minutes ago"; tests move it. */
  now?: () => number;
  /** How long Refresh now waits for the new values before answering (default 12 s). */
  refreshWaitMs?: number;
  /**
   * Where this install's setup code is kept (made on first use, owner-only). Bound beyond loopback, the
   * page asks for it before every state change; without a file the code lasts this run only.
   */
  setupCodeFile?: string;
}

// Smartcar's authorization code itself lives 10 minutes, so a longer state would be useless.
const STATE_TTL_MS = 10 * 60 * 1000;
const CSRF_TTL_MS = 60 * 60 * 1000;
// Enough for every real tab and Connect attempt; spam evicts the oldest instead of growing memory.
const MAX_PENDING_STATES = 200;
const MAX_CSRF_TOKENS = 500;

const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export class SetupServer {
  private server: Server | undefined;
  /** Connect's one-time states: also issued for Connect started elsewhere (the Homebridge UI), so its answer lands here. */
  private states: TokenStore | undefined;
  private code: string | undefined;
  private readonly callbackPath: string;

  constructor(private readonly options: SetupServerOptions) {
    let url: URL;
    try {
      url = new URL(options.redirectUri);
    } catch {
      throw new Error(`redirectUri "${options.redirectUri}" is not an absolute URL (for example http://localhost:8585/callback)`);
    }
    this.callbackPath = url.pathname;
  }

  async start(): Promise<string> {
    if (this.server !== undefined) {
      throw new Error('The setup page is already running');
    }
    const { port, bind, log } = this.options;
    const now = this.options.now ?? Date.now;
    const open = !isLoopback(bind);
    let code: string | undefined;
    if (open && this.options.setupCodeFile === undefined) {
      code = newSetupCode(); // no storage given (tests, tools): a code for this run only
    } else if (open) {
      try {
        code = await loadSetupCode(this.options.setupCodeFile!);
      } catch (err) {
        const message = `Setup page not started: it listens on ${bind} (open to the network) and needs its setup code, but ${this.options.setupCodeFile} cannot be read or written (${err instanceof Error ? err.message : String(err)}). Fix the file's permissions, or set "setupBind" to 127.0.0.1. HomeKit accessories keep working.`;
        log.error(message);
        throw new Error(message, { cause: err });
      }
    }
    this.states = new TokenStore({ ttlMs: STATE_TTL_MS, maxEntries: MAX_PENDING_STATES, singleUse: true, now });
    this.code = code;
    const app = createApp({
      gate: new OwnerGate(code, now),
      host: this.options.host,
      log,
      redirectUri: this.options.redirectUri,
      callbackPath: this.callbackPath,
      states: this.states,
      csrf: new TokenStore({ ttlMs: CSRF_TTL_MS, maxEntries: MAX_CSRF_TOKENS, singleUse: false, now }),
      now,
      ...(this.options.refreshWaitMs !== undefined ? { refreshWaitMs: this.options.refreshWaitMs } : {}),
    });
    const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, app);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Node hands CONNECT to a separate event and drops the socket when nobody listens: answer it instead.
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });

    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: bind }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const message = listenFailure(err, port, bind);
      log.error(message);
      throw new Error(message, { cause: err });
    }
    server.on('error', (err) => {
      log.error(`Setup page server error: ${err.message}`);
    });
    this.server = server;

    const actualPort = (server.address() as AddressInfo).port;
    log.info(`Setup page: ${pageUrl(displayHost(bind), actualPort)} — open it to connect a vehicle`);
    if (code === undefined && isLoopback(bind)) {
      log.info('The setup page answers on this machine only ("setupBind"); from other devices use the plugin\'s settings in the Homebridge UI');
    }
    if (code !== undefined) {
      log.info(`The setup page is open to your network ("setupBind": "${bind}"): connecting, refreshing and disconnecting there need the setup code ${code}`);
    }
    const redirect = new URL(this.options.redirectUri);
    const redirectPort = Number(redirect.port || (redirect.protocol === 'https:' ? 443 : 80));
    if (['localhost', '127.0.0.1', '[::1]'].includes(redirect.hostname) && redirectPort !== actualPort) {
      log.warn(`redirectUri ${redirect.origin} points at port ${redirectPort}, but the setup page listens on ${actualPort}: `
        + 'after approving, paste the address of the page that fails to load into the setup page, or make the ports match.');
    }
    return pageUrl(localHost(bind), actualPort);
  }

  /** The setup code the page asks for, when it is open to the network (the Homebridge UI shows it to the owner). */
  get setupCode(): string | undefined {
    return this.server === undefined ? undefined : this.code;
  }

  /**
   * A Connect URL whose answer this page's callback (or its paste box) accepts: the Homebridge UI starts
   * Connect with it, and Smartcar's answer still lands here with a state this page issued.
   */
  connectUrl(): string | undefined {
    return this.server === undefined || this.states === undefined ? undefined : this.options.host.authUrl(this.states.issue());
  }

  /**
   * Finishes a Connect whose answer reached the Homebridge UI (the relay posted it there): the same one-time
   * state check and outcomes as this page's callback. Undefined when the page is not running (no states).
   */
  completeConnect(params: URLSearchParams): Promise<ConnectOutcome> | undefined {
    if (this.server === undefined || this.states === undefined) {
      return undefined;
    }
    return finishConnect(params, { host: this.options.host, states: this.states, log: this.options.log });
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
    // close() alone waits for keep-alive sockets to time out; shutdown must not.
    server.closeAllConnections();
    await closed;
  }
}

function listenFailure(err: unknown, port: number, bind: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${bind === '' ? '*' : bind}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `Setup page not started: port ${port} is already in use (${where}). Set "setupPort" in the Smartcar platform config to a free port. HomeKit accessories keep working.`;
    case 'EACCES':
      return `Setup page not started: no permission to listen on ${where} (ports below 1024 need root). Set "setupPort" to a port above 1024. HomeKit accessories keep working.`;
    case 'EADDRNOTAVAIL':
      return `Setup page not started: ${bind} is not an address of this machine. Fix "setupBind" (or remove it to listen on every address). HomeKit accessories keep working.`;
    default:
      return `Setup page not started on ${where}: ${err instanceof Error ? err.message : String(err)}. HomeKit accessories keep working.`;
  }
}

/** Only this machine reaches a page bound here. */
function isLoopback(bind: string): boolean {
  return bind === 'localhost' || bind === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bind);
}

function isWildcard(bind: string): boolean {
  return bind === '' || bind === '0.0.0.0' || bind === '::';
}

/** An address this process can always reach the page at (tests, the returned base URL). */
function localHost(bind: string): string {
  return isWildcard(bind) ? '127.0.0.1' : bind;
}

/** The address an owner on the LAN would type: the machine's first LAN IPv4 when listening everywhere. */
function displayHost(bind: string): string {
  if (!isWildcard(bind)) {
    return bind;
  }
  for (const addresses of Object.values(networkInterfaces())) {
    const lan = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (lan !== undefined) {
      return lan.address;
    }
  }
  return 'localhost';
}

function pageUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}
