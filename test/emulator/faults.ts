// Scripted faults: "the next N matching calls" fail with a Smartcar error, are delayed, lose their
// connection or get a broken body. Matching is by target kind, vehicle, sub-path, method and grant.

export type FaultTarget = 'read' | 'command' | 'token' | 'any';

export interface FaultMatch {
  target: FaultTarget;
  vehicleId?: string;
  /** Vehicle sub-path ('/security', '/' for attributes, '/batch') or '/vehicles', '/user', '/oauth/token'. */
  path?: string;
  method?: string;
  grant?: 'authorization_code' | 'refresh_token';
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

export type Fault = { error: InjectedError } | { delayMs: number } | { drop: true } | { malformed: true };

/** What a request looks like to the matcher. */
export interface FaultSubject {
  kind: 'read' | 'command' | 'token';
  method: string;
  path: string;
  vehicleId?: string;
  grant?: string;
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
    if ('error' in fault && (typeof fault.error.type !== 'string' || typeof fault.error.status !== 'number')) {
      throw new Error('inject: error faults need at least type and status');
    }
    this.pending.push({ match, fault, remaining: times });
  }

  clear(): void {
    this.pending = [];
  }

  /**
   * Consumes and returns the faults for this request: any delays, then at most one terminal fault
   * (error, drop, malformed), each the oldest matching one.
   */
  take(subject: FaultSubject): Fault[] {
    const taken: Fault[] = [];
    for (const p of this.pending) {
      if (p.remaining <= 0 || !matches(p.match, subject)) {
        continue;
      }
      const terminal = !('delayMs' in p.fault);
      if (terminal && taken.some((f) => !('delayMs' in f))) {
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
