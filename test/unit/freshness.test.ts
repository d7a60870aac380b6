// Judging what Smartcar serves from the ages it reports: fetched for us, a stored daily copy, or
// nothing. Each row is a read (our time, Smartcar's fetch time, empty) after a previous judgement.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { describeFreshness, judgeFreshness, STORE_REFRESH_MS, type Freshness, type ReadAges } from '../../src/vehicle/freshness.js';

const H = 3_600_000;
const T = Date.UTC(2026, 11, 1, 12, 0, 0);

describe('judgeFreshness', () => {
  const rows: [string, ReadAges, Freshness | undefined, Freshness][] = [
    ['v2 says nothing: live', { at: T }, undefined, { source: 'live' }],
    ['fetched seconds ago: live', { at: T, servedAt: T - 5_000 }, undefined, { source: 'live', servedAt: T - 5_000 }],
    ['fetched 3 h before our read: stored, next look a day after that fetch plus a margin',
      { at: T, servedAt: T - 3 * H }, undefined, { source: 'stored', servedAt: T - 3 * H, usefulAfter: T - 3 * H + STORE_REFRESH_MS + H }],
    ['the same fetch time as last read, even if recent: stored',
      { at: T, servedAt: T - 10 * 60_000 }, { source: 'live', servedAt: T - 10 * 60_000 }, { source: 'stored', servedAt: T - 10 * 60_000, usefulAfter: T - 10 * 60_000 + STORE_REFRESH_MS + H }],
    ['a newer fetch than last time, recent: live again', { at: T, servedAt: T - 1_000 }, { source: 'stored', servedAt: T - 30 * H }, { source: 'live', servedAt: T - 1_000 }],
    ['a stored copy older than a day: look again in an hour, not in a loop', { at: T, servedAt: T - 30 * H }, undefined, { source: 'stored', servedAt: T - 30 * H, usefulAfter: T + H }],
    ['nothing served: empty, look once a day', { at: T, empty: true }, { source: 'live' }, { source: 'empty', usefulAfter: T + STORE_REFRESH_MS }],
  ];
  for (const [label, read, previous, expected] of rows) {
    it(label, () => assert.deepEqual(judgeFreshness(read, previous), expected));
  }
});

describe('describeFreshness', () => {
  const time = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
  it('says nothing while live', () => {
    assert.equal(describeFreshness({ source: 'live' }, time), undefined);
    assert.equal(describeFreshness(undefined, time), undefined);
  });
  it('names the last refresh and the next useful read for a stored copy', () => {
    const text = describeFreshness({ source: 'stored', servedAt: T - 3 * H, usefulAfter: T + 22 * H }, time)!;
    assert.match(text, /about once a day \(last at 09:00\)/);
    assert.match(text, /only after 10:00/);
    assert.match(text, /webhook subscription/);
  });
  it('says there is no data yet, and why', () => {
    assert.match(describeFreshness({ source: 'empty' }, time)!, /no data for this car yet/);
  });
});
