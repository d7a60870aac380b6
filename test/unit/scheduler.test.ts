// The refresh scheduler with real timers at millisecond scale: no overlap, spread start times,
// retry-after and backoff, fresh cached data not refreshed at once, and nothing left after abort.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RefreshScheduler, type RefreshOutcome, type RefreshReason } from '../../src/vehicle/scheduler.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function make(refresh: (id: string, reason: RefreshReason) => Promise<RefreshOutcome>, over: Partial<ConstructorParameters<typeof RefreshScheduler>[0]> = {}) {
  const abort = new AbortController();
  const scheduler = new RefreshScheduler({
    signal: abort.signal, refresh, onError: (_id, err) => assert.fail(String(err)),
    spreadMs: 40, startupDelayMs: 0, backoffInitialMs: 30, confirmDelayMs: 10, ...over,
  });
  return { scheduler, abort };
}

describe('RefreshScheduler', () => {
  it('never overlaps: the next refresh is planned only when the last one finished', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const { scheduler, abort } = make(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(50);
      running--;
      runs++;
      return { kind: 'ok' };
    });
    scheduler.upsert('a', 5);
    scheduler.upsert('b', 5);
    await sleep(400);
    abort.abort();
    assert.equal(maxRunning, 1);
    assert.ok(runs >= 3, `ran ${runs} times`);
  });

  it('spreads vehicles that would start together', async () => {
    const starts: Record<string, number> = {};
    const { scheduler, abort } = make((id) => {
      starts[id] ??= Date.now();
      return Promise.resolve({ kind: 'ok' });
    }, { spreadMs: 150 });
    scheduler.upsert('a', 60_000);
    scheduler.upsert('b', 60_000);
    await sleep(300);
    abort.abort();
    assert.ok(Math.abs(starts.b! - starts.a!) >= 140, `started ${Math.abs(starts.b! - starts.a!)} ms apart`);
  });

  it('honours retry-after, then returns to the interval', async () => {
    const at: number[] = [];
    const { scheduler, abort } = make(() => {
      at.push(Date.now());
      return Promise.resolve(at.length === 1 ? { kind: 'retry-after', seconds: 0.3 } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    await sleep(450);
    abort.abort();
    assert.equal(at.length, 2);
    assert.ok(at[1]! - at[0]! >= 290, `retried after ${at[1]! - at[0]!} ms`);
    assert.ok(scheduler.nextAt('a')! > Date.now() + 50_000);
  });

  it('backs off exponentially on transient failures, capped by the interval', async () => {
    const at: number[] = [];
    const { scheduler, abort } = make(() => {
      at.push(Date.now());
      return Promise.resolve({ kind: 'transient' });
    }, { backoffInitialMs: 40 });
    scheduler.upsert('a', 200);
    await sleep(900);
    abort.abort();
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    assert.ok(gaps[0]! >= 35 && gaps[0]! < 80, `gaps ${gaps.join(', ')}`);
    assert.ok(gaps[1]! >= 75, `gaps ${gaps.join(', ')}`);
    assert.ok(gaps[2]! >= 155, `gaps ${gaps.join(', ')}`);
    assert.ok(gaps.every((g) => g < 260), `capped at the interval: ${gaps.join(', ')}`);
  });

  it('fresh cached data is not refreshed at once', async () => {
    let runs = 0;
    const { scheduler, abort } = make(() => {
      runs++;
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, Date.now() - 1000);
    await sleep(100);
    assert.equal(runs, 0);
    assert.ok(scheduler.nextAt('a')! >= Date.now() + 58_000);
    abort.abort();
  });

  it('a stopped vehicle (re-authorize) is not polled again until refreshNow', async () => {
    let runs = 0;
    const { scheduler, abort } = make(() => {
      runs++;
      return Promise.resolve(runs === 1 ? { kind: 'stop' } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    await sleep(150);
    assert.equal(runs, 1);
    assert.equal(scheduler.nextAt('a'), undefined);
    scheduler.refreshNow('a');
    await sleep(50);
    assert.equal(runs, 2);
    abort.abort();
  });

  it('a confirming read comes right after a command, without moving the poll', async () => {
    const reasons: RefreshReason[] = [];
    const { scheduler, abort } = make((_id, reason) => {
      reasons.push(reason);
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, Date.now());
    const poll = scheduler.nextAt('a');
    scheduler.confirm('a');
    await sleep(60);
    abort.abort();
    assert.deepEqual(reasons, ['confirm']);
    assert.equal(scheduler.nextAt('a'), poll);
  });

  it('a confirming read that fails is retried soon by a poll, not left until the next plan', async () => {
    const reasons: RefreshReason[] = [];
    const { scheduler, abort } = make((_id, reason) => {
      reasons.push(reason);
      return Promise.resolve(reason === 'confirm' ? { kind: 'transient' } : { kind: 'ok' });
    });
    scheduler.upsert('a', 60_000, Date.now());
    scheduler.confirm('a');
    await sleep(120);
    abort.abort();
    assert.deepEqual(reasons, ['confirm', 'poll'], 'the failed confirm brought the poll forward (backoff 30 ms)');
  });

  it('abort stops everything and leaves no timer behind', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    let runs = 0;
    const { scheduler, abort } = make(() => {
      runs++;
      return Promise.resolve({ kind: 'ok' });
    });
    scheduler.upsert('a', 60_000);
    scheduler.upsert('b', 60_000);
    await sleep(10);
    assert.ok(timers() > before);
    abort.abort();
    assert.equal(timers(), before);
    const ran = runs;
    scheduler.refreshNow();
    await sleep(50);
    assert.equal(runs, ran, 'nothing runs after abort');
  });
});
