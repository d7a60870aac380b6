// One bounded HTTP exchange with a v3 host, on node:http(s): JSON in, JSON out, every failure
// one of the plugin's error kinds. Bounded by the request timeout and by Homebridge's shutdown, and
// tolerant of both content types Smartcar may answer with (application/json, application/vnd.api+json).
import http from 'node:http';
import https from 'node:https';

import { RateLimitError, TransientError, type MapContext, type SmartcarProblem } from '../errors.js';
import { firstV3Error, problemFromV3Error } from './errors.js';

export interface HttpBounds {
  timeoutMs: number;
  /** Aborted on Homebridge shutdown. */
  signal?: AbortSignal;
}

export interface JsonAnswer {
  status: number;
  body: unknown;
  headers: AnswerHeaders;
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Sends one request; resolves with any 2xx answer, rejects with a SmartcarProblem otherwise. */
export async function exchange(request: JsonRequest, ctx: MapContext, bounds: HttpBounds): Promise<JsonAnswer> {
  const answer = await exchangeAny(request, ctx, bounds);
  if (answer.status >= 200 && answer.status < 300) {
    return answer;
  }
  throw problemForStatus(answer.status, answer.headers, answer.body, ctx);
}

/** Sends one request; resolves with whatever HTTP status came back, rejects only when none did or the body is not JSON. */
export async function exchangeAny(request: JsonRequest, ctx: MapContext, bounds: HttpBounds): Promise<JsonAnswer> {
  if (bounds.signal?.aborted) {
    throw new TransientError(`${ctx.operation}: Homebridge is shutting down`);
  }
  let raw: RawAnswer;
  try {
    raw = await send(request, bounds);
  } catch (err) {
    if (err instanceof BoundReached) {
      throw new TransientError(err.shutdown ? `${ctx.operation}: Homebridge is shutting down`
        : `${ctx.operation}: no answer from Smartcar within ${Math.round(bounds.timeoutMs / 1000)} s`);
    }
    throw new TransientError(`${ctx.operation} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let body: unknown;
  if (raw.text.trim() !== '') {
    try {
      body = JSON.parse(raw.text) as unknown;
    } catch {
      if (raw.status >= 200 && raw.status < 300) {
        throw new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (not JSON)`);
      }
      // A gateway (504) or proxy page: the status is all there is.
      throw problemForStatus(raw.status, raw.headers, undefined, ctx);
    }
  }
  return { status: raw.status, body, headers: raw.headers };
}

/** The answer's headers, as much of fetch's Headers as the callers use. */
export interface AnswerHeaders {
  get(name: string): string | null;
}

interface RawAnswer {
  status: number;
  headers: AnswerHeaders;
  text: string;
}

/** The timeout or Homebridge's shutdown ended the exchange. */
class BoundReached extends Error {
  constructor(readonly shutdown: boolean) {
    super(shutdown ? 'shutting down' : 'timed out');
  }
}

// Smartcar's answers are a few kilobytes; anything this big is not one of them.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * One request on node:http(s), not the global fetch: on Node 20 the first fetch loads undici and costs
 * about 16 MiB of resident memory for good, most of what the plugin would otherwise cost a Homebridge.
 * Redirects are not followed (the application token must not go elsewhere).
 */
function send(request: JsonRequest, bounds: HttpBounds): Promise<RawAnswer> {
  const url = new URL(request.url);
  const transport = url.protocol === 'https:' ? https : http;
  const body = request.body !== undefined ? Buffer.from(request.body, 'utf8') : undefined;
  return new Promise<RawAnswer>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        bounds.signal?.removeEventListener('abort', onAbort);
        fn();
      }
    };
    const req = transport.request(url, {
      method: request.method,
      headers: {
        accept: 'application/json, application/vnd.api+json',
        ...request.headers,
        ...(body !== undefined ? { 'content-length': String(body.length) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new Error(`the answer is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`));
          return;
        }
        chunks.push(chunk);
      });
      // A long-running command (202) streams its outcome on the same connection: wait for the end.
      res.on('end', () => finish(() => resolve({
        status: res.statusCode ?? 0,
        headers: { get: (name) => { const v = res.headers[name.toLowerCase()]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v; } },
        text: Buffer.concat(chunks).toString('utf8'),
      })));
      res.on('error', (err) => finish(() => reject(err)));
    });
    const timer = setTimeout(() => {
      finish(() => reject(new BoundReached(false)));
      req.destroy();
    }, bounds.timeoutMs);
    const onAbort = (): void => {
      finish(() => reject(new BoundReached(true)));
      req.destroy();
    };
    bounds.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(() => reject(err)));
    req.end(body);
  });
}

export function problemForStatus(status: number, headers: AnswerHeaders, body: unknown, ctx: MapContext): SmartcarProblem {
  const retryAfter = headers.get('retry-after') ?? undefined;
  const error = firstV3Error(body);
  if (error !== undefined) {
    return problemFromV3Error(error, ctx, status, retryAfter);
  }
  if (status === 429) {
    const seconds = retryAfter !== undefined && Number.isFinite(Number(retryAfter)) ? Number(retryAfter) : undefined;
    return new RateLimitError(`${ctx.operation} failed (HTTP 429)`, seconds);
  }
  return problemFromV3Error({ status }, ctx, status, retryAfter);
}
