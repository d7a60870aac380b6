// Who may change state through a setup page opened to the network: whoever typed this install's setup
// code (shown in the Homebridge log, kept owner-only in the storage folder). Bound to loopback the page
// needs no code: only this machine reaches it. Opened wider, every visitor is asked once per browser,
// including one that looks local (a reverse proxy on this machine makes every visitor look local).
// Wrong codes are rate-limited across all clients: 8 digits cannot be guessed at 10 tries per window.
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { writeOwnerOnly } from '../owner-only-file.js';

export const OWNER_COOKIE = 'smartcar_owner';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 100;
/** Wrong codes allowed per window, from every client together; then none is tried until it ends. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 15 * 60 * 1000;

/** "1234-5678": 8 random digits, easy to read aloud and type on a phone. */
export function newSetupCode(): string {
  const digits = String(randomInt(0, 100_000_000)).padStart(8, '0');
  return `${digits.slice(0, 4)}-${digits.slice(4)}`;
}

const CODE = /^\d{4}-\d{4}$/;

/** This install's setup code: read from its file, or made and written there owner-only (atomic). */
export async function loadSetupCode(file: string): Promise<string> {
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (CODE.test(stored)) {
      return stored;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw err;
    }
  }
  const code = newSetupCode();
  await mkdir(dirname(file), { recursive: true });
  await writeOwnerOnly(file, `${code}\n`);
  return code;
}

const normalize = (typed: string): string => typed.replace(/[\s-]/g, '');

export type UnlockAnswer = 'ok' | 'wrong' | 'locked-out';

export class OwnerGate {
  private readonly sessions = new Map<string, number>();
  private failures: number[] = [];

  /** code undefined: the page is on loopback and every visitor is the owner. */
  constructor(private readonly code: string | undefined, private readonly now: () => number = Date.now) {}

  get required(): boolean {
    return this.code !== undefined;
  }

  /** Whether the request carries a session made by typing the code (or none is needed). */
  allows(cookieHeader: string | undefined): boolean {
    if (this.code === undefined) {
      return true;
    }
    const token = cookieOf(cookieHeader, OWNER_COOKIE);
    const until = token === undefined ? undefined : this.sessions.get(token);
    if (until === undefined || until < this.now()) {
      if (token !== undefined) {
        this.sessions.delete(token);
      }
      return false;
    }
    return true;
  }

  /** Checks a typed code; on success returns the session token for the cookie. */
  unlock(typed: string | undefined): { answer: UnlockAnswer; token?: string } {
    if (this.code === undefined) {
      return { answer: 'ok' };
    }
    const now = this.now();
    this.failures = this.failures.filter((at) => now - at < FAILURE_WINDOW_MS);
    if (this.failures.length >= MAX_FAILURES) {
      return { answer: 'locked-out' };
    }
    const given = Buffer.from(normalize(typed ?? '').slice(0, 32));
    const wanted = Buffer.from(normalize(this.code));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      this.failures.push(now);
      return { answer: this.failures.length >= MAX_FAILURES ? 'locked-out' : 'wrong' };
    }
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, now + SESSION_TTL_MS);
    // Oldest first: a flood of logins evicts old sessions instead of growing memory.
    while (this.sessions.size > MAX_SESSIONS) {
      this.sessions.delete(this.sessions.keys().next().value!);
    }
    return { answer: 'ok', token };
  }

  /** The Set-Cookie value for a session: never readable by scripts, never sent by other sites. */
  static cookie(token: string): string {
    return `${OWNER_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
  }
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      return v.join('=');
    }
  }
  return undefined;
}
