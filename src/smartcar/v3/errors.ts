// v3 error bodies (JSON:API `errors[]`, smartcar-v3.md §5) into the plugin's few error kinds. The
// type/code table is v2's, so the v2 mapper decides; this file only reads the v3 shape, compares
// case-insensitively (the OpenAPI examples use lower-case codes) and adds what only v3 has.
import { mapSmartcarError, ReauthorizeError, TransientError, UnauthorizedError, type MapContext, type SmartcarProblem } from '../errors.js';

export interface V3ErrorObject {
  status?: string | number;
  type?: string;
  code?: string | null;
  title?: string;
  detail?: string;
  suggestedUserMessage?: string;
  resolution?: { type?: string | null } | string | null;
}

const MAX_DETAIL_CHARS = 300;

/** The first error of a v3 error body, or undefined when the body has none (or is not JSON). */
export function firstV3Error(body: unknown): V3ErrorObject | undefined {
  if (typeof body !== 'object' || body === null) {
    return undefined;
  }
  const errors = (body as { errors?: unknown }).errors;
  if (Array.isArray(errors) && typeof errors[0] === 'object' && errors[0] !== null) {
    return errors[0] as V3ErrorObject;
  }
  // A v2-shaped body on a v3 path (an old proxy, a gateway) still names a type.
  const flat = body as Record<string, unknown>;
  return typeof flat.type === 'string' ? { type: flat.type, code: typeof flat.code === 'string' ? flat.code : null, ...(typeof flat.description === 'string' ? { detail: flat.description } : {}) } : undefined;
}

export function problemFromV3Error(error: V3ErrorObject, ctx: MapContext, httpStatus?: number, retryAfter?: string): SmartcarProblem {
  const type = (error.type ?? '').toUpperCase();
  const code = typeof error.code === 'string' ? error.code.toUpperCase() : '';
  const problem = kindOf(error, type, code, ctx, httpStatus, retryAfter);
  if (type !== '') {
    problem.smartcar = { type, code: code || null };
  }
  return problem;
}

function kindOf(error: V3ErrorObject, type: string, code: string, ctx: MapContext, httpStatus?: number, retryAfter?: string): SmartcarProblem {
  const resolution = typeof error.resolution === 'string' ? error.resolution : error.resolution?.type ?? null;
  const status = Number(error.status ?? httpStatus);
  if (type === 'AUTHENTICATION' || (type === '' && status === 401)) {
    // The application token was refused: the backend fetches a new one once.
    return new UnauthorizedError(`${ctx.operation} failed (AUTHENTICATION${code ? `:${code}` : ''})`);
  }
  if (type === 'RESOURCE_NOT_FOUND' && code === 'SIGNAL_NOT_FOUND') {
    return new TransientError(`${ctx.operation}: Smartcar has no such signal for this car (SIGNAL_NOT_FOUND)`);
  }
  const detail = (error.detail ?? error.title ?? '').slice(0, MAX_DETAIL_CHARS);
  if (resolution?.toUpperCase() === 'REAUTHENTICATE') {
    // v3 says what to do in resolution.type (§5): only Connect again helps, whatever the type (PERMISSION,
    // COMPATIBILITY:PLATFORM_NOT_CAPABLE, CONNECTED_SERVICES_ACCOUNT:…). Retrying would only repeat it.
    const said = (error.suggestedUserMessage ?? '').slice(0, MAX_DETAIL_CHARS) || detail || 'Smartcar wants the owner back in Connect';
    return new ReauthorizeError(`${ctx.operation} failed (${type || `HTTP ${status}`}${code ? `:${code}` : ''}): ${said.replace(/[.\s]+$/, '')}`);
  }
  return mapSmartcarError({
    name: 'SmartcarError',
    ...(Number.isFinite(status) ? { statusCode: status } : {}),
    type: type || (Number.isFinite(status) ? `HTTP ${status}` : 'UNKNOWN'),
    code: code || null,
    ...(detail !== '' ? { description: detail } : {}),
    ...(error.suggestedUserMessage ? { suggestedUserMessage: error.suggestedUserMessage } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    resolution: { type: resolution?.toUpperCase() ?? null },
  }, ctx);
}
