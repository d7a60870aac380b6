// Where the Homebridge UI's server process finds the running platform's admin endpoint: one small file,
// <storage>/smartcar-admin.json = {port, secret}, owner-only and written atomically, new at every start.
import { randomBytes } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { writeOwnerOnly } from '../owner-only-file.js';

export const ADMIN_FILE = 'smartcar-admin.json';
const SECRET_BYTES = 32;

export interface AdminCredentials {
  port: number;
  /** 64 hex characters; the bearer token of every admin request. */
  secret: string;
}

export function adminFile(storagePath: string): string {
  return join(storagePath, ADMIN_FILE);
}

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('hex');
}

/** Temp file (created 0600, never wider), fsync, rename: a reader sees the old file or the new one, never half. */
export async function writeCredentials(storagePath: string, credentials: AdminCredentials): Promise<void> {
  const file = adminFile(storagePath);
  await writeOwnerOnly(file, `${JSON.stringify(credentials)}\n`);
}

/** On shutdown: removed only while it is still ours (a newer start may already have replaced it). */
export async function removeCredentials(storagePath: string, secret: string): Promise<void> {
  const file = adminFile(storagePath);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return;
  }
  let ours = false;
  try {
    ours = (JSON.parse(text) as Partial<AdminCredentials>).secret === secret;
  } catch {
    // Not ours to judge: leave it.
  }
  if (ours) {
    await unlink(file).catch(() => undefined);
  }
}
