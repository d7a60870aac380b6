// One HomeKit accessory per vehicle, coordinated here: the cached state and its staleness, read failures,
// the lock command queue and the request budget; a refresh arrives in one call (applyRefresh). Each service
// is a file under services/ reading this state through a view; lock writes return at once (the target reverts on failure).
import type { API, Logging, PlatformAccessory } from 'homebridge';

import type { PluginConfig } from '../config.js';
import { defaultIntervalMinutes, STALE_MARGIN_MINUTES } from '../settings.js';
import type { Billing } from '../smartcar/billing.js';
import type { NotCapableError, SmartcarProblem } from '../smartcar/errors.js';
import type { ReadResult, Signal, VehicleInfo, VehicleSnapshot, Whereabouts } from '../smartcar/types.js';
import { CommandQueue } from './command-queue.js';
import { atHomeVerdict, LockTarget } from './mappers.js';
import { RequestBudget, type Usage } from './budget.js';
import { planVehicle, type VehiclePlan } from './plan.js';
import { describeFreshness, judgeFreshness, type Freshness } from './freshness.js';
import { observe, type PolicyInput, type RefreshHistory } from './policy.js';
import { Bindings } from './services/binding.js';
import { configureBattery } from './services/battery.js';
import { configureCharging } from './services/charging.js';
import { configureAtHome } from './services/at-home.js';
import { configureClosedUp } from './services/closed-up.js';
import { configureLowVoltage } from './services/low-voltage.js';
import { configureInformation } from './services/information.js';
import { configureLock } from './services/lock.js';
import { configurePluggedIn } from './services/plugged-in.js';
import type { ServiceScope, VehicleView } from './services/scope.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/**
 * Reads in a row that brought no value for a signal (v2: a null percentRemaining) before its service is
 * left out: one odd answer must not break the owner's automations on it.
 */
export const EMPTY_READS_TO_DROP = 3;
/** A signal left out that way is looked at again a day later, then every other day, at most weekly. */
const PROBE_FIRST_MS = DAY_MS;
const PROBE_MAX_MS = 7 * DAY_MS;

/** "2026-12-01 09:00 UTC": the log and the setup page have no time zone of the owner's to use. */
export const utcMinute = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

/** What Homebridge keeps for us in cachedAccessories, so a restart serves the last values at once. */
export interface VehicleContext {
  vehicleId: string;
  userId: string;
  name: string;
  info: VehicleInfo;
  snapshot?: VehicleSnapshot;
  /** Signals Smartcar said this car cannot deliver (its COMPATIBILITY answer, e.g. /battery on an ICE car): left out for good. */
  incapable?: Signal[];
  /**
   * Before `incapable`: every signal ever answered not-capable, a single empty value included. Moved to
   * `empty` when restored, so what one odd answer removed is looked at again.
   */
  notCapable?: Signal[];
  /**
   * Per signal, reads in a row that brought no value, and when the last such read was sent. From
   * EMPTY_READS_TO_DROP on its service is left out and the signal read again now and then (probes), so a
   * good value brings the service back under the same subtype (HomeKit keeps its identity).
   */
  empty?: Partial<Record<Signal, { reads: number; at: number }>>;
  /** Per signal, the owner-readable reason the last read of it failed. */
  failures?: Partial<Record<Signal, string>>;
  /** Command-only locks: the last command that succeeded (there is no read to confirm it). */
  commanded?: { locked: boolean; at: number };
  /** Billed requests this billing month (owned by budget.ts). */
  usage?: Usage;
  /** Plug and charge transitions seen by our reads, for the refresh policy (policy.ts). */
  history?: RefreshHistory;
  /** What Smartcar serves for this car: fetched for us, a stored daily copy, or nothing (freshness.ts). */
  freshness?: Freshness;
  /** The backend whose discovery last listed this car (SmartcarBackend.api): an opaque label, compared only. */
  listedBy?: string;
  /**
   * Per signal, epoch ms the car recorded the value shown (its oemUpdatedAt, else when it arrived):
   * webhook deliveries come unordered, so an older one must not replace what a newer one brought.
   */
  valueAt?: Partial<Record<Signal, number>>;
  /**
   * Epoch ms the plugin set the charge limit shown, until a read brings the car's own (v2 reads never
   * do: its limit costs a request more per read), so the page can say where the number comes from.
   */
  chargeLimitSetAt?: number;
  /** Webhook deliveries for this car (platform/webhooks.ts): when the last came, and the recent gaps between them. */
  deliveries?: { lastAt: number; gapsMs: number[]; carries?: Signal[] };
}

/** The commands a car takes, and what each confirms by a read. */
export type CommandKind = 'lock' | 'charge';

export interface VehicleCommands {
  setLock(vehicle: VehicleAccessory, locked: boolean): Promise<void>;
  setCharging(vehicle: VehicleAccessory, charging: boolean): Promise<void>;
  /**
   * A command settled (commandFailed says how): plan the read that confirms it where its state can be
   * read, and (every lock) take note that the moment its state grows too old to show has moved.
   */
  confirm(vehicle: VehicleAccessory, kind: CommandKind): void;
}

/** Per command kind, how many commands the car carried out when a read went out (CommandQueue.epoch). */
export type CommandEpochs = Readonly<Record<CommandKind, number>>;

export interface VehicleAccessoryDeps {
  api: API;
  log: Logging;
  config: PluginConfig;
  /** What Smartcar bills for a read: the budget and the stale threshold are counted in it. */
  billing: Billing;
  commands: VehicleCommands;
  now: () => number;
  /** Something HomeKit shows of this car may have changed (the connection-health sensor looks again). */
  changed?: () => void;
}

/** Taken by beginRead as a read goes out, handed back to applyRefresh with what became of it. */
export interface PendingRead {
  readonly signals: readonly Signal[];
  /** At sending: a command that succeeded meanwhile outdates the read's state of what it changed. */
  readonly epoch: CommandEpochs;
  /** The values before the read: the transitions the refresh policy learns from are between these and the new ones. */
  readonly before: VehicleSnapshot | undefined;
}

/** What became of a read: Smartcar's answer, or the owner-readable failure and the requests it was billed. */
export type ReadOutcome =
  | { result: ReadResult; at: number }
  | { failure: string; billed: number; forOwner?: boolean };

/** Configured, and pushed, in this order: a new service is a new file and a line here. */
const SERVICES: readonly ((scope: ServiceScope) => void)[] = [configureInformation, configureLock, configureBattery, configurePluggedIn, configureClosedUp, configureLowVoltage, configureCharging, configureAtHome];

export class VehicleAccessory {
  private plan: VehiclePlan;
  /** Lock and unlock; true = lock. */
  private readonly locks: CommandQueue<boolean>;
  /** Start and stop charging; true = start. */
  private readonly charges: CommandQueue<boolean>;
  private reauthorize: string | undefined;
  /** Signals whose last read failed for what only the owner can fix (a permission withdrawn, the plan or credentials). */
  private readonly ownerSignals = new Set<Signal>();
  /** Set while the month's request budget is spent: the last values stay, flagged as aging. */
  private budgetNote: string | undefined;
  /** The refresh policy's latest delay until the next poll (0 before the first plan or with a fixed interval). */
  private plannedDelayMs = 0;
  /** Until then healthy webhook deliveries vouch for the values: nothing new means nothing changed. */
  private vouchedUntil: number | undefined;
  readonly budget: RequestBudget;
  private readonly bind: Bindings;
  /** What the service files see of this car: live reads of its state, and the one command path. */
  private readonly view: VehicleView;

  constructor(readonly accessory: PlatformAccessory<VehicleContext>, private readonly deps: VehicleAccessoryDeps) {
    this.budget = new RequestBudget(
      { get: () => this.context.usage, set: (u) => { this.context.usage = u; } },
      () => deps.config.requestsPerVehiclePerMonth,
      deps.now,
    );
    this.bind = new Bindings(deps.api.hap);
    this.locks = new CommandQueue(() => this.name, deps.log, {
      verb: (locked) => (locked ? 'lock' : 'unlock'),
      send: (locked) => deps.commands.setLock(this, locked),
      carriedOut: (locked) => this.lockCarriedOut(locked),
      refused: (problem) => this.commandRefused('lock', problem),
    });
    this.charges = new CommandQueue(() => this.name, deps.log, {
      verb: (on) => (on ? 'start charging' : 'stop charging'),
      send: (on) => deps.commands.setCharging(this, on),
      carriedOut: (on) => this.chargeCarriedOut(on),
      refused: (problem) => this.commandRefused('charge', problem),
    });
    this.view = {
      log: deps.log,
      config: deps.config,
      name: () => this.name,
      plan: () => this.plan,
      context: () => this.context,
      now: () => this.deps.now(),
      staleAfterMs: () => this.staleAfterMs(),
      reauthorizing: () => this.reauthorize !== undefined,
      faultFor: (signals) => this.faultFor(signals),
      lockTarget: () => {
        const wish = this.locks.target;
        return wish === undefined ? undefined : wish ? LockTarget.SECURED : LockTarget.UNSECURED;
      },
      lockFailed: () => this.locks.failed !== undefined,
      requestLock: (locked) => this.locks.request(locked),
      chargeTarget: () => this.charges.target,
      chargeFailed: () => this.charges.failed !== undefined,
      requestCharging: (on) => this.charges.request(on),
    };
    const legacy = this.context.notCapable;
    if (legacy !== undefined) {
      // Earlier versions removed a service on one empty answer and kept it removed: look once more.
      this.context.empty = { ...Object.fromEntries(legacy.map((signal) => [signal, { reads: EMPTY_READS_TO_DROP, at: 0 }])), ...this.context.empty };
      delete this.context.notCapable;
    }
    this.plan = this.computePlan();
    this.configure();
  }

  get id(): string {
    return this.context.vehicleId;
  }

  get userId(): string {
    return this.context.userId;
  }

  get name(): string {
    return this.context.name;
  }

  get context(): VehicleContext {
    return this.accessory.context;
  }

  get signals(): Signal[] {
    return this.plan.signals;
  }

  get lockMode(): VehiclePlan['lock'] {
    return this.plan.lock;
  }

  get levelSource(): VehiclePlan['level'] {
    return this.plan.level;
  }

  /** Whether the car may show its 12 V battery (once it reports it). */
  get lowVoltage(): boolean {
    return this.plan.lowVoltage;
  }

  /** Whether the car may show the At Home sensor (once its verdict is known). */
  get atHomeShown(): boolean {
    return this.plan.atHome;
  }

  /** Whether the car has the Closed Up sensor. */
  get closedUp(): boolean {
    return this.plan.closedUp;
  }

  get reauthorizeReason(): string | undefined {
    return this.reauthorize;
  }

  /** Epoch ms of the last read that delivered a value, or undefined before the first. */
  get lastReadAt(): number | undefined {
    return this.context.snapshot?.fetchedAt;
  }

  get charging(): boolean {
    return this.context.snapshot?.chargeState === 'CHARGING';
  }

  /** Billed requests of a read of every signal the car's services need (at least one, to plan with). */
  get fullReadCost(): number {
    return Math.max(1, this.deps.billing.readCost(this.signals));
  }

  /** Whether this month's poll budget still affords a read of everything (the command reserve stays untouched). */
  affordsFullRead(): boolean {
    return this.budget.canSpend(this.fullReadCost, 'poll');
  }

  /** New info from discovery (permissions may have changed): rebuild the services to match. */
  update(info: VehicleInfo, name: string): void {
    this.context.info = info;
    this.context.name = name;
    this.accessory.displayName = name;
    this.plan = this.computePlan();
    this.configure();
  }

  /** Pass to applyRead: taken when a read starts, it tells whether a command succeeded meanwhile. */
  commandEpochs(): CommandEpochs {
    return { lock: this.locks.epoch, charge: this.charges.epoch };
  }

  /** A read of these signals goes out now: what applyRefresh needs to judge its answer. */
  beginRead(signals: readonly Signal[]): PendingRead {
    const before = this.context.snapshot ? { ...this.context.snapshot } : undefined;
    const empty = this.context.empty ?? {};
    for (const signal of signals) {
      const e = empty[signal];
      if (e !== undefined && e.reads >= EMPTY_READS_TO_DROP) {
        empty[signal] = { ...e, at: this.deps.now() };
      }
    }
    return { signals, epoch: this.commandEpochs(), before };
  }

  /**
   * A refresh, applied in one step. Answered: the values, per-signal failures and billed requests, the VIN
   * it carried, and what the refresh policy learns from it. Failed: the requests Smartcar billed, and a
   * fault on the signals asked for (their last values stay) until a read delivers them again.
   */
  applyRefresh(read: PendingRead, outcome: ReadOutcome): void {
    if ('failure' in outcome) {
      this.countRequests(outcome.billed);
      this.readFailed(read.signals, outcome.failure, outcome.forOwner);
      return;
    }
    const { result, at } = outcome;
    this.applyRead(result, at, read.epoch);
    this.judgeSource(result, at);
    if (result.vin !== undefined && this.context.info.vin === undefined) {
      // v3 lists the VIN among the signals: the serial number HomeKit shows, for free.
      this.update({ ...this.context.info, vin: result.vin }, this.name);
    }
    if (this.context.snapshot) {
      this.context.history = observe(this.context.history, read.before, this.context.snapshot, at);
    }
    // Compared with the signals after the read: a not-capable answer may just have dropped one.
    if (this.signals.every((s) => read.signals.includes(s))) {
      this.context.history = { ...(this.context.history ?? { events: [] }), lastFullReadAt: at };
    }
  }

  /**
   * Smartcar may serve a stored copy refreshed about daily, or nothing, until a webhook subscription
   * exists: say so once when that starts or ends, and let the plan wait for when a read can help.
   */
  private judgeSource(result: ReadResult, at: number): void {
    const before = this.context.freshness;
    const now = judgeFreshness({ at, ...(result.servedAt !== undefined ? { servedAt: result.servedAt } : {}), ...(result.empty ? { empty: true } : {}) }, before);
    this.context.freshness = now;
    if (now.source !== (before?.source ?? 'live')) {
      const note = describeFreshness(now, utcMinute);
      this.deps.log.info(`${this.name}: ${note ?? 'Smartcar serves data fetched from the car again'}`);
    }
  }

  /** Epoch ms before which no read can bring this car newer data (Smartcar serves a stored copy), if any. */
  get usefulReadAfter(): number | undefined {
    const f = this.context.freshness;
    return f?.source === 'live' ? undefined : f?.usefulAfter;
  }

  /** A lock command is about to go out: it is billed, and the refresh policy looks again soon after one. */
  countCommand(at: number): void {
    this.countRequests(1);
    this.context.history = { ...(this.context.history ?? { events: [] }), lastCommandAt: at };
  }

  /** This car as the refresh policy (policy.ts) weighs it: budget left, month end, habits, charge state. */
  policyInput(focusCost: number): Omit<PolicyInput, 'now' | 'utcOffsetMs'> {
    const s = this.context.snapshot;
    const requestsLeft = this.budget.left('poll');
    return {
      readsLeft: Math.floor(requestsLeft / this.fullReadCost),
      requestsLeft,
      fullCost: this.fullReadCost,
      focusCost,
      monthEnd: this.budget.resetsAt(),
      history: this.context.history ?? { events: [] },
      snapshot: s === undefined ? undefined : {
        fetchedAt: s.fetchedAt,
        ...(s.pluggedIn !== undefined ? { pluggedIn: s.pluggedIn } : {}),
        ...(s.chargeState !== undefined ? { chargeState: s.chargeState } : {}),
        ...(s.dataAt !== undefined ? { dataAt: s.dataAt } : {}),
      },
    };
  }

  /** The refresh policy planned the next poll this far ahead: the stale threshold allows two such gaps. */
  planned(delayMs: number): void {
    this.plannedDelayMs = delayMs;
    // A shorter plan shortens the threshold: the data may be stale now.
    this.push();
  }

  /** How old the values may get before HomeKit flags them: staleAfterMinutes, else two missed refreshes. */
  staleAfterMs(): number {
    const config = this.deps.config;
    if (config.staleAfterMinutes !== undefined) {
      return config.staleAfterMinutes * MINUTE_MS;
    }
    // Of the fixed interval (the owner's, or the even spread of the budget), or of the latest plan if longer.
    const fixed = config.refreshIntervalMinutes ?? defaultIntervalMinutes(this.fullReadCost, config.requestsPerVehiclePerMonth);
    return 2 * Math.max(fixed * MINUTE_MS, this.plannedDelayMs) + STALE_MARGIN_MINUTES * MINUTE_MS;
  }

  /** Merge a read: values replace old ones, failures are remembered per signal. */
  applyRead(placedRaw: ReadResult, at: number, epoch?: CommandEpochs): void {
    const ctx = this.context;
    const previous = ctx.snapshot;
    const raw = this.placed(placedRaw);
    // Only once deliveries come (they set valueAt) can a read be older than what is shown.
    let result = ctx.valueAt !== undefined ? this.newerOnly(raw, at) : raw;
    if (epoch !== undefined && epoch.lock !== this.locks.epoch && result.values.locked !== undefined) {
      // A lock command succeeded while this read was on its way: the car may have answered the read
      // before it, so its lock state is older than the command's (the confirming read follows).
      const { locked: _older, ...values } = result.values;
      result = { ...result, values };
    }
    if (epoch !== undefined && epoch.charge !== this.charges.epoch && result.values.chargeState !== undefined) {
      // The same for charging started or stopped meanwhile (the plug stays: no command moves it).
      const { chargeState: _older, ...values } = result.values;
      result = { ...result, values };
    }
    // A batch whose every item failed is no fresher than what we had.
    const readSomething = Object.keys(result.values).some((k) => valueSignal(k) !== undefined);
    const fetchedAt = readSomething || previous === undefined ? at : previous.fetchedAt;
    if (result.values.chargeLimitPercent !== undefined) {
      delete ctx.chargeLimitSetAt;
    }
    if (readSomething || previous !== undefined) {
      ctx.snapshot = { ...previous, ...result.values, fetchedAt };
      if (readSomething && result.values.dataAt === undefined) {
        // New values without the car's age: the old age belongs to the values they replaced.
        delete ctx.snapshot.dataAt;
      }
    }
    const failures: Partial<Record<Signal, string>> = { ...ctx.failures };
    const empty = { ...ctx.empty };
    let replan = false;
    for (const signal of new Set(Object.keys(result.values).map(valueSignal).filter((s): s is Signal => s !== undefined))) {
      delete failures[signal];
      this.ownerSignals.delete(signal);
      if ((empty[signal]?.reads ?? 0) >= EMPTY_READS_TO_DROP) {
        replan = true;
        this.deps.log.info(`${this.name}: Smartcar sends ${signal} again; its service is back`);
      }
      delete empty[signal];
    }
    for (const [signal, err] of Object.entries(result.failures) as [Signal, SmartcarProblem][]) {
      if (err.kind === 'not-capable' && (err as NotCapableError).conclusive !== false && ctx.incapable?.includes(signal)) {
        continue; // known: every webhook delivery lists the signals the car cannot deliver
      }
      if (err.kind === 'not-capable' && (err as NotCapableError).conclusive !== false) {
        // Smartcar's own answer (COMPATIBILITY): the car cannot deliver it, now or later.
        ctx.incapable = [...new Set([...(ctx.incapable ?? []), signal])];
        delete empty[signal];
        delete failures[signal];
        replan = true;
        this.deps.log.info(`${this.name}: Smartcar cannot read ${signal} for this car; adjusting its services`);
        continue;
      }
      if (err.kind === 'not-capable') {
        // An empty value: a fault on the service (its last value stays) until it happens reads in a row.
        const reads = (empty[signal]?.reads ?? 0) + 1;
        empty[signal] = { reads, at };
        if (reads >= EMPTY_READS_TO_DROP) {
          delete failures[signal];
          if (reads === EMPTY_READS_TO_DROP) {
            replan = true;
            this.deps.log.info(`${this.name}: Smartcar sent no ${signal} value ${reads} reads in a row; leaving its service out until one arrives (looked for daily)`);
          } else {
            this.deps.log.debug(`${this.name}: still no ${signal} value from Smartcar`);
          }
          continue;
        }
      } else if ((empty[signal]?.reads ?? 0) >= EMPTY_READS_TO_DROP) {
        // A look at a signal left out failed otherwise: no service to flag; the next look is planned.
        this.deps.log.debug(`${this.name}: looking for ${signal} again failed: ${err.message}`);
        continue;
      }
      if (failures[signal] !== err.message) {
        this.deps.log.warn(`${this.name}: ${err.message}`);
      }
      failures[signal] = err.message;
      this.noteOwner(signal, forOwner(err));
    }
    ctx.failures = failures;
    ctx.empty = empty;
    this.reauthorize = undefined;
    // While a command is queued or on its way the target stays what the owner asked ("Locking...").
    if (result.values.locked !== undefined) {
      this.locks.settled();
    }
    if (result.values.chargeState !== undefined) {
      this.charges.settled();
    }
    this.countRequests(result.requests);
    if (previous?.lowVoltagePercent === undefined && ctx.snapshot?.lowVoltagePercent !== undefined && this.plan.lowVoltage) {
      replan = true; // the first 12 V value: its service appears
    }
    if (previous?.atHome === undefined && ctx.snapshot?.atHome !== undefined && this.plan.atHome) {
      replan = true; // the first at-home verdict: its sensor appears
    }
    if (replan) {
      this.plan = this.computePlan();
      this.configure();
    }
    this.push();
  }

  /** Where the car is, turned into the one value kept: at home or not. The position itself is dropped here. */
  private placed(raw: ReadResult): ReadResult {
    const where: Whereabouts | undefined = raw.whereabouts;
    if (where === undefined) {
      return raw;
    }
    const { homeLatitude, homeLongitude, homeRadiusMeters } = this.deps.config;
    const home = homeLatitude !== undefined && homeLongitude !== undefined ? { latitude: homeLatitude, longitude: homeLongitude, radiusMeters: homeRadiusMeters } : undefined;
    const atHome = atHomeVerdict(where, home);
    const { whereabouts: _kept, ...rest } = raw;
    return atHome === undefined ? rest : { ...rest, values: { ...rest.values, atHome } };
  }

  /**
   * The read without the values older than the ones shown (by the car's own time for each signal,
   * else the arrival): a delivery retried for minutes, or a stored copy, must not turn the car back.
   */
  private newerOnly(raw: ReadResult, at: number): ReadResult {
    const shown = this.context.valueAt ?? {};
    const values = { ...raw.values };
    const times = { ...shown };
    let dropped = false;
    for (const signal of new Set(Object.keys(raw.values).map(valueSignal).filter((s): s is Signal => s !== undefined))) {
      const t = raw.signalAt?.[signal] ?? raw.values.dataAt ?? at;
      const current = shown[signal];
      if (current !== undefined && t < current) {
        for (const key of VALUE_KEYS[signal]) {
          delete values[key];
        }
        dropped = true;
        this.deps.log.debug(`${this.name}: ignored an older ${signal} value (recorded ${utcMinute(t)}; the one shown is from ${utcMinute(current)})`);
      } else {
        times[signal] = t;
      }
    }
    this.context.valueAt = times;
    if (dropped) {
      const kept = Object.keys(values).map(valueSignal).filter((s): s is Signal => s !== undefined).map((s) => times[s]!);
      if (kept.length > 0) {
        values.dataAt = Math.min(...kept);
      } else {
        delete values.dataAt;
      }
    }
    return { ...raw, values };
  }

  /**
   * A webhook delivery: the car's state as a read would bring it, at no cost. It is also word that
   * Smartcar fetches this car live, whatever a stored copy said before.
   */
  applyDelivery(result: ReadResult, at: number): void {
    const before = this.context.snapshot ? { ...this.context.snapshot } : undefined;
    if (this.context.freshness !== undefined && this.context.freshness.source !== 'live') {
      delete this.context.freshness;
      this.deps.log.info(`${this.name}: webhook deliveries bring the car's data as it changes`);
    }
    this.context.valueAt ??= {};
    this.applyRead(result, at, this.commandEpochs());
    if (this.context.snapshot) {
      this.context.history = observe(this.context.history, before, this.context.snapshot, at);
    }
  }

  /** Smartcar reports trouble with these signals (empty: all) by webhook: a fault like a failed read, until resolved. */
  deliveredError(signals: readonly Signal[], message: string): void {
    this.readFailed(signals.length > 0 ? signals : this.plan.signals, message);
  }

  /** Smartcar says the trouble is over: the faults on these signals (empty: all) end. */
  deliveredResolved(signals: readonly Signal[]): void {
    const failures = { ...this.context.failures };
    for (const signal of signals.length > 0 ? signals : this.plan.signals) {
      delete failures[signal];
      this.ownerSignals.delete(signal);
    }
    this.context.failures = failures;
    this.push();
  }

  /** Healthy webhook deliveries vouch for the values until `at` (undefined: they do not). */
  vouchUntil(at: number | undefined): void {
    if (at !== this.vouchedUntil) {
      this.vouchedUntil = at;
      this.push();
    }
  }

  countRequests(n: number): void {
    this.budget.count(n);
  }

  /** The month's request budget is spent (a note for the owner) or renewed (undefined). */
  setBudgetExhausted(note: string | undefined): void {
    if (note !== this.budgetNote) {
      this.budgetNote = note;
      this.push();
    }
  }

  /** The owner must connect again: every service shows a fault until then. */
  setReauthorize(reason: string | undefined): void {
    this.reauthorize = reason;
    this.push();
  }

  /** Re-evaluate what time alone changes (the scheduler's timer, at nextChangeAt): stale data flags the services. */
  refreshFaults(): void {
    this.push();
  }

  /**
   * The next moment a HomeKit value changes by time alone, after now: the data turns stale, or a
   * command-only lock's last command grows too old to show (services/lock.ts). Undefined: none ahead.
   */
  nextChangeAt(): number | undefined {
    const now = this.deps.now();
    const limit = this.staleAfterMs();
    // Stale is "older than the limit": the first whole millisecond past it.
    const moments = [this.recordedAt, this.plan.lock === 'command-only' ? this.context.commanded?.at : undefined]
      .filter((at): at is number => at !== undefined)
      .map((at) => at + limit + 1)
      .concat(this.vouchedUntil !== undefined ? [this.vouchedUntil] : [])
      .filter((at) => at > now);
    return moments.length > 0 ? Math.min(...moments) : undefined;
  }

  /** A whole read failed: its signals show a fault (their last values stay) until a read delivers them again. */
  readFailed(signals: readonly Signal[], message: string, owner = false): void {
    // A signal read only to see whether it came back (a probe) has no service to flag.
    const served = signals.filter((s) => this.plan.signals.includes(s));
    this.context.failures = { ...this.context.failures, ...Object.fromEntries(served.map((s) => [s, message])) };
    served.forEach((s) => this.noteOwner(s, owner));
    this.push();
  }

  private noteOwner(signal: Signal, owner: boolean): void {
    if (owner) {
      this.ownerSignals.add(signal);
    } else {
      this.ownerSignals.delete(signal);
    }
  }

  /**
   * Whether only the owner can fix something for this car now (the connection-health sensor): connect it
   * again, its month's budget spent, or a read refused for a permission, the plan or the credentials.
   */
  needsOwner(): boolean {
    return this.reauthorize !== undefined || this.budgetNote !== undefined || [...this.ownerSignals].some((s) => this.context.failures?.[s] !== undefined);
  }

  /** Connect again: what failed before belongs to the old authorization; the read that follows tells the truth. */
  clearFaults(): void {
    this.context.failures = {};
    this.ownerSignals.clear();
    this.locks.clearFailure();
    this.charges.clearFailure();
    this.push();
  }

  /** The owner's last command of this kind failed (HomeKit shows a fault on its service until a read or a command settles it). */
  commandFailed(kind: CommandKind): boolean {
    return (kind === 'lock' ? this.locks : this.charges).failed !== undefined;
  }

  /** HomeKit shows a fault because the last read or a command failed (not staleness or budget). */
  get failing(): boolean {
    return this.locks.failed !== undefined || this.charges.failed !== undefined || Object.keys(this.context.failures ?? {}).length > 0;
  }

  /**
   * Stale: the car recorded its data longer ago than staleAfterMs. Smartcar often answers at once with
   * what a sleeping or parked-underground car reported days ago, so the car's own age (sc-data-age,
   * oemUpdatedAt) counts, not when we fetched it; without one, or after our fetch (clock skew), our fetch.
   */
  isStale(): boolean {
    if (this.vouchedUntil !== undefined && this.deps.now() < this.vouchedUntil) {
      return false;
    }
    const at = this.recordedAt;
    return at !== undefined && this.deps.now() - at > this.staleAfterMs();
  }

  /** Epoch ms the values we hold were recorded: the car's data age where Smartcar gave one, else our fetch. */
  get recordedAt(): number | undefined {
    const s = this.context.snapshot;
    return s === undefined ? undefined : Math.min(s.dataAt ?? s.fetchedAt, s.fetchedAt);
  }

  /** Problems written for the owner (the setup page shows them). */
  problems(): string[] {
    const out: string[] = [];
    if (this.reauthorize) {
      out.push(`Smartcar needs you to connect this vehicle again (${this.reauthorize})`);
    }
    for (const failed of [this.locks.failed, this.charges.failed]) {
      if (failed !== undefined) {
        out.push(failed);
      }
    }
    if (this.budgetNote) {
      out.push(this.budgetNote);
    }
    // A whole read that failed leaves the same message on every signal it asked for: say it once.
    for (const message of new Set(Object.values(this.context.failures ?? {}))) {
      out.push(message);
    }
    if (this.isStale()) {
      const s = this.context.snapshot!;
      const recorded = this.recordedAt!;
      out.push(this.deps.now() - s.fetchedAt > this.staleAfterMs()
        ? 'The data is older than staleAfterMinutes: Smartcar has not answered recently'
        : `The data is older than staleAfterMinutes: the car last reported it at ${utcMinute(recorded)}, although Smartcar answered at ${utcMinute(s.fetchedAt)} (the car may be asleep or out of coverage)`);
    }
    const source = describeFreshness(this.context.freshness, utcMinute);
    if (source !== undefined) {
      out.push(source);
    }
    const granted = this.context.info.permissions;
    if (this.plan.lock === 'command-only') {
      out.push('Grant read_security (connect again) so HomeKit can show whether the car is locked');
    } else if (this.plan.lock === 'read-only') {
      out.push('Grant control_security (connect again) to lock and unlock from HomeKit');
    }
    if (this.deps.config.services.charging && granted.includes('read_battery') && granted.includes('read_charge') && !granted.includes('control_charge')) {
      out.push('Grant control_charge (connect again) to start and stop charging from HomeKit');
    }
    const { homeLatitude, homeLongitude } = this.deps.config;
    if (this.deps.config.services.atHome && homeLatitude !== undefined && homeLongitude !== undefined && !granted.includes('read_location')) {
      // Connect asked for the location only from this version on: cars connected before never granted it.
      out.push('Grant read_location (connect again) so At Home can tell whether the car is home');
    }
    if (!granted.includes('read_vin')) {
      out.push('Grant read_vin to show the VIN as serial number');
    }
    return out;
  }

  /**
   * Signals left out for empty answers that are due for another look: after a day, then twice as long
   * each time, at most a week; or now, when the owner asked for everything (`now`: Refresh now).
   */
  dueProbes(now: boolean): Signal[] {
    const at = this.deps.now();
    const wanted = planVehicle(this.context.info.permissions, this.deps.config.services, this.context.incapable ?? [], this.hasHomePoint).signals;
    return this.dropped().filter((signal) => {
      const e = this.context.empty![signal]!;
      const wait = Math.min(PROBE_MAX_MS, PROBE_FIRST_MS * 2 ** (e.reads - EMPTY_READS_TO_DROP));
      return wanted.includes(signal) && (now || at - e.at >= wait);
    });
  }

  /** Signals whose services are left out because reads in a row brought no value. */
  private dropped(): Signal[] {
    return (Object.entries(this.context.empty ?? {}) as [Signal, { reads: number }][])
      .filter(([, e]) => e.reads >= EMPTY_READS_TO_DROP).map(([signal]) => signal);
  }

  private computePlan(): VehiclePlan {
    return planVehicle(this.context.info.permissions, this.deps.config.services, [...(this.context.incapable ?? []), ...this.dropped()], this.hasHomePoint);
  }

  private get hasHomePoint(): boolean {
    return this.deps.config.homeLatitude !== undefined && this.deps.config.homeLongitude !== undefined;
  }

  // ---- services ---------------------------------------------------------------------------------

  private configure(): void {
    this.bind.clear();
    const scope: ServiceScope = { hap: this.deps.api.hap, accessory: this.accessory, bind: this.bind, vehicle: this.view };
    for (const configureService of SERVICES) {
      configureService(scope);
    }
    this.push();
  }

  private faultFor(signals: readonly Signal[]): boolean {
    const failures = this.context.failures ?? {};
    return this.reauthorize !== undefined || this.budgetNote !== undefined || this.isStale() || signals.some((s) => failures[s] !== undefined);
  }

  /** Push every value that changed since the last push (HomeKit only hears about changes). */
  private push(): void {
    this.bind.push();
    this.deps.changed?.();
  }

  // ---- commands ---------------------------------------------------------------------------------

  private commandRefused(kind: CommandKind, problem: SmartcarProblem): void {
    if (problem.kind === 'reauthorize') {
      this.reauthorize = problem.message;
    }
    this.push();
    if (problem.kind !== 'reauthorize') {
      // One look later on ends the fault, should the owner fix it at the car and walk away.
      this.deps.commands.confirm(this, kind);
    }
  }

  private lockCarriedOut(locked: boolean): void {
    if (this.plan.lock === 'command-only') {
      this.context.commanded = { locked, at: this.deps.now() };
    } else if (this.context.snapshot) {
      this.context.snapshot.locked = locked;
    } else {
      this.context.snapshot = { fetchedAt: this.deps.now(), locked };
    }
    this.settledByCommand('lock');
    this.deps.log.info(`${this.name}: ${locked ? 'locked' : 'unlocked'}`);
    this.push();
    this.deps.commands.confirm(this, 'lock');
  }

  /**
   * The car took the command. Stopping leaves it plugged in and not charging; starting means charging
   * until the confirming read says more (a car may stop at once when it is full: that read tells).
   */
  private chargeCarriedOut(on: boolean): void {
    const chargeState = on ? 'CHARGING' : 'NOT_CHARGING';
    this.context.snapshot = { ...(this.context.snapshot ?? { fetchedAt: this.deps.now() }), chargeState };
    this.settledByCommand('charge');
    this.deps.log.info(`${this.name}: ${on ? 'charging started' : 'charging stopped'}`);
    this.push();
    this.deps.commands.confirm(this, 'charge');
  }

  /** The car took a new charge limit (the setup page or the Homebridge UI set it; no HomeKit service shows it). */
  chargeLimitSet(percent: number): void {
    const now = this.deps.now();
    this.context.snapshot = { ...(this.context.snapshot ?? { fetchedAt: now }), chargeLimitPercent: percent };
    this.context.chargeLimitSetAt = now;
    this.deps.log.info(`${this.name}: charge limit set to ${percent}%`);
  }

  /** Whether the owner may set the charge limit: an electric car whose charging the plugin may control. */
  get chargeLimitSettable(): boolean {
    return this.plan.signals.includes('charge') && this.context.info.permissions.includes('control_charge');
  }

  private settledByCommand(signal: Signal): void {
    if (this.context.valueAt !== undefined) {
      // A delivery of what the car reported before it carried out the command is older than this.
      this.context.valueAt = { ...this.context.valueAt, [signal]: this.deps.now() };
    }
  }
}

/** The ReadResult values each signal brings. */
const VALUE_KEYS: Record<Signal, readonly (keyof ReadResult['values'])[]> = {
  lock: ['locked', 'openings'], battery: ['batteryPercent'], fuel: ['fuelPercent'], charge: ['pluggedIn', 'chargeState'], location: ['atHome'],
};

/** Which signal a ReadResult value belongs to. */
const SIGNAL_OF_VALUE = new Map<string, Signal>((Object.entries(VALUE_KEYS) as [Signal, readonly string[]][]).flatMap(([signal, keys]) => keys.map((k) => [k, signal] as [string, Signal])));

function valueSignal(key: string): Signal | undefined {
  return SIGNAL_OF_VALUE.get(key);
}

/** Problems no retry can fix: a permission withdrawn, Smartcar refusing the plan, billing or credentials. */
function forOwner(problem: SmartcarProblem): boolean {
  return problem.kind === 'permission' || problem.kind === 'configuration';
}
