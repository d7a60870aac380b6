// Reading Smartcar Connect's answer (`?code=…&user_id=…&state=…` or `?error=…`), whether it arrives at the
// callback or is pasted by an owner whose browser could not reach the redirect URI, and the words
// we tell the owner for each Connect error (smartcar-api.md §2.2).

export type ConnectAnswer =
  /** v2 needs the code, v3 the user id; Smartcar may send either or both (smartcar-v3.md §7.5). */
  | { kind: 'code'; code: string | undefined; userId: string | undefined; state: string | undefined }
  | { kind: 'error'; error: string; state: string | undefined; description: string; extra: string }
  | { kind: 'malformed'; reason: string };

// Smartcar codes are UUIDs; anything wildly longer is not an answer from Connect.
const MAX_CODE_LENGTH = 512;
const MAX_TEXT_LENGTH = 500;

export function readConnectAnswer(params: URLSearchParams): ConnectAnswer {
  const fields: Record<string, string | undefined> = {};
  for (const name of ['code', 'user_id', 'state', 'error', 'error_description', 'make', 'model', 'year', 'error_message', 'status_code']) {
    const all = params.getAll(name);
    if (all.length > 1) {
      return { kind: 'malformed', reason: `"${name}" appears more than once` };
    }
    fields[name] = all[0];
  }
  const { code, state, error } = fields;
  if (error !== undefined && error !== '') {
    const vehicle = [fields.year, fields.make, fields.model].filter((s) => s !== undefined && s !== '').join(' ');
    const upstream = [fields.status_code, fields.error_message].filter((s) => s !== undefined && s !== '').join(' ');
    return {
      kind: 'error',
      error: clip(error, 64),
      state,
      description: clip(fields.error_description ?? '', MAX_TEXT_LENGTH),
      extra: clip(error === 'vehicle_incompatible' ? vehicle : upstream, MAX_TEXT_LENGTH),
    };
  }
  const userId = fields.user_id === '' ? undefined : fields.user_id;
  if ((code === undefined || code === '') && userId === undefined) {
    return { kind: 'malformed', reason: 'there is no "code", "user_id" or "error" in it' };
  }
  if ((code?.length ?? 0) > MAX_CODE_LENGTH || (userId?.length ?? 0) > MAX_CODE_LENGTH) {
    return { kind: 'malformed', reason: `its "${(code?.length ?? 0) > MAX_CODE_LENGTH ? 'code' : 'user_id'}" is far too long` };
  }
  return { kind: 'code', code: code === '' ? undefined : code, userId, state };
}

/**
 * The owner pastes the address of the page that failed to load; accept the whole URL, or just its
 * query string, with or without the leading `?`.
 */
export function parsePastedAddress(text: string): URLSearchParams | undefined {
  const trimmed = text.trim();
  if (trimmed === '') {
    return undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    try {
      return new URL(trimmed).searchParams;
    } catch {
      return undefined;
    }
  }
  const queryStart = trimmed.indexOf('?');
  return new URLSearchParams(queryStart >= 0 ? trimmed.slice(queryStart + 1) : trimmed);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export interface ConnectErrorExplanation {
  heading: string;
  paragraphs: string[];
  /** Worth offering "Try again" right away (as opposed to fixing something first). */
  retry: boolean;
}

export function explainConnectError(error: string, extra: string, redirectUri: string): ConnectErrorExplanation {
  switch (error) {
    case 'access_denied':
      return {
        heading: 'Nothing was connected',
        paragraphs: ['You chose not to allow access on Smartcar\'s page, so Homebridge did not connect any vehicle.',
          'To connect a vehicle, start again and choose Allow.'],
        retry: true,
      };
    case 'no_vehicles':
      return {
        heading: 'No vehicles in that account',
        paragraphs: ['Smartcar found no vehicles in the carmaker account you signed in with.',
          'Add the vehicle to that account in the carmaker\'s app (or sign in with the account that has it), then connect again.'],
        retry: true,
      };
    case 'invalid_subscription':
      return {
        heading: 'Connected services are not active',
        paragraphs: ['The carmaker says the vehicle\'s connected-services subscription is not active.',
          'Activate it in the carmaker\'s app or with your dealer, then connect again.'],
        retry: false,
      };
    case 'vehicle_incompatible':
      return {
        heading: 'This vehicle cannot be connected',
        paragraphs: [`Smartcar does not support ${extra !== '' ? `this ${extra}` : 'this vehicle'}, or not with the permissions this plugin needs.`,
          'Smartcar lists the supported vehicles at smartcar.com/product/compatible-vehicles.'],
        retry: false,
      };
    case 'configuration_error':
      return {
        heading: 'The Smartcar application settings need fixing',
        paragraphs: ['Smartcar refused the request because of how the Smartcar application is set up.',
          `Check in the Smartcar Dashboard that ${redirectUri} is listed exactly as a redirect URI, and that the plugin's clientId is the application's Client ID.`],
        retry: false,
      };
    case 'server_error':
      return {
        heading: 'Smartcar had a problem',
        paragraphs: ['Smartcar ran into an unexpected error. Nothing was connected.', 'Wait a minute and try again.'],
        retry: true,
      };
    case 'oem_cancelled_login':
      return {
        heading: 'Sign-in with the carmaker was not finished',
        paragraphs: ['The sign-in with your carmaker was cancelled or did not complete, so nothing was connected.',
          'Start again and finish signing in with the carmaker.'],
        retry: true,
      };
    default:
      return {
        heading: 'Smartcar could not connect a vehicle',
        paragraphs: [`Smartcar answered with the error "${error}". Nothing was connected.`, 'Try again; if it keeps happening, check the Homebridge log.'],
        retry: true,
      };
  }
}
