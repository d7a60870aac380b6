// Smartcar v2 error catalogue (reference §5.1/§5.2) and the §5.1 JSON body builder. Every v2 error
// the emulator sends goes through `apiError`, so the shape cannot drift per route; v3/errors.ts reuses
// this catalogue for the type/code pairs v3 shares and renders them as JSON:API.

export type ResolutionType = 'RETRY_LATER' | 'REAUTHENTICATE' | 'CONTACT_SUPPORT' | 'ACTION_REQUIRED' | 'FINANCE' | null;

export interface ErrorSpec {
  type: string;
  code: string | null;
  status: number;
  description?: string;
  suggestedUserMessage?: string;
  resolution?: ResolutionType | { type: ResolutionType; url?: string };
  retryAfter?: number;
  detail?: unknown[];
}

/** The §5.1 body. `code` and `resolution.type` are explicit nulls, as Smartcar sends them. */
export interface ErrorBody {
  type: string;
  code: string | null;
  description: string;
  docURL: string;
  statusCode: number;
  requestId: string;
  resolution: { type: ResolutionType; url?: string };
  suggestedUserMessage: string;
  detail?: unknown[];
}

interface CatalogEntry {
  status: number;
  resolution: ResolutionType;
  description: string;
  suggestedUserMessage: string;
}

const entry = (status: number, resolution: ResolutionType, description: string, suggestedUserMessage: string): CatalogEntry =>
  ({ status, resolution, description, suggestedUserMessage });

/** Keyed `TYPE:CODE` (`TYPE:null` for the code-less types). */
const CATALOG: Record<string, CatalogEntry> = {
  'AUTHENTICATION:null': entry(401, null,
    'The authorization header is missing or malformed, or it contains invalid or expired authentication credentials.',
    'There has been an error authorizing this application. Please reconnect your vehicle.'),
  'PERMISSION:null': entry(403, 'REAUTHENTICATE',
    'Your application has insufficient permissions to access the requested resource. Please prompt the user to re-authenticate using Smartcar Connect.',
    'Please reconnect your vehicle and grant the missing permission.'),
  'VALIDATION:null': entry(400, null, 'Request invalid or malformed. Please check for missing parameters, spelling and casing mistakes, and other syntax issues.',
    'Your vehicle could not process this request.'),
  'VALIDATION:PARAMETER': entry(400, null, 'Request invalid or malformed. Please check for missing parameters, spelling and casing mistakes, and other syntax issues.',
    'Your vehicle could not process this request.'),
  'RESOURCE_NOT_FOUND:PATH': entry(404, null, 'The requested resource does not exist. Please check the URL and try again.',
    'The requested feature is not available.'),
  'RESOURCE_NOT_FOUND:VERSION': entry(404, null, 'The requested resource does not exist. Please check the API version in the URL and try again.',
    'The requested feature is not available.'),
  'BILLING:VEHICLE_LIMIT': entry(430, 'CONTACT_SUPPORT', 'You have reached the limit of vehicles connected under your current plan.',
    'This application has reached its limit of connected vehicles.'),
  'BILLING:INVALID_PLAN': entry(430, 'CONTACT_SUPPORT', 'The feature you are trying to use is not included in your current plan.',
    'This feature is not available for this application.'),
  'BILLING:VEHICLE_REQUEST_LIMIT': entry(430, 'CONTACT_SUPPORT',
    'You have reached the limit of requests per vehicle per month under your current plan.',
    'This vehicle has reached its monthly request limit. Please try again next month.'),
  'BILLING:ACCOUNT_SUSPENDED': entry(430, 'FINANCE', 'Your Smartcar account has been suspended. Please contact support.',
    'This application is temporarily unavailable.'),
  'COMPATIBILITY:MAKE_NOT_COMPATIBLE': entry(501, null, 'The vehicle make is not compatible with this request.',
    'Your vehicle brand does not support this feature.'),
  'COMPATIBILITY:SMARTCAR_NOT_CAPABLE': entry(501, null, 'Smartcar does not yet support this feature for this vehicle.',
    'This feature is not yet available for your vehicle.'),
  'COMPATIBILITY:VEHICLE_NOT_CAPABLE': entry(501, null, 'The vehicle is not capable of performing this request.',
    'Your vehicle does not support this feature.'),
  'COMPATIBILITY:PLATFORM_NOT_CAPABLE': entry(501, 'REAUTHENTICATE', 'The platform this vehicle is connected through does not support this request.',
    'Please reconnect your vehicle to use this feature.'),
  'CONNECTED_SERVICES_ACCOUNT:ACCOUNT_ISSUE': entry(400, null, 'There is an issue with the connected services account of the vehicle owner.',
    'Please log in to your connected services app and complete any outstanding actions.'),
  'CONNECTED_SERVICES_ACCOUNT:NO_VEHICLES': entry(400, null, 'No vehicles were found in the connected services account.',
    'Please add your vehicle to your connected services account.'),
  'CONNECTED_SERVICES_ACCOUNT:SUBSCRIPTION': entry(400, null, 'The connected services subscription of this vehicle is inactive.',
    'Please renew the connected services subscription of your vehicle.'),
  'CONNECTED_SERVICES_ACCOUNT:VEHICLE_MISSING': entry(400, null,
    'This vehicle is no longer associated with the connected services account or this application.',
    'Your vehicle is no longer connected. Please reconnect it.'),
  'CONNECTED_SERVICES_ACCOUNT:AUTHENTICATION_FAILED': entry(400, 'REAUTHENTICATE',
    'Smartcar was unable to authenticate with the connected services account. The user may have changed their password.',
    'Please reconnect your vehicle: your connected services login has changed.'),
  'CONNECTED_SERVICES_ACCOUNT:PERMISSION': entry(400, 'REAUTHENTICATE', 'The connected services account lacks a permission needed for this request.',
    'Please reconnect your vehicle and grant the required access.'),
  'CONNECTED_SERVICES_ACCOUNT:VIRTUAL_KEY_REQUIRED': entry(400, 'ACTION_REQUIRED', 'A virtual key must be added to the vehicle.',
    'Please add the virtual key to your vehicle.'),
  'RATE_LIMIT:SMARTCAR_API': entry(429, 'RETRY_LATER', 'You have reached the throttling rate limit for this application.',
    'Too many requests were sent. Please try again later.'),
  'RATE_LIMIT:VEHICLE': entry(429, 'RETRY_LATER',
    'You have reached the throttling rate limit for this vehicle. Please see the retry-after header for when to retry the request.',
    'Your vehicle is temporarily unable to process requests. Please try again later.'),
  'SERVER:INTERNAL': entry(500, 'RETRY_LATER', 'An internal Smartcar error has occurred.', 'Something went wrong. Please try again later.'),
  'SERVER:RECORD_NOT_FOUND': entry(500, 'CONTACT_SUPPORT', 'A record could not be found.', 'Something went wrong. Please contact support.'),
  'SERVER:MULTIPLE_RECORDS_FOUND': entry(500, 'CONTACT_SUPPORT', 'Multiple records were found.', 'Something went wrong. Please contact support.'),
  'UPSTREAM:INVALID_DATA': entry(502, 'RETRY_LATER', 'Smartcar received invalid data from an upstream source.',
    'Your vehicle returned unexpected data. Please try again later.'),
  'UPSTREAM:KNOWN_ISSUE': entry(502, 'RETRY_LATER', 'An upstream source is experiencing a known issue.',
    'Your vehicle brand is experiencing an issue. Please try again later.'),
  'UPSTREAM:NO_RESPONSE': entry(502, 'RETRY_LATER', 'Smartcar did not receive a response from an upstream source.',
    'Your vehicle did not respond. Please try again later.'),
  'UPSTREAM:RATE_LIMIT': entry(502, 'RETRY_LATER', 'The vehicle manufacturer has rate limited this request.',
    'Your vehicle brand is limiting requests. Please try again later.'),
  'UPSTREAM:UNKNOWN_ISSUE': entry(502, 'RETRY_LATER', 'An unknown issue occurred with an upstream source.',
    'Something went wrong with your vehicle brand. Please try again later.'),
};

const VEHICLE_STATE: Record<string, [ResolutionType, string, string]> = {
  ASLEEP: [null, 'The vehicle is in a sleep state and temporarily unable to perform your request.',
    'Your vehicle is in a sleep state. This request was not sent to preserve battery life.'],
  CHARGING_IN_PROGRESS: [null, 'The vehicle is already charging.', 'Your vehicle is already charging.'],
  CHARGING_PLUG_CONNECTED: [null, 'The charging plug is connected.', 'Your vehicle is plugged in.'],
  CHARGING_PLUG_NOT_CONNECTED: [null, 'The charging plug is not connected to the vehicle.', 'Your vehicle is not plugged in.'],
  DOOR_OPEN: [null, 'The vehicle was unable to perform your request because a door is open.',
    'Your vehicle was unable to lock. Please ensure that all doors and the trunk are fully closed.'],
  FULLY_CHARGED: [null, 'The vehicle is fully charged.', 'Your vehicle is already fully charged.'],
  NOT_CHARGING: [null, 'The vehicle is not currently charging.', 'Your vehicle is not charging.'],
  CHARGE_FAULT: [null, 'The vehicle reported a charging fault.', 'Your vehicle reported a charging problem.'],
  HOOD_OPEN: [null, 'The vehicle was unable to perform your request because the hood is open.',
    'Your vehicle was unable to lock. Please ensure that the hood is fully closed.'],
  IGNITION_ON: [null, 'The vehicle was unable to perform your request because the ignition is on.',
    'Your vehicle is unable to perform this request while the ignition is on.'],
  IN_MOTION: [null, 'The vehicle is currently in motion and unable to perform your request.',
    'Your vehicle is unable to perform the request while in motion.'],
  REMOTE_ACCESS_DISABLED: [null, 'Remote access is disabled for this vehicle.', 'Please enable remote access in your vehicle.'],
  TRUNK_OPEN: [null, 'The vehicle was unable to perform your request because the trunk is open.',
    'Your vehicle was unable to lock. Please ensure that the trunk is fully closed.'],
  UNREACHABLE: [null, 'The vehicle was unable to perform your request because it is currently unreachable.',
    'Your vehicle is currently unreachable. Ensure the vehicle has adequate mobile coverage.'],
  VEHICLE_OFFLINE_FOR_SERVICE: [null, 'The vehicle is offline for service.', 'Your vehicle is offline for service.'],
  UNKNOWN: ['RETRY_LATER', 'The vehicle was unable to perform your request for an unknown reason.',
    'Your vehicle was unable to perform this request. Please try again later.'],
  LOW_BATTERY: ['RETRY_LATER', 'The vehicle battery is too low to perform your request.',
    'Your vehicle battery is too low for this request.'],
};
for (const [code, [resolution, description, message]] of Object.entries(VEHICLE_STATE)) {
  CATALOG[`VEHICLE_STATE:${code}`] = entry(409, resolution, description, message);
}

/** True for every documented `type`/`code` pair. */
export function isKnownError(type: string, code: string | null): boolean {
  return `${type}:${code ?? 'null'}` in CATALOG;
}

export function statusOf(type: string, code: string | null): number | undefined {
  return CATALOG[`${type}:${code ?? 'null'}`]?.status;
}

const slug = (s: string): string => s.toLowerCase().replace(/_/g, '-');

/** Fills a (possibly partial) spec from the catalogue: `apiError({type:'VEHICLE_STATE', code:'ASLEEP'})`. */
export function errorSpec(type: string, code: string | null, overrides: Partial<ErrorSpec> = {}): ErrorSpec {
  const known = CATALOG[`${type}:${code ?? 'null'}`];
  const status = overrides.status ?? known?.status;
  if (status === undefined) {
    throw new Error(`unknown Smartcar error ${type}:${String(code)} needs an explicit status`);
  }
  return {
    ...overrides,
    type,
    code,
    status,
    description: overrides.description ?? known?.description ?? `${type} error.`,
    suggestedUserMessage: overrides.suggestedUserMessage ?? known?.suggestedUserMessage ?? '',
    resolution: overrides.resolution !== undefined ? overrides.resolution : (known?.resolution ?? null),
  };
}

export function errorBody(spec: ErrorSpec, requestId: string): ErrorBody {
  const resolution = typeof spec.resolution === 'object' && spec.resolution !== null
    ? spec.resolution
    : { type: spec.resolution ?? null };
  const body: ErrorBody = {
    type: spec.type,
    code: spec.code,
    description: spec.description ?? `${spec.type} error.`,
    docURL: `https://smartcar.com/docs/errors/api-errors/${slug(spec.type)}-errors#${spec.code === null ? 'null' : slug(spec.code)}`,
    statusCode: spec.status,
    requestId,
    resolution,
    suggestedUserMessage: spec.suggestedUserMessage ?? '',
  };
  if (spec.detail) {
    body.detail = spec.detail;
  }
  return body;
}

/** Thrown inside route handlers; the server turns it into the §5.1 response. */
export class ApiError extends Error {
  constructor(readonly spec: ErrorSpec) {
    super(`${spec.type}:${String(spec.code)}`);
    this.name = 'ApiError';
  }
}

export const apiError = (type: string, code: string | null, overrides: Partial<ErrorSpec> = {}): ApiError =>
  new ApiError(errorSpec(type, code, overrides));
