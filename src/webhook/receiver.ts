// The webhook receiver's HTTP listener, apart from the setup page: an owner exposes this one port to
// the internet (through a reverse proxy or a tunnel) and nothing else. It knows HTTP only: the body
// is capped, read raw (the signature covers the exact bytes) and handed on; what a delivery means is
// decided elsewhere. Every answer is immediate, far inside Smartcar's 15 s.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Smartcar caps a delivery at 50 KB; a little slack, and nothing bigger is read into memory. */
export const MAX_DELIVERY_BYTES = 64 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Enough for Smartcar's concurrent deliveries; a flood cannot hold more sockets than this. */
const MAX_CONNECTIONS = 64;

export interface ReceiverAnswer {
  status: number;
  body?: unknown;
}

export interface ReceiverOptions {
  port: number;
  bind: string;
  /** The path deliveries arrive at (webhookUrl's path: a proxy passes it on unchanged). */
  path: string;
  /** One delivery, read whole; the answer goes back at once. Must not throw. */
  deliver: (rawBody: Buffer, signature: string | undefined) => ReceiverAnswer;
  /** A request that never reached `deliver` (wrong size, type or method): for one log line. */
  refused: (status: number, reason: string) => void;
}

export class WebhookReceiver {
  private server: Server | undefined;
  /** Answered to GET ?probe=<it>: proves that webhookUrl reaches this receiver and not something else. */
  readonly probeNonce = randomUUID();

  constructor(private readonly options: ReceiverOptions) {}

  /** Listens; resolves with the port (rejects with a message that names the option to fix). */
  async start(): Promise<number> {
    const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => this.handle(req, res));
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.maxConnections = MAX_CONNECTIONS;
    const { port, bind } = this.options;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: bind }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      throw new Error(code === 'EADDRINUSE'
        ? `port ${port} is already in use: set "webhookPort" to a free port`
        : code === 'EADDRNOTAVAIL' ? `${bind} is not an address of this machine: fix "webhookBind"`
          : `cannot listen on ${bind}:${port} (${err instanceof Error ? err.message : String(err)})`);
    });
    server.on('error', () => undefined);
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) {
      return;
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const send = (status: number, body?: unknown): void => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    };
    const refuse = (status: number, reason: string): void => {
      this.options.refused(status, reason);
      send(status, { error: reason });
    };
    if (!samePath(url.pathname, this.options.path)) {
      send(404, { error: 'not found' });
      return;
    }
    if (req.method === 'GET') {
      // An owner (or the plugin itself) checking that the public URL reaches this receiver.
      send(200, url.searchParams.has('probe') ? { probe: url.searchParams.get('probe') === this.probeNonce ? this.probeNonce : null } : { receiver: 'homebridge-smartcar' });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      refuse(405, `method ${String(req.method).slice(0, 10)} is not allowed`);
      return;
    }
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/json')) {
      refuse(415, 'the body is not application/json');
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_DELIVERY_BYTES) {
      refuse(413, `the body is larger than ${MAX_DELIVERY_BYTES} bytes`);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DELIVERY_BYTES && !over) {
        over = true;
        refuse(413, `the body is larger than ${MAX_DELIVERY_BYTES} bytes`);
        req.destroy();
      } else if (!over) {
        chunks.push(chunk);
      }
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (over) {
        return;
      }
      const signature = req.headers['sc-signature'];
      const answer = this.options.deliver(Buffer.concat(chunks), Array.isArray(signature) ? signature[0] : signature);
      send(answer.status, answer.body);
    });
  }
}

function samePath(a: string, b: string): boolean {
  const strip = (p: string): string => p.replace(/\/+$/, '') || '/';
  return strip(a) === strip(b);
}
