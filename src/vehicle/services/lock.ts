// The LockMechanism: the current state follows the last read (without read_security, our own last
// command while it is fresh); a write queues the command and answers HomeKit at once.
import type { CharacteristicValue } from 'homebridge';

import { HapStatus, lockCurrentState, LockState, LockTarget, lockTargetFor } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureLock(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const service = ensureService(scope, vehicle.plan().lock !== 'none', Service.LockMechanism, 'lock', vehicle.name());
  if (service === undefined) {
    return;
  }
  const commandOnly = (): boolean => vehicle.plan().lock === 'command-only';
  const targetState = service.getCharacteristic(Characteristic.LockTargetState);
  /** The target HomeKit held before the owner's pending wish: where a refused one goes back to. */
  let held: number | undefined;

  const current = (): number => {
    if (commandOnly()) {
      const c = vehicle.context().commanded;
      // Without read_security the only knowledge is our own last command, and only while it is fresh.
      if (c === undefined || vehicle.now() - c.at > vehicle.staleAfterMs()) {
        return LockState.UNKNOWN;
      }
      return lockCurrentState(c.locked);
    }
    return lockCurrentState(vehicle.context().snapshot?.locked);
  };

  const target = (): number => {
    const asked = vehicle.lockTarget();
    if (asked !== undefined) {
      return asked;
    }
    // The last state the car was known to be in (command-only: its last command, even once too old to show).
    const known = commandOnly() ? vehicle.context().commanded?.locked : vehicle.context().snapshot?.locked;
    // Known never: no target is true. SECURED would have the Home app say "Locking…" for a car nobody
    // asked to lock, for good; so keep what HomeKit holds (the target before a refused wish, or the one
    // restored from the cache). That claims nothing new, and a read error instead would show No Response.
    return lockTargetFor(known) ?? held ?? (targetState.value as number);
  };

  const set = (value: CharacteristicValue): void => {
    if (vehicle.plan().lock === 'read-only') {
      vehicle.log.warn(`${vehicle.name()}: cannot lock or unlock: Smartcar permission control_security was not granted; connect the vehicle again to grant it`);
      throw new hap.HapStatusError(HapStatus.INSUFFICIENT_PRIVILEGES);
    }
    if (vehicle.lockTarget() === undefined) {
      held = targetState.value as number; // HAP stores the written value only after this handler
    }
    vehicle.requestLock(value === LockTarget.SECURED);
  };

  bind.value(service, Characteristic.LockCurrentState, current);
  bind.value(service, Characteristic.LockTargetState, target, set);
  // A command-only lock reads nothing, so only re-authorization (or its own failed command) faults it.
  bind.fault(service, () => vehicle.lockFailed() || (commandOnly() ? vehicle.reauthorizing() : vehicle.faultFor(['lock'])));
  // Siri resolves "lock the Model 3" against the lock's own name: make it the primary service.
  service.setPrimaryService(true);
}
