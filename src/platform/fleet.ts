// Which cars the platform serves: restored from Homebridge's cache (their last values are served at
// once), found by discovery, named once and for good ("Model 3", then "Model 3 2"), and removed only on
// proof, because removing one breaks the owner's automations. v3 lists the whole application every minute.
import type { API, Logging, PlatformAccessory } from 'homebridge';

import type { PluginConfig } from '../config.js';
import { PLATFORM_NAME, PLUGIN_NAME } from '../settings.js';
import type { Billing } from '../smartcar/billing.js';
import { mapSmartcarError, type SmartcarProblem } from '../smartcar/errors.js';
import type { Discovery, SmartcarBackend, VehicleInfo } from '../smartcar/types.js';
import { VehicleAccessory, type VehicleCommands, type VehicleContext } from '../vehicle/accessory.js';
import { describeForOwner } from '../vehicle/owner-words.js';
import { sanitizeName } from '../vehicle/mappers.js';
import type { VehicleLedger } from './ledger.js';
import { LogOnce, type ApplicationNotes } from './log-once.js';

const RETRY_MAX_MS = 30 * 60_000;
// Categories is an ambient const enum (unusable under verbatimModuleSyntax); DOOR_LOCK is 6 in HAP 1.x and 2.x.
const DOOR_LOCK_CATEGORY = 6;

/** What the fleet asks of the refresh side when cars come and go. */
export interface FleetSchedule {
  schedule(v: VehicleAccessory): void;
  isScheduled(vehicleId: string): boolean;
  unschedule(vehicleId: string): void;
}

export interface FleetDeps {
  /** Shared with the refresher: a refusal of the whole application is one line, not one per car. */
  application: ApplicationNotes;
  api: API;
  log: Logging;
  config: PluginConfig;
  billing: Billing;
  now: () => number;
  signal: AbortSignal;
  backend: () => SmartcarBackend;
  schedule: FleetSchedule;
  /** Where each car's commands go (the command gate) and how their confirming read is planned. */
  commands: VehicleCommands;
  /** Read when the next listing is planned: tests shorten it. */
  timing: { readonly discoveryIntervalMs: number };
  /** This month's count and the learned habits of cars that leave, for when they come back. */
  ledger: VehicleLedger;
  /** Something a car shows may have changed (the connection-health sensor looks again). */
  changed?: () => void;
}

export class Fleet {
  private readonly cached = new Map<string, PlatformAccessory<VehicleContext>>();
  private readonly vehicles = new Map<string, VehicleAccessory>();
  /** Conclusive listings in a row that lacked a vehicle (v3): one odd answer must not remove a car. */
  private readonly absent = new Map<string, number>();
  /** Users whose vehicle list is asked for at their first refresh (restarted with a fresh cache). */
  private readonly discoveryDue = new Set<string>();
  private readonly failures: LogOnce;
  private discoveryTimer: NodeJS.Timeout | undefined;
  /** Users whose Connect succeeded but whose vehicle list failed: listed again until it works. */
  private readonly retries = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: FleetDeps) {
    this.failures = new LogOnce(deps.log);
  }

  get size(): number {
    return this.vehicles.size;
  }

  get(vehicleId: string): VehicleAccessory | undefined {
    return this.vehicles.get(vehicleId);
  }

  /** False once the car was removed, or replaced by a new accessory of the same id. */
  isCurrent(v: VehicleAccessory): boolean {
    return this.vehicles.get(v.id) === v;
  }

  all(): VehicleAccessory[] {
    return [...this.vehicles.values()];
  }

  of(userId: string): VehicleAccessory[] {
    return this.all().filter((v) => v.userId === userId);
  }

  /** A cached accessory from Homebridge; handlers are attached now so HomeKit gets the cached values from the first request on. */
  restore(accessory: PlatformAccessory<VehicleContext>): void {
    this.cached.set(accessory.UUID, accessory);
    if (!isVehicleContext(accessory.context)) {
      return;
    }
    // Caches from before listedBy existed were written by the plugin's v2-only versions.
    accessory.context.listedBy ??= 'v2';
    try {
      this.vehicles.set(accessory.context.vehicleId, this.makeVehicle(accessory));
    } catch (err) {
      this.deps.log.error(`Restoring ${accessory.displayName} from the cache failed: ${messageOf(err)}`);
    }
  }

  /** After launch: settle the cache against the users the backend knows, then discover (or defer it). */
  async start({ users, complete }: { users: string[]; complete: boolean }): Promise<void> {
    const { api, log, signal } = this.deps;
    const backend = this.deps.backend();
    if (!backend.discoversUsers && complete) {
      // Cached vehicles of users whose tokens are gone can never refresh again.
      for (const v of this.all()) {
        if (!users.includes(v.userId)) {
          log.info(`${v.name}: no Smartcar authorization stored for it any more; removing it`);
          this.remove(v.id);
        }
      }
    }
    const orphans = [...this.cached.values()].filter((a) => !isVehicleContext(a.context));
    if (orphans.length > 0) {
      orphans.forEach((a) => this.cached.delete(a.UUID));
      api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, orphans);
    }
    for (const userId of users) {
      if (signal.aborted) {
        return;
      }
      if (backend.reauthorizeReason(userId) !== undefined) {
        // Waits for the owner (Connect again): asking Smartcar now could only fail.
        continue;
      }
      const cachedCars = this.of(userId);
      if (cachedCars.length > 0 && cachedCars.every((v) => v.lastReadAt !== undefined && !v.isStale())) {
        // A restart with fresh cached data costs nothing: the vehicle list and permissions are asked
        // for just before the first planned read of this user, not now.
        this.discoveryDue.add(userId);
        cachedCars.forEach((v) => this.deps.schedule.schedule(v));
        log.debug(`Cached data of ${cachedCars.map((v) => v.name).join(', ')} is fresh: no Smartcar call until the next planned refresh`);
        continue;
      }
      await this.discoverUser(userId).catch((err: unknown) => this.discoveryFailed(userId, err));
    }
    if (!complete && !backend.discoversUsers) {
      // The stored authorizations could not be read: the cars stay, flagged, until the owner connects again.
      for (const userId of new Set(this.all().map((v) => v.userId))) {
        backend.requireReauthorization(userId, 'the stored Smartcar authorizations could not be read', { quiet: true });
      }
    }
    if (backend.discoversUsers) {
      await this.discoverAll();
      // Cached cars the listing did not show (yet) keep serving and refreshing until it proves them gone.
      this.scheduleUnscheduled();
      this.planDiscovery();
    }
    if (this.vehicles.size === 0) {
      log.info('No vehicle connected yet: open the setup page to connect one');
    }
  }

  stop(): void {
    clearTimeout(this.discoveryTimer);
    // So a car whose cached accessory the owner clears (Config UI X "remove from cache") keeps its count too.
    for (const v of this.all()) {
      this.keepLedger(v);
    }
    this.retries.forEach((t) => clearTimeout(t));
    this.retries.clear();
  }

  /**
   * The user's authorization is stored but listing the vehicles failed: try again, the interval doubling
   * from the discovery interval up to half an hour, until Smartcar answers (or the platform stops).
   */
  retryDiscovery(userId: string, delayMs = this.deps.timing.discoveryIntervalMs): void {
    if (this.deps.signal.aborted || this.retries.has(userId)) {
      return;
    }
    const timer = setTimeout(() => {
      this.retries.delete(userId);
      this.discoverUser(userId).then((found) => {
        if (found.length > 0) {
          this.deps.log.info(`Connected ${found.map((v) => v.name).join(', ')} (Smartcar listed ${found.length === 1 ? 'it' : 'them'} on a later try)`);
        }
      }, (err: unknown) => {
        const problem = mapSmartcarError(err, { operation: 'Listing the vehicles' });
        this.failures.warn(`retry:${userId}`, `Listing the vehicles of a newly connected Smartcar account failed again: ${describeForOwner(problem)}; the plugin keeps trying`);
        if (problem.kind !== 'reauthorize') {
          this.retryDiscovery(userId, Math.min(2 * delayMs, RETRY_MAX_MS));
        }
      });
    }, delayMs);
    timer.unref();
    this.retries.set(userId, timer);
  }

  /**
   * The user's vehicle list, when it was deferred at start-up (fresh cache) and this is the user's first
   * refresh: vehicles shared or unshared meanwhile, permissions changed. Undefined when nothing is due,
   * so the caller's read goes out without waiting a tick.
   */
  pendingDiscovery(vehicleId: string): Promise<void> | undefined {
    if (this.discoveryDue.size === 0) {
      return undefined;
    }
    const owner = this.vehicles.get(vehicleId)?.userId;
    if (owner === undefined || !this.discoveryDue.delete(owner) || this.deps.backend().discoversUsers) {
      return undefined;
    }
    return this.discoverUser(owner).then(() => undefined, (err: unknown) => this.discoveryFailed(owner, err));
  }

  /** Lists the user's vehicles, creates/updates their accessories, removes those no longer authorized. */
  async discoverUser(userId: string): Promise<VehicleAccessory[]> {
    const discovery = await this.deps.backend().discover(userId, (id) => this.vehicles.get(id)?.context.info);
    return this.applyDiscovery(userId, discovery);
  }

  remove(vehicleId: string): void {
    const v = this.vehicles.get(vehicleId);
    if (!v) {
      return;
    }
    this.vehicles.delete(vehicleId);
    this.absent.delete(vehicleId);
    this.keepLedger(v);
    this.deps.schedule.unschedule(vehicleId);
    this.cached.delete(v.accessory.UUID);
    this.deps.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [v.accessory]);
  }

  private keepLedger(v: VehicleAccessory): void {
    void this.deps.ledger.keep(v.id, { ...(v.context.usage ? { usage: v.context.usage } : {}), ...(v.context.history ? { history: v.context.history } : {}) });
  }

  // ---- discovery ----------------------------------------------------------------------------------

  /**
   * v3: list every connection of the application, so cars connected anywhere appear on their own. Returns
   * how long Smartcar asked to wait before the next request, when it throttled this one.
   */
  private async discoverAll(): Promise<number | undefined> {
    try {
      this.applyDiscovery(undefined, await this.deps.backend().discover(undefined, (id) => this.vehicles.get(id)?.context.info));
      // A later outage is news again: warned once more, not buried at debug behind the first.
      this.failures.forget('discovery');
      this.deps.application.answered();
      return undefined;
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: 'Listing the connected vehicles' });
      if (problem.appWide === true) {
        this.deps.application.refused(describeForOwner(problem));
      } else {
        this.failures.warn('discovery', `Listing the vehicles connected to the Smartcar application failed: ${describeForOwner(problem)}; cached vehicles keep their last values, and it is tried again in a minute`);
      }
      this.scheduleUnscheduled();
      const retryAfter = (problem as SmartcarProblem & { retryAfterSeconds?: number }).retryAfterSeconds;
      return problem.kind === 'rate-limited' && retryAfter !== undefined ? retryAfter * 1000 : undefined;
    }
  }

  /** The next listing: a minute on, or later when Smartcar asked for a pause (its app-wide bucket refills slowly). */
  private planDiscovery(waitMs = 0): void {
    if (this.deps.signal.aborted) {
      return;
    }
    this.discoveryTimer = setTimeout(() => {
      void this.discoverAll().then((wait) => this.planDiscovery(wait), () => this.planDiscovery());
    }, Math.max(waitMs, this.deps.timing.discoveryIntervalMs));
    this.discoveryTimer.unref();
  }

  private scheduleUnscheduled(): void {
    for (const v of this.vehicles.values()) {
      if (!this.deps.schedule.isScheduled(v.id)) {
        this.deps.schedule.schedule(v);
      }
    }
  }

  private discoveryFailed(userId: string, err: unknown): void {
    const problem = mapSmartcarError(err, { operation: 'Discovering vehicles' });
    this.deps.log.warn(`Discovering the vehicles of Smartcar user ${userId} failed: ${describeForOwner(problem)}; cached vehicles keep their last values`);
    for (const v of this.of(userId)) {
      this.deps.schedule.schedule(v);
    }
  }

  /**
   * Creates or updates the accessories of what discovery found and removes those it proves gone: of one
   * user, or of every user (userId undefined). Removing breaks the owner's automations, so it takes a
   * conclusive answer, and with v3 two of them in a row.
   */
  private applyDiscovery(userId: string | undefined, discovery: Discovery): VehicleAccessory[] {
    const found: VehicleAccessory[] = [];
    const backend = this.deps.backend();
    for (const d of discovery.vehicles) {
      const vehicle = this.upsert(d.userId, d.info);
      vehicle.countRequests(d.cost);
      vehicle.context.listedBy = backend.api;
      found.push(vehicle);
      this.absent.delete(d.info.id);
    }
    if (discovery.conclusive) {
      const listed = new Set(discovery.vehicles.map((d) => d.info.id));
      const confirmations = backend.discoversUsers ? 2 : 1;
      for (const v of userId === undefined ? this.all() : this.of(userId)) {
        if (listed.has(v.id)) {
          continue;
        }
        if (v.context.listedBy !== backend.api && backend.reauthorizeReason(v.userId) === undefined) {
          // Cached from the other API (the owner switched) and not among this one's connections: the
          // accessory and its automations stay; the owner connects it once more (setup page, log).
          backend.requireReauthorization(v.userId, `${v.name} was connected before the plugin switched to Smartcar API ${backend.api}, and Smartcar does not list it there yet: connect it once more on the setup page; its accessory and automations stay`);
          continue;
        }
        if (v.context.listedBy !== backend.api) {
          continue;
        }
        const misses = (this.absent.get(v.id) ?? 0) + 1;
        this.absent.set(v.id, misses);
        if (misses >= confirmations) {
          this.deps.log.info(`${v.name} is no longer shared with this Smartcar application; removing it`);
          this.remove(v.id);
        }
      }
    }
    for (const v of found) {
      // A car already on a plan keeps it; a new or returning one is planned now.
      if (!this.deps.schedule.isScheduled(v.id) || userId !== undefined) {
        this.deps.schedule.schedule(v);
      }
    }
    return found;
  }

  private upsert(userId: string, info: VehicleInfo): VehicleAccessory {
    const { api } = this.deps;
    const existing = this.vehicles.get(info.id);
    if (existing) {
      existing.context.userId = userId;
      existing.update(info, existing.name || this.freeName(baseName(info)));
      api.updatePlatformAccessories([existing.accessory]);
      return existing;
    }
    const name = this.freeName(baseName(info));
    const uuid = api.hap.uuid.generate(`${PLUGIN_NAME}:${info.id}`);
    const accessory = new api.platformAccessory<VehicleContext>(name, uuid, DOOR_LOCK_CATEGORY);
    // Back after a disconnect: Smartcar's count of this month and the habits go on from where they were.
    const kept = this.deps.ledger.recall(info.id);
    accessory.context = { vehicleId: info.id, userId, name, info, ...(kept?.usage ? { usage: kept.usage } : {}), ...(kept?.history ? { history: kept.history } : {}) };
    const vehicle = this.makeVehicle(accessory);
    this.vehicles.set(info.id, vehicle);
    this.cached.set(uuid, accessory);
    api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
    this.deps.log.info(`Added ${name} (${[info.make, info.model, info.year || ''].filter(Boolean).join(' ')})`);
    return vehicle;
  }

  private makeVehicle(accessory: PlatformAccessory<VehicleContext>): VehicleAccessory {
    const { api, log, config, billing, now, commands, changed } = this.deps;
    return new VehicleAccessory(accessory, { api, log, config, billing, now, commands, ...(changed ? { changed } : {}) });
  }

  /**
   * A second car of the same model gets "Model 3 2", the next "Model 3 3": a name, once given, is never
   * taken back (Siri phrases and automations use it), so a later car gets the next free one.
   */
  private freeName(base: string): string {
    const taken = new Set(this.all().map((v) => v.name));
    let name = base;
    for (let n = 2; taken.has(name); n++) {
      name = `${base} ${n}`;
    }
    return name;
  }
}

function baseName(info: VehicleInfo): string {
  return sanitizeName(info.model || info.make, 'Car');
}

/** Accessories cached by an older or broken version carry no usable vehicle: they are dropped at start. */
function isVehicleContext(c: unknown): c is VehicleContext {
  const ctx = c as Partial<VehicleContext> | undefined;
  return typeof ctx?.vehicleId === 'string' && typeof ctx.userId === 'string' && typeof ctx.info === 'object' && ctx.info !== null
    && Array.isArray(ctx.info.permissions);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
