// A HomeKit controller for end-to-end tests: hap-controller pairs with the bridge exactly as an iPhone
// does (SRP pair-setup, then encrypted pair-verify sessions), then reads, writes and subscribes.
import { HttpClient, type PairingData } from 'hap-controller';

import { BRIDGE_PIN } from './homebridge-process.js';

export const HAP = {
  AccessoryInformation: '3E', Name: '23', Manufacturer: '20', Model: '21', SerialNumber: '30', ConfiguredName: 'E3',
  LockMechanism: '45', LockCurrentState: '1D', LockTargetState: '1E',
  Battery: '96', BatteryLevel: '68', ChargingState: '8F', StatusLowBattery: '79',
  ContactSensor: '80', ContactSensorState: '6A', StatusFault: '77',
} as const;

export interface HapCharacteristic { aid: number; iid: number; type: string; value: unknown; id: string }
export interface HapService { type: string; iid: number; characteristics: HapCharacteristic[] }
export interface HapAccessory { aid: number; name: string; services: HapService[] }

/** '00000045-0000-1000-8000-0026BB765291' → '45' (controllers may get either form). */
export function shortType(type: string): string {
  const m = /^0*([0-9A-F]+)-0000-1000-8000-0026BB765291$/i.exec(type);
  return (m ? m[1]! : type).toUpperCase();
}

interface RawAccessories {
  accessories: Array<{ aid: number; services: Array<{ type: string; iid: number; characteristics: Array<{ type: string; iid: number; value?: unknown }> }> }>;
}
interface EventPayload { characteristics: Array<{ aid: number; iid: number; value: unknown }> }

export class HapController {
  private readonly events: EventPayload['characteristics'] = [];

  private constructor(private readonly client: HttpClient, readonly keys: PairingData, readonly bridgeUsername: string) {
    client.on('event', (ev: EventPayload) => {
      for (const c of ev.characteristics) {
        this.events.push({ aid: Number(c.aid), iid: Number(c.iid), value: c.value });
      }
    });
  }

  /** Pairs like an iPhone scanning the code, then reconnects with the long-term keys. */
  static async pair(bridgeUsername: string, port: number): Promise<HapController> {
    const setup = new HttpClient(bridgeUsername, '127.0.0.1', port);
    await setup.pairSetup(BRIDGE_PIN);
    const keys = setup.getLongTermData();
    await setup.close();
    if (!keys) {
      throw new Error('pair-setup gave no long-term keys');
    }
    return HapController.connect(bridgeUsername, port, keys);
  }

  /** A paired controller coming back (after a Homebridge restart): pair-verify with the saved keys. */
  static connect(bridgeUsername: string, port: number, keys: PairingData): HapController {
    return new HapController(new HttpClient(bridgeUsername, '127.0.0.1', port, keys, { usePersistentConnections: true }), keys, bridgeUsername);
  }

  async accessories(): Promise<HapAccessory[]> {
    const raw = toRaw(await this.client.getAccessories());
    return raw.accessories.map((a) => {
      const services = a.services.map((s) => ({
        type: shortType(s.type),
        iid: Number(s.iid),
        characteristics: s.characteristics.map((c) => ({
          aid: Number(a.aid), iid: Number(c.iid), type: shortType(c.type), value: c.value, id: `${a.aid}.${c.iid}`,
        })),
      }));
      const info = services.find((s) => s.type === HAP.AccessoryInformation);
      const nameValue = info?.characteristics.find((c) => c.type === HAP.Name)?.value;
      const name = typeof nameValue === 'string' ? nameValue : '';
      return { aid: Number(a.aid), name, services };
    });
  }

  async read(ids: string[]): Promise<Record<string, unknown>> {
    const res = (await this.client.getCharacteristics(ids)) as { characteristics: Array<{ aid: number; iid: number; value?: unknown; status?: number }> };
    const out: Record<string, unknown> = {};
    for (const c of res.characteristics) {
      out[`${c.aid}.${c.iid}`] = c.status !== undefined && c.status !== 0 ? { status: c.status } : c.value;
    }
    return out;
  }

  async write(values: Record<string, unknown>): Promise<void> {
    await this.client.setCharacteristics(values);
  }

  async subscribe(ids: string[]): Promise<void> {
    await this.client.subscribeCharacteristics(ids);
  }

  /** Waits for an EVENT frame on `id` whose value satisfies `accept`. */
  async waitForEvent(id: string, accept: (value: unknown) => boolean, timeoutMs = 15_000): Promise<unknown> {
    const [aid, iid] = id.split('.').map(Number);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.aid === aid && e.iid === iid && accept(e.value));
      if (hit) {
        return hit.value;
      }
      if (Date.now() > deadline) {
        throw new Error(`no HAP event on ${id} within ${timeoutMs} ms (saw ${this.events.length} events, last ${JSON.stringify(this.events.slice(-5))})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  clearEvents(): void {
    this.events.length = 0;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** hap-controller's own types use BigNumber ids; we only ever see small numbers. */
function toRaw(value: unknown): RawAccessories {
  return value as RawAccessories;
}

/** The plugin's one accessory that is not a car (platform/health.ts). */
export const CONNECTION_SENSOR = 'Smartcar Connection';

/** The cars among a bridge's accessories: not the bridge itself (aid 1), not the Smartcar Connection sensor. */
export function carsOf(list: readonly HapAccessory[]): HapAccessory[] {
  return list.filter((a) => a.aid !== 1 && a.name !== CONNECTION_SENSOR);
}

export function findCharacteristic(acc: HapAccessory, serviceType: string, charType: string): HapCharacteristic | undefined {
  return acc.services.find((s) => s.type === serviceType)?.characteristics.find((c) => c.type === charType);
}

/** The "aid.iid" of a characteristic the accessory must have. */
export function characteristicId(acc: HapAccessory, serviceType: string, charType: string): string {
  const c = findCharacteristic(acc, serviceType, charType);
  if (!c) {
    throw new Error(`${acc.name} has no ${serviceType}/${charType}`);
  }
  return c.id;
}
