// The car's timeline on the setup page: built from what its accessory already keeps (history and the
// last snapshot), drawn over the last day with the same moments as text, and kept current by the script.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { timelineOf } from '../../src/platform/setup-adapter.js';
import type { VehicleAccessory } from '../../src/vehicle/accessory.js';

const HOUR_MS = 3_600_000;

describe('timelineOf', () => {
  it('is the history\'s changes, the last full read, the last read, the data and the last command, oldest first', () => {
    const now = 1_800_000_000_000;
    const ctx = {
      snapshot: { fetchedAt: now - HOUR_MS, dataAt: now - 3 * HOUR_MS },
      history: { events: [{ at: now - 5 * HOUR_MS, kind: 'plugged' }, { at: now - 2 * HOUR_MS, kind: 'charged' }], lastFullReadAt: now - 4 * HOUR_MS, lastCommandAt: now - 30 * 60_000 },
    } as unknown as VehicleAccessory['context'];
    assert.deepEqual(timelineOf(ctx), [
      { at: now - 5 * HOUR_MS, kind: 'plugged' },
      { at: now - 4 * HOUR_MS, kind: 'full-read' },
      { at: now - 3 * HOUR_MS, kind: 'data' },
      { at: now - 2 * HOUR_MS, kind: 'charged' },
      { at: now - HOUR_MS, kind: 'read' },
      { at: now - 30 * 60_000, kind: 'command' },
    ]);
  });

  it('names a read once when it was a full one, and is empty for a car never read', () => {
    const ctx = { snapshot: { fetchedAt: 5 }, history: { events: [], lastFullReadAt: 5 } } as unknown as VehicleAccessory['context'];
    assert.deepEqual(timelineOf(ctx), [{ at: 5, kind: 'full-read' }]);
    assert.deepEqual(timelineOf({} as unknown as VehicleAccessory['context']), []);
  });
});
