// What Smartcar is actually serving for a car, judged from the ages it reports. Without a webhook
// subscription, v3 may refresh a car's data only about once a day, or serve nothing at all until one
// exists (smartcar-v3.md §3.3, §7.7): rereading then costs requests and cannot bring anything newer.
// Pure, so it is table-tested; the refresh plan waits for the next moment a read can be useful.

const HOUR_MS = 3_600_000;
/** Smartcar's refresh of an unsubscribed car's stored data (docs: "about once every 24 h"). */
export const STORE_REFRESH_MS = 24 * HOUR_MS;
/** Smartcar fetched it this long before our read, or earlier: a stored copy, not a fetch for us. */
export const STORED_AFTER_MS = HOUR_MS;
/** Looked at after Smartcar's expected refresh, with a margin for its schedule. */
const AFTER_REFRESH_MARGIN_MS = HOUR_MS;

/** live: Smartcar fetched from the car for our read; stored: a copy of its daily refresh; empty: nothing to serve. */
export type Source = 'live' | 'stored' | 'empty';

export interface Freshness {
  source: Source;
  /** Epoch ms Smartcar last fetched this car's data (stored), when it said. */
  servedAt?: number;
  /** Epoch ms before which another read cannot bring newer data (stored, empty). */
  usefulAfter?: number;
}

export interface ReadAges {
  /** Epoch ms of our read. */
  at: number;
  /** When Smartcar fetched the values it served (v3 retrievedAt); absent when it does not say (v2). */
  servedAt?: number;
  /** Smartcar served no data at all for this car. */
  empty?: boolean;
}

/** What this read says about the source, given what the last one said. */
export function judgeFreshness(read: ReadAges, previous: Freshness | undefined): Freshness {
  if (read.empty === true) {
    // Nothing stored yet: looking once a day is enough to notice when something arrives.
    return { source: 'empty', usefulAfter: read.at + STORE_REFRESH_MS };
  }
  if (read.servedAt === undefined) {
    return { source: 'live' };
  }
  const sameAsBefore = previous?.servedAt !== undefined && previous.servedAt === read.servedAt;
  if (sameAsBefore || read.at - read.servedAt >= STORED_AFTER_MS) {
    // Smartcar did not go to the car for us: its next refresh is due a day after the last one.
    let next = read.servedAt + STORE_REFRESH_MS + AFTER_REFRESH_MARGIN_MS;
    if (next <= read.at) {
      // Overdue: look again in an hour rather than in a tight loop.
      next = read.at + HOUR_MS;
    }
    return { source: 'stored', servedAt: read.servedAt, usefulAfter: next };
  }
  return { source: 'live', servedAt: read.servedAt };
}

/** One sentence for the owner (setup page, log) when the source limits freshness; undefined when live. */
export function describeFreshness(f: Freshness | undefined, formatTime: (epochMs: number) => string): string | undefined {
  switch (f?.source) {
    case 'stored':
      return `Smartcar serves a stored copy of this car's data, refreshed about once a day (last at ${formatTime(f.servedAt!)}); `
        + `without a webhook subscription it cannot be fresher, so the plugin reads it again only after ${formatTime(f.usefulAfter!)}`;
    case 'empty':
      return 'Smartcar has no data for this car yet: without a webhook subscription Smartcar may serve none, so the plugin looks only once a day';
    default:
      return undefined;
  }
}
