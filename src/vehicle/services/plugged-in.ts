// "Plugged In" as a ContactSensor: HomeKit has no charger-cable service, and a closed contact reads
// naturally as "the cable is in".
import { pluggedInContact } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configurePluggedIn(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const service = ensureService(scope, vehicle.plan().pluggedIn, Service.ContactSensor, 'plugged-in', `${vehicle.name()} Plugged In`);
  if (service === undefined) {
    return;
  }
  bind.value(service, Characteristic.ContactSensorState, () => pluggedInContact(vehicle.context().snapshot?.pluggedIn));
  bind.fault(service, () => vehicle.faultFor(['charge']));
}
