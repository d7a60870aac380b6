// Platform lifecycle: restore cached vehicles (their last values are served at once), load tokens and
// discover every connected user's vehicles after launch, keep them fresh through one scheduler, serve
// the setup page, and stop everything on shutdown. Errors are caught here, at the edge, and logged once.
import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig } from 'homebridge';

import { normalizeConfig, type PluginConfig } from './config.js';
import type { ConnectedVehicle, LockView, RefreshNowAnswer, SetupHost, UserStatusView, VehicleStatusView } from './setup/host.js';
import { SetupServer } from './setup/server.js';
import {
  BACKOFF_INITIAL_SECONDS, CONFIRM_READ_DELAY_SECONDS, defaultIntervalMinutes, DISCOVERY_INTERVAL_SECONDS, PLATFORM_NAME, PLUGIN_NAME, REFRESH_NOW_DEBOUNCE_SECONDS,
  REFRESH_SPREAD_SECONDS, STALE_MARGIN_MINUTES, STARTUP_DELAY_SECONDS,
} from './settings.js';
import { createBackend } from './smartcar/backend.js';
import { billingFor, type Billing } from './smartcar/billing.js';
import { mapSmartcarError, TransientError, type SmartcarProblem } from './smartcar/errors.js';
import type { ConnectApproval, Discovery, Signal, SmartcarBackend, VehicleInfo } from './smartcar/types.js';
import { describeForOwner, nextStep, VehicleAccessory, type VehicleContext } from './vehicle/accessory.js';
import { sanitizeName } from './vehicle/mappers.js';
import { commandReserve } from './vehicle/budget.js';
import { observe, planNext, type PolicyPlan } from './vehicle/policy.js';
import { RefreshScheduler, type RefreshOutcome, type RefreshReason, type TimerSource } from './vehicle/scheduler.js';

const MINUTE_MS = 60_000;
// Categories is an ambient const enum (unusable under verbatimModuleSyntax); DOOR_LOCK is 6 in HAP 1.x and 2.x.
const DOOR_LOCK_CATEGORY = 6;

/** Delays in ms; integration tests shorten them (a real Homebridge never changes them). */
export const timing = {
  startupDelayMs: STARTUP_DELAY_SECONDS * 1000,
  spreadMs: REFRESH_SPREAD_SECONDS * 1000,
  backoffInitialMs: BACKOFF_INITIAL_SECONDS * 1000,
  confirmDelayMs: CONFIRM_READ_DELAY_SECONDS * 1000,
  /** "Refresh now" is ignored when the vehicle was read less than this long ago. */
  refreshNowDebounceMs: REFRESH_NOW_DEBOUNCE_SECONDS * 1000,
  /** v3: how often the application's connections are listed (unbilled) to find cars connected elsewhere. */
  discoveryIntervalMs: DISCOVERY_INTERVAL_SECONDS * 1000,
};

/**
 * The platform's time: the budget tests and the bench run a simulated month on the emulator's clock
 * with virtual timers (the scheduler is the only long-lived timer). Read when the platform is built.
 */
export const clock: { now: () => number; timers: TimerSource | undefined } = { now: () => Date.now(), timers: undefined };

export class SmartcarPlatform implements DynamicPlatformPlugin, SetupHost {
  private readonly config: PluginConfig | undefined;
  private readonly cached = new Map<string, PlatformAccessory<VehicleContext>>();
  private readonly vehicles = new Map<string, VehicleAccessory>();
  private readonly abort = new AbortController();
  private readonly lastError = new Map<string, string>();
  /** The last plan of each vehicle (delay and why), for the log and the stale threshold. */
  private readonly plans = new Map<string, PolicyPlan>();
  /** Users whose vehicle list is asked for at their first refresh (restarted with a fresh cache). */
  private readonly discoveryDue = new Set<string>();
  /** Vehicles whose next read reads everything, whatever the plan (the owner pressed Refresh now). */
  private readonly fullNext = new Set<string>();
  private readonly now = clock.now;
  private backend!: SmartcarBackend;
  private billing!: Billing;
  /** Conclusive listings in a row that lacked a vehicle (v3): one odd answer must not remove a car. */
  private readonly absent = new Map<string, number>();
  private discoveryTimer: NodeJS.Timeout | undefined;
  private scheduler!: RefreshScheduler;
  private setupServer: SetupServer | undefined;
  private launched: Promise<void> | undefined;

  constructor(
    private readonly log: Logging,
    rawConfig: PlatformConfig,
    private readonly api: API,
  ) {
    this.config = normalizeConfig(rawConfig ?? {}, log);
    const config = this.config;
    if (config === undefined) {
      return;
    }
    const signal = this.abort.signal;
    this.billing = billingFor(config.api);
    this.scheduler = new RefreshScheduler({
      signal,
      refresh: (id, reason) => this.refresh(id, reason),
      onError: (id, err) => this.log.error(`Refreshing ${this.vehicles.get(id)?.name ?? id} failed unexpectedly: ${String(err)}`),
      ...timing,
      now: this.now,
      ...(clock.timers ? { timers: clock.timers } : {}),
      nextDelayMs: (id) => {
        const v = this.vehicles.get(id);
        return v ? this.intervalMs(v, true) : timing.startupDelayMs;
      },
    });

    api.on('didFinishLaunching', () => {
      this.launched = this.launch().catch((err: unknown) => this.log.error(`Starting Smartcar failed: ${messageOf(err)}`));
    });
    api.on('shutdown', () => {
      void this.shutdown();
    });
  }

  configureAccessory(accessory: PlatformAccessory): void {
    const acc = accessory as PlatformAccessory<VehicleContext>;
    this.cached.set(acc.UUID, acc);
    if (this.config === undefined || !isVehicleContext(acc.context)) {
      return;
    }
    // Handlers are attached now so HomeKit gets the cached values from the first request on.
    try {
      this.vehicles.set(acc.context.vehicleId, this.makeVehicle(acc));
    } catch (err) {
      this.log.error(`Restoring ${acc.displayName} from the cache failed: ${messageOf(err)}`);
    }
  }

  /** Resolves when start-up (tokens, discovery, setup page) has finished; tests await it. */
  whenLaunched(): Promise<void> {
    return this.launched ?? Promise.resolve();
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  private async launch(): Promise<void> {
    const config = this.config!;
    this.backend = await createBackend({
      config,
      storagePath: this.api.user.storagePath(),
      signal: this.abort.signal,
      now: this.now,
      events: {
        onReauthorizeNeeded: (userId, reason, quiet) => this.onReauthorizeNeeded(userId, reason, quiet),
        onUnreadableUser: (file, err) => {
          this.log.error(`Cannot read the Smartcar token file ${file} (${messageOf(err)}); connect that vehicle again on the setup page`);
        },
      },
    });
    this.log.debug(`Speaking Smartcar API ${this.backend.api}`);
    const users = await this.backend.start();
    if (!this.backend.discoversUsers) {
      // Cached vehicles of users whose tokens are gone can never refresh again.
      for (const v of [...this.vehicles.values()]) {
        if (!users.includes(v.userId)) {
          this.log.info(`${v.name}: no Smartcar authorization stored for it any more; removing it`);
          this.removeVehicle(v.id);
        }
      }
    }
    const orphans = [...this.cached.values()].filter((a) => !isVehicleContext(a.context));
    if (orphans.length > 0) {
      orphans.forEach((a) => this.cached.delete(a.UUID));
      this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, orphans);
    }
    for (const userId of users) {
      if (this.abort.signal.aborted) {
        return;
      }
      const cachedCars = this.vehiclesOf(userId);
      if (cachedCars.length > 0 && cachedCars.every((v) => v.context.snapshot !== undefined && !v.isStale())) {
        // A restart with fresh cached data costs nothing: the vehicle list and permissions are asked
        // for just before the first planned read of this user, not now.
        this.discoveryDue.add(userId);
        cachedCars.forEach((v) => this.schedule(v));
        this.log.debug(`Cached data of ${cachedCars.map((v) => v.name).join(', ')} is fresh: no Smartcar call until the next planned refresh`);
        continue;
      }
      await this.discoverUser(userId).catch((err: unknown) => this.discoveryFailed(userId, err));
    }
    if (this.backend.discoversUsers) {
      await this.discoverAll();
      // Cached cars the listing did not show (yet) keep serving and refreshing until it proves them gone.
      for (const v of this.vehicles.values()) {
        if (!this.scheduler.has(v.id)) {
          this.schedule(v);
        }
      }
      this.planDiscovery();
    }
    if (this.vehicles.size === 0) {
      this.log.info('No vehicle connected yet: open the setup page to connect one');
    }
    await this.startSetupServer();
  }

  /** v3: list every connection of the application, so cars connected anywhere appear on their own. */
  private async discoverAll(): Promise<void> {
    try {
      this.applyDiscovery(undefined, await this.backend.discover(undefined, (id) => this.vehicles.get(id)?.context.info));
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: 'Listing the connected vehicles' });
      this.logOnceKey('discovery', `Listing the vehicles connected to the Smartcar application failed: ${describeForOwner(problem)}; cached vehicles keep their last values, and it is tried again in a minute`);
      for (const v of this.vehicles.values()) {
        if (!this.scheduler.has(v.id)) {
          this.schedule(v);
        }
      }
    }
  }

  private planDiscovery(): void {
    if (this.abort.signal.aborted) {
      return;
    }
    this.discoveryTimer = setTimeout(() => {
      void this.discoverAll().finally(() => this.planDiscovery());
    }, timing.discoveryIntervalMs);
    this.discoveryTimer.unref();
  }

  private async startSetupServer(): Promise<void> {
    const config = this.config!;
    if (this.abort.signal.aborted) {
      return;
    }
    const server = new SetupServer({ port: config.setupPort, bind: config.setupBind, redirectUri: config.redirectUri, log: this.log, host: this });
    try {
      await server.start();
      this.setupServer = server;
    } catch {
      // start() has already logged the reason in one line; HomeKit keeps working without the page.
      return;
    }
    if (this.abort.signal.aborted) {
      await server.stop();
    }
  }

  private async shutdown(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.discoveryTimer);
    try {
      await this.setupServer?.stop();
    } catch (err) {
      this.log.debug(`Stopping the setup page: ${messageOf(err)}`);
    }
  }

  // ---- discovery ----------------------------------------------------------------------------------

  private discoveryFailed(userId: string, err: unknown): void {
    const problem = mapSmartcarError(err, { operation: 'Discovering vehicles' });
    this.log.warn(`Discovering the vehicles of Smartcar user ${userId} failed: ${describeForOwner(problem)}; cached vehicles keep their last values`);
    for (const v of this.vehiclesOf(userId)) {
      this.schedule(v);
    }
  }

  /** Lists the user's vehicles, creates/updates their accessories, removes those no longer authorized. */
  private async discoverUser(userId: string): Promise<VehicleAccessory[]> {
    const discovery = await this.backend.discover(userId, (id) => this.vehicles.get(id)?.context.info);
    return this.applyDiscovery(userId, discovery);
  }

  /**
   * Creates or updates the accessories of what discovery found and removes those it proves gone: of one
   * user, or of every user (userId undefined). Removing breaks the owner's automations, so it takes a
   * conclusive answer, and with v3 two of them in a row.
   */
  private applyDiscovery(userId: string | undefined, discovery: Discovery): VehicleAccessory[] {
    const found: VehicleAccessory[] = [];
    for (const d of discovery.vehicles) {
      const vehicle = this.upsertVehicle(d.userId, d.info);
      vehicle.countRequests(d.cost);
      found.push(vehicle);
      this.absent.delete(d.info.id);
    }
    if (discovery.conclusive) {
      const listed = new Set(discovery.vehicles.map((d) => d.info.id));
      const confirmations = this.backend.discoversUsers ? 2 : 1;
      for (const v of userId === undefined ? [...this.vehicles.values()] : this.vehiclesOf(userId)) {
        if (listed.has(v.id)) {
          continue;
        }
        const misses = (this.absent.get(v.id) ?? 0) + 1;
        this.absent.set(v.id, misses);
        if (misses >= confirmations) {
          this.log.info(`${v.name} is no longer shared with this Smartcar application; removing it`);
          this.removeVehicle(v.id);
        }
      }
    }
    this.assignNames();
    for (const v of found) {
      // A car already on a plan keeps it; a new or returning one is planned now.
      if (!this.scheduler.has(v.id) || userId !== undefined) {
        this.schedule(v);
      }
    }
    return found;
  }

  private upsertVehicle(userId: string, info: VehicleInfo): VehicleAccessory {
    const name = this.baseName(info);
    const existing = this.vehicles.get(info.id);
    if (existing) {
      existing.context.userId = userId;
      existing.update(info, existing.name || name);
      this.api.updatePlatformAccessories([existing.accessory]);
      return existing;
    }
    const uuid = this.api.hap.uuid.generate(`${PLUGIN_NAME}:${info.id}`);
    const accessory = new this.api.platformAccessory<VehicleContext>(name, uuid, DOOR_LOCK_CATEGORY);
    accessory.context = { vehicleId: info.id, userId, name, info };
    const vehicle = this.makeVehicle(accessory);
    this.vehicles.set(info.id, vehicle);
    this.cached.set(uuid, accessory);
    this.api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
    this.log.info(`Added ${name} (${[info.make, info.model, info.year || ''].filter(Boolean).join(' ')})`);
    return vehicle;
  }

  private makeVehicle(accessory: PlatformAccessory<VehicleContext>): VehicleAccessory {
    return new VehicleAccessory(accessory, {
      api: this.api,
      log: this.log,
      config: this.config!,
      now: this.now,
      staleAfterMs: (v) => this.staleAfterMs(v),
      commands: {
        setLock: (v, locked) => this.setLock(v, locked),
        confirm: (v) => this.scheduler.confirm(v.id),
      },
    });
  }

  private baseName(info: VehicleInfo): string {
    return sanitizeName(info.model || info.make, 'Car');
  }

  /** Two cars of the same model get "Model 3" and "Model 3 2", stable by vehicle id. */
  private assignNames(): void {
    const taken = new Map<string, number>();
    for (const v of [...this.vehicles.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      const base = this.baseName(v.context.info);
      const n = (taken.get(base) ?? 0) + 1;
      taken.set(base, n);
      const name = n === 1 ? base : `${base} ${n}`;
      if (name !== v.name) {
        v.update(v.context.info, name);
        this.api.updatePlatformAccessories([v.accessory]);
      }
    }
  }

  private removeVehicle(vehicleId: string): void {
    const v = this.vehicles.get(vehicleId);
    if (!v) {
      return;
    }
    this.vehicles.delete(vehicleId);
    this.absent.delete(vehicleId);
    this.scheduler.remove(vehicleId);
    this.cached.delete(v.accessory.UUID);
    this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [v.accessory]);
  }

  private vehiclesOf(userId: string): VehicleAccessory[] {
    return [...this.vehicles.values()].filter((v) => v.userId === userId);
  }

  // ---- refresh ------------------------------------------------------------------------------------

  /**
   * The delay until the next poll: the owner's fixed refreshIntervalMinutes when set, otherwise the
   * adaptive policy (budget left, days left, habits, state). `announce` logs the plan in one line.
   */
  private intervalMs(v: VehicleAccessory, announce = false): number {
    const config = this.config!;
    if (config.refreshIntervalMinutes !== undefined) {
      return config.refreshIntervalMinutes * MINUTE_MS;
    }
    const now = this.now();
    const s = v.context.snapshot;
    const plan = planNext({
      now,
      readsLeft: Math.floor(v.budget.left('poll') / Math.max(1, this.fullCost(v))),
      requestsLeft: v.budget.left('poll'),
      fullCost: this.fullCost(v),
      focusCost: this.billing.readCost(this.focusSignals(v)),
      monthEnd: v.budget.resetsAt(),
      history: v.context.history ?? { events: [] },
      snapshot: s === undefined ? undefined : {
        fetchedAt: s.fetchedAt,
        ...(s.pluggedIn !== undefined ? { pluggedIn: s.pluggedIn } : {}),
        ...(s.chargeState !== undefined ? { chargeState: s.chargeState } : {}),
        ...(s.dataAt !== undefined ? { dataAt: s.dataAt } : {}),
      },
      utcOffsetMs: -new Date(now).getTimezoneOffset() * MINUTE_MS,
    });
    this.plans.set(v.id, plan);
    if (announce) {
      this.log.debug(`${v.name}: next refresh in ${Math.round(plan.delayMs / MINUTE_MS)} min: ${plan.why}`);
    }
    return plan.delayMs;
  }

  /** What one refresh reads: the lock after a command, the charge signals when the plan says so, else all. */
  private signalsFor(v: VehicleAccessory, reason: RefreshReason): Signal[] {
    if (reason === 'confirm') {
      return v.signals.filter((s) => s === 'lock');
    }
    const full = this.fullNext.delete(v.id);
    const focused = this.plans.get(v.id)?.focus === true && !full ? this.focusSignals(v) : [];
    return focused.length > 0 ? focused : v.signals;
  }

  /** Billed requests of a read of everything the car's services need (at least one, to plan with). */
  private fullCost(v: VehicleAccessory): number {
    return Math.max(1, this.billing.readCost(v.signals));
  }

  /**
   * A charge-only read: the plug and charge state, plus the level while charging (it is what moves).
   * It costs one or two requests instead of every signal, so the policy can look more often where the
   * owner's automations are (plugged in at night, charging done). Empty when the car has no charge signal.
   */
  private focusSignals(v: VehicleAccessory): Signal[] {
    if (!v.signals.includes('charge')) {
      return [];
    }
    const charging = v.context.snapshot?.chargeState === 'CHARGING';
    const focus = v.signals.filter((s) => s === 'charge' || (charging && s === 'battery'));
    // Where one read of everything costs no more (v3 signals), reading less buys nothing.
    return this.billing.readCost(focus) < this.billing.readCost(v.signals) ? focus : [];
  }

  private staleAfterMs(v: VehicleAccessory): number {
    const config = this.config!;
    if (config.staleAfterMinutes !== undefined) {
      return config.staleAfterMinutes * MINUTE_MS;
    }
    // Two missed refreshes: of the fixed interval, or of the even spread / the longest plan seen.
    const fixed = config.refreshIntervalMinutes ?? defaultIntervalMinutes(this.fullCost(v), config.requestsPerVehiclePerMonth);
    const planned = this.plans.get(v.id)?.delayMs ?? 0;
    return 2 * Math.max(fixed * MINUTE_MS, planned) + STALE_MARGIN_MINUTES * MINUTE_MS;
  }

  private schedule(v: VehicleAccessory): void {
    if (this.backend.reauthorizeReason(v.userId) !== undefined) {
      return;
    }
    v.setReauthorize(undefined);
    if (!v.budget.canSpend(this.fullCost(v), 'poll')) {
      this.budgetExhausted(v);
    }
    // Cached data that is already stale is refreshed at once; fresh data waits for its interval.
    this.scheduler.upsert(v.id, this.intervalMs(v), v.isStale() ? undefined : v.context.snapshot?.fetchedAt);
  }

  private async refresh(vehicleId: string, reason: RefreshReason): Promise<RefreshOutcome> {
    const owner = this.vehicles.get(vehicleId)?.userId;
    if (owner !== undefined && this.discoveryDue.delete(owner) && !this.backend.discoversUsers) {
      // Deferred at start-up (fresh cache): vehicles shared or unshared meanwhile, permissions changed.
      await this.discoverUser(owner).catch((err: unknown) => this.discoveryFailed(owner, err));
    }
    const v = this.vehicles.get(vehicleId);
    if (!v) {
      return { kind: 'stop' };
    }
    const signals = this.signalsFor(v, reason);
    if (signals.length === 0) {
      return { kind: 'ok' };
    }
    // A confirming read belongs to its command and may use the command reserve; polls may not.
    const cost = this.billing.readCost(signals);
    if (!v.budget.canSpend(cost, reason === 'confirm' ? 'command' : 'poll')) {
      if (reason === 'confirm') {
        return { kind: 'ok' };
      }
      this.budgetExhausted(v);
      return { kind: 'defer', at: v.budget.resetsAt() };
    }
    this.budgetRenewed(v);
    const before = v.context.snapshot ? { ...v.context.snapshot } : undefined;
    const epoch = v.lockEpoch();
    try {
      const result = await this.backend.read(v.userId, vehicleId, signals);
      if (!this.vehicles.has(vehicleId)) {
        return { kind: 'stop' };
      }
      const now = this.now();
      v.applyRead(result, now, epoch);
      if (result.vin !== undefined && v.context.info.vin === undefined) {
        // v3 lists the VIN among the signals: the serial number HomeKit shows, for free.
        v.update({ ...v.context.info, vin: result.vin }, v.name);
      }
      if (v.context.snapshot) {
        v.context.history = observe(v.context.history, before, v.context.snapshot, now);
      }
      if (signals.length === v.signals.length) {
        v.context.history = { ...(v.context.history ?? { events: [] }), lastFullReadAt: now };
      }
      if (!v.budget.canSpend(this.fullCost(v), 'poll')) {
        this.budgetExhausted(v);
      }
      this.lastError.delete(vehicleId);
      this.api.updatePlatformAccessories([v.accessory]);
      const limited = Object.values(result.failures).find((f) => (f as SmartcarProblem).kind === 'rate-limited') as (SmartcarProblem & { retryAfterSeconds?: number }) | undefined;
      return limited ? { kind: 'retry-after', seconds: limited.retryAfterSeconds } : { kind: 'ok' };
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: `Reading ${v.name}` });
      // Smartcar bills a request the car answered with an error, not one refused before it.
      const billed = this.billing.readCost(signals, problem);
      if (billed > 0) {
        v.countRequests(billed);
        this.api.updatePlatformAccessories([v.accessory]);
      }
      if (problem.kind === 'reauthorize') {
        // AUTHENTICATION_FAILED on a read: the whole user needs Connect again (the backend tells the owner once).
        this.backend.requireReauthorization(v.userId, problem.message);
        return { kind: 'stop' };
      }
      this.logOnce(v, `${v.name}: refresh failed: ${describeForOwner(problem)}; ${nextStep(problem, 'read')}`);
      v.readFailed(signals, describeForOwner(problem));
      if (problem.kind === 'rate-limited') {
        return { kind: 'retry-after', seconds: (problem as SmartcarProblem & { retryAfterSeconds?: number }).retryAfterSeconds };
      }
      return { kind: 'transient' };
    }
  }

  /** The same failure again and again is logged once at warn, then at debug. */
  private logOnce(v: VehicleAccessory, message: string): void {
    this.logOnceKey(v.id, message);
  }

  private logOnceKey(key: string, message: string): void {
    if (this.lastError.get(key) === message) {
      this.log.debug(message);
    } else {
      this.lastError.set(key, message);
      this.log.warn(message);
    }
  }

  private readonly exhausted = new Set<string>();

  /** Said once per vehicle and month: the log line, the setup page note and the fault flag. */
  private budgetExhausted(v: VehicleAccessory): void {
    const resumes = new Date(v.budget.resetsAt()).toISOString().slice(0, 10);
    const reserve = commandReserve(v.budget.limit);
    v.setBudgetExhausted(`This month's request budget is used up (${v.budget.used()} of ${v.budget.limit}, ${reserve} kept for lock commands): HomeKit shows the last values until refreshes resume on ${resumes}`);
    if (!this.exhausted.has(v.id)) {
      this.exhausted.add(v.id);
      this.log.warn(`${v.name}: the monthly request budget is used up (${v.budget.used()} of ${v.budget.limit} requests); HomeKit keeps the last values, flagged, and refreshes resume on ${resumes}`);
    }
  }

  private budgetRenewed(v: VehicleAccessory): void {
    if (this.exhausted.delete(v.id)) {
      this.log.info(`${v.name}: a new month, a new request budget: refreshing again`);
    }
    v.setBudgetExhausted(undefined);
  }

  /** quiet: the failed command already told the owner in its own line. */
  private onReauthorizeNeeded(userId: string, reason: string, quiet = false): void {
    const vehicles = this.vehiclesOf(userId);
    const names = vehicles.map((v) => v.name).join(', ') || `user ${userId}`;
    (quiet ? this.log.debug.bind(this.log) : this.log.error.bind(this.log))(`Smartcar needs ${names} to be connected again (${reason}). Open the setup page and connect; polling for it stops until then.`);
    for (const v of vehicles) {
      v.setReauthorize(reason);
      this.scheduler.remove(v.id);
    }
  }

  private async setLock(v: VehicleAccessory, locked: boolean): Promise<void> {
    if (this.vehicles.get(v.id) !== v) {
      // Removed (disconnected, no longer shared) while HomeKit still had it: send nothing for it.
      throw new TransientError(`${v.name} is no longer connected to this plugin`);
    }
    if (!v.budget.canSpend(1, 'command')) {
      throw new TransientError(`this month's request budget (${v.budget.limit}) is used up; it renews on ${new Date(v.budget.resetsAt()).toISOString().slice(0, 10)}`);
    }
    v.countRequests(1);
    v.context.history = { ...(v.context.history ?? { events: [] }), lastCommandAt: this.now() };
    this.fullNext.add(v.id); // the next poll reads the lock too, whatever was planned before the command
    try {
      await this.backend.setLock(v.userId, v.id, locked);
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: locked ? 'Locking' : 'Unlocking' });
      if (problem.kind === 'reauthorize') {
        this.backend.requireReauthorization(v.userId, problem.message, { quiet: true });
      }
      throw problem;
    }
  }

  // ---- SetupHost ----------------------------------------------------------------------------------

  authUrl(state: string): string {
    return this.backend.connectUrl(state);
  }

  async completeAuthorization(approval: ConnectApproval): Promise<{ userId: string; vehicles: ConnectedVehicle[] }> {
    const userId = await this.backend.completeConnect(approval);
    const vehicles = await this.discoverUser(userId);
    return { userId, vehicles: vehicles.map((v) => ({ id: v.id, name: v.name })) };
  }

  status(): UserStatusView[] {
    if (this.config === undefined) {
      return [];
    }
    const userIds = new Set([...(this.backend?.users() ?? []), ...[...this.vehicles.values()].map((v) => v.userId)]);
    return [...userIds].map((userId) => {
      const problem = this.backend?.reauthorizeReason(userId);
      return {
        userId,
        needsReauth: problem !== undefined,
        ...(problem !== undefined ? { problem } : {}),
        vehicles: this.vehiclesOf(userId).map((v) => this.vehicleView(v)),
      };
    });
  }

  private vehicleView(v: VehicleAccessory): VehicleStatusView {
    const ctx = v.context;
    const s = ctx.snapshot;
    let lock: LockView = 'not-available';
    if (v.lockMode === 'read' || v.lockMode === 'read-only') {
      lock = s?.locked === undefined ? 'unknown' : s.locked ? 'locked' : 'unlocked';
    } else if (v.lockMode === 'command-only') {
      lock = 'unknown';
    }
    const level = v.levelSource === 'battery' ? s?.batteryPercent : v.levelSource === 'fuel' ? s?.fuelPercent : undefined;
    const view: VehicleStatusView = {
      vehicleId: v.id,
      userId: v.userId,
      name: v.name,
      make: ctx.info.make,
      model: ctx.info.model,
      year: ctx.info.year,
      permissions: ctx.info.permissions,
      lock,
      requestsUsed: v.budget.used(),
      requestBudget: this.config!.requestsPerVehiclePerMonth,
      problems: v.problems(),
    };
    if (level !== undefined) {
      view.level = Math.round(level);
      view.levelSource = v.levelSource;
    }
    if (s?.chargeState !== undefined) {
      view.charging = s.chargeState;
    }
    if (s?.pluggedIn !== undefined) {
      view.pluggedIn = s.pluggedIn;
    }
    if (s?.fetchedAt !== undefined) {
      view.lastRefreshAt = s.fetchedAt;
    }
    if (s?.dataAt !== undefined) {
      view.dataAt = s.dataAt;
    }
    const next = this.scheduler.nextAt(v.id);
    if (next !== undefined) {
      view.nextRefreshAt = next;
    }
    return view;
  }

  async disconnect(vehicleId: string): Promise<void> {
    const v = this.vehicles.get(vehicleId);
    if (!v) {
      throw new Error('This vehicle is not connected');
    }
    try {
      await this.backend.disconnect(v.userId, vehicleId);
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: `Disconnecting ${v.name}` });
      // Already gone at Smartcar, or our authorization is dead: either way it is disconnected for us.
      const gone = problem.kind === 'reauthorize' || (problem.kind === 'vehicle-state' && (problem as SmartcarProblem & { code: string }).code === 'VEHICLE_MISSING');
      if (!gone) {
        throw problem;
      }
    }
    const userId = v.userId;
    this.removeVehicle(vehicleId);
    this.log.info(`Disconnected ${v.name}`);
    if (this.vehiclesOf(userId).length === 0) {
      await this.backend.forgetUser(userId);
    }
  }

  refreshNow(vehicleId?: string): Promise<RefreshNowAnswer> {
    if (vehicleId !== undefined && !this.vehicles.has(vehicleId)) {
      return Promise.reject(new Error('This vehicle is not connected'));
    }
    const now = this.now();
    const skipped: RefreshNowAnswer[] = [];
    let queued = false;
    for (const v of vehicleId === undefined ? [...this.vehicles.values()] : [this.vehicles.get(vehicleId)!]) {
      // Debounced (a double click, a reload) and counted: it spends the same budget as any poll. Not
      // while HomeKit shows a failed read or command: an owner pressing it after an error expects a retry.
      const at = v.context.snapshot?.fetchedAt;
      if (at !== undefined && now - at < timing.refreshNowDebounceMs && !v.failing) {
        skipped.push('recent');
        continue;
      }
      if (!v.budget.canSpend(this.fullCost(v), 'poll')) {
        this.budgetExhausted(v);
        skipped.push('budget');
        continue;
      }
      if (this.backend.reauthorizeReason(v.userId) !== undefined) {
        // Nothing can be read until the owner connects again; saying "requested" would be a lie.
        skipped.push('reconnect');
        continue;
      }
      if (!this.scheduler.has(v.id)) {
        this.schedule(v);
      }
      this.fullNext.add(v.id);
      this.scheduler.refreshNow(v.id);
      queued = true;
    }
    return Promise.resolve(queued ? 'queued' : skipped.includes('reconnect') ? 'reconnect' : skipped.includes('budget') ? 'budget' : skipped.length > 0 ? 'recent' : 'queued');
  }
}

function isVehicleContext(c: unknown): c is VehicleContext {
  const ctx = c as Partial<VehicleContext> | undefined;
  return typeof ctx?.vehicleId === 'string' && typeof ctx.userId === 'string' && typeof ctx.info === 'object' && ctx.info !== null
    && Array.isArray(ctx.info.permissions);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
