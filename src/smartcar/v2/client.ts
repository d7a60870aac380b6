// SmartcarClient: the v2.0 API through the official SDK, and the only module that imports it. It never
// stores tokens; every call is bounded by requestTimeoutSeconds (the SDK alone waits 310 s) and by
// the platform's shutdown signal, and every error leaves it as one of the kinds in errors.ts.
import smartcar from 'smartcar';

import { KM_PER_MILE } from '../../settings.js';
import { connectScopes } from '../connect.js';
import { mapSmartcarError, NotCapableError, TransientError, type MapContext } from '../errors.js';
import type { ReadResult, Signal, TokenSet, VehicleInfo } from '../types.js';
import { validPosition } from '../position.js';
import { openingsOfSecurity } from './closures.js';

export interface SmartcarClientOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  mode: 'live' | 'simulated' | 'test';
  unitSystem: 'metric' | 'imperial';
  timeoutMs: number;
  /** Connect asks for the car's location (At Home is on). */
  askLocation: boolean;
  /** Aborted on Homebridge shutdown: pending calls reject at once. */
  signal?: AbortSignal;
}


export const SIGNAL_PATH: Record<Signal, string> = { lock: '/security', battery: '/battery', fuel: '/fuel', charge: '/charge', location: '/location' };
export const SIGNAL_SCOPE: Record<Signal, string> = { lock: 'read_security', battery: 'read_battery', fuel: 'read_fuel', charge: 'read_charge', location: 'read_location' };

const PAGE_SIZE = 50;
const MAX_PAGES = 20;
const CHARGE_STATES: readonly string[] = ['CHARGING', 'FULLY_CHARGED', 'NOT_CHARGING'];

export class SmartcarClient {
  private readonly auth: smartcar.AuthClient;

  constructor(private readonly options: SmartcarClientOptions) {
    // The SDK reads SMARTCAR_AUTH_ORIGIN here, at construction (how tests point it at the emulator).
    this.auth = new smartcar.AuthClient({
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      redirectUri: options.redirectUri,
      mode: options.mode,
    });
  }

  authUrl(state: string): string {
    return this.auth.getAuthUrl(connectScopes({ location: this.options.askLocation }), { state });
  }

  async exchangeCode(code: string): Promise<TokenSet> {
    const access = await this.call(() => this.auth.exchangeCode(code), { operation: 'Exchanging the authorization code', tokenRequest: true });
    return toTokenSet(access);
  }

  /**
   * `onLate` gets the tokens of a refresh that answered after the bound: Smartcar rotated the refresh
   * token anyway, and the old one dies soon after, so that answer must not be thrown away.
   */
  async refreshTokens(refreshToken: string, onLate?: (tokens: TokenSet) => void): Promise<TokenSet> {
    const late = onLate && ((access: smartcar.Access): void => {
      try {
        onLate(toTokenSet(access));
      } catch {
        // An unreadable late answer is no better than none.
      }
    });
    const access = await this.call(() => this.auth.exchangeRefreshToken(refreshToken), { operation: 'Refreshing the access token', tokenRequest: true }, late);
    return toTokenSet(access);
  }

  async userId(accessToken: string): Promise<string> {
    const user = await this.call(() => smartcar.getUser(accessToken), { operation: 'Reading the Smartcar user' });
    return user.id;
  }

  async listVehicles(accessToken: string): Promise<string[]> {
    const ids: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.call(() => smartcar.getVehicles(accessToken, { limit: PAGE_SIZE, offset: ids.length }), { operation: 'Listing vehicles' });
      ids.push(...res.vehicles);
      if (res.vehicles.length === 0 || res.vehicles.length < PAGE_SIZE || ids.length >= res.paging.count) {
        break;
      }
    }
    return [...new Set(ids)];
  }

  async permissions(accessToken: string, vehicleId: string): Promise<string[]> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    const granted: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.call(() => vehicle.permissions({ limit: PAGE_SIZE, offset: granted.length }), { operation: 'Reading permissions' });
      granted.push(...res.permissions);
      if (res.permissions.length === 0 || res.permissions.length < PAGE_SIZE || granted.length >= res.paging.count) {
        break;
      }
    }
    return [...new Set(granted)];
  }

  async describe(accessToken: string, vehicleId: string, permissions: readonly string[]): Promise<VehicleInfo> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    const info: VehicleInfo = { id: vehicleId, make: '', model: '', year: 0, permissions: [...permissions] };
    if (permissions.includes('read_vehicle_info')) {
      const a = await this.call(() => vehicle.attributes(), { operation: 'Reading vehicle attributes', scope: 'read_vehicle_info' });
      info.make = String(a.make ?? '');
      info.model = String(a.model ?? '');
      info.year = Number(a.year) || 0;
    }
    if (permissions.includes('read_vin')) {
      const v = await this.call(() => vehicle.vin(), { operation: 'Reading the VIN', scope: 'read_vin' });
      info.vin = v.vin;
    }
    return info;
  }

  async read(accessToken: string, vehicleId: string, signals: readonly Signal[]): Promise<ReadResult> {
    const result: ReadResult = { values: {}, failures: {}, requests: 0 };
    if (signals.length === 0) {
      return result;
    }
    const vehicle = this.vehicle(vehicleId, accessToken);
    const paths = signals.map((s) => SIGNAL_PATH[s]);
    const batch = await this.call(() => vehicle.batch(paths), { operation: `Reading ${paths.join(', ')}`, scope: signals.map((s) => SIGNAL_SCOPE[s]).join(', ') });
    result.requests = paths.length;
    const ages: number[] = [];
    // Batch quirk: an item's error is thrown only when its function is called, with the outer status (200).
    const item = <T extends { meta: smartcar.Meta }>(signal: Signal, get: (() => T) | undefined): T | undefined => {
      const ctx: MapContext = { operation: `Reading ${SIGNAL_PATH[signal]}`, scope: SIGNAL_SCOPE[signal] };
      if (get === undefined) {
        result.failures[signal] = new TransientError(`${ctx.operation}: missing from the batch response`);
        return undefined;
      }
      try {
        const value = get();
        const age = value.meta?.dataAge?.getTime();
        if (age !== undefined && Number.isFinite(age)) {
          ages.push(age);
        }
        return value;
      } catch (err) {
        result.failures[signal] = mapSmartcarError(err, ctx);
        return undefined;
      }
    };
    for (const signal of signals) {
      switch (signal) {
        case 'lock': {
          const s = item(signal, batch.lockStatus);
          if (s && typeof s.isLocked === 'boolean') {
            result.values.locked = s.isLocked;
          }
          const openings = s ? openingsOfSecurity(s) : undefined;
          if (openings !== undefined) {
            result.values.openings = openings;
          }
          break;
        }
        case 'battery': {
          const b = item(signal, batch.battery);
          const p = fractionToPercent(b?.percentRemaining);
          const range = this.km(b?.range);
          if (p !== undefined) {
            result.values.batteryPercent = p;
            if (range !== undefined) {
              result.values.electricRangeKm = range;
            }
          } else if (b) {
            result.failures.battery = new NotCapableError('Reading /battery: Smartcar sent no percentRemaining; the plugin will retry at the next refresh', false);
          }
          break;
        }
        case 'fuel': {
          const f = item(signal, batch.fuel);
          const p = fractionToPercent(f?.percentRemaining);
          const range = this.km(f?.range);
          if (p !== undefined) {
            result.values.fuelPercent = p;
            if (range !== undefined) {
              result.values.fuelRangeKm = range;
            }
          } else if (f) {
            // Fuel values may be null (seen in the EU): an honest "unknown", not a failure of the read.
            result.failures.fuel = new NotCapableError('Reading /fuel: Smartcar sent no percentRemaining; the plugin will retry at the next refresh', false);
          }
          break;
        }
        case 'location': {
          const l = item(signal, batch.location);
          const position = l ? validPosition(l.latitude, l.longitude) : undefined;
          if (position !== undefined) {
            result.whereabouts = position;
          } else if (l) {
            result.failures.location = new TransientError('Reading /location: Smartcar sent no usable position; the plugin will retry at the next refresh');
          }
          break;
        }
        case 'charge': {
          const c = item(signal, batch.charge);
          if (c && typeof c.isPluggedIn === 'boolean') {
            result.values.pluggedIn = c.isPluggedIn;
          }
          if (c && typeof c.state === 'string' && CHARGE_STATES.includes(c.state)) {
            result.values.chargeState = c.state;
          }
          break;
        }
      }
    }
    if (ages.length > 0) {
      result.values.dataAt = Math.min(...ages);
    }
    return result;
  }

  setLock(accessToken: string, vehicleId: string, locked: boolean): Promise<void> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    return this.command(() => (locked ? vehicle.lock() : vehicle.unlock()), { operation: locked ? 'Locking' : 'Unlocking', scope: 'control_security' });
  }

  /** POST /charge {action: START|STOP}. */
  setCharging(accessToken: string, vehicleId: string, charging: boolean): Promise<void> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    return this.command(() => (charging ? vehicle.startCharge() : vehicle.stopCharge()), { operation: charging ? 'Starting charging' : 'Stopping charging', scope: 'control_charge' });
  }

  /** POST /charge/limit: v2 takes a fraction (0.5–1), the plugin speaks percent. */
  setChargeLimit(accessToken: string, vehicleId: string, percent: number): Promise<void> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    return this.command(() => vehicle.setChargeLimit(percent / 100), { operation: 'Setting the charge limit', scope: 'control_charge' });
  }

  private async command(fn: () => Promise<smartcar.ActionResponse>, ctx: MapContext): Promise<void> {
    const res = await this.call(fn, ctx);
    // A broken body is no proof the car did it: HomeKit must not show it done on that.
    if (res?.status !== 'success') {
      throw new TransientError(`${ctx.operation} failed: Smartcar's answer could not be read (no success status); the car may not have done it`);
    }
  }

  async disconnect(accessToken: string, vehicleId: string): Promise<void> {
    const vehicle = this.vehicle(vehicleId, accessToken);
    await this.call(() => vehicle.disconnect(), { operation: 'Disconnecting the vehicle' });
  }

  /** A distance Smartcar sent in the unit system we asked for (sc-unit-system), in km; nothing for a non-number. */
  private km(distance: number | null | undefined): number | undefined {
    if (typeof distance !== 'number' || !Number.isFinite(distance) || distance < 0) {
      return undefined;
    }
    return this.options.unitSystem === 'imperial' ? distance * KM_PER_MILE : distance;
  }

  private vehicle(id: string, accessToken: string): smartcar.Vehicle {
    return new smartcar.Vehicle(id, accessToken, { unitSystem: this.options.unitSystem });
  }

  /**
   * Runs one SDK call bounded by the timeout and the shutdown signal; maps whatever it throws. The SDK
   * takes no abort signal, so a call we gave up on still runs: its answer is dropped, unless `late`
   * wants it (token refreshes).
   */
  private async call<T>(fn: () => Promise<T>, ctx: MapContext, late?: (value: T) => void): Promise<T> {
    const { timeoutMs, signal } = this.options;
    if (signal?.aborted) {
      throw new TransientError(`${ctx.operation}: Homebridge is shutting down`);
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    let timedOut = false;
    const bounded = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new TransientError(`${ctx.operation}: no answer from Smartcar within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      onAbort = () => reject(new TransientError(`${ctx.operation}: Homebridge is shutting down`));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    let pending: Promise<T> | undefined;
    try {
      pending = fn();
      return await Promise.race([pending, bounded]);
    } catch (err) {
      if (timedOut && late && pending) {
        void pending.then(late, () => undefined);
      }
      throw mapSmartcarError(err, ctx);
    } finally {
      clearTimeout(timer);
      if (onAbort) {
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }
}

/** Smartcar v2 reports levels as 0–1 fractions; the rest of the plugin speaks percent. */
export function fractionToPercent(value: number | null | undefined): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return undefined;
  }
  return Math.min(100, Math.max(0, value * 100));
}

function toTokenSet(access: smartcar.Access): TokenSet {
  // A truncated token answer parses into nothing: never store that over the only live refresh token.
  const valid = typeof access?.accessToken === 'string' && access.accessToken !== '' && typeof access.refreshToken === 'string'
    && access.refreshToken !== '' && Number.isFinite(access.expiration?.getTime()) && Number.isFinite(access.refreshExpiration?.getTime());
  if (!valid) {
    throw new TransientError('The token answer from Smartcar could not be read (no tokens in it)');
  }
  return {
    accessToken: access.accessToken,
    refreshToken: access.refreshToken,
    expiresAt: access.expiration.getTime(),
    refreshExpiresAt: access.refreshExpiration.getTime(),
  };
}
