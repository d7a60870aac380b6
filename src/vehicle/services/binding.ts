// Each characteristic is bound once, to one value function: HomeKit's get and our push both ask it,
// so what a controller reads and what it is told cannot drift apart. Values come from the cached
// snapshot; nothing here can reach the network.
import type { API, Characteristic, CharacteristicValue, Service, WithUUID } from 'homebridge';

import { HapStatus } from '../mappers.js';

/** undefined: no honest value yet (HomeKit shows "Not Responding" on a get, and nothing is pushed). */
export type Value = () => number | undefined;
type CharacteristicType = WithUUID<new () => Characteristic>;

interface Bound {
  service: Service;
  type: CharacteristicType;
  value: Value;
  /** What HomeKit was last told (or wrote itself): only a change is pushed. */
  sent?: CharacteristicValue;
}

export class Bindings {
  private bound: Bound[] = [];

  constructor(private readonly hap: API['hap']) {}

  /** The services are being rebuilt: drop every binding, so the next push tells HomeKit everything again. */
  clear(): void {
    this.bound = [];
  }

  /** onSet, when given, runs first; HAP then holds the written value itself, so it is not pushed back. */
  value(service: Service, type: CharacteristicType, value: Value, onSet?: (written: CharacteristicValue) => void): void {
    const bound: Bound = { service, type, value };
    const characteristic = service.getCharacteristic(type).onGet(() => this.honest(value()));
    if (onSet) {
      characteristic.onSet((written) => {
        onSet(written);
        bound.sent = written;
      });
    }
    this.bound.push(bound);
  }

  /**
   * Push only, no get handler: a get answers the last pushed fault, so staleness (which moves with the
   * clock) shows and clears when HomeKit is told, not at whichever moment a controller happens to ask.
   */
  fault(service: Service, faulty: () => boolean): void {
    const { StatusFault } = this.hap.Characteristic;
    this.bound.push({ service, type: StatusFault, value: () => (faulty() ? StatusFault.GENERAL_FAULT : StatusFault.NO_FAULT) });
  }

  /** Tell HomeKit every value that changed since it was last told (it only hears about changes). */
  push(): void {
    for (const bound of this.bound) {
      const value = bound.value();
      if (value !== undefined && value !== bound.sent) {
        bound.sent = value;
        bound.service.updateCharacteristic(bound.type, value);
      }
    }
  }

  private honest(value: number | undefined): number {
    if (value === undefined) {
      throw new this.hap.HapStatusError(HapStatus.SERVICE_COMMUNICATION_FAILURE);
    }
    return value;
  }
}
