// The refresh scheduler on a virtual clock: no overlap, spread start times, retry-after and backoff,
// fresh cached data not refreshed at once, and nothing left after abort. Time moves only when a test
// advances it, so every gap asserted is exact, whatever else the machine is doing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RefreshScheduler, type RefreshOutcome, type RefreshReason, type TimerSource } from '../../src/vehicle/scheduler.js';

/** Timers fired in order as the clock is advanced; the refresh promises they start settle between them. */
class FakeTime implements TimerSource {
  t = 1_800_000_000_000;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get armed(): number {
    return this.pending.size;
  }

  /** Moves the clock by ms, firing each timer at its moment and letting what it started run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = [...this.pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) {
        break;
      }
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets promise chains started by a timer (the refresh and what follows it) run to their next wait. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

function make(refresh: (id: string, reason: RefreshReason) => Promise<RefreshOutcome>, over: Partial<ConstructorParameters<typeof RefreshScheduler>[0]> = {}) {
  const abort = new AbortController();
  const time = new FakeTime();
  const scheduler = new RefreshScheduler({
    signal: abort.signal, refresh, onError: (_id, err) => assert.fail(String(err)),
    spreadMs: 40, startupDelayMs: 0, backoffInitialMs: 30, confirmDelayMs: 10, now: time.now, timers: time, ...over,
  });
  return { scheduler, abort, time };
}

/** A refresh that takes `ms` of virtual time. */
const taking = (time: FakeTime, ms: number): Promise<void> => new Promise((r) => time.setTimeout(r, ms));

describe('RefreshScheduler', () => {
  it('never overlaps: the next refresh is planned only when the last one finished', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const { scheduler, abort, time } = make(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await taking(time, 50);
      running--;
      runs++;
      return { kind: 'ok' };
    });
    scheduler.upsert('a', 5);
    scheduler.upsert('b', 5);
    await time.advance(400);
    abort.abort();
    assert.equal(maxRunning, 1);
    assert.ok(runs >= 3, `ran ${runs} times`);
  });

  it('spreads vehicles that would start together', async () => {
    const starts: Record<string, number> = {};
    const { scheduler, abort, time } = make((id) => {
      starts[id] ??= time.now();
      return Promise.resolve({ kind: 'ok' });
    }, { spreadMs: 150 });
    scheduler.upsert('a', 60_000);
    scheduler.upsert('b', 60_000);
    await time.advance(300);
    abort.abort();
    assert.ok(starts.a !== undefined && starts.b !== undefined, JSON.stringify(starts));
    assert.ok(Math.abs(starts.b - starts.a) >= 150, `started ${Math.abs(starts.b - starts.a)} ms apart`);
  });

  it('honours retry-after, then returns to the interval', async () => {
    const at: number[] = [];
    const { scheduler, abort, time } = make(() => {
      at.push(time.now());
      return Promise.resolve(at.length === 1 ? { kind: 'retry-after', seconds: 0.3 } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    await time.advance(450);
    abort.abort();
    assert.equal(at.length, 2);
    assert.ok(at[1]! - at[0]! >= 300, `retried after ${at[1]! - at[0]!} ms`);
    assert.ok(scheduler.nextAt('a')! >= time.now() + 50_000);
  });

  it('backs off exponentially on transient failures, capped by the interval', async () => {
    const at: number[] = [];
    const { scheduler, abort, time } = make(() => {
      at.push(time.now());
      return Promise.resolve({ kind: 'transient' });
    }, { backoffInitialMs: 40 });
    scheduler.upsert('a', 200);
    await time.advance(1200);
    abort.abort();
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    assert.deepEqual(gaps.slice(0, 3), [40, 80, 160], `gaps ${gaps.join(', ')}`);
    assert.ok(gaps.length >= 5 && gaps.slice(3).every((g) => g === 200), `then capped at the interval: ${gaps.join(', ')}`);
  });

  it('fresh cached data is not refreshed at once', async () => {
    let runs = 0;
    const { scheduler, abort, time } = make(() => {
      runs++;
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, time.now() - 1000);
    await time.advance(100);
    assert.equal(runs, 0);
    assert.equal(scheduler.nextAt('a'), time.now() - 100 - 1000 + 60_000);
    await time.advance(60_000);
    assert.equal(runs, 1, 'read when its interval is up');
    abort.abort();
  });

  it('a stopped vehicle (re-authorize) is not polled again until refreshNow', async () => {
    let runs = 0;
    const { scheduler, abort, time } = make(() => {
      runs++;
      return Promise.resolve(runs === 1 ? { kind: 'stop' } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    await time.advance(3 * 60_000);
    assert.equal(runs, 1);
    assert.equal(scheduler.nextAt('a'), undefined);
    scheduler.refreshNow('a');
    await time.advance(50);
    assert.equal(runs, 2);
    abort.abort();
  });

  it('a confirming read comes right after a command, without moving the poll', async () => {
    const reasons: RefreshReason[] = [];
    const { scheduler, abort, time } = make((_id, reason) => {
      reasons.push(reason);
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, time.now());
    const poll = scheduler.nextAt('a');
    scheduler.confirm('a');
    await time.advance(60);
    abort.abort();
    assert.deepEqual(reasons, ['confirm']);
    assert.equal(scheduler.nextAt('a'), poll);
  });

  it('a confirming read that fails is retried soon by a poll, not left until the next plan', async () => {
    const reasons: RefreshReason[] = [];
    const { scheduler, abort, time } = make((_id, reason) => {
      reasons.push(reason);
      return Promise.resolve(reason === 'confirm' ? { kind: 'transient' } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, time.now());
    scheduler.confirm('a');
    await time.advance(120);
    abort.abort();
    assert.deepEqual(reasons, ['confirm', 'poll'], 'the failed confirm brought the poll forward (backoff 30 ms)');
  });

  it('abort stops everything and leaves no timer behind', async () => {
    let runs = 0;
    const { scheduler, abort, time } = make(() => {
      runs++;
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    scheduler.upsert('b', 60_000);
    await time.advance(10);
    assert.ok(time.armed > 0);
    abort.abort();
    assert.equal(time.armed, 0, 'no timer left');
    const ran = runs;
    scheduler.refreshNow();
    await time.advance(5 * 60_000);
    assert.equal(runs, ran, 'nothing runs after abort');
  });

  it('with real timers (no timer source given) abort leaves no Node timer behind', () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const abort = new AbortController();
    const scheduler = new RefreshScheduler({
      signal: abort.signal, refresh: () => Promise.resolve({ kind: 'ok' }), onError: (_id, err) => assert.fail(String(err)),
      spreadMs: 40, startupDelayMs: 60_000, backoffInitialMs: 30, confirmDelayMs: 10,
    });
    scheduler.upsert('a', 60_000);
    assert.ok(timers() > before);
    abort.abort();
    assert.equal(timers(), before);
  });
});
