// One-time random tokens with an expiry, in a bounded in-memory store: the OAuth `state` of each
// Connect round trip and the CSRF token of each rendered page. Spam can only evict old tokens,
// never grow memory.
import { randomBytes } from 'node:crypto';

export interface TokenStoreOptions {
  ttlMs: number;
  maxEntries: number;
  /** Tokens stay valid after use (CSRF: a page may post twice) or are spent by their first use (OAuth state). */
  singleUse: boolean;
  now?: () => number;
}

const TOKEN_BYTES = 32;
// A base64url encoding of 32 bytes; anything else is not ours and is refused before a lookup.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export class TokenStore {
  // Map keeps insertion order, so the first key is always the oldest token.
  private readonly expiries = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: TokenStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.expiries.size;
  }

  issue(): string {
    this.prune();
    while (this.expiries.size >= this.options.maxEntries) {
      const oldest = this.expiries.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.expiries.delete(oldest);
    }
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.expiries.set(token, this.now() + this.options.ttlMs);
    return token;
  }

  /** True when the token was issued here and has not expired (nor, for single-use stores, been used). */
  redeem(token: unknown): boolean {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) {
      return false;
    }
    const expiresAt = this.expiries.get(token);
    if (expiresAt === undefined) {
      return false;
    }
    if (this.options.singleUse || expiresAt <= this.now()) {
      this.expiries.delete(token);
    }
    return expiresAt > this.now();
  }

  private prune(): void {
    // Every token gets the same lifetime, so insertion order is expiry order: stop at the first live one.
    const now = this.now();
    for (const [token, expiresAt] of this.expiries) {
      if (expiresAt > now) {
        break;
      }
      this.expiries.delete(token);
    }
  }
}
