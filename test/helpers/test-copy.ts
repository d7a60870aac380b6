// A locked test copy (scripts/<name>/) that scripts/test-copy.sh installs into a cache folder, outside
// node_modules: found when the folder holds that very lock, installed on first use otherwise (when the
// Node it needs is there), or the reason there is none.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const PROJECT_DIR = resolve(import.meta.dirname, '../..');
const SCRIPT = join(PROJECT_DIR, 'scripts/test-copy.sh');

function installed(name: string, dir: string): boolean {
  const stamp = join(dir, '.hbsc-lock.sha256');
  if (!existsSync(stamp) || !existsSync(join(dir, 'node_modules'))) {
    return false;
  }
  const want = createHash('sha256').update(readFileSync(join(PROJECT_DIR, 'scripts', name, 'package-lock.json'))).digest('hex');
  return readFileSync(stamp, 'utf8').trim() === want;
}

/** The folder holding scripts/<name>/'s packages in node_modules, installed now with `node` if need be. */
export function testCopy(name: string, dir: string, node: string): { dir?: string; missing?: string } {
  if (installed(name, dir)) {
    return { dir };
  }
  if (!existsSync(node)) {
    return { missing: `${name} not installed at ${dir}, and no Node at ${node} to install it with (run .ci/run, or scripts/test-copy.sh ${name})` };
  }
  try {
    execFileSync('bash', [SCRIPT, name, dir, node], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    return { missing: `scripts/test-copy.sh could not install ${name} into ${dir}: ${(e as Error).message}` };
  }
  return installed(name, dir) ? { dir } : { missing: `scripts/test-copy.sh left no ${name} at ${dir}` };
}
