// A tiny webhook receiver on node:http (port 0) for the delivery conformance suite: it keeps every
// request exactly as it arrived (raw body, headers, when), answers as each test says (a status, a
// hang past the timeout, a cut connection) and answers VERIFY correctly unless told otherwise.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON asserted field by field
  /** Date.now() when the body had arrived. */
  at: number;
}

export type Answer =
  | { status?: number; body?: string; contentType?: string; afterMs?: number }
  | 'hang'
  | 'destroy';

export const hmacHex = (key: string, message: string): string => createHmac('sha256', key).update(message, 'utf8').digest('hex');

export class Receiver {
  readonly received: Received[] = [];
  /** How to answer; default: VERIFY with the right challenge, anything else 200 `{}`. */
  respond: (r: Received) => Answer = (r) => this.standard(r);
  private constructor(private readonly server: Server, readonly origin: string, private readonly amt: string) {}

  static async start(managementToken: string): Promise<Receiver> {
    const holder: { self?: Receiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = JSON.parse(raw);
        } catch {
          body = null;
        }
        const r: Received = { path: req.url ?? '/', method: req.method ?? '', headers: req.headers, raw, body, at: Date.now() };
        holder.self!.received.push(r);
        holder.self!.answer(res, holder.self!.respond(r));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.self = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, managementToken);
    return holder.self;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** What arrived at this path (one webhook each), oldest first. */
  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  standard(r: Received): Answer {
    if (r.body?.eventType === 'VERIFY') {
      return { status: 200, contentType: 'application/json', body: JSON.stringify({ challenge: hmacHex(this.amt, String(r.body.data.challenge)) }) };
    }
    return { status: 200, contentType: 'application/json', body: '{}' };
  }

  /** True when SC-Signature is hex HMAC-SHA256(AMT, raw body). */
  signedWith(r: Received, key = this.amt): boolean {
    return r.headers['sc-signature'] === hmacHex(key, r.raw);
  }

  reset(): void {
    this.received.length = 0;
    this.respond = (r) => this.standard(r);
  }

  private answer(res: ServerResponse, a: Answer): void {
    if (a === 'hang') {
      return;
    }
    if (a === 'destroy') {
      res.socket?.destroy();
      return;
    }
    const send = (): void => {
      res.writeHead(a.status ?? 200, { 'content-type': a.contentType ?? 'application/json' });
      res.end(a.body ?? '');
    };
    if (a.afterMs) {
      setTimeout(send, a.afterMs);
    } else {
      send();
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
