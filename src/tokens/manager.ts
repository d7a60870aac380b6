// TokenManager: the valid access token of each Smartcar user. Refreshes shortly before expiry and
// after a 401, with exactly one refresh in flight per user; the rotated refresh token is written to
// disk before the new access token is handed to anyone. Never logs a token.
import { ReauthorizeError, type SmartcarProblem } from '../smartcar/errors.js';
import type { TokenSet } from '../smartcar/types.js';
import type { StoredTokens, TokenFileStore } from './store.js';

export interface TokenManagerOptions {
  store: TokenFileStore;
  /** `onLate`: tokens from a refresh that had already failed by timeout (see SmartcarClient.refreshTokens). */
  refresh: (refreshToken: string, onLate?: (tokens: TokenSet) => void) => Promise<TokenSet>;
  refreshMarginMs: number;
  now?: () => number;
  /** Told once when a user's authorization is gone for good. */
  onReauthorizeNeeded?: (userId: string, reason: string, quiet?: boolean) => void;
}

export class TokenManager {
  private readonly tokens = new Map<string, StoredTokens>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly reauth = new Map<string, string>();
  /** Per user, bumped whenever newer tokens are decided on: an older answer arriving later yields. */
  private readonly generation = new Map<string, number>();
  /** Per user, token writes in the order decided: disk, then memory, so both always hold the same pair. */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly options: TokenManagerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Loads every stored user; returns their ids. */
  async load(onError: (file: string, err: unknown) => void): Promise<string[]> {
    for (const t of await this.options.store.loadAll(onError)) {
      this.tokens.set(t.userId, t);
    }
    return this.users();
  }

  users(): string[] {
    return [...this.tokens.keys()];
  }

  has(userId: string): boolean {
    return this.tokens.has(userId);
  }

  /** Why this user must connect again, or undefined. */
  reauthorizeReason(userId: string): string | undefined {
    return this.reauth.get(userId);
  }

  async add(userId: string, tokens: TokenSet): Promise<void> {
    const stored: StoredTokens = { ...tokens, userId, updatedAt: this.now() };
    this.bump(userId);
    await this.persist(stored, { memoryOnFailure: false });
    this.reauth.delete(userId);
  }

  async remove(userId: string): Promise<void> {
    this.bump(userId);
    await this.writes.get(userId);
    this.tokens.delete(userId);
    this.reauth.delete(userId);
    await this.options.store.remove(userId);
  }

  private generationOf(userId: string): number {
    return this.generation.get(userId) ?? 0;
  }

  private bump(userId: string): number {
    const next = this.generationOf(userId) + 1;
    this.generation.set(userId, next);
    return next;
  }

  /**
   * Queues one write of the user's tokens behind the earlier ones. `memoryOnFailure`: a rotated refresh
   * token is the only live one, so memory keeps it even when the disk fails (the caller sees the error).
   * `stillWanted`: checked when its turn comes; newer tokens decided meanwhile win.
   */
  private persist(stored: StoredTokens, options: { memoryOnFailure: boolean; stillWanted?: () => boolean }): Promise<void> {
    const userId = stored.userId;
    const run = (this.writes.get(userId) ?? Promise.resolve()).then(async () => {
      if (options.stillWanted && !options.stillWanted()) {
        return;
      }
      try {
        await this.options.store.save(stored);
      } catch (err) {
        if (options.memoryOnFailure) {
          this.tokens.set(userId, stored);
        }
        throw err;
      }
      this.tokens.set(userId, stored);
    });
    const settled = run.catch(() => undefined);
    this.writes.set(userId, settled);
    void settled.then(() => {
      if (this.writes.get(userId) === settled) {
        this.writes.delete(userId);
      }
    });
    return run;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(userId: string): Promise<string> {
    const current = this.current(userId);
    if (current.expiresAt - this.options.refreshMarginMs > this.now()) {
      return current.accessToken;
    }
    return this.refreshOnce(userId);
  }

  /** A request was refused with 401 using `rejected`: refresh unless someone already did. */
  async onUnauthorized(userId: string, rejected: string): Promise<string> {
    const current = this.current(userId);
    if (current.accessToken !== rejected) {
      return current.accessToken;
    }
    return this.refreshOnce(userId);
  }

  /** Runs fn with a valid token; one 401 triggers one refresh and one retry, a second one means re-authorize. */
  async withToken<T>(userId: string, fn: (accessToken: string) => Promise<T>): Promise<T> {
    const token = await this.accessToken(userId);
    try {
      return await fn(token);
    } catch (err) {
      if ((err as SmartcarProblem).kind !== 'unauthorized') {
        throw err;
      }
      const fresh = await this.onUnauthorized(userId, token);
      try {
        return await fn(fresh);
      } catch (again) {
        if ((again as SmartcarProblem).kind === 'unauthorized') {
          throw this.markReauth(userId, 'Smartcar refused a freshly refreshed access token');
        }
        throw again;
      }
    }
  }

  private current(userId: string): StoredTokens {
    const reason = this.reauth.get(userId);
    if (reason !== undefined) {
      throw new ReauthorizeError(reason);
    }
    const t = this.tokens.get(userId);
    if (t === undefined) {
      throw new ReauthorizeError(`No Smartcar authorization is stored for user ${userId}; connect the vehicle on the setup page`);
    }
    return t;
  }

  private refreshOnce(userId: string): Promise<string> {
    let pending = this.inflight.get(userId);
    if (pending === undefined) {
      pending = this.doRefresh(userId).finally(() => this.inflight.delete(userId));
      this.inflight.set(userId, pending);
    }
    return pending;
  }

  private async doRefresh(userId: string): Promise<string> {
    const old = this.current(userId);
    const started = this.generationOf(userId);
    let fresh: TokenSet;
    try {
      fresh = await this.options.refresh(old.refreshToken, (late) => void this.adoptLate(userId, started, late));
    } catch (err) {
      // Newer tokens arrived while this refresh was out (a late answer kept, Connect again): this
      // failure is about a refresh token we no longer use.
      const now = this.tokens.get(userId);
      if (now !== undefined && now !== old && !this.reauth.has(userId)) {
        return now.accessToken;
      }
      if ((err as SmartcarProblem).kind === 'reauthorize') {
        throw this.markReauth(userId, (err as Error).message);
      }
      throw err;
    }
    if (this.generationOf(userId) !== started) {
      // Connect again stored newer tokens while this refresh was out: those win.
      return this.current(userId).accessToken;
    }
    const stored: StoredTokens = { ...fresh, userId, updatedAt: this.now() };
    this.bump(userId);
    // The old refresh token is dead from now on: disk first, then callers. If the disk fails, memory
    // still holds the only live refresh token (better than losing it); the caller sees the error.
    await this.persist(stored, { memoryOnFailure: true });
    return stored.accessToken;
  }

  /**
   * A refresh we gave up on (timeout) answered after all. Smartcar has rotated the refresh token, and the
   * one we hold dies a minute later: keep the new pair unless newer tokens are already here.
   */
  private async adoptLate(userId: string, started: number, fresh: TokenSet): Promise<void> {
    if (this.generationOf(userId) !== started || this.reauth.has(userId)) {
      return;
    }
    const stored: StoredTokens = { ...fresh, userId, updatedAt: this.now() };
    const mine = this.bump(userId);
    try {
      await this.persist(stored, { memoryOnFailure: true, stillWanted: () => this.generationOf(userId) === mine });
    } catch {
      // Memory holds the live refresh token; the next refresh writes the file again.
    }
  }

  /** Smartcar said the user's car account must be connected again (AUTHENTICATION_FAILED on a vehicle call). */
  requireReauthorization(userId: string, reason: string, options: { quiet?: boolean } = {}): void {
    if (this.tokens.has(userId)) {
      this.markReauth(userId, reason, options.quiet);
    }
  }

  private markReauth(userId: string, reason: string, quiet = false): ReauthorizeError {
    if (!this.reauth.has(userId)) {
      this.reauth.set(userId, reason);
      this.options.onReauthorizeNeeded?.(userId, reason, quiet);
    }
    return new ReauthorizeError(reason);
  }
}
