// The IAM host (v3 ref §2.2): POST /oauth2/token, grant_type=client_credentials with the API
// Credentials, as a form body, a JSON body or a Basic header plus form grant_type, accepted per
// the `tokenBody` reading. Answers {access_token, token_type, expires_in: 3600} (no refresh token);
// errors are OAuth-shaped. App tokens are opaque and live one hour on the emulator clock.
import { randomBytes } from 'node:crypto';
import type { EmulatorClock } from '../clock.js';
import type { FaultBook } from '../faults.js';
import { isTerminal } from '../faults.js';
import type { Ctx, Reply } from '../http.js';
import { header, json, parseJson, sleep } from '../http.js';
import type { V3Readings } from './readings.js';

export const APP_TOKEN_TTL_S = 3600;

export interface V3Credentials { clientId: string; clientSecret: string }

export class AppTokens {
  private readonly tokens = new Map<string, number>();

  constructor(private readonly clock: EmulatorClock) {}

  issue(): string {
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, this.clock.now() + APP_TOKEN_TTL_S * 1000);
    return token;
  }

  valid(token: string): boolean {
    const expiresAt = this.tokens.get(token);
    return expiresAt !== undefined && expiresAt > this.clock.now();
  }

  expireAll(): void {
    const now = this.clock.now();
    for (const [token, expiresAt] of this.tokens) {
      this.tokens.set(token, Math.min(expiresAt, now));
    }
  }

  /** Every token ever issued: leak tests search captured logs for them. */
  all(): string[] {
    return [...this.tokens.keys()];
  }
}

export interface IamDeps {
  credentials: V3Credentials;
  readings: V3Readings;
  clock: EmulatorClock;
  faults: FaultBook;
  tokens: AppTokens;
}

type Encoding = 'form' | 'json';

const FORM = 'application/x-www-form-urlencoded';

function oauthError(status: number, error: string, description: string): Reply {
  return json(status, { error, error_description: description }, { 'cache-control': 'no-store' });
}

const invalidClient = (): Reply => {
  const r = oauthError(401, 'invalid_client', 'Invalid client credentials.');
  r.headers['www-authenticate'] = 'Basic realm="smartcar"';
  return r;
};

function encodingOf(ctx: Ctx): Encoding | undefined {
  const type = (header(ctx, 'content-type') ?? '').toLowerCase();
  if (type.startsWith(FORM)) {
    return 'form';
  }
  if (type.startsWith('application/json')) {
    return 'json';
  }
  return undefined;
}

/** The body's string fields, or undefined when it does not parse in its declared encoding. */
function fieldsOf(ctx: Ctx, encoding: Encoding): Record<string, string> | undefined {
  if (encoding === 'form') {
    return Object.fromEntries(new URLSearchParams(ctx.body));
  }
  const parsed = parseJson(ctx.body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return undefined;
  }
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function basicCredentials(ctx: Ctx): { id: string; secret: string } | undefined {
  const m = /^Basic (\S+)$/i.exec(header(ctx, 'authorization') ?? '');
  if (!m) {
    return undefined;
  }
  const [id = '', secret = ''] = Buffer.from(m[1]!, 'base64').toString('utf8').split(/:(.*)/s);
  return { id, secret };
}

/** POST /oauth2/token. */
export async function iamToken(ctx: Ctx, deps: IamDeps): Promise<Reply> {
  if (ctx.method !== 'POST') {
    return oauthError(405, 'invalid_request', 'The token endpoint only accepts POST.');
  }
  const reading = deps.readings.tokenBody;
  const encoding = encodingOf(ctx);
  const basic = basicCredentials(ctx);
  // Which body encodings this reading accepts; a Basic header always comes with a form body.
  const accepted: Encoding[] = reading === 'json' ? ['json'] : reading === 'any' && !basic ? ['form', 'json'] : ['form'];
  if (encoding === undefined || !accepted.includes(encoding)) {
    return oauthError(400, 'invalid_request', `Content-Type must be ${accepted.map((e) => (e === 'form' ? FORM : 'application/json')).join(' or ')}.`);
  }
  const fields = fieldsOf(ctx, encoding);
  if (!fields) {
    return oauthError(400, 'invalid_request', 'The request body is not valid JSON.');
  }
  const grant = fields.grant_type;
  if (grant === undefined || grant === '') {
    return oauthError(400, 'invalid_request', 'Missing required parameter: grant_type.');
  }
  const inBody = fields.client_id !== undefined || fields.client_secret !== undefined;
  if (reading === 'any' && basic && inBody) {
    return oauthError(400, 'invalid_request', 'Use only one client authentication method.');
  }
  // Where this reading looks for the credentials: anywhere else they do not count (JLR's 401).
  const useBasic = reading === 'basic' || (reading === 'any' && basic !== undefined);
  const id = useBasic ? basic?.id : fields.client_id;
  const secret = useBasic ? basic?.secret : fields.client_secret;
  if (id !== deps.credentials.clientId || secret !== deps.credentials.clientSecret) {
    return invalidClient();
  }
  let terminal;
  for (const f of deps.faults.take({ kind: 'token', api: 'v3', method: 'POST', path: '/oauth2/token', grant })) {
    if ('delayMs' in f) {
      await sleep(f.delayMs);
    } else if (isTerminal(f)) {
      terminal = f;
    }
  }
  if (terminal && 'error' in terminal) {
    const r = oauthError(terminal.error.status, terminal.error.type, terminal.error.description ?? terminal.error.type);
    if (terminal.error.retryAfter !== undefined) {
      r.headers['retry-after'] = String(terminal.error.retryAfter);
    }
    return r;
  }
  if (terminal) {
    return { status: 200, headers: {}, body: '', fault: 'drop' in terminal ? 'drop' : 'malformed' };
  }
  if (grant !== 'client_credentials') {
    return oauthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant}.`);
  }
  return json(200, { access_token: deps.tokens.issue(), token_type: 'Bearer', expires_in: APP_TOKEN_TTL_S }, { 'cache-control': 'no-store' });
}

/** Anything but /oauth2/token on the IAM host. */
export const iamNotFound = (ctx: Ctx): Reply => oauthError(404, 'not_found', `No such endpoint: ${ctx.method} ${ctx.url.pathname}.`);
