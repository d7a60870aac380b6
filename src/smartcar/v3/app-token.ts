// The v3 application token (smartcar-v3.md §2.2): one client-credentials token for every user, valid
// an hour, no refresh token. Cached, renewed before it expires with one request in flight, and dropped
// when Smartcar refuses it. The sources disagree on how the credentials travel (form body, JSON body,
// Basic header): each is tried in turn until one is accepted, and that one is kept.
import { applicationRefused, TransientError, type SmartcarProblem } from '../errors.js';
import { exchangeAny, problemForStatus, type HttpBounds } from './http.js';

export interface AppTokenOptions extends HttpBounds {
  iamOrigin: string;
  clientId: string;
  clientSecret: string;
  /** Renew this long before expiry, so no request races it. */
  marginMs: number;
  now: () => number;
}

type Encoding = 'form' | 'basic' | 'json';
const ENCODINGS: readonly Encoding[] = ['form', 'basic', 'json'];

export class AppToken {
  private token: { value: string; expiresAt: number } | undefined;
  private inflight: Promise<string> | undefined;
  private preferred: Encoding = 'form';

  constructor(private readonly options: AppTokenOptions) {}

  /** A token valid for at least the margin. */
  get(): Promise<string> {
    const t = this.token;
    if (t !== undefined && t.expiresAt - this.options.marginMs > this.options.now()) {
      return Promise.resolve(t.value);
    }
    this.inflight ??= this.fetchToken().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** Smartcar refused `value` (401): the next get() fetches a new one, unless someone already did. */
  invalidate(value: string): void {
    if (this.token?.value === value) {
      this.token = undefined;
    }
  }

  private async fetchToken(): Promise<string> {
    const order = [this.preferred, ...ENCODINGS.filter((e) => e !== this.preferred)];
    let refused: SmartcarProblem | undefined;
    for (const encoding of order) {
      try {
        const value = await this.request(encoding);
        this.preferred = encoding;
        return value;
      } catch (err) {
        const problem = err as SmartcarProblem;
        // Only a refusal of the credentials' form is worth another form; anything else is the answer.
        if (problem.kind !== 'configuration') {
          throw problem;
        }
        refused ??= problem;
      }
    }
    throw refused!;
  }

  private async request(encoding: Encoding): Promise<string> {
    const { clientId, clientSecret } = this.options;
    const headers: Record<string, string> = {};
    let body: string;
    if (encoding === 'json') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (encoding === 'form') {
        form.set('client_id', clientId);
        form.set('client_secret', clientSecret);
      } else {
        headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
      }
      body = form.toString();
    }
    const operation = 'Getting the Smartcar application token';
    const answer = await exchangeAny({ method: 'POST', url: `${this.options.iamOrigin}/oauth2/token`, headers, body }, { operation }, this.options);
    if (answer.status === 400 || answer.status === 401) {
      // OAuth-style refusal ({error: 'invalid_client' | 'invalid_request'}): the credentials, or their
      // form, were not accepted. Its description is dropped: nothing of a credentials exchange is logged.
      const error = (answer.body as { error?: unknown } | undefined)?.error;
      throw applicationRefused(`${operation}: Smartcar refused the API client ID and secret (${typeof error === 'string' ? error.slice(0, 40) : `HTTP ${answer.status}`}); `
        + 'copy clientId (client_…) and clientSecret from the API Credentials tab of the Smartcar Dashboard');
    }
    if (answer.status < 200 || answer.status >= 300) {
      throw problemForStatus(answer.status, answer.headers, answer.body, { operation });
    }
    const b = answer.body as { access_token?: unknown; expires_in?: unknown } | undefined;
    const expiresIn = Number(b?.expires_in ?? 3600);
    if (typeof b?.access_token !== 'string' || b.access_token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new TransientError(`${operation}: Smartcar's answer could not be read (no access_token in it)`);
    }
    this.token = { value: b.access_token, expiresAt: this.options.now() + expiresIn * 1000 };
    return b.access_token;
  }
}
