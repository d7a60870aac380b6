// The monthly request budget as the owner hears of it: the log says "used up" once per vehicle and
// month, and "renewed" once when refreshes resume; the setup page note and HomeKit's fault flag follow
// the budget on every check.
import type { Logging } from 'homebridge';

import { commandReserve } from '../vehicle/budget.js';
import type { VehicleAccessory } from '../vehicle/accessory.js';

export class BudgetNotes {
  /** Vehicles told this month that the budget is used up. */
  private readonly told = new Set<string>();

  constructor(private readonly log: Logging) {}

  /** Polls can no longer afford a read: flag the car, and say so once. */
  exhausted(v: VehicleAccessory): void {
    const resumes = new Date(v.budget.resetsAt()).toISOString().slice(0, 10);
    const reserve = commandReserve(v.budget.limit);
    v.setBudgetExhausted(`This month's request budget is used up (${v.budget.used()} of ${v.budget.limit}, ${reserve} kept for lock and charging commands): HomeKit shows the last values until refreshes resume on ${resumes}`);
    if (!this.told.has(v.id)) {
      this.told.add(v.id);
      this.log.warn(`${v.name}: the monthly request budget is used up (${v.budget.used()} of ${v.budget.limit} requests); HomeKit keeps the last values, flagged, and refreshes resume on ${resumes}`);
    }
  }

  /** A read is affordable again: clear the flag, and say so if the owner was told it was used up. */
  renewed(v: VehicleAccessory): void {
    if (this.told.delete(v.id)) {
      this.log.info(`${v.name}: a new month, a new request budget: refreshing again`);
    }
    v.setBudgetExhausted(undefined);
  }
}
