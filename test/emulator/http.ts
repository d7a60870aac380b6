// HTTP primitives shared by the emulator's route modules: the request context they receive, the
// reply they return (the server writes it), and small builders for JSON, HTML and redirects.
import type { IncomingHttpHeaders } from 'node:http';

export interface Ctx {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
  requestId: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Network-level faults: destroy the socket, or send a truncated JSON body. */
  fault?: 'drop' | 'malformed';
  /**
   * A held answer (v3 long-running command): status and headers go out at once without a
   * content-length (chunked), `body` (if any) is written, then whatever this resolves to, then the end.
   */
  stream?: () => Promise<string>;
  /** For the request log. */
  log?: { vehicleId?: string; userId?: string; billed?: number };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

export function html(status: number, page: string): Reply {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // No form-action: Chromium applies it to the redirect after Allow/Deny, and real Connect
      // sends the browser on to the app's redirect URI from exactly that form.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      'cache-control': 'no-store',
    },
    body: page,
  };
}

export function redirect(location: string): Reply {
  return { status: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

export function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses a JSON body; undefined when it is not valid JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
