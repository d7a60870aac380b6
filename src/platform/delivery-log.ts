// Which webhook events were already applied, kept across restarts: Smartcar delivers at least once and
// retries with the same eventId (smartcar-api.md §6.1), so a retry that arrives after a restart must
// still be recognised. node-persist under <storage>/smartcar-webhooks; a write in flight coalesces the
// ones asked meanwhile, so a burst of deliveries costs a few writes, not one each.
import type { Logging } from 'homebridge';
import storage from 'node-persist';

/** Smartcar's retries span under three minutes; two days of ids cover a Homebridge that was down a while. */
const KEEP_MS = 48 * 60 * 60 * 1000;
/** A flood cannot grow the file without bound: the oldest ids go first. */
const MAX_IDS = 20_000;
const KEY = 'seen';

export class DeliveryLog {
  private store: storage.LocalStorage | undefined;
  private readonly seen = new Map<string, number>();
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(private readonly dir: string, private readonly log: Logging, private readonly now: () => number) {}

  async open(): Promise<void> {
    try {
      const store = storage.create({ dir: this.dir, writeQueue: false, expiredInterval: 0, forgiveParseErrors: true, ttl: false });
      await store.init();
      const stored = await store.getItem(KEY) as unknown;
      if (typeof stored === 'object' && stored !== null) {
        for (const [id, at] of Object.entries(stored as Record<string, unknown>)) {
          if (typeof at === 'number') {
            this.seen.set(id, at);
          }
        }
      }
      this.store = store;
    } catch (err) {
      this.log.warn(`The webhook delivery log in ${this.dir} cannot be used (${err instanceof Error ? err.message : String(err)}): a retried delivery after a restart is applied again (harmless: older values never replace newer ones)`);
    }
  }

  /** True the first time an event id is seen (and remembers it); false for a repeat. */
  first(eventId: string): boolean {
    if (this.seen.has(eventId)) {
      return false;
    }
    const now = this.now();
    this.seen.set(eventId, now);
    for (const [id, at] of this.seen) {
      if (this.seen.size <= MAX_IDS && now - at <= KEEP_MS) {
        break; // insertion order: the rest are newer
      }
      this.seen.delete(id);
    }
    this.save();
    return true;
  }

  /** Resolves when what was remembered so far is on disk (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) {
      await this.writing;
    }
  }

  private save(): void {
    if (this.store === undefined) {
      return;
    }
    if (this.writing !== undefined) {
      this.dirty = true;
      return;
    }
    const store = this.store;
    this.writing = (async () => {
      do {
        this.dirty = false;
        try {
          await store.setItem(KEY, Object.fromEntries(this.seen));
        } catch (err) {
          this.log.debug(`Saving the webhook delivery log failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      } while (this.dirty);
    })().finally(() => { this.writing = undefined; });
  }
}
