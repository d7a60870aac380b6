// The platform's one refresh scheduler: a single timer armed for the earliest due vehicle; the next
// refresh of a vehicle is planned only when its last one finished; due times are spread apart;
// retry-after is honoured and transient failures back off. Aborting the signal stops everything.
// After a successful poll the next one comes from `nextDelayMs` (the refresh policy) when given. The
// same timer wakes for values that change by time alone (data turning stale), so they are pushed then.

export type RefreshReason = 'poll' | 'confirm';

export type RefreshOutcome =
  | { kind: 'ok' }
  | { kind: 'retry-after'; seconds: number | undefined }
  | { kind: 'transient' }
  /** Not sent (the request budget is spent): try again at `at` (epoch ms). */
  | { kind: 'defer'; at: number }
  /** Nothing to gain from retrying (re-authorization needed): stop until told otherwise. */
  | { kind: 'stop' };

/** The timer functions the scheduler uses; a simulation (the bench, budget tests) passes virtual ones. */
export interface TimerSource {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SchedulerOptions {
  signal: AbortSignal;
  refresh: (vehicleId: string, reason: RefreshReason) => Promise<RefreshOutcome>;
  /** Called for errors the refresh function let escape (it should not); the loop carries on. */
  onError: (vehicleId: string, err: unknown) => void;
  spreadMs: number;
  startupDelayMs: number;
  backoffInitialMs: number;
  confirmDelayMs: number;
  now?: () => number;
  timers?: TimerSource;
  /** Delay until the next poll after a successful one; defaults to the vehicle's interval. */
  nextDelayMs?: (vehicleId: string) => number;
  /** Epoch ms after now at which the vehicle's HomeKit values next change by time alone, if ever. */
  changesAt?: (vehicleId: string) => number | undefined;
  /** That moment has come: push what changed. */
  timePassed?: (vehicleId: string) => void;
}

interface Entry {
  intervalMs: number;
  /** Epoch ms of the next poll; undefined = stopped. */
  due: number | undefined;
  confirmAt: number | undefined;
  /** Not before this (retry-after). */
  blockedUntil: number;
  failures: number;
  /** The moment changesAt gave when the timer was last armed (time alone changes a value then). */
  changeAt?: number;
}

// setTimeout cannot wait longer than 2^31-1 ms; longer plans re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class RefreshScheduler {
  private readonly entries = new Map<string, Entry>();
  private timer: unknown;
  private running = false;
  private readonly now: () => number;
  private readonly timers: TimerSource;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    options.signal.addEventListener('abort', () => this.disarm(), { once: true });
  }

  /**
   * Adds or updates a vehicle. With `lastRefreshAt` (cached data) the first refresh waits for the
   * interval to run out, so a restart with fresh data does not call Smartcar at once.
   */
  upsert(vehicleId: string, intervalMs: number, lastRefreshAt?: number): void {
    const existing = this.entries.get(vehicleId);
    if (existing) {
      existing.intervalMs = intervalMs;
      if (existing.due === undefined) {
        existing.due = this.spread(this.now() + this.options.startupDelayMs, vehicleId);
      }
    } else {
      const now = this.now();
      const planned = lastRefreshAt !== undefined ? lastRefreshAt + intervalMs : 0;
      const due = this.spread(Math.max(planned, now + this.options.startupDelayMs), vehicleId);
      this.entries.set(vehicleId, { intervalMs, due, confirmAt: undefined, blockedUntil: 0, failures: 0 });
    }
    this.arm();
  }

  remove(vehicleId: string): void {
    this.entries.delete(vehicleId);
    this.arm();
  }

  has(vehicleId: string): boolean {
    return this.entries.has(vehicleId);
  }

  nextAt(vehicleId: string): number | undefined {
    const e = this.entries.get(vehicleId);
    return e?.due;
  }

  /** As soon as the budget allows (never before a retry-after); restarts a stopped vehicle. */
  refreshNow(vehicleId?: string): void {
    const now = this.now();
    for (const [id, e] of this.entries) {
      if (vehicleId === undefined || id === vehicleId) {
        e.due = Math.max(now, e.blockedUntil);
        e.failures = 0;
      }
    }
    this.arm();
  }

  /** A confirming read shortly after a command, or `delayMs` after it (never before a retry-after). */
  confirm(vehicleId: string, delayMs = this.options.confirmDelayMs): void {
    const e = this.entries.get(vehicleId);
    if (e) {
      e.confirmAt = Math.max(this.now() + delayMs, e.blockedUntil);
      this.arm();
    }
  }

  /** The next poll is `delayMs` from now, not when planned before (never before a retry-after). */
  postpone(vehicleId: string, delayMs: number): void {
    const e = this.entries.get(vehicleId);
    if (e && !this.running) {
      e.due = Math.max(this.now() + delayMs, e.blockedUntil);
      this.arm();
    }
  }

  /** What time alone changes moved for this vehicle (a command succeeded): ask it again. */
  changed(vehicleId: string): void {
    if (this.entries.has(vehicleId)) {
      this.arm();
    }
  }

  private spread(at: number, self: string): number {
    let t = at;
    // Each pass moves t past one neighbour; the number of vehicles bounds the passes.
    for (let i = 0; i <= this.entries.size; i++) {
      const clash = [...this.entries].find(([id, e]) => id !== self && e.due !== undefined && Math.abs(e.due - t) < this.options.spreadMs);
      if (!clash) {
        break;
      }
      t = clash[1].due! + this.options.spreadMs;
    }
    return t;
  }

  private nextWake(): number | undefined {
    let next: number | undefined;
    for (const e of this.entries.values()) {
      for (const t of [e.due, e.confirmAt, e.changeAt]) {
        if (t !== undefined && (next === undefined || t < next)) {
          next = t;
        }
      }
    }
    return next;
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
    }
    this.timer = undefined;
  }

  /**
   * Pushes the changes whose moment has come (even late: the timer waits while a refresh runs), then
   * asks each vehicle for its next one.
   */
  private passTime(): void {
    const now = this.now();
    for (const [id, e] of this.entries) {
      if (e.changeAt !== undefined && e.changeAt <= now) {
        e.changeAt = undefined;
        try {
          this.options.timePassed?.(id);
        } catch (err) {
          this.options.onError(id, err);
        }
      }
      const at = this.options.changesAt?.(id);
      e.changeAt = at !== undefined && at > now ? at : undefined;
    }
  }

  private arm(): void {
    this.disarm();
    if (this.options.signal.aborted || this.running) {
      return;
    }
    this.passTime();
    const next = this.nextWake();
    if (next === undefined) {
      return;
    }
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.now()));
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delay);
  }

  private async tick(): Promise<void> {
    this.running = true;
    try {
      // Due work runs one at a time; new work that becomes due meanwhile is picked up by the loop.
      for (;;) {
        if (this.options.signal.aborted) {
          return;
        }
        const job = this.nextDue();
        if (job === undefined) {
          break;
        }
        await this.run(job.id, job.reason);
      }
    } finally {
      this.running = false;
      this.arm();
    }
  }

  private nextDue(): { id: string; reason: RefreshReason } | undefined {
    const now = this.now();
    let best: { id: string; reason: RefreshReason; at: number } | undefined;
    for (const [id, e] of this.entries) {
      if (e.confirmAt !== undefined && e.confirmAt <= now && (best === undefined || e.confirmAt < best.at)) {
        best = { id, reason: 'confirm', at: e.confirmAt };
      }
      if (e.due !== undefined && e.due <= now && (best === undefined || e.due < best.at)) {
        best = { id, reason: 'poll', at: e.due };
      }
    }
    return best;
  }

  private async run(id: string, reason: RefreshReason): Promise<void> {
    const e = this.entries.get(id);
    if (!e) {
      return;
    }
    if (reason === 'confirm') {
      e.confirmAt = undefined;
    } else {
      e.due = undefined; // planned again only when this one finished
    }
    let outcome: RefreshOutcome;
    try {
      outcome = await this.options.refresh(id, reason);
    } catch (err) {
      this.options.onError(id, err);
      outcome = { kind: 'transient' };
    }
    if (this.entries.get(id) !== e || this.options.signal.aborted) {
      return; // removed while it ran
    }
    const now = this.now();
    switch (outcome.kind) {
      case 'ok':
        e.failures = 0;
        if (reason === 'poll') {
          e.due = this.spread(now + (this.options.nextDelayMs?.(id) ?? e.intervalMs), id);
        }
        break;
      case 'defer':
        if (reason === 'poll' || e.due === undefined) {
          e.due = this.spread(Math.max(now, outcome.at), id);
        }
        break;
      case 'retry-after': {
        e.failures++;
        const wait = outcome.seconds !== undefined ? outcome.seconds * 1000 : this.backoff(e);
        e.blockedUntil = now + wait;
        if (reason === 'poll' || e.due === undefined || e.due < e.blockedUntil) {
          e.due = this.spread(now + wait, id);
        }
        break;
      }
      case 'transient':
        e.failures++;
        if (reason === 'poll') {
          e.due = this.spread(now + this.backoff(e), id);
        } else if (e.due !== undefined) {
          // A failed confirming read leaves HomeKit unsure of the lock: retry soon, not at the next plan.
          e.due = Math.min(e.due, this.spread(now + this.backoff(e), id));
        }
        break;
      case 'stop':
        e.due = undefined;
        e.confirmAt = undefined;
        break;
    }
  }

  private backoff(e: Entry): number {
    return Math.min(e.intervalMs, this.options.backoffInitialMs * 2 ** Math.max(0, e.failures - 1));
  }
}
