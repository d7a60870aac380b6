// "12 V Battery": a second Battery service, so the Home app raises its own low-battery warning before the
// 12 V battery leaves the owner unable to start or unlock the car. Only cars that report it get one
// (v3 lowvoltagebattery-*), once a read brought its value; it never costs a request of its own.
import { lowVoltageStatus } from '../mappers.js';
import { ensureService, type ServiceScope } from './scope.js';

export function configureLowVoltage(scope: ServiceScope): void {
  const { hap, bind, vehicle } = scope;
  const { Service, Characteristic } = hap;
  const snapshot = (): ReturnType<typeof vehicle.context>['snapshot'] => vehicle.context().snapshot;
  const reported = snapshot()?.lowVoltagePercent !== undefined;
  const service = ensureService(scope, vehicle.plan().lowVoltage && reported, Service.Battery, 'low-voltage', `${vehicle.name()} 12V Battery`);
  if (service === undefined) {
    return;
  }
  bind.value(service, Characteristic.BatteryLevel, () => {
    const p = snapshot()?.lowVoltagePercent;
    return p === undefined ? undefined : Math.round(p);
  });
  bind.value(service, Characteristic.StatusLowBattery, () => lowVoltageStatus(snapshot()?.lowVoltagePercent, snapshot()?.lowVoltageStatus));
  // The owner charges the traction battery, not this one: the car does.
  bind.value(service, Characteristic.ChargingState, () => Characteristic.ChargingState.NOT_CHARGEABLE);
  bind.fault(service, () => vehicle.faultFor([]));
}
