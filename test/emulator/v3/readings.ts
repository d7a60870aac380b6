// The v3 behaviours that smartcar-v3.md leaves UNCONFIRMED or contradictory (its §7), each one a
// runtime switch: the emulator implements every reading and the conformance suite runs them all,
// so a client proven here does not depend on one guess. Defaults are the documented reading.

export interface V3Readings {
  /** Which IAM token request encodings are accepted (ref §2.2, §7.3). 'any' accepts all three. */
  tokenBody: 'any' | 'form' | 'json' | 'basic';
  /** Connect redirect contents (ref §2.4, §7.5): user_id always, external_id when given. */
  redirect: 'code-and-user-id' | 'user-id-only';
  /** Where /signals answers from (ref §3.3, §7.7). */
  signalStore: 'live' | 'daily' | 'empty-until-subscribed';
  /** meta {page,pageSize,totalCount} + links.previous, or meta {pageNumber,pageSize,totalCount} + links.prev (ref §3.3, §7.8). */
  signalsPaging: 'page' | 'page-brackets';
  /** Signal meta retrievedAt/oemUpdatedAt encoding (ref §4, §7.11). */
  timestamps: 'ms' | 's' | 'iso';
  /** Single signal: the bare resource (docs example) or {data: resource} (JSON:API) (ref §3.3, §7.10). */
  singleSignalEnvelope: 'bare' | 'data';
  /** 'kilometers' (REST docs) vs 'km' (real payloads) (ref §4, §7.12). */
  units: 'long' | 'short';
  /** internalcombustionengine-fuellevel as 0–100 with unit (docs) or 0–1 without unit (WB fixture) (ref §4, §7.12). */
  fuelLevel: 'percent' | 'fraction';
  /** A signals list page bills 1, or 1 per SUCCESS signal in it (ref §6, §7.19). */
  billing: 'per-request' | 'per-signal';
  /** sc-user-id of another user (ref §2.3, §7.6). */
  wrongUser: 'permission-403' | 'not-found-404';
  /** A refused command: JSON:API errors[] with the error's HTTP status, or 200 command-execution FAILURE plus errors[] (ref §3.4, §7.15). */
  commandFailure: 'errors' | 'status-failure';
  /** application/json (spec) vs application/vnd.api+json (JSON:API) (ref §3, §7.21). */
  contentType: 'json' | 'jsonapi';
  /** A signal whose permission was not granted: listed as ERROR {PERMISSION, null}, or left out (ref §4). */
  ungrantedSignals: 'error' | 'omit';
  // ---- beyond the plugin's contract: further §7 contradictions ----------------------------------
  /** Paging and self links: base-relative '/vehicles/…' (signals docs example) or absolute 'https://…/v3/…' (connection example) (ref §3.1, §3.3). */
  links: 'relative' | 'absolute';
  /** closure-doors body key: `values` (real payloads, docs prose) or `doors` (spec example) (ref §4, §7.13). */
  doorsKey: 'values' | 'doors';
  /** Connect's application parameter: `client_id` only (docs, live 400) or also `application_id` (HA-comm template) (ref §2.4, §7.4). */
  connectParam: 'client_id' | 'either';
  /**
   * A list read while the car is asleep/unreachable: the whole request fails as in v2 (409 VEHICLE_STATE), or
   * 200 with each car-sourced signal ERROR {VEHICLE_STATE, code} keeping the last retrieved body (HEL) (ref §3.3, §4).
   */
  offlineRead: 'request-error' | 'cached-signal-errors';
  // ---- webhooks 4.0 deliveries (smartcar-api.md §6.2, v3 ref §6) -----------------------------------
  /**
   * VEHICLE_STATE triggers: `data.triggers[]` of bare signal refs {code,name,group}, with the top-level
   * `vehicleId` of the same docs example ('data'), or top-level `triggers[]` of {type:'SIGNAL_UPDATED',
   * signal:{name,code,group}} and no top-level vehicleId, as in the real Jaguar payload ('top-level').
   */
  webhookTriggers: 'data' | 'top-level';
  /** VEHICLE_ERROR `errors[].signals`: objects {code,name,group} (docs) or dotted 'Group.Name' strings (WB fixture) (v3 ref §6). */
  webhookErrorSignals: 'objects' | 'dotted';
  /** `meta.deliveredAt`: epoch ms (VEHICLE_STATE docs example, real payload) or ISO 8601 (VERIFY docs example). */
  webhookDeliveredAt: 'ms' | 'iso';
}

export const READING_VALUES: { readonly [K in keyof V3Readings]: readonly V3Readings[K][] } = {
  tokenBody: ['any', 'form', 'json', 'basic'],
  redirect: ['code-and-user-id', 'user-id-only'],
  signalStore: ['live', 'daily', 'empty-until-subscribed'],
  signalsPaging: ['page', 'page-brackets'],
  timestamps: ['ms', 's', 'iso'],
  singleSignalEnvelope: ['bare', 'data'],
  units: ['long', 'short'],
  fuelLevel: ['percent', 'fraction'],
  billing: ['per-request', 'per-signal'],
  wrongUser: ['permission-403', 'not-found-404'],
  commandFailure: ['errors', 'status-failure'],
  contentType: ['json', 'jsonapi'],
  ungrantedSignals: ['error', 'omit'],
  links: ['relative', 'absolute'],
  doorsKey: ['values', 'doors'],
  connectParam: ['client_id', 'either'],
  offlineRead: ['request-error', 'cached-signal-errors'],
  webhookTriggers: ['data', 'top-level'],
  webhookErrorSignals: ['objects', 'dotted'],
  webhookDeliveredAt: ['ms', 'iso'],
};

export const DEFAULT_READINGS: Readonly<V3Readings> = {
  tokenBody: 'any',
  redirect: 'code-and-user-id',
  signalStore: 'live',
  signalsPaging: 'page',
  timestamps: 'ms',
  singleSignalEnvelope: 'bare',
  units: 'long',
  fuelLevel: 'percent',
  billing: 'per-request',
  wrongUser: 'permission-403',
  commandFailure: 'errors',
  contentType: 'json',
  ungrantedSignals: 'error',
  links: 'relative',
  doorsKey: 'values',
  connectParam: 'client_id',
  offlineRead: 'request-error',
  webhookTriggers: 'data',
  webhookErrorSignals: 'objects',
  webhookDeliveredAt: 'ms',
};

/** Every combination's name → values, for suites that loop over all readings. */
export const READING_NAMES = Object.keys(READING_VALUES) as (keyof V3Readings)[];

/** Checks a partial readings object (start options, PATCH /_emulator/options); throws naming the bad key or value. */
export function checkReadings(patch: unknown): Partial<V3Readings> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new Error('readings must be an object');
  }
  for (const [key, value] of Object.entries(patch)) {
    const allowed = (READING_VALUES as Record<string, readonly string[] | undefined>)[key];
    if (!allowed) {
      throw new Error(`unknown reading ${key} (known: ${READING_NAMES.join(', ')})`);
    }
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new Error(`reading ${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    }
  }
  return patch;
}
