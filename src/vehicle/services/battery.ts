// The Battery: level from /battery (EV, PHEV) or /fuel (ICE), low below lowBatteryPercent, and
// ChargingState from /charge, fixed "not chargeable" for ICE, or left out when it cannot be known.
import { chargingState, levelPercent, statusLowBattery } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureBattery(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const service = ensureService(scope, vehicle.plan().level !== undefined, Service.Battery, 'battery', `${vehicle.name()} Battery`);
  if (service === undefined) {
    return;
  }
  const level = (): number | undefined => {
    const source = vehicle.plan().level;
    return source === undefined ? undefined : levelPercent(vehicle.context().snapshot, source);
  };

  bind.value(service, Characteristic.BatteryLevel, level);
  bind.value(service, Characteristic.StatusLowBattery, () => statusLowBattery(level(), vehicle.config.lowBatteryPercent));
  if (vehicle.plan().charging === 'unknown') {
    // A BEV whose owner withheld read_charge: leave ChargingState out rather than guess it.
    if (service.testCharacteristic(Characteristic.ChargingState)) {
      service.removeCharacteristic(service.getCharacteristic(Characteristic.ChargingState));
    }
  } else {
    bind.value(service, Characteristic.ChargingState, () => chargingState(vehicle.context().snapshot?.chargeState, vehicle.plan().charging !== 'not-chargeable'));
  }
  bind.fault(service, () => {
    const source = vehicle.plan().level;
    return vehicle.faultFor(source ? [source] : []);
  });
}
