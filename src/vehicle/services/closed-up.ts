// "Closed Up" as a ContactSensor: closed (contact) only when every door, window, trunk, frunk, hood and
// sunroof the car reports is closed, so "is the car closed up for the night?" is one automation. Read
// with the lock at no extra request; what is open is named on the setup page.
import { closedUpContact } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureClosedUp(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const service = ensureService(scope, vehicle.plan().closedUp, Service.ContactSensor, 'closed-up', `${vehicle.name()} Closed Up`);
  if (service === undefined) {
    return;
  }
  bind.value(service, Characteristic.ContactSensorState, () => closedUpContact(vehicle.context().snapshot?.openings));
  bind.fault(service, () => vehicle.faultFor(['lock']));
}
