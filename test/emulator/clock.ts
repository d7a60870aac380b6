// The emulator's clock: real time plus a test-controlled offset, so tokens, codes, data ages and the
// billing month can be moved forward without waiting, while the `npm start` demo still ages naturally.

export class EmulatorClock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`clock.advance needs a non-negative number of ms, got ${String(ms)}`);
    }
    this.offsetMs += ms;
    return this.now();
  }

  set(epochMs: number): number {
    if (!Number.isFinite(epochMs)) {
      throw new RangeError(`clock.set needs epoch ms, got ${String(epochMs)}`);
    }
    this.offsetMs = epochMs - Date.now();
    return this.now();
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Calendar month key (UTC) that billing counts against, e.g. '2025-03'. */
  monthKey(): string {
    return new Date(this.now()).toISOString().slice(0, 7);
  }
}
