// Where a v3 signals read gets its values (reading `signalStore`, v3 ref §3.3/§7.7): the car now
// ('live'), a snapshot Smartcar takes at most once per 24 h of emulator clock ('daily'), or nothing
// until the vehicle has a webhook subscription ('empty-until-subscribed'); a subscribed vehicle is
// always live. A fetch from an asleep/unreachable car fails as a v2 read does (assertReachable);
// the last retrieved values are kept for the 'cached-signal-errors' offline reading.
import type { EmulatorClock } from '../clock.js';
import type { ErrorSpec } from '../errors.js';
import { ApiError } from '../errors.js';
import type { EmulatedVehicle } from '../vehicles.js';
import { assertReachable } from '../vehicles.js';
import type { V3Readings } from './readings.js';

export const DAY_MS = 24 * 3600 * 1000;

/** Values as Smartcar holds them: the car's state (its dataAt = oemUpdatedAt) and when Smartcar fetched it. */
export interface Retrieved { vehicle: EmulatedVehicle; retrievedAt: number }

export type Source =
  | { kind: 'empty' }
  | { kind: 'ok'; values: Retrieved }
  /** The car could not be reached: `cached` is what Smartcar last retrieved (if anything). */
  | { kind: 'offline'; error: ErrorSpec; cached: Retrieved | undefined };

/** The error the car's reachability gives now (v2 rules), or undefined when it answers. */
export function reachError(v: EmulatedVehicle): ErrorSpec | undefined {
  try {
    assertReachable(v);
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) {
      return err.spec;
    }
    throw err;
  }
}

export class SignalStore {
  private readonly daily = new Map<string, Retrieved>();
  private readonly lastRetrieved = new Map<string, Retrieved>();

  constructor(private readonly clock: EmulatorClock) {}

  /**
   * The values a read is answered from. `needsCar` is false for reads that do not reach the car
   * (the VIN alone): those are answered from the current state even when it sleeps.
   */
  read(v: EmulatedVehicle, mode: V3Readings['signalStore'], subscribed: boolean, needsCar: boolean): Source {
    const effective = subscribed ? 'live' : mode;
    if (effective === 'empty-until-subscribed') {
      return { kind: 'empty' };
    }
    const now = this.clock.now();
    if (effective === 'daily') {
      const snap = this.daily.get(v.id);
      if (snap && now - snap.retrievedAt < DAY_MS) {
        return { kind: 'ok', values: snap };
      }
    }
    const error = reachError(v);
    if (error) {
      return needsCar
        ? { kind: 'offline', error, cached: (effective === 'daily' ? this.daily.get(v.id) : undefined) ?? this.lastRetrieved.get(v.id) }
        : { kind: 'ok', values: { vehicle: v, retrievedAt: now } };
    }
    const fetched: Retrieved = { vehicle: structuredClone(v), retrievedAt: now };
    this.lastRetrieved.set(v.id, fetched);
    if (effective === 'daily') {
      this.daily.set(v.id, fetched);
    }
    return { kind: 'ok', values: fetched };
  }

  /** Forget snapshots (tests that change the store reading mid-way). */
  clear(): void {
    this.daily.clear();
    this.lastRetrieved.clear();
  }
}
