// Every command (lock, unlock, start or stop charging from HomeKit; the charge limit from the setup page
// and the Homebridge UI) passes here before it reaches
// Smartcar: nothing is sent for a car that was removed meanwhile or whose budget is spent, the request
// is counted, and the answer comes back as the problem kinds the accessory shows (re-authorization is
// told once, by the backend).
import { mapSmartcarError, TransientError } from '../smartcar/errors.js';
import type { SmartcarBackend } from '../smartcar/types.js';
import type { VehicleAccessory } from '../vehicle/accessory.js';

export interface CommandGateDeps {
  backend: () => SmartcarBackend;
  now: () => number;
  /** Whether this accessory is still the one serving its car (not removed, not replaced). */
  isCurrent: (v: VehicleAccessory) => boolean;
  /** The next poll reads every signal, whatever was planned before the command. */
  readEverythingNext: (vehicleId: string) => void;
  /** Saves the car's accessory (and with it this month's count) in Homebridge's cache. */
  persist: (v: VehicleAccessory) => void;
}

export class CommandGate {
  constructor(private readonly deps: CommandGateDeps) {}

  setLock(v: VehicleAccessory, locked: boolean): Promise<void> {
    return this.send(v, locked ? 'Locking' : 'Unlocking', (b) => b.setLock(v.userId, v.id, locked));
  }

  setCharging(v: VehicleAccessory, charging: boolean): Promise<void> {
    return this.send(v, charging ? 'Starting charging' : 'Stopping charging', (b) => b.setCharging(v.userId, v.id, charging));
  }

  setChargeLimit(v: VehicleAccessory, percent: number): Promise<void> {
    return this.send(v, 'Setting the charge limit', (b) => b.setChargeLimit(v.userId, v.id, percent));
  }

  private async send(v: VehicleAccessory, operation: string, command: (backend: SmartcarBackend) => Promise<void>): Promise<void> {
    if (!this.deps.isCurrent(v)) {
      // Removed (disconnected, no longer shared) while HomeKit still had it: send nothing for it.
      throw new TransientError(`${v.name} is no longer connected to this plugin`);
    }
    if (!v.budget.canSpend(1, 'command')) {
      throw new TransientError(`this month's request budget (${v.budget.limit}) is used up; it renews on ${new Date(v.budget.resetsAt()).toISOString().slice(0, 10)}`);
    }
    v.countCommand(this.deps.now());
    // Billed from here on: saved now, not at a read that a command-only lock never gets.
    this.deps.persist(v);
    this.deps.readEverythingNext(v.id);
    try {
      await command(this.deps.backend());
    } catch (err) {
      const problem = mapSmartcarError(err, { operation });
      if (problem.kind === 'reauthorize') {
        this.deps.backend().requireReauthorization(v.userId, problem.message, { quiet: true });
      }
      throw problem;
    }
  }
}
