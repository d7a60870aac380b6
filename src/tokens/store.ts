// Token files, one per Smartcar user, under <storage>/smartcar/. The only code touching them.
// Writes are atomic (temp file 0600, fsync, rename, fsync of the directory) because a rotated refresh
// token lost to a torn write locks the owner out; the folder is 0700 and files 0600.
import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { writeOwnerOnly } from '../owner-only-file.js';
import type { TokenSet } from '../smartcar/types.js';

export interface StoredTokens extends TokenSet {
  userId: string;
  /** Epoch ms of the write. */
  updatedAt: number;
}

const FILE_PREFIX = 'tokens-';
const FILE_SUFFIX = '.json';
// Smartcar user ids are UUIDs; anything else must not become part of a path.
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export class TokenFileStore {
  readonly dir: string;
  /** Saves of one user, one after the other: two in flight would race their renames. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(storagePath: string) {
    this.dir = join(storagePath, 'smartcar');
  }

  /** The user a token file of this store belongs to, from its name (undefined for other files). */
  userOf(file: string): string | undefined {
    const name = basename(file);
    const id = name.startsWith(FILE_PREFIX) && name.endsWith(FILE_SUFFIX) ? name.slice(FILE_PREFIX.length, -FILE_SUFFIX.length) : '';
    return USER_ID.test(id) ? id : undefined;
  }

  fileFor(userId: string): string {
    if (!USER_ID.test(userId)) {
      throw new Error(`Refusing to store tokens for an unexpected user id ${JSON.stringify(userId.slice(0, 40))}`);
    }
    return join(this.dir, `${FILE_PREFIX}${userId}${FILE_SUFFIX}`);
  }

  /** Every readable token file; unreadable ones are reported through onError and skipped. */
  async loadAll(onError: (file: string, err: unknown) => void): Promise<StoredTokens[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw err;
    }
    const result: StoredTokens[] = [];
    for (const name of names.sort()) {
      if (!name.startsWith(FILE_PREFIX) || !name.endsWith(FILE_SUFFIX)) {
        continue;
      }
      const file = join(this.dir, name);
      try {
        result.push(parse(await readFile(file, 'utf8')));
      } catch (err) {
        onError(file, err);
      }
    }
    return result;
  }

  /** Writes the user's file; saves of the same user land on disk in the order they were asked. */
  save(tokens: StoredTokens): Promise<void> {
    const previous = this.writes.get(tokens.userId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.write(tokens));
    const tail = next.catch(() => undefined);
    this.writes.set(tokens.userId, tail);
    void tail.then(() => {
      if (this.writes.get(tokens.userId) === tail) {
        this.writes.delete(tokens.userId);
      }
    });
    return next;
  }

  private async write(tokens: StoredTokens): Promise<void> {
    const file = this.fileFor(tokens.userId);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is ignored for an existing folder (and masked by umask): enforce it.
    await chmod(this.dir, 0o700);
    await writeOwnerOnly(file, `${JSON.stringify(tokens, null, 2)}\n`);
    await syncDir(this.dir);
  }

  async remove(userId: string): Promise<void> {
    // After any save still on its way: it must not bring the file back.
    await this.writes.get(userId);
    await rm(this.fileFor(userId), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }
}

function parse(text: string): StoredTokens {
  const v = JSON.parse(text) as Partial<StoredTokens>;
  if (typeof v.userId !== 'string' || typeof v.accessToken !== 'string' || typeof v.refreshToken !== 'string'
    || typeof v.expiresAt !== 'number' || typeof v.refreshExpiresAt !== 'number') {
    throw new Error('not a token file of this plugin');
  }
  return { userId: v.userId, accessToken: v.accessToken, refreshToken: v.refreshToken, expiresAt: v.expiresAt,
    refreshExpiresAt: v.refreshExpiresAt, updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : 0 };
}

/** Makes the rename itself durable (the directory entry), not only the file content. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
