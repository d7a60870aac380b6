// Virtual time for a simulated month: the platform's clock is the emulator's clock, and the
// scheduler's timers are held here and fired in order while the clock jumps to each one. Only the
// scheduler's timer is virtual; requests still go over real HTTP to the emulator.
import type { TimerSource } from '../../src/vehicle/scheduler.js';
import { clock } from '../../src/platform.js';
import type { SmartcarEmulator } from '../emulator/index.js';

interface Pending {
  at: number;
  fn: () => void;
}

export class VirtualTime implements TimerSource {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly emu: SmartcarEmulator) {}

  /** Point the platform at this clock and these timers; call before starting the platform. */
  install(): () => void {
    const saved = { ...clock };
    clock.now = () => this.emu.clock.now();
    clock.timers = this;
    return () => Object.assign(clock, saved);
  }

  now(): number {
    return this.emu.clock.now();
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now() + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Epoch ms of the earliest pending timer. */
  nextAt(): number | undefined {
    let at: number | undefined;
    for (const p of this.pending.values()) {
      at = at === undefined ? p.at : Math.min(at, p.at);
    }
    return at;
  }

  /**
   * Fires every timer due up to `until`, in order, moving the emulator clock to each, and waits for the
   * scheduler to finish its work (it re-arms when done). `before(t)` runs before the clock reaches t.
   * Returns the number of timers fired.
   */
  async runUntil(until: number, before?: (t: number) => void | Promise<void>): Promise<number> {
    let fired = 0;
    for (;;) {
      let next: [number, Pending] | undefined;
      for (const entry of this.pending) {
        if (next === undefined || entry[1].at < next[1].at) {
          next = entry;
        }
      }
      if (next === undefined || next[1].at > until) {
        break;
      }
      await before?.(next[1].at);
      if (next[1].at > this.now()) {
        this.emu.clock.set(next[1].at);
      }
      this.pending.delete(next[0]);
      next[1].fn();
      fired++;
      await this.settle();
    }
    await before?.(until);
    if (until > this.now()) {
      this.emu.clock.set(until);
    }
    return fired;
  }

  /** Waits (real time) until the scheduler has re-armed, i.e. its refresh finished. */
  async settle(timeoutMs = 3000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.pending.size === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}
