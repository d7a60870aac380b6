// The few error kinds the plugin acts on. Everything leaving the Smartcar client is one of these,
// so callers branch on `kind` instead of on Smartcar's type/code table.
// Messages never carry tokens: OAuth error descriptions echo the refresh token, so they are dropped.

export type ProblemKind = 'reauthorize' | 'unauthorized' | 'permission' | 'vehicle-state' | 'not-capable' | 'rate-limited' | 'configuration' | 'transient';

export abstract class SmartcarProblem extends Error {
  abstract readonly kind: ProblemKind;
  /** Smartcar's own type and code, where its answer named them: a backend acts on a few, never on the message. */
  smartcar?: { type: string; code: string | null };
  /**
   * Smartcar refused the application itself (its API credentials): every car's read and every listing
   * fails alike, so the owner is told once for the application, not once per car.
   */
  appWide?: boolean;
}

/**
 * The owner must run Smartcar Connect again: refresh token dead or the car account's login changed. The
 * message says why only; whoever tells the owner adds what to do, once.
 */
export class ReauthorizeError extends SmartcarProblem {
  readonly kind = 'reauthorize';
  override readonly name = 'ReauthorizeError';
}

/** The access token was rejected (401): refresh once and retry. */
export class UnauthorizedError extends SmartcarProblem {
  readonly kind = 'unauthorized';
  override readonly name = 'UnauthorizedError';
}

export class PermissionError extends SmartcarProblem {
  readonly kind = 'permission';
  override readonly name = 'PermissionError';
  constructor(readonly scope: string | undefined, message?: string) {
    super(message ?? (scope ? `Smartcar permission ${scope} was not granted; grant it by connecting the vehicle again` : 'A Smartcar permission is missing'));
  }
}

/** The car refused for a reason the owner can act on (door open, asleep, unreachable, ...). */
export class VehicleStateError extends SmartcarProblem {
  readonly kind = 'vehicle-state';
  override readonly name = 'VehicleStateError';
  constructor(readonly code: string, readonly userMessage: string) {
    super(`${code}: ${userMessage}`);
  }
}

/**
 * The car cannot deliver a signal. conclusive: Smartcar said so (COMPATIBILITY); false: it only sent an
 * empty value this time (v2: a null percentRemaining), which proves nothing on its own.
 */
export class NotCapableError extends SmartcarProblem {
  readonly kind = 'not-capable';
  override readonly name = 'NotCapableError';
  constructor(message: string, readonly conclusive = true) {
    super(message);
  }
}

export class RateLimitError extends SmartcarProblem {
  readonly kind = 'rate-limited';
  override readonly name = 'RateLimitError';
  constructor(message: string, readonly retryAfterSeconds: number | undefined) {
    super(message);
  }
}

/** Wrong client id/secret, plan or account problems: nothing retries its way out of these. */
export class ConfigurationError extends SmartcarProblem {
  readonly kind = 'configuration';
  override readonly name = 'ConfigurationError';
}

/** The application's credentials refused: a ConfigurationError that concerns every car at once. */
export function applicationRefused(message: string): ConfigurationError {
  const problem = new ConfigurationError(message);
  problem.appWide = true;
  return problem;
}

export class TransientError extends SmartcarProblem {
  readonly kind = 'transient';
  override readonly name = 'TransientError';
}

/** Shape of the SDK's SmartcarError that we read (see sdk.d.ts). */
interface SdkErrorLike {
  name?: string;
  statusCode?: number;
  type?: string;
  code?: string | null;
  description?: string;
  suggestedUserMessage?: string;
  retryAfter?: string;
  resolution?: { type?: string | null };
}

export interface MapContext {
  /** The operation, for messages ("reading /security"). */
  operation: string;
  /** The scope the operation needs, named in permission errors. */
  scope?: string;
  /** A token-endpoint call: AUTHENTICATION there means the refresh token is gone. */
  tokenRequest?: boolean;
}

const BILLING_LIMIT_RETRY_SECONDS = 12 * 60 * 60;

export function mapSmartcarError(err: unknown, ctx: MapContext): SmartcarProblem {
  if (err instanceof SmartcarProblem) {
    return err;
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  if (e.name !== 'SmartcarError') {
    if (err instanceof TypeError && err.message !== 'fetch failed' || err instanceof SyntaxError) {
      // The SDK trips over a broken body (truncated JSON, missing fields) with a TypeError or SyntaxError.
      return new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (${err.message})`, { cause: err });
    }
    const inner = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    const reason = err instanceof Error ? `${err.message}${inner}` : String(err);
    return new TransientError(`${ctx.operation} failed: ${reason}`, { cause: err });
  }
  const type = e.type ?? '';
  const code = e.code ?? '';
  const said = e.description ? `: ${e.description}` : '';
  const what = `${ctx.operation} failed (${type}${code ? `:${code}` : ''})`;

  // OAuth-style errors from the token endpoint. Their description echoes the token: never include it.
  if (type === 'invalid_grant') {
    return new ReauthorizeError(`${ctx.operation}: Smartcar no longer accepts this authorization (invalid_grant)`);
  }
  if (type === 'invalid_client') {
    return new ConfigurationError(`${ctx.operation}: Smartcar rejected the clientId/clientSecret (invalid_client); check them in the plugin config`);
  }
  if (ctx.tokenRequest && e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 429 && e.statusCode !== 408) {
    return new ReauthorizeError(`${ctx.operation}: Smartcar refused the token request (${type || e.statusCode})`);
  }

  switch (type) {
    case 'AUTHENTICATION':
      return ctx.tokenRequest ? new ReauthorizeError(what) : new UnauthorizedError(`${what}${said}`);
    case 'CONNECTED_SERVICES_ACCOUNT':
      if (code === 'AUTHENTICATION_FAILED' || e.resolution?.type === 'REAUTHENTICATE') {
        return new ReauthorizeError(`${what}: ${(e.suggestedUserMessage ?? 'the car account login changed').replace(/[.\s]+$/, '')}`);
      }
      return new VehicleStateError(code || type, e.suggestedUserMessage ?? e.description ?? 'The connected-services account needs attention');
    case 'PERMISSION':
      return new PermissionError(ctx.scope);
    case 'VEHICLE_STATE':
      return new VehicleStateError(code || 'UNKNOWN', e.suggestedUserMessage ?? e.description ?? 'The vehicle could not perform the request');
    case 'COMPATIBILITY':
      return new NotCapableError(`${what}${said}`);
    case 'RATE_LIMIT':
      return new RateLimitError(`${what}${said}`, parseRetryAfter(e.retryAfter));
    case 'BILLING':
      if (code === 'VEHICLE_REQUEST_LIMIT') {
        return new RateLimitError(`${what}: this vehicle used its monthly Smartcar requests`, parseRetryAfter(e.retryAfter) ?? BILLING_LIMIT_RETRY_SECONDS);
      }
      return new ConfigurationError(`${what}${said}`);
    case 'UPSTREAM':
      if (code === 'RATE_LIMIT') {
        return new RateLimitError(`${what}${said}`, parseRetryAfter(e.retryAfter));
      }
      return new TransientError(`${what}${said}`);
    default:
      return new TransientError(`${what}${e.statusCode === 408 ? ': timed out' : said}`);
  }
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) {
    return seconds;
  }
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : undefined;
}
