// The monthly request budget of one vehicle: counts every billed Smartcar request (each batch item,
// each command, each confirming read) per UTC calendar month, as Smartcar bills them, and answers
// whether a request may be sent. The count lives in the accessory context, so it survives restarts.
import { REQUESTS_RESERVED_FOR_COMMANDS } from '../settings.js';

/** Persisted in the accessory context (`usage`). `month` is 'YYYY-MM' in UTC. */
export interface Usage {
  month: string;
  requests: number;
}

/** Polls are what the schedule spends; commands (and their confirming reads) draw on a reserve. */
export type Spend = 'poll' | 'command';

export function monthOf(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Epoch ms when the billing month after `now` starts (00:00 UTC on the 1st). */
export function nextMonthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Requests kept for commands: 100 of the usual 500, a fifth of smaller budgets. */
export function commandReserve(budget: number): number {
  return Math.min(REQUESTS_RESERVED_FOR_COMMANDS, Math.floor(budget / 5));
}

export class RequestBudget {
  constructor(
    /** Reads and writes the persisted usage (the accessory context). */
    private readonly store: { get(): Usage | undefined; set(u: Usage): void },
    private readonly budget: () => number,
    private readonly now: () => number,
  ) {}

  get limit(): number {
    return this.budget();
  }

  /** Billed requests this month (0 once the month has rolled). */
  used(): number {
    const u = this.store.get();
    return u?.month === monthOf(this.now()) ? u.requests : 0;
  }

  /** What is left for `kind`: polls may not touch the command reserve. */
  left(kind: Spend): number {
    const cap = kind === 'poll' ? this.limit - commandReserve(this.limit) : this.limit;
    return Math.max(0, cap - this.used());
  }

  canSpend(n: number, kind: Spend): boolean {
    return n <= this.left(kind);
  }

  count(n: number): void {
    if (n <= 0) {
      return;
    }
    const month = monthOf(this.now());
    const u = this.store.get();
    this.store.set({ month, requests: (u?.month === month ? u.requests : 0) + n });
  }

  /** When refreshes may resume after the budget ran out. */
  resetsAt(): number {
    return nextMonthStart(this.now());
  }
}
