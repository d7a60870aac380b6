// One file written so a crash or power cut leaves either the old content or the new, never a torn
// one, and readable by the owner only: a unique temp file (O_EXCL, 0600, chmod past the umask),
// fsync, then rename over the target. Tokens, the admin secret and the setup code all need this.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

export async function writeOwnerOnly(file: string, text: string): Promise<void> {
  // Unique even for two writes in one millisecond (and across processes sharing the folder).
  const temp = `${file}.${process.pid}.${Date.now()}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    // The mode given to open() is masked by the umask only downwards; chmod makes it exact.
    await handle.chmod(0o600);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
