// One HomeKit accessory per vehicle, coordinated here: the cached state, read failures, the lock
// command queue and the request budget. Each service is a file under services/ that reads this state
// through a view; lock writes return at once while the command settles (the target reverts on failure).
import type { API, Logging, PlatformAccessory } from 'homebridge';

import type { PluginConfig } from '../config.js';
import type { SmartcarProblem } from '../smartcar/errors.js';
import type { ReadResult, Signal, VehicleInfo, VehicleSnapshot } from '../smartcar/types.js';
import { LockTarget } from './mappers.js';
import { RequestBudget, type Usage } from './budget.js';
import { planVehicle, type VehiclePlan } from './plan.js';
import type { RefreshHistory } from './policy.js';
import { Bindings } from './services/binding.js';
import { configureBattery } from './services/battery.js';
import { configureInformation } from './services/information.js';
import { configureLock } from './services/lock.js';
import { configurePluggedIn } from './services/plugged-in.js';
import type { ServiceScope, VehicleView } from './services/scope.js';

/** What Homebridge keeps for us in cachedAccessories, so a restart serves the last values at once. */
export interface VehicleContext {
  vehicleId: string;
  userId: string;
  name: string;
  info: VehicleInfo;
  snapshot?: VehicleSnapshot;
  /** Signals Smartcar said this car cannot deliver (e.g. /battery on an ICE car). */
  notCapable?: Signal[];
  /** Per signal, the owner-readable reason the last read of it failed. */
  failures?: Partial<Record<Signal, string>>;
  /** Command-only locks: the last command that succeeded (there is no read to confirm it). */
  commanded?: { locked: boolean; at: number };
  /** Billed requests this billing month (owned by budget.ts). */
  usage?: Usage;
  /** Plug and charge transitions seen by our reads, for the refresh policy (policy.ts). */
  history?: RefreshHistory;
}

export interface LockCommands {
  setLock(vehicle: VehicleAccessory, locked: boolean): Promise<void>;
  /** Plan the confirming read of /security after a successful command. */
  confirm(vehicle: VehicleAccessory): void;
}

export interface VehicleAccessoryDeps {
  api: API;
  log: Logging;
  config: PluginConfig;
  commands: LockCommands;
  staleAfterMs: (vehicle: VehicleAccessory) => number;
  now: () => number;
}

/** Configured, and pushed, in this order: a new service is a new file and a line here. */
const SERVICES: readonly ((scope: ServiceScope) => void)[] = [configureInformation, configureLock, configureBattery, configurePluggedIn];

export class VehicleAccessory {
  private plan: VehiclePlan;
  private target: number | undefined;
  private commandSeq = 0;
  /** Lock commands run one at a time, in the order asked: sent together, a later one could reach the car first. */
  private commandQueue: Promise<void> = Promise.resolve();
  private commandsPending = 0;
  /** Counts lock commands the car confirmed; a read that started before one of them may predate it. */
  private lockChanges = 0;
  private commandFailure: string | undefined;
  private reauthorize: string | undefined;
  /** Set while the month's request budget is spent: the last values stay, flagged as aging. */
  private budgetNote: string | undefined;
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
    this.view = {
      log: deps.log,
      config: deps.config,
      name: () => this.name,
      plan: () => this.plan,
      context: () => this.context,
      now: () => this.deps.now(),
      staleAfterMs: () => this.deps.staleAfterMs(this),
      reauthorizing: () => this.reauthorize !== undefined,
      faultFor: (signals) => this.faultFor(signals),
      lockTarget: () => this.target,
      lockFailed: () => this.commandFailure !== undefined,
      requestLock: (locked) => this.requestLock(locked),
    };
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

  get reauthorizeReason(): string | undefined {
    return this.reauthorize;
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
  lockEpoch(): number {
    return this.lockChanges;
  }

  /** Merge a read: values replace old ones, failures are remembered per signal. */
  applyRead(raw: ReadResult, at: number, epoch?: number): void {
    const ctx = this.context;
    const previous = ctx.snapshot;
    let result = raw;
    if (epoch !== undefined && epoch !== this.lockChanges && raw.values.locked !== undefined) {
      // A lock command succeeded while this read was on its way: the car may have answered the read
      // before it, so its lock state is older than the command's (the confirming read follows).
      const { locked: _older, ...values } = raw.values;
      result = { ...raw, values };
    }
    // A batch whose every item failed is no fresher than what we had.
    const readSomething = Object.keys(result.values).some((k) => valueSignal(k) !== undefined);
    const fetchedAt = readSomething || previous === undefined ? at : previous.fetchedAt;
    if (readSomething || previous !== undefined) {
      ctx.snapshot = { ...previous, ...result.values, fetchedAt };
    }
    const failures: Partial<Record<Signal, string>> = { ...ctx.failures };
    let replan = false;
    for (const signal of Object.keys(result.values).map(valueSignal).filter((s): s is Signal => s !== undefined)) {
      delete failures[signal];
    }
    for (const [signal, err] of Object.entries(result.failures) as [Signal, SmartcarProblem][]) {
      if (err.kind === 'not-capable') {
        ctx.notCapable = [...new Set([...(ctx.notCapable ?? []), signal])];
        replan = true;
        this.deps.log.info(`${this.name}: Smartcar cannot read ${signal} for this car; adjusting its services`);
        continue;
      }
      if (failures[signal] !== err.message) {
        this.deps.log.warn(`${this.name}: ${err.message}`);
      }
      failures[signal] = err.message;
    }
    ctx.failures = failures;
    this.reauthorize = undefined;
    // While a command is queued or on its way the target stays what the owner asked ("Locking...").
    if (result.values.locked !== undefined && this.commandsPending === 0) {
      this.commandFailure = undefined;
      this.target = undefined;
    }
    this.countRequests(result.requests);
    if (replan) {
      this.plan = this.computePlan();
      this.configure();
    }
    this.push();
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

  /** Re-evaluate freshness (called after every attempt and on a timer): stale data flags the services. */
  refreshFaults(): void {
    this.push();
  }

  /** A whole read failed: its signals show a fault (their last values stay) until a read delivers them again. */
  readFailed(signals: readonly Signal[], message: string): void {
    this.context.failures = { ...this.context.failures, ...Object.fromEntries(signals.map((s) => [s, message])) };
    this.push();
  }

  /** HomeKit shows a fault because the last read or lock command failed (not staleness or budget). */
  get failing(): boolean {
    return this.commandFailure !== undefined || Object.keys(this.context.failures ?? {}).length > 0;
  }

  isStale(): boolean {
    const at = this.context.snapshot?.fetchedAt;
    return at !== undefined && this.deps.now() - at > this.deps.staleAfterMs(this);
  }

  /** Problems written for the owner (the setup page shows them). */
  problems(): string[] {
    const out: string[] = [];
    if (this.reauthorize) {
      out.push(`Smartcar needs you to connect this vehicle again (${this.reauthorize})`);
    }
    if (this.commandFailure) {
      out.push(this.commandFailure);
    }
    if (this.budgetNote) {
      out.push(this.budgetNote);
    }
    for (const message of Object.values(this.context.failures ?? {})) {
      out.push(message);
    }
    if (this.isStale()) {
      out.push('The data is older than staleAfterMinutes: Smartcar has not answered recently');
    }
    const granted = this.context.info.permissions;
    if (this.plan.lock === 'command-only') {
      out.push('Grant read_security (connect again) so HomeKit can show whether the car is locked');
    } else if (this.plan.lock === 'read-only') {
      out.push('Grant control_security (connect again) to lock and unlock from HomeKit');
    }
    if (!granted.includes('read_vin')) {
      out.push('Grant read_vin to show the VIN as serial number');
    }
    return out;
  }

  private computePlan(): VehiclePlan {
    return planVehicle(this.context.info.permissions, this.deps.config.services, this.context.notCapable ?? []);
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
  }

  // ---- lock commands ----------------------------------------------------------------------------

  private requestLock(locked: boolean): void {
    const seq = ++this.commandSeq;
    this.target = locked ? LockTarget.SECURED : LockTarget.UNSECURED;
    // HomeKit waits for onSet: answer now, let the car take its time.
    this.commandsPending++;
    this.commandQueue = this.commandQueue
      .then(() => this.runLockCommand(locked, seq))
      .catch((err: unknown) => this.deps.log.error(`${this.name}: the lock command failed unexpectedly: ${String(err)}`))
      .finally(() => { this.commandsPending--; });
  }

  private async runLockCommand(locked: boolean, seq: number): Promise<void> {
    if (seq !== this.commandSeq) {
      return; // the owner asked again before this one was sent: only the last wish goes to the car
    }
    const verb = locked ? 'lock' : 'unlock';
    try {
      await this.deps.commands.setLock(this, locked);
    } catch (err) {
      if (seq !== this.commandSeq) {
        return; // a newer command is queued; it settles the target
      }
      const problem = err as SmartcarProblem;
      this.commandFailure = `Could not ${verb}: ${describeForOwner(problem)}${problem.kind === 'reauthorize' ? '' : `; ${nextStep(problem, 'command')}`}`;
      this.deps.log.warn(`${this.name}: ${this.commandFailure}`);
      if (problem.kind === 'reauthorize') {
        this.reauthorize = problem.message;
      }
      // Revert to what the car is known to be (earlier commands have settled: the queue is in order).
      this.target = undefined;
      this.push();
      return;
    }
    // The car did it, even if the owner has asked for something else since: remember that.
    this.lockChanges++;
    if (seq === this.commandSeq) {
      this.commandFailure = undefined;
    }
    if (this.plan.lock === 'command-only') {
      this.context.commanded = { locked, at: this.deps.now() };
    } else if (this.context.snapshot) {
      this.context.snapshot.locked = locked;
    } else {
      this.context.snapshot = { fetchedAt: this.deps.now(), locked };
    }
    this.deps.log.info(`${this.name}: ${locked ? 'locked' : 'unlocked'}`);
    this.push();
    if (this.plan.lock === 'read') {
      this.deps.commands.confirm(this);
    }
  }
}

/** Which signal a ReadResult value belongs to. */
function valueSignal(key: string): Signal | undefined {
  switch (key) {
    case 'locked':
      return 'lock';
    case 'batteryPercent':
      return 'battery';
    case 'fuelPercent':
      return 'fuel';
    case 'pluggedIn':
    case 'chargeState':
      return 'charge';
    default:
      return undefined;
  }
}

/** What happens next, or what the owner can do, for problems that are not re-authorization. */
export function nextStep(problem: SmartcarProblem, what: 'read' | 'command'): string {
  const later = what === 'read' ? 'the plugin will retry by itself' : 'try again later';
  switch (problem.kind) {
    case 'permission':
      return 'Connect is on the setup page';
    case 'configuration':
      return `check the Smartcar Dashboard (plan, billing, clientId/clientSecret); ${later}`;
    case 'vehicle-state':
      return what === 'read' ? later : 'fix that at the car, then try again';
    case 'rate-limited': {
      const s = (problem as SmartcarProblem & { retryAfterSeconds?: number }).retryAfterSeconds;
      return what === 'read' ? `the plugin will retry${s !== undefined ? ` in ${s} s` : ' later'}` : later;
    }
    default:
      return later;
  }
}

export function describeForOwner(problem: SmartcarProblem): string {
  switch (problem.kind) {
    case 'vehicle-state': {
      const p = problem as SmartcarProblem & { code: string; userMessage: string };
      return `${p.userMessage} (${p.code})`;
    }
    case 'reauthorize':
      return `${problem.message}. Open the setup page and connect the vehicle again.`;
    case 'rate-limited':
      return `Smartcar asks to wait before the next request (${problem.message})`;
    default:
      return problem.message;
  }
}
