// Scripted faults: "the next N matching calls" fail with a Smartcar error, are delayed, lose their
// connection or get a broken body; in a v3 signals answer, chosen signals come back as ERROR or
// UNAVAILABLE. Matching is by API, target kind, vehicle, sub-path, method and grant.

export type FaultTarget = 'read' | 'command' | 'token' | 'any';

export type FaultApi = 'v2' | 'v3';

export interface FaultMatch {
  target: FaultTarget;
  /** Absent: both APIs. v3 covers the v3 vehicle host and the IAM token endpoint. */
  api?: FaultApi;
  vehicleId?: string;
  /**
   * v2: vehicle sub-path ('/security', '/' for attributes, '/batch') or '/vehicles', '/user', '/oauth/token'.
   * v3: sub-path under /vehicles/{id} ('/signals', '/signals/closure-islocked', '/commands/security/lock', '/'),
   * or '/connections', '/connections/{id}', '/users/{id}'; '/oauth2/token' for the IAM host.
   */
  path?: string;
  method?: string;
  grant?: 'authorization_code' | 'refresh_token' | 'client_credentials';
}

export interface InjectedError {
  type: string;
  code?: string | null;
  status: number;
  retryAfter?: number;
  description?: string;
  suggestedUserMessage?: string;
  resolution?: string | null | { type: string | null; url?: string };
}

/** A per-signal failure inside a 200 v3 signals answer: status ERROR with this error. */
export interface SignalError { type: string; code: string | null }

export type Fault =
  | { error: InjectedError } | { delayMs: number } | { drop: true } | { malformed: true }
  /** v3 signals only: these codes come back with status ERROR (body dropped unless keepBody, as HEL observed cached bodies). */
  | { signalErrors: Record<string, SignalError>; keepBody?: boolean }
  /** v3 signals only: these codes come back with status UNAVAILABLE and no body. */
  | { signalUnavailable: string[] };

export type TerminalFault = Extract<Fault, { error: unknown } | { drop: true } | { malformed: true }>;
export type SignalFault = Extract<Fault, { signalErrors: unknown } | { signalUnavailable: unknown }>;

export const isSignalFault = (f: Fault): f is SignalFault => 'signalErrors' in f || 'signalUnavailable' in f;
/** Error, drop, malformed: at most one of these applies to a request. */
export const isTerminal = (f: Fault): f is TerminalFault => !('delayMs' in f) && !isSignalFault(f);

/** What a request looks like to the matcher. */
export interface FaultSubject {
  kind: 'read' | 'command' | 'token';
  /** Absent: v2 (the v2 routes predate the field). */
  api?: FaultApi;
  method: string;
  path: string;
  vehicleId?: string;
  grant?: string;
  /** The request is a v3 signals read, so per-signal faults can apply to it. */
  signals?: boolean;
}

interface Pending { match: FaultMatch; fault: Fault; remaining: number }

export const normalizePath = (p: string): string => {
  const withSlash = p.startsWith('/') ? p : `/${p}`;
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, '') : withSlash;
};

export class FaultBook {
  private pending: Pending[] = [];

  add(match: FaultMatch, fault: Fault, times = 1): void {
    if (!['read', 'command', 'token', 'any'].includes(match.target)) {
      throw new Error(`inject: unknown target ${String(match.target)}`);
    }
    if (!Number.isInteger(times) || times < 1) {
      throw new Error(`inject: times must be a positive integer, got ${String(times)}`);
    }
    if (match.api !== undefined && match.api !== 'v2' && match.api !== 'v3') {
      throw new Error(`inject: api must be v2 or v3, got ${String(match.api)}`);
    }
    if ('error' in fault && (typeof fault.error.type !== 'string' || typeof fault.error.status !== 'number')) {
      throw new Error('inject: error faults need at least type and status');
    }
    if ('signalErrors' in fault && (typeof fault.signalErrors !== 'object' || fault.signalErrors === null
      || !Object.values(fault.signalErrors).every((e) => typeof e === 'object' && e !== null && typeof e.type === 'string'))) {
      throw new Error('inject: signalErrors must map signal codes to {type, code}');
    }
    if ('signalUnavailable' in fault && (!Array.isArray(fault.signalUnavailable) || !fault.signalUnavailable.every((c) => typeof c === 'string'))) {
      throw new Error('inject: signalUnavailable must be an array of signal codes');
    }
    this.pending.push({ match, fault, remaining: times });
  }

  clear(): void {
    this.pending = [];
  }

  /**
   * Consumes and returns the faults for this request: any delays and (v3 signals reads) per-signal
   * faults, then at most one terminal fault (error, drop, malformed), each the oldest matching one.
   */
  take(subject: FaultSubject): Fault[] {
    const taken: Fault[] = [];
    for (const p of this.pending) {
      if (p.remaining <= 0 || !matches(p.match, subject) || (isSignalFault(p.fault) && !subject.signals)) {
        continue;
      }
      const terminal = isTerminal(p.fault);
      if (terminal && taken.some(isTerminal)) {
        continue;
      }
      p.remaining -= 1;
      taken.push(p.fault);
    }
    this.pending = this.pending.filter((p) => p.remaining > 0);
    return taken;
  }

  list(): Pending[] {
    return this.pending.map((p) => ({ ...p }));
  }
}

function matches(m: FaultMatch, s: FaultSubject): boolean {
  if (m.target !== 'any' && m.target !== s.kind) {
    return false;
  }
  if (m.api !== undefined && m.api !== (s.api ?? 'v2')) {
    return false;
  }
  if (m.vehicleId !== undefined && m.vehicleId !== s.vehicleId) {
    return false;
  }
  if (m.path !== undefined && normalizePath(m.path) !== normalizePath(s.path)) {
    return false;
  }
  if (m.method !== undefined && m.method.toUpperCase() !== s.method.toUpperCase()) {
    return false;
  }
  if (m.grant !== undefined && m.grant !== s.grant) {
    return false;
  }
  return true;
}
