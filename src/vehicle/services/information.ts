// AccessoryInformation: text from discovery, set rather than bound since only a new discovery (which
// configures the services again) can change it.
import { displayMake } from '../mappers.js';
import type { ServiceScope } from './scope.js';

export function configureInformation({ hap, accessory, vehicle }: ServiceScope): void {
  const { Service, Characteristic } = hap;
  const info = vehicle.context().info;
  const service = accessory.getService(Service.AccessoryInformation) ?? accessory.addService(Service.AccessoryInformation);
  service
    .setCharacteristic(Characteristic.Manufacturer, displayMake(info.make) || 'Smartcar')
    .setCharacteristic(Characteristic.Model, [info.model, info.year ? String(info.year) : ''].filter(Boolean).join(' ') || 'Vehicle')
    .setCharacteristic(Characteristic.SerialNumber, info.vin ?? info.id.slice(0, 8))
    // Homebridge pre-sets "0"; the year is the closest thing a car has to a firmware revision here.
    .setCharacteristic(Characteristic.FirmwareRevision, info.year ? `${info.year}.0.0` : '1.0.0');
}
