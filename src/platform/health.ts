// "Smartcar Connection": one ContactSensor per platform, closed while nothing needs the owner and open
// when something does (a car to connect again, a permission withdrawn, Smartcar refusing the plan or the
// credentials, the month's budget spent, webhook deliveries stopped). The Home app can notify on a
// contact sensor opening without any automation, so the owner hears of it without reading the log.
// It is its own accessory, not a car's: it must stay when every car is gone, which is when it matters.
import type { API, Logging, PlatformAccessory, Service } from 'homebridge';

import { PLATFORM_NAME, PLUGIN_NAME } from '../settings.js';
import { Contact } from '../vehicle/mappers.js';
import { nameService } from '../vehicle/services/scope.js';

/** What Homebridge keeps of it; `kind` tells it from a car's cached accessory. */
export interface HealthContext {
  kind: 'connection-health';
}

export function isHealthContext(context: unknown): context is HealthContext {
  return typeof context === 'object' && context !== null && (context as { kind?: unknown }).kind === 'connection-health';
}

export interface ConnectionHealthDeps {
  api: API;
  log: Logging;
  /** services.connection: off removes a cached sensor. */
  enabled: boolean;
  /** The cars something needs the owner for now, by name; [] = nothing. */
  needs: () => string[];
}

const NAME = 'Smartcar Connection';
/** HAP's Categories.SENSOR (an ambient const enum, unusable under verbatimModuleSyntax). */
const SENSOR_CATEGORY = 10;

export class ConnectionHealth {
  private accessory: PlatformAccessory<HealthContext> | undefined;
  private service: Service | undefined;
  /** The cars the owner was last told need them: a change is logged once, not on every push. */
  private told: string[] = [];

  constructor(private readonly deps: ConnectionHealthDeps) {}

  /** Homebridge's cached copy, handed over before launch. */
  restore(accessory: PlatformAccessory<HealthContext>): void {
    this.accessory = accessory;
  }

  /** At launch: the sensor exists (or, switched off, is gone), showing what is true now. */
  start(): void {
    const { api } = this.deps;
    if (!this.deps.enabled) {
      if (this.accessory !== undefined) {
        api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [this.accessory]);
        this.accessory = undefined;
      }
      return;
    }
    if (this.accessory === undefined) {
      const accessory = new api.platformAccessory<HealthContext>(NAME, api.hap.uuid.generate(`${PLUGIN_NAME}:connection-health`), SENSOR_CATEGORY);
      accessory.context = { kind: 'connection-health' };
      api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
      this.accessory = accessory;
    }
    const { Service: S, Characteristic: C } = api.hap;
    this.accessory.getService(S.AccessoryInformation)!
      .setCharacteristic(C.Manufacturer, 'Smartcar')
      .setCharacteristic(C.Model, 'Connection')
      .setCharacteristic(C.SerialNumber, 'connection-health');
    const service = this.accessory.getServiceById(S.ContactSensor, 'connection') ?? this.accessory.addService(S.ContactSensor, NAME, 'connection');
    nameService(api.hap, service, NAME);
    service.getCharacteristic(C.ContactSensorState).onGet(() => this.state());
    this.service = service;
    this.update();
  }

  /** Something changed somewhere: tell HomeKit (it hears only changes) and the log, once per change. */
  update(): void {
    if (this.service === undefined) {
      return;
    }
    const cars = [...new Set(this.deps.needs())];
    this.service.updateCharacteristic(this.deps.api.hap.Characteristic.ContactSensorState, cars.length > 0 ? Contact.NOT_DETECTED : Contact.DETECTED);
    // The cause was said where it was found (one warning or error); this line only tells what Home shows.
    const fresh = cars.filter((c) => !this.told.includes(c));
    if (fresh.length > 0) {
      this.deps.log.info(`${NAME} is open: ${fresh.join(', ')} ${fresh.length === 1 ? 'needs' : 'need'} you (the setup page says what to do)`);
    } else if (cars.length === 0 && this.told.length > 0) {
      this.deps.log.info(`${NAME} is closed: nothing needs you`);
    }
    this.told = cars;
  }

  private state(): number {
    return this.deps.needs().length > 0 ? Contact.NOT_DETECTED : Contact.DETECTED;
  }
}
