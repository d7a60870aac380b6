// What Smartcar bills for a read, per API. Known before the backend is loaded: the platform plans
// and judges staleness from it while restoring cached cars, before any request is made.
import type { ApiVersion } from '../config.js';
import type { SmartcarProblem } from './errors.js';
import type { Signal } from './types.js';

export interface Billing {
  /**
   * What reading these signals costs in billed requests, or what a read that failed with `failure`
   * was billed (nothing when Smartcar refused it before it reached the car).
   */
  readCost(signals: readonly Signal[], failure?: SmartcarProblem): number;
}

/** Refused before reaching the car: Smartcar bills nothing for these (smartcar-api.md §8). */
const UNBILLED: readonly SmartcarProblem['kind'][] = ['reauthorize', 'unauthorized', 'permission', 'rate-limited', 'configuration'];

export function billingFor(api: ApiVersion): Billing {
  return {
    readCost(signals, failure) {
      if (signals.length === 0 || (failure !== undefined && UNBILLED.includes(failure.kind))) {
        return 0;
      }
      // v2: every path of a batch is billed, also when the car answered it with an error. v3: one
      // signals read, whatever it holds — the likeliest of the billing readings (smartcar-v3.md §6, §7.19).
      return api === 'v2' ? signals.length : 1;
    },
  };
}
