// One bounded HTTP exchange with a v3 host, on the platform's fetch: JSON in, JSON out, every failure
// one of the plugin's error kinds. Bounded by the request timeout and by Homebridge's shutdown, and
// tolerant of both content types Smartcar may answer with (application/json, application/vnd.api+json).
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
  headers: Headers;
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
  const timeout = AbortSignal.timeout(bounds.timeoutMs);
  const signal = bounds.signal ? AbortSignal.any([bounds.signal, timeout]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await fetch(request.url, {
      method: request.method,
      headers: { accept: 'application/json, application/vnd.api+json', ...request.headers },
      ...(request.body !== undefined ? { body: request.body } : {}),
      signal,
      redirect: 'error',
    });
    // A long-running command (202) streams its outcome on the same connection: read the whole body.
    text = await res.text();
  } catch (err) {
    if (timeout.aborted) {
      throw new TransientError(`${ctx.operation}: no answer from Smartcar within ${Math.round(bounds.timeoutMs / 1000)} s`);
    }
    if (bounds.signal?.aborted) {
      throw new TransientError(`${ctx.operation}: Homebridge is shutting down`);
    }
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new TransientError(`${ctx.operation} failed: ${err instanceof Error ? err.message : String(err)}${cause}`, { cause: err });
  }
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      if (res.status >= 200 && res.status < 300) {
        throw new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (not JSON)`);
      }
      // A gateway (504) or proxy page: the status is all there is.
      throw problemForStatus(res.status, res.headers, undefined, ctx);
    }
  }
  return { status: res.status, body, headers: res.headers };
}

export function problemForStatus(status: number, headers: Headers, body: unknown, ctx: MapContext): SmartcarProblem {
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
