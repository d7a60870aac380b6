// Browser-test plumbing: Debian's headless Chromium through playwright-core (skipped with a clear
// message when missing, unless HBSC_REQUIRE_ALL=1), screenshots as CI artifacts, and a SetupHost
// made of the real `smartcar` SDK talking HTTP to the emulator.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';

import type { CarPosition, ConnectedVehicle, SetupHost, UserStatusView, VehicleStatusView } from '../../src/setup/host.js';
import type { ConnectApproval } from '../../src/smartcar/types.js';

export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-artifacts/screenshots');
export const PHONE_VIEWPORT = { width: 390, height: 844 };

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Chromium, or the reason the browser suite is skipped (an error instead when CI requires it). */
export async function launchChromium(): Promise<{ browser?: Browser; skip?: string }> {
  const executablePath = process.env.HBSC_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    const missing = `Chromium not found at ${executablePath} (apt-get install chromium, or set HBSC_CHROMIUM)`;
    if (process.env.HBSC_REQUIRE_ALL === '1') {
      throw new Error(`${missing}, and HBSC_REQUIRE_ALL=1 requires the browser tests`);
    }
    return { skip: `${missing}: browser tests skipped` };
  }
  return { browser: await chromium.launch({ executablePath, args: CHROMIUM_ARGS }) };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** A port nobody listens on right now: for a redirect URI that must fail to load, or to know a port before listening. */
export { freePort } from '../helpers/free-port.js';

// The SDK ships no types; these are the few calls the test host makes (shapes: smartcar-api.md §4.2).
interface SdkAccess { accessToken: string }
interface SdkVehicle {
  attributes(): Promise<{ make: string; model: string; year: number }>;
  permissions(): Promise<{ permissions: string[] }>;
  lockStatus(): Promise<{ isLocked: boolean }>;
  battery(): Promise<{ percentRemaining: number }>;
  charge(): Promise<{ isPluggedIn: boolean; state: 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING' }>;
  disconnect(): Promise<unknown>;
}
interface Sdk {
  AuthClient: new (options: { clientId: string; clientSecret: string; redirectUri: string; mode?: string }) => {
    getAuthUrl(scope: string[], options: { state: string; forcePrompt?: boolean }): string;
    exchangeCode(code: string): Promise<SdkAccess>;
  };
  Vehicle: new (id: string, accessToken: string) => SdkVehicle;
  getVehicles(accessToken: string): Promise<{ vehicles: string[] }>;
  getUser(accessToken: string): Promise<{ id: string }>;
}

const SCOPE = ['read_vehicle_info', 'read_security', 'control_security', 'read_battery', 'read_charge'];

/**
 * The real SDK against the emulator, standing in for the platform: a test host of the setup page's
 * boundary, with tokens kept in memory.
 */
export class SdkHost implements SetupHost {
  readonly users = new Map<string, { accessToken: string; vehicles: VehicleStatusView[] }>();
  private readonly auth: InstanceType<Sdk['AuthClient']>;
  private readonly sdk: Sdk;

  constructor(options: { emulatorOrigin: string; clientId: string; clientSecret: string; redirectUri: string; mode?: string }) {
    // Read by the SDK when AuthClient and Vehicle are constructed (smartcar-api.md §4.3).
    process.env.SMARTCAR_API_ORIGIN = options.emulatorOrigin;
    process.env.SMARTCAR_AUTH_ORIGIN = options.emulatorOrigin;
    this.sdk = createRequire(import.meta.url)('smartcar') as Sdk;
    this.auth = new this.sdk.AuthClient({
      clientId: options.clientId, clientSecret: options.clientSecret, redirectUri: options.redirectUri, mode: options.mode ?? 'test',
    });
  }

  authUrl(state: string): string {
    return this.auth.getAuthUrl(SCOPE, { state, forcePrompt: true });
  }

  async completeAuthorization(approval: ConnectApproval): Promise<{ userId: string; vehicles: ConnectedVehicle[] }> {
    const { accessToken } = await this.auth.exchangeCode(approval.code ?? '');
    const { id: userId } = await this.sdk.getUser(accessToken);
    const { vehicles: ids } = await this.sdk.getVehicles(accessToken);
    const vehicles: VehicleStatusView[] = [];
    for (const id of ids) {
      const vehicle = new this.sdk.Vehicle(id, accessToken);
      const [attributes, permissions, lock, battery, charge] = await Promise.all([
        vehicle.attributes(), vehicle.permissions(), vehicle.lockStatus().catch(() => undefined),
        vehicle.battery().catch(() => undefined), vehicle.charge().catch(() => undefined),
      ]);
      vehicles.push({
        vehicleId: id, userId, name: `${attributes.make} ${attributes.model}`, make: attributes.make, model: attributes.model,
        year: attributes.year, permissions: permissions.permissions,
        lock: lock === undefined ? 'unknown' : lock.isLocked ? 'locked' : 'unlocked',
        level: battery === undefined ? undefined : Math.round(battery.percentRemaining * 100), levelSource: 'battery',
        charging: charge?.state, pluggedIn: charge?.isPluggedIn, lastRefreshAt: Date.now(), problems: [],
      });
    }
    this.users.set(userId, { accessToken, vehicles });
    return { userId, vehicles: vehicles.map((v) => ({ id: v.vehicleId, name: v.name })) };
  }

  status(): UserStatusView[] {
    return [...this.users.entries()].map(([userId, u]) => ({ userId, needsReauth: false, vehicles: u.vehicles }));
  }

  async disconnect(vehicleId: string): Promise<void> {
    for (const [userId, user] of this.users) {
      if (user.vehicles.some((v) => v.vehicleId === vehicleId)) {
        await new this.sdk.Vehicle(vehicleId, user.accessToken).disconnect();
        user.vehicles = user.vehicles.filter((v) => v.vehicleId !== vehicleId);
        if (user.vehicles.length === 0) {
          this.users.delete(userId);
        }
      }
    }
  }

  refreshNow(): Promise<void> {
    return Promise.resolve();
  }

  carPosition(): Promise<CarPosition> {
    return Promise.reject(new Error('The SDK test host does not read positions'));
  }

  setChargeLimit(): Promise<{ name: string }> {
    // These pages' tests never show the form: the platform's own tests set the limit (integration/charge-limit).
    return Promise.reject(new Error('The SDK test host does not set charge limits'));
  }
}
