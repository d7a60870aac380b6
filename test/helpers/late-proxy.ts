// A pass-through HTTP proxy in front of one emulator host that can hold an answer on its way back:
// Smartcar computed it at once (the car's state of that moment), the plugin receives it only later.
// That is what a late answer is on v3, where one signals request carries every value: the emulator's
// own delay faults act before the vehicle is read, so its late answers would carry the newest state.
// Everything else (streamed 202s included) is piped through unchanged.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Hold {
  match: (method: string, pathname: string) => boolean;
  ms: number;
  remaining: number;
}

/** Hop-by-hop or length headers the proxy sets itself. */
const OWN_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

function passHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined && !OWN_HEADERS.has(k)) {
      out[k] = v;
    }
  }
  return out;
}

export class LateProxy {
  private holds: Hold[] = [];
  /** Held answers handed back (or found their client gone) so far. */
  delivered = 0;
  /** Held answers whose client had given up by the time they were handed back. */
  undeliverable = 0;
  /** The bodies of the held answers, as Smartcar sent them. */
  held: string[] = [];

  private readonly server: Server;
  private readonly target: URL;
  /** Where the plugin is pointed instead of the upstream host. */
  origin = '';

  private constructor(upstream: string) {
    this.target = new URL(upstream);
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(upstream: string): Promise<LateProxy> {
    const proxy = new LateProxy(upstream);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.origin = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      const hold = this.take(req.method ?? 'GET', pathname);
      const up = request({
        host: this.target.hostname, port: this.target.port, method: req.method, path: req.url,
        headers: { ...passHeaders(req.headers), host: this.target.host, 'content-length': String(body.length) },
      }, (answer) => {
        res.on('error', () => undefined);
        if (hold === undefined) {
          res.writeHead(answer.statusCode ?? 502, passHeaders(answer.headers));
          // A client that gave up closes its end; the proxy closes its own towards Smartcar too.
          res.on('close', () => answer.destroy());
          answer.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          this.held.push(Buffer.concat(parts).toString('utf8'));
          setTimeout(() => {
            this.delivered++;
            if (res.destroyed || req.socket.destroyed) {
              this.undeliverable++;
              return;
            }
            const payload = Buffer.concat(parts);
            res.writeHead(answer.statusCode ?? 502, { ...passHeaders(answer.headers), 'content-length': String(payload.length) });
            res.end(payload);
          }, Math.max(0, started + hold.ms - Date.now()));
        });
      });
      up.on('error', () => res.destroy());
      if (hold === undefined) {
        // A client that gives up before any answer: the proxy hangs up towards Smartcar too.
        res.on('close', () => {
          if (!res.writableFinished) {
            up.destroy();
          }
        });
      }
      up.end(body);
    });
  }

  /** The next `times` answers to matching requests reach the client `ms` after it asked. */
  hold(match: (method: string, pathname: string) => boolean, ms: number, times = 1): void {
    this.holds.push({ match, ms, remaining: times });
  }

  clear(): void {
    this.holds = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take(method: string, pathname: string): Hold | undefined {
    const hold = this.holds.find((h) => h.remaining > 0 && h.match(method, pathname));
    if (hold) {
      hold.remaining--;
      this.holds = this.holds.filter((h) => h.remaining > 0);
    }
    return hold;
  }
}
