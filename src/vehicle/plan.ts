// Which services a vehicle gets and which signals a refresh reads, from its granted permissions,
// its powertrain (battery vs fuel) and the owner's service switches. Pure, so it is table-tested.
import type { ServiceSwitches } from '../config.js';
import type { Signal } from '../smartcar/types.js';

/** read: state known; command-only: can lock, cannot see; read-only: can see, cannot lock. */
export type LockMode = 'read' | 'command-only' | 'read-only' | 'none';

export interface VehiclePlan {
  lock: LockMode;
  /** Where the Battery service's level comes from; undefined = no Battery service. */
  level: 'battery' | 'fuel' | undefined;
  /** ChargingState: read from /charge, fixed NOT_CHARGEABLE (ICE), or unknown (left out). */
  charging: 'read' | 'not-chargeable' | 'unknown';
  pluggedIn: boolean;
  /** "Closed Up": every door, window and lid the car reports closed; it rides on the lock's read. */
  closedUp: boolean;
  /**
   * "12 V Battery": allowed by the permission (read_battery); shown once a read brings its value, since
   * only some cars report it. It comes with the signals read already made: no signal of its own.
   */
  lowVoltage: boolean;
  /**
   * "Charging": a switch that starts and stops charging (control_charge). It shows what /charge reads,
   * so only a car whose charge state is read gets one.
   */
  chargeControl: boolean;
  /**
   * "At Home": allowed by read_location; shown once its verdict is known (the car's own word, or its
   * position against the owner's home point). The position is read only when there is a home point.
   */
  atHome: boolean;
  /** What one refresh reads: one batch, one billed request per signal. */
  signals: Signal[];
}

export function planVehicle(permissions: readonly string[], switches: ServiceSwitches, notCapable: readonly Signal[] = [], homePoint = false): VehiclePlan {
  const has = (p: string): boolean => permissions.includes(p);
  const can = (s: Signal, p: string): boolean => has(p) && !notCapable.includes(s);

  let lock: LockMode = 'none';
  if (switches.lock) {
    if (can('lock', 'read_security')) {
      lock = has('control_security') ? 'read' : 'read-only';
    } else if (has('control_security')) {
      lock = 'command-only';
    }
  }

  // A PHEV grants both: its battery is what the owner charges, so it wins over fuel.
  const electric = can('battery', 'read_battery');
  const level = !switches.battery ? undefined : electric ? 'battery' : can('fuel', 'read_fuel') ? 'fuel' : undefined;
  const chargeReadable = can('charge', 'read_charge');
  let charging: VehiclePlan['charging'] = 'unknown';
  if (chargeReadable) {
    charging = 'read';
  } else if (level === 'fuel') {
    charging = 'not-chargeable';
  }
  const pluggedIn = switches.pluggedIn && chargeReadable;
  const closedUp = switches.closedUp && can('lock', 'read_security');
  const lowVoltage = switches.lowVoltage && has('read_battery');
  const chargeControl = switches.charging && has('control_charge') && chargeReadable && electric;
  const atHome = switches.atHome && has('read_location');

  const signals: Signal[] = [];
  if (lock === 'read' || lock === 'read-only' || closedUp) {
    signals.push('lock');
  }
  if (level !== undefined) {
    signals.push(level);
  }
  if (pluggedIn || chargeControl || (level !== undefined && charging === 'read')) {
    signals.push('charge');
  }
  if (atHome && homePoint && can('location', 'read_location')) {
    signals.push('location');
  }
  return { lock, level, charging, pluggedIn, closedUp, lowVoltage, chargeControl, atHome, signals };
}
