// What every service file is handed, and the get-or-add step they share. The vehicle is seen through
// a read-only view of its cached state plus the one command path: no client, so no handler can
// reach the network.
import type { API, Logging, PlatformAccessory, Service, WithUUID } from 'homebridge';

import type { PluginConfig } from '../../config.js';
import type { Signal } from '../../smartcar/types.js';
import type { VehicleContext } from '../accessory.js';
import type { VehiclePlan } from '../plan.js';
import type { Bindings } from './binding.js';

/** Live reads: the plan, name and state may change between two calls. */
export interface VehicleView {
  readonly log: Logging;
  readonly config: PluginConfig;
  name(): string;
  plan(): VehiclePlan;
  context(): VehicleContext;
  now(): number;
  staleAfterMs(): number;
  reauthorizing(): boolean;
  /** Re-authorization pending, budget spent, stale data, or a failed last read of one of these signals. */
  faultFor(signals: readonly Signal[]): boolean;
  /** What the owner asked while the lock command is queued or out ("Locking…"); undefined once it settled. */
  lockTarget(): number | undefined;
  lockFailed(): boolean;
  /** Queue a lock command; returns at once, the outcome arrives by push. */
  requestLock(locked: boolean): void;
  /** Whether the owner asked to start (true) or stop charging while that command is queued or out. */
  chargeTarget(): boolean | undefined;
  chargeFailed(): boolean;
  /** Queue a start or stop of charging; returns at once, the outcome arrives by push. */
  requestCharging(on: boolean): void;
}

export interface ServiceScope {
  hap: API['hap'];
  accessory: PlatformAccessory<VehicleContext>;
  bind: Bindings;
  vehicle: VehicleView;
}

/**
 * Adds (or finds) the service when wanted, removes it when not. The subtype is the service's identity
 * in cached accessories and in HomeKit: never change one. Names: vehicle name first, for Siri.
 */
export function ensureService({ hap, accessory }: ServiceScope, wanted: boolean, type: WithUUID<typeof Service>, subtype: string, name: string): Service | undefined {
  const { Characteristic } = hap;
  let service = accessory.getServiceById(type, subtype);
  if (!wanted) {
    if (service) {
      accessory.removeService(service);
    }
    return undefined;
  }
  service ??= accessory.addService(type, name, subtype);
  nameService(hap, service, name);
  // Every vehicle service can show a fault. LockMechanism and Battery do not list StatusFault:
  // declaring it avoids HAP's "adding anyway" warning.
  if (!service.testCharacteristic(Characteristic.StatusFault)) {
    service.addOptionalCharacteristic(Characteristic.StatusFault);
    service.getCharacteristic(Characteristic.StatusFault);
  }
  return service;
}

/** ConfiguredName is what the Home app shows and Siri hears; the owner may rename it there, so it is set only once. */
export function nameService(hap: API['hap'], service: Service, name: string): void {
  const { Characteristic } = hap;
  service.setCharacteristic(Characteristic.Name, name);
  if (!service.testCharacteristic(Characteristic.ConfiguredName)) {
    service.addOptionalCharacteristic(Characteristic.ConfiguredName);
  }
  const configured = service.getCharacteristic(Characteristic.ConfiguredName);
  if (!configured.value) {
    configured.updateValue(name);
  }
}
