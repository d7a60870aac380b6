// "Charging" as a Switch: on while the car charges; switching it starts or stops charging
// (control_charge). HomeKit gets its answer at once; the car's outcome settles it like the lock: a car
// that refuses (not plugged in, already full) turns the switch back, with its reason on the setup page.
import type { CharacteristicValue } from 'homebridge';

import { chargingSwitchOn } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureCharging(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const service = ensureService(scope, vehicle.plan().chargeControl, Service.Switch, 'charging', `${vehicle.name()} Charging`);
  if (service === undefined) {
    return;
  }
  const set = (value: CharacteristicValue): void => {
    vehicle.requestCharging(value === true || value === 1);
  };
  bind.value(service, Characteristic.On, () => chargingSwitchOn(vehicle.chargeTarget(), vehicle.context().snapshot?.chargeState), set);
  bind.fault(service, () => vehicle.chargeFailed() || vehicle.faultFor(['charge']));
}
