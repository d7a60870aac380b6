// "At Home" as an OccupancySensor: occupancy detected while the car is at home, so "when the car
// arrives home, open the garage" is one automation. The car's own verdict where it gives one (v3
// location-isathome), else its position against the owner's home point; shown once one is known.
import { atHomeOccupancy } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureAtHome(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const known = vehicle.context().snapshot?.atHome !== undefined;
  const service = ensureService(scope, vehicle.plan().atHome && known, Service.OccupancySensor, 'at-home', `${vehicle.name()} At Home`);
  if (service === undefined) {
    return;
  }
  bind.value(service, Characteristic.OccupancyDetected, () => atHomeOccupancy(vehicle.context().snapshot?.atHome));
  bind.fault(service, () => vehicle.faultFor(['location']));
}
