// What Smartcar has billed each car this month, and the plug and charge habits the refresh policy has
// learned of it, kept apart from the accessory: Smartcar bills per vehicle and month whatever happens to
// the accessory, so a car disconnected (or removed from Homebridge's cache) and connected again in the
// same month must not start counting from zero. Kept with node-persist under <storage>/smartcar-ledger,
// one small file per car; read whole at start, written when a car leaves and when Homebridge stops.
import type { Logging } from 'homebridge';
import storage from 'node-persist';

import type { Usage } from '../vehicle/budget.js';
import type { RefreshHistory } from '../vehicle/policy.js';

export interface LedgerEntry {
  usage?: Usage;
  history?: RefreshHistory;
}

interface Stored extends LedgerEntry {
  vehicleId: string;
}

export class VehicleLedger {
  private store: storage.LocalStorage | undefined;
  private readonly entries = new Map<string, LedgerEntry>();

  constructor(private readonly dir: string, private readonly log: Logging) {}

  /** Opens the store and reads every entry; a store that cannot be opened leaves the ledger in memory only. */
  async open(): Promise<void> {
    try {
      // No write queue (a write must be on disk when it resolves) and no expiry timers; a damaged file
      // reads as empty rather than stopping the start.
      const store = storage.create({ dir: this.dir, writeQueue: false, expiredInterval: 0, forgiveParseErrors: true, ttl: false });
      await store.init();
      for (const value of await store.values() as unknown[]) {
        if (isStored(value)) {
          this.entries.set(value.vehicleId, { ...(value.usage ? { usage: value.usage } : {}), ...(value.history ? { history: value.history } : {}) });
        }
      }
      this.store = store;
    } catch (err) {
      this.log.warn(`The request ledger in ${this.dir} cannot be used (${err instanceof Error ? err.message : String(err)}): a car connected again this month starts its count from zero`);
    }
  }

  recall(vehicleId: string): LedgerEntry | undefined {
    return this.entries.get(vehicleId);
  }

  /** Remembers the car's count and habits, on disk before it resolves (never rejects: a failure is logged). */
  async keep(vehicleId: string, entry: LedgerEntry): Promise<void> {
    this.entries.set(vehicleId, entry);
    try {
      await this.store?.setItem(vehicleId, { vehicleId, ...entry } satisfies Stored);
    } catch (err) {
      this.log.warn(`Could not save the request count of a car to ${this.dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function isStored(value: unknown): value is Stored {
  const v = value as Partial<Stored> | undefined;
  return typeof v?.vehicleId === 'string'
    && (v.usage === undefined || (typeof v.usage?.month === 'string' && typeof v.usage.requests === 'number'))
    && (v.history === undefined || Array.isArray(v.history?.events));
}
