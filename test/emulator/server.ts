// One node:http listener (the emulator runs one per host): reads bodies, gives every request an
// `sc-request-id`, writes the route modules' replies (held, chunked ones included) and carries out
// network faults (dropped socket, broken body).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ctx, Reply } from './http.js';
import { json } from './http.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpServer { server: Server; origin: string; close: () => Promise<void> }

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, reply: Reply, requestId: string, onError: (err: unknown) => void): void {
  if (reply.fault === 'drop') {
    res.socket?.destroy();
    return;
  }
  const headers: Record<string, string> = { ...reply.headers, 'sc-request-id': requestId };
  const stream = reply.stream;
  if (stream && !reply.fault) {
    // No content-length: Node sends `transfer-encoding: chunked` and the client sees the status now.
    res.writeHead(reply.status, headers);
    res.flushHeaders();
    if (reply.body !== '') {
      res.write(reply.body);
    }
    stream().then((rest) => res.end(rest), (err: unknown) => {
      onError(err);
      res.destroy();
    });
    return;
  }
  let body = reply.body;
  if (reply.fault === 'malformed') {
    headers['content-type'] = 'application/json; charset=utf-8';
    body = '{"malformed": tru';
  }
  res.writeHead(reply.status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

export async function startHttpServer(
  host: string, port: number, handle: (ctx: Ctx) => Promise<Reply>, onError: (err: unknown) => void,
): Promise<HttpServer> {
  const server = createServer((req, res) => {
    const requestId = randomUUID();
    void (async () => {
      const body = await readBody(req);
      if (body === null) {
        write(res, json(413, { error: 'payload_too_large' }), requestId, onError);
        return;
      }
      const ctx: Ctx = {
        method: (req.method ?? 'GET').toUpperCase(),
        url: new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`),
        headers: req.headers,
        body,
        requestId,
      };
      write(res, await handle(ctx), requestId, onError);
    })().catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) {
        write(res, json(500, { type: 'SERVER', code: 'INTERNAL', description: 'Emulator bug: see the emulator log.' }), requestId, onError);
      }
    });
  });
  // Keep-alive sockets would hold close() open; the SDK's fetch keeps connections alive.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return {
    server,
    origin,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}
