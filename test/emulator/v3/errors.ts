// The v3 error catalogue (v3 ref §5) and its JSON:API body. Statuses, resolutions and messages come
// from the v2 catalogue (test/emulator/errors.ts) where the type/code pair is the same; the codes
// only v3 has are added here. Every v3 error the emulator sends goes through `v3Error`.
import { STATUS_CODES } from 'node:http';
import type { ErrorSpec, ResolutionType } from '../errors.js';
import { ApiError, errorSpec } from '../errors.js';

interface V3Entry { status: number; resolution: ResolutionType; description: string; suggestedUserMessage: string }

const V3_ONLY: Record<string, V3Entry> = {
  'AUTHENTICATION:UNAUTHORIZED': { status: 401, resolution: null, description: 'The Authorization token is missing or invalid.',
    suggestedUserMessage: 'There has been an error authorizing this application. Please reconnect your vehicle.' },
  'AUTHENTICATION:ACCESS_DENIED': { status: 403, resolution: null, description: 'The Authorization token does not give access to this resource.',
    suggestedUserMessage: 'This application is not allowed to access your vehicle. Please reconnect your vehicle.' },
  'VALIDATION:INVALID_INPUT_FORMAT': { status: 400, resolution: null, description: 'A parameter or the request body does not have the expected format.',
    suggestedUserMessage: 'Your vehicle could not process this request.' },
  'VALIDATION:BAD_REQUEST': { status: 400, resolution: null,
    description: 'The request could not be understood by the server due to malformed syntax.',
    suggestedUserMessage: 'Your vehicle could not process this request.' },
  'VALIDATION:MISSING_PARAMETER': { status: 400, resolution: null, description: 'A required parameter is missing.',
    suggestedUserMessage: 'Your vehicle could not process this request.' },
  'RESOURCE_NOT_FOUND:INVALID_PATH': { status: 404, resolution: null, description: 'The requested path does not exist in this version of the API.',
    suggestedUserMessage: 'The requested feature is not available.' },
  'RESOURCE_NOT_FOUND:SIGNAL_NOT_FOUND': { status: 404, resolution: null, description: 'The requested signal does not exist for this vehicle.',
    suggestedUserMessage: 'The requested information is not available for your vehicle.' },
  'VEHICLE_STATE:DEVICE_PAIRING_REQUIRED': { status: 409, resolution: null,
    description: 'The vehicle must be paired with a device (phone key) before it accepts this command.',
    suggestedUserMessage: 'Please pair your phone with your vehicle in the manufacturer\'s app.' },
};

/** v2-style pairs the shared vehicle rules raise, as v3 names them. */
const V3_NAME: Record<string, [string, string | null]> = {
  'AUTHENTICATION:null': ['AUTHENTICATION', 'UNAUTHORIZED'],
  'VALIDATION:null': ['VALIDATION', 'BAD_REQUEST'],
  'VALIDATION:PARAMETER': ['VALIDATION', 'INVALID_INPUT_FORMAT'],
};

const key = (type: string, code: string | null): string => `${type}:${code ?? 'null'}`;

/** Fills a spec from the v3 catalogue (v3-only entries first, then the shared v2 ones). */
export function v3Spec(type: string, code: string | null, overrides: Partial<ErrorSpec> = {}): ErrorSpec {
  const own = V3_ONLY[key(type, code)];
  if (own) {
    return {
      ...overrides, type, code,
      status: overrides.status ?? own.status,
      description: overrides.description ?? own.description,
      suggestedUserMessage: overrides.suggestedUserMessage ?? own.suggestedUserMessage,
      resolution: overrides.resolution !== undefined ? overrides.resolution : own.resolution,
    };
  }
  return errorSpec(type, code, overrides);
}

/** The error to throw inside v3 routes (same class as v2, rendered by `v3ErrorBody`). */
export const v3Error = (type: string, code: string | null, overrides: Partial<ErrorSpec> = {}): ApiError =>
  new ApiError(v3Spec(type, code, overrides));

/** A v2-named error from the shared vehicle rules (vehicles.ts), renamed where v3 differs. */
export function asV3(spec: ErrorSpec): ErrorSpec {
  const renamed = V3_NAME[key(spec.type, spec.code)];
  return renamed ? v3Spec(renamed[0], renamed[1], { ...(spec.detail ? { detail: spec.detail } : {}) }) : spec;
}

const slug = (s: string): string => s.toLowerCase().replace(/_/g, '-');

const TITLES: Record<number, string> = { 430: 'Billing Limit Reached' };
export const titleOf = (status: number): string => TITLES[status] ?? STATUS_CODES[status] ?? 'Error';

export interface V3ErrorObject {
  status: string;
  type: string;
  code: string | null;
  title: string;
  detail: string;
  links: { about: string };
  resolution: { type: ResolutionType; url?: string };
  suggestedUserMessage: string;
  meta: Record<string, unknown>;
}

/** One entry of `errors[]` (v3 ref §5); `status` is a string and may differ from the HTTP status (202). */
export function v3ErrorObject(spec: ErrorSpec): V3ErrorObject {
  const resolution = typeof spec.resolution === 'object' && spec.resolution !== null ? spec.resolution : { type: spec.resolution ?? null };
  return {
    status: String(spec.status),
    type: spec.type,
    code: spec.code,
    title: titleOf(spec.status),
    detail: spec.description ?? `${spec.type} error.`,
    links: { about: `https://smartcar.com/docs/errors/api-errors/v3/${slug(spec.type)}-errors` },
    resolution,
    suggestedUserMessage: spec.suggestedUserMessage ?? '',
    meta: spec.detail ? { detail: spec.detail } : {},
  };
}

export const v3ErrorBody = (spec: ErrorSpec): { errors: V3ErrorObject[] } => ({ errors: [v3ErrorObject(spec)] });
