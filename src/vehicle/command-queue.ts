// One kind of car command (lock/unlock, start/stop charging) as HomeKit sees it: the owner's wish is
// held as the target at once, commands go out one at a time in the order asked (sent together, a later
// one could reach the car first), and only the last wish is sent when the owner changed their mind
// before it left. What the car did or refused comes back through the hooks; nothing here knows HomeKit.
import type { Logging } from 'homebridge';

import type { SmartcarProblem } from '../smartcar/errors.js';
import { describeForOwner, nextStep } from './owner-words.js';

export interface CommandHooks<T> {
  /** "lock", "start charging": the failure line reads "Could not <verb>: …". */
  verb(wish: T): string;
  /** Sends it; rejects with the SmartcarProblem Smartcar or the car answered. */
  send(wish: T): Promise<void>;
  /** The car did it (even if the owner has asked for something else since). */
  carriedOut(wish: T): void;
  /** It was refused and no newer wish waits: `message` is the owner's line, already logged. */
  refused(problem: SmartcarProblem, message: string): void;
}

export class CommandQueue<T> {
  private seq = 0;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private changes = 0;
  private wish: T | undefined;
  private failure: string | undefined;

  constructor(private readonly name: () => string, private readonly log: Logging, private readonly hooks: CommandHooks<T>) {}

  /** What the owner asked while it is queued or out; undefined once it settled. */
  get target(): T | undefined {
    return this.wish;
  }

  /** The owner's line for the last command that failed, until a read or a command settles it. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** A command is queued or on its way: a read's state may predate it, and the target stays. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Counts commands the car carried out: a read sent before one of them may predate it. */
  get epoch(): number {
    return this.changes;
  }

  /** Returns at once: the outcome arrives through the hooks. */
  request(wish: T): void {
    const seq = ++this.seq;
    this.wish = wish;
    this.pending++;
    this.queue = this.queue
      .then(() => this.run(wish, seq))
      .catch((err: unknown) => this.log.error(`${this.name()}: the command to ${this.hooks.verb(wish)} failed unexpectedly: ${String(err)}`))
      .finally(() => { this.pending--; });
  }

  /** A read brought the car's state: the target is what the car is, and an old failure is over. */
  settled(): void {
    if (!this.busy) {
      this.failure = undefined;
      this.wish = undefined;
    }
  }

  /** Connect again: what failed belongs to the old authorization. */
  clearFailure(): void {
    this.failure = undefined;
  }

  private async run(wish: T, seq: number): Promise<void> {
    if (seq !== this.seq) {
      return; // the owner asked again before this one was sent: only the last wish goes to the car
    }
    try {
      await this.hooks.send(wish);
    } catch (err) {
      if (seq !== this.seq) {
        return; // a newer command is queued; it settles the target
      }
      const problem = err as SmartcarProblem;
      this.failure = `Could not ${this.hooks.verb(wish)}: ${describeForOwner(problem)}${problem.kind === 'reauthorize' ? '' : `; ${nextStep(problem, 'command')}`}`;
      this.log.warn(`${this.name()}: ${this.failure}`);
      // Back to what the car is known to be (earlier commands have settled: the queue is in order).
      this.wish = undefined;
      this.hooks.refused(problem, this.failure);
      return;
    }
    this.changes++;
    if (seq === this.seq) {
      this.failure = undefined;
    }
    this.hooks.carriedOut(wish);
  }
}
