// Keeps every car fresh through the one scheduler: decides what a refresh reads (everything, the lock
// after a command, or the charge signals when the policy says so), when the next one is (a fixed
// interval, or vehicle/policy.ts), asks the backend, and hands the whole answer to the car in one call.
import type { API, Logging } from 'homebridge';

import type { PluginConfig } from '../config.js';
import type { Billing } from '../smartcar/billing.js';
import { mapSmartcarError, type SmartcarProblem } from '../smartcar/errors.js';
import type { Signal, SmartcarBackend } from '../smartcar/types.js';
import type { CommandKind, VehicleAccessory } from '../vehicle/accessory.js';
import { describeForOwner, nextStep } from '../vehicle/owner-words.js';
import { planNext, POLICY, type PolicyPlan } from '../vehicle/policy.js';
import { RefreshScheduler, type RefreshOutcome, type RefreshReason, type TimerSource } from '../vehicle/scheduler.js';
import type { BudgetNotes } from './budget-notes.js';
import type { Fleet } from './fleet.js';
import { LogOnce, type ApplicationNotes } from './log-once.js';

const MINUTE_MS = 60_000;
const DEADLINE_MARGIN_MS = 1000;

type RateLimited = SmartcarProblem & { retryAfterSeconds?: number };

export interface RefreshTiming {
  readonly startupDelayMs: number;
  readonly spreadMs: number;
  readonly backoffInitialMs: number;
  readonly confirmDelayMs: number;
}

export interface RefresherDeps {
  api: API;
  log: Logging;
  config: PluginConfig;
  billing: Billing;
  now: () => number;
  signal: AbortSignal;
  /** The scheduler copies these when it is built; startupDelayMs is read again for a car gone meanwhile. */
  timing: RefreshTiming;
  /** Virtual timers of a simulated month; real ones otherwise. */
  timers: TimerSource | undefined;
  backend: () => SmartcarBackend;
  fleet: Pick<Fleet, 'get' | 'of' | 'pendingDiscovery'>;
  notes: BudgetNotes;
  /** Until when webhook deliveries vouch for a car's values (platform/webhooks.ts): no poll before then. */
  vouchedUntil: (v: VehicleAccessory) => number | undefined;
  /** Shared with the fleet's listing: a refusal of the whole application is one line, not one per car. */
  application: ApplicationNotes;
}

export class Refresher {
  private readonly scheduler: RefreshScheduler;
  /** The last plan of each vehicle (delay and why): whether its next read is charge-only. */
  private readonly plans = new Map<string, PolicyPlan>();
  /** Vehicles whose next read reads everything, whatever the plan (the owner pressed Refresh now, or sent a command). */
  private readonly fullNext = new Set<string>();
  /** Per vehicle, what its next confirming read looks at: the signals the commands since the last one changed. */
  private readonly confirming = new Map<string, Set<Signal>>();
  private readonly failures: LogOnce;

  constructor(private readonly deps: RefresherDeps) {
    this.failures = new LogOnce(deps.log);
    this.scheduler = new RefreshScheduler({
      signal: deps.signal,
      refresh: (id, reason) => this.refresh(id, reason),
      onError: (id, err) => deps.log.error(`Refreshing ${deps.fleet.get(id)?.name ?? id} failed unexpectedly: ${String(err)}`),
      ...deps.timing,
      now: deps.now,
      ...(deps.timers ? { timers: deps.timers } : {}),
      nextDelayMs: (id) => {
        const v = deps.fleet.get(id);
        return v ? this.intervalMs(v, true) : deps.timing.startupDelayMs;
      },
      // Staleness and a command-only lock's expiry come with the clock, not with a read: pushed when due.
      changesAt: (id) => deps.fleet.get(id)?.nextChangeAt(),
      timePassed: (id) => deps.fleet.get(id)?.refreshFaults(),
    });
  }

  /** Puts the car on the scheduler (cached data that is still fresh waits for its interval), unless it must be connected again. */
  schedule(v: VehicleAccessory): void {
    if (this.deps.backend().reauthorizeReason(v.userId) !== undefined) {
      return;
    }
    v.setReauthorize(undefined);
    if (!v.affordsFullRead()) {
      this.deps.notes.exhausted(v);
    }
    // Cached data that is already stale is refreshed at once; fresh data waits for its interval.
    this.scheduler.upsert(v.id, this.intervalMs(v), v.isStale() ? undefined : v.lastReadAt);
  }

  isScheduled(vehicleId: string): boolean {
    return this.scheduler.has(vehicleId);
  }

  /** The car leaves the platform: nothing of its plan or its told failures outlives it (it may come back anew). */
  unschedule(vehicleId: string): void {
    this.scheduler.remove(vehicleId);
    this.plans.delete(vehicleId);
    this.fullNext.delete(vehicleId);
    this.confirming.delete(vehicleId);
    this.failures.forget(vehicleId);
  }

  nextAt(vehicleId: string): number | undefined {
    return this.scheduler.nextAt(vehicleId);
  }

  /**
   * A command settled. Where the lock can be read: carried out, a confirming read shortly after; refused,
   * one look later on (the owner may fix it at the car, a door closed, without trying again), which ends
   * the command's fault with what the car reports. Command-only: the moment its state grows too old to
   * show has moved (nothing else tells the scheduler).
   */
  confirm(vehicleId: string, kind: CommandKind): void {
    const v = this.deps.fleet.get(vehicleId);
    // The signal that shows what the command changed, where this car reads it.
    const signal: Signal = kind === 'lock' ? 'lock' : 'charge';
    const readable = kind === 'lock' ? v?.lockMode === 'read' : v?.signals.includes('charge') === true;
    if (v !== undefined && readable) {
      this.confirming.set(vehicleId, new Set([...(this.confirming.get(vehicleId) ?? []), signal]));
      this.scheduler.confirm(vehicleId, v.commandFailed(kind) ? POLICY.afterCommandMs : undefined);
    } else {
      this.scheduler.changed(vehicleId);
    }
  }

  /** Deliveries for the car began, continue or stopped: its next poll is planned anew from now. */
  replan(vehicleId: string): void {
    const v = this.deps.fleet.get(vehicleId);
    if (v !== undefined && this.scheduler.has(vehicleId)) {
      this.scheduler.postpone(vehicleId, this.intervalMs(v));
    }
  }

  /** The next poll reads every signal, whatever the plan said (a command was sent: the lock may have moved). */
  readEverythingNext(vehicleId: string): void {
    this.fullNext.add(vehicleId);
  }

  /** The owner pressed Refresh now: read everything as soon as the budget allows. */
  refreshNow(v: VehicleAccessory): void {
    if (!this.scheduler.has(v.id)) {
      this.schedule(v);
    }
    this.fullNext.add(v.id);
    this.scheduler.refreshNow(v.id);
  }

  /** The backend says this user must connect again; quiet: the failed command already told the owner in its own line. */
  reauthorizeNeeded(userId: string, reason: string, quiet = false): void {
    const { log } = this.deps;
    const vehicles = this.deps.fleet.of(userId);
    const names = vehicles.map((v) => v.name).join(', ') || `user ${userId}`;
    (quiet ? log.debug.bind(log) : log.error.bind(log))(`Smartcar needs ${names} to be connected again (${reason}). Open the setup page and connect; polling for it stops until then.`);
    for (const v of vehicles) {
      v.setReauthorize(reason);
      this.scheduler.remove(v.id);
    }
  }

  /**
   * The delay until the next poll: the owner's fixed refreshIntervalMinutes when set, otherwise the
   * adaptive policy (budget left, days left, habits, state). `announce` logs the plan in one line.
   */
  private intervalMs(v: VehicleAccessory, announce = false): number {
    const { config } = this.deps;
    const now = this.deps.now();
    const vouched = this.deps.vouchedUntil(v);
    if (vouched !== undefined && vouched > now) {
      // Deliveries bring every change; a poll is due only should they fall silent. The stale threshold
      // keeps the last polling plan: once they stop, the values age as before.
      // Just past the deadline (timers may fire a little early): then the read happens unless a delivery came.
      const delayMs = vouched - now + DEADLINE_MARGIN_MS;
      this.plans.set(v.id, { delayMs, why: 'webhook deliveries bring every change', focus: false });
      if (announce) {
        this.deps.log.debug(`${v.name}: no scheduled read while webhook deliveries arrive (next look ${Math.round((vouched - now) / MINUTE_MS)} min from now)`);
      }
      return delayMs;
    }
    // Smartcar serves a stored copy until its next daily refresh: reading before then spends requests for nothing.
    const useful = v.usefulReadAfter;
    const wait = useful !== undefined && useful > now ? useful - now : 0;
    if (config.refreshIntervalMinutes !== undefined) {
      return Math.max(wait, config.refreshIntervalMinutes * MINUTE_MS);
    }
    const plan = planNext({
      ...v.policyInput(this.deps.billing.readCost(this.focusSignals(v))),
      now,
      utcOffsetMs: -new Date(now).getTimezoneOffset() * MINUTE_MS,
    });
    const delayMs = Math.max(wait, plan.delayMs);
    const why = delayMs > plan.delayMs ? 'Smartcar serves a stored copy until its next refresh' : plan.why;
    this.plans.set(v.id, { ...plan, delayMs, why });
    v.planned(delayMs);
    if (announce) {
      this.deps.log.debug(`${v.name}: next refresh in ${Math.round(delayMs / MINUTE_MS)} min: ${why}`);
    }
    return delayMs;
  }

  /** What one refresh reads: what commands changed, the charge signals when the plan says so, else all. */
  private signalsFor(v: VehicleAccessory, reason: RefreshReason): Signal[] {
    const all = v.signals;
    if (reason === 'confirm') {
      const changed = this.confirming.get(v.id) ?? new Set<Signal>(['lock']);
      return all.filter((s) => changed.has(s));
    }
    const full = this.fullNext.delete(v.id);
    const focused = this.plans.get(v.id)?.focus === true && !full ? this.focusSignals(v) : [];
    // A full read also looks again at what empty answers left out: daily, or at once when the owner asked.
    return focused.length > 0 ? focused : [...all, ...v.dueProbes(full)];
  }

  /**
   * A charge-only read: the plug and charge state, plus the level while charging (it is what moves).
   * It costs one or two requests instead of every signal, so the policy can look more often where the
   * owner's automations are (plugged in at night, charging done). Empty when the car has no charge signal.
   */
  private focusSignals(v: VehicleAccessory): Signal[] {
    const all = v.signals;
    if (!all.includes('charge')) {
      return [];
    }
    const charging = v.charging;
    // Unplugged, the car is out or about to come home: At Home's position rides along, so an arrival shows
    // as soon as the plug-in it comes before (plugged in, the car is where it charges and stays).
    const away = v.context.snapshot?.pluggedIn !== true;
    const focus = all.filter((s) => s === 'charge' || (charging && s === 'battery') || (away && s === 'location'));
    // Where one read of everything costs no more (v3 signals), reading less buys nothing.
    return this.deps.billing.readCost(focus) < this.deps.billing.readCost(all) ? focus : [];
  }

  private async refresh(vehicleId: string, reason: RefreshReason): Promise<RefreshOutcome> {
    const { api, billing, fleet, notes } = this.deps;
    const due = fleet.pendingDiscovery(vehicleId);
    if (due) {
      await due;
    }
    const v = fleet.get(vehicleId);
    if (!v) {
      return { kind: 'stop' };
    }
    const vouched = this.deps.vouchedUntil(v);
    if (reason === 'poll' && vouched !== undefined && vouched > this.deps.now() && !this.fullNext.has(v.id)) {
      return { kind: 'ok' }; // deliveries are healthy: nothing to poll for
    }
    const signals = this.signalsFor(v, reason);
    if (signals.length === 0) {
      return { kind: 'ok' };
    }
    // A confirming read belongs to its command and may use the command reserve; polls may not.
    if (!v.budget.canSpend(billing.readCost(signals), reason === 'confirm' ? 'command' : 'poll')) {
      if (reason === 'confirm') {
        return { kind: 'ok' };
      }
      notes.exhausted(v);
      return { kind: 'defer', at: v.budget.resetsAt() };
    }
    notes.renewed(v);
    const read = v.beginRead(signals);
    try {
      const result = await this.deps.backend().read(v.userId, vehicleId, signals);
      if (fleet.get(vehicleId) === undefined) {
        return { kind: 'stop' };
      }
      v.applyRefresh(read, { result, at: this.deps.now() });
      if (reason === 'confirm') {
        // Confirmed; a command sent while this read was out keeps its own signal waiting.
        const changed = this.confirming.get(vehicleId);
        signals.forEach((s) => changed?.delete(s));
      }
      if (!v.affordsFullRead()) {
        notes.exhausted(v);
      }
      this.failures.forget(vehicleId);
      this.deps.application.answered();
      api.updatePlatformAccessories([v.accessory]);
      const limited = Object.values(result.failures).find((f) => (f as SmartcarProblem).kind === 'rate-limited') as RateLimited | undefined;
      return limited ? { kind: 'retry-after', seconds: limited.retryAfterSeconds } : { kind: 'ok' };
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: `Reading ${v.name}` });
      if (problem.kind === 'reauthorize') {
        // AUTHENTICATION_FAILED on a read: unbilled (billing.ts), and the whole user needs Connect again
        // (the backend tells the owner once).
        this.deps.backend().requireReauthorization(v.userId, problem.message);
        return { kind: 'stop' };
      }
      const message = describeForOwner(problem);
      if (problem.appWide === true) {
        this.deps.application.refused(message);
      } else {
        this.failures.warn(v.id, `${v.name}: refresh failed: ${message}; ${nextStep(problem, 'read')}`);
      }
      // Smartcar bills a request the car answered with an error, not one refused before it.
      const billed = billing.readCost(signals, problem);
      v.applyRefresh(read, { failure: message, billed, forOwner: problem.kind === 'permission' || problem.kind === 'configuration' });
      if (billed > 0) {
        api.updatePlatformAccessories([v.accessory]);
      }
      if (problem.kind === 'rate-limited') {
        return { kind: 'retry-after', seconds: (problem as RateLimited).retryAfterSeconds };
      }
      return { kind: 'transient' };
    }
  }
}
