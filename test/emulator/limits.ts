// Per-vehicle limits of reference §8, one set per car for v2 and v3 alike: a sliding-window throttle
// (429 RATE_LIMIT/VEHICLE with a retry-after in seconds) and a per-calendar-month billed-request cap
// (430 BILLING/VEHICLE_REQUEST_LIMIT).
import type { EmulatorClock } from './clock.js';

export interface ThrottleOptions { limit: number; windowMs: number }

export class VehicleLimits {
  private readonly admitted = new Map<string, number[]>();
  private readonly billed = new Map<string, number>();

  constructor(
    private readonly clock: EmulatorClock,
    public throttle: ThrottleOptions | null,
    public monthlyRequestLimit: number | null,
  ) {}

  /** Records a request that reached the vehicle; returns retry-after seconds when it must be refused. */
  admit(vehicleId: string): number | null {
    if (!this.throttle) {
      return null;
    }
    const now = this.clock.now();
    const recent = (this.admitted.get(vehicleId) ?? []).filter((t) => t > now - this.throttle!.windowMs);
    if (recent.length >= this.throttle.limit) {
      this.admitted.set(vehicleId, recent);
      const oldest = recent[0]!;
      return Math.max(1, Math.ceil((oldest + this.throttle.windowMs - now) / 1000));
    }
    recent.push(now);
    this.admitted.set(vehicleId, recent);
    return null;
  }

  overMonthlyCap(vehicleId: string): boolean {
    return this.monthlyRequestLimit !== null && this.billedCount(vehicleId) >= this.monthlyRequestLimit;
  }

  bill(vehicleId: string): void {
    const key = `${vehicleId}|${this.clock.monthKey()}`;
    this.billed.set(key, (this.billed.get(key) ?? 0) + 1);
  }

  billedCount(vehicleId: string): number {
    return this.billed.get(`${vehicleId}|${this.clock.monthKey()}`) ?? 0;
  }
}
