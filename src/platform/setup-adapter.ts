// The setup page's view of the platform (SetupHost): Connect, the status of every user and car,
// Refresh now, Disconnect and the charge limit, in the owner's terms. It never sees tokens or which Smartcar API is spoken.
import type { Logging } from 'homebridge';

import type { PluginConfig } from '../config.js';
import { CHARGE_LIMIT_RULE, parseChargeLimit } from '../setup/charge-limit.js';
import type { CarPosition, ConnectResult, LockView, RefreshNowAnswer, SetupHost, TimelineMark, UserStatusView, VehicleStatusView } from '../setup/host.js';
import type { Billing } from '../smartcar/billing.js';
import { mapSmartcarError, type SmartcarProblem } from '../smartcar/errors.js';
import type { ConnectApproval, ReadResult, SmartcarBackend } from '../smartcar/types.js';
import type { VehicleAccessory } from '../vehicle/accessory.js';
import { distanceText, LowBattery, lowVoltageStatus, rangeText } from '../vehicle/mappers.js';
import type { BudgetNotes } from './budget-notes.js';
import type { CommandGate } from './command-gate.js';
import type { Fleet } from './fleet.js';
import type { Refresher } from './refresher.js';
import type { WebhookHub } from './webhooks.js';

export interface SetupAdapterDeps {
  log: Logging;
  config: PluginConfig;
  now: () => number;
  /** Undefined until launch has built it: the status of cached cars is shown before that. */
  backend: () => SmartcarBackend | undefined;
  fleet: Fleet;
  refresher: Refresher;
  notes: BudgetNotes;
  /** Read on every press: tests shorten it. */
  timing: { readonly refreshNowDebounceMs: number };
  webhooks: Pick<WebhookHub, 'beforeDisconnect' | 'describe'>;
  commands: Pick<CommandGate, 'setChargeLimit'>;
  billing: Billing;
  /** Saves the car's accessory (its last values) in Homebridge's cache. */
  persist: (v: VehicleAccessory) => void;
}

const TIMELINE_MARKS_MAX = 24;

/** The car's recent moments from what its accessory already keeps: the last read and data, commands, plug and charge changes. */
export function timelineOf(ctx: VehicleAccessory['context']): TimelineMark[] {
  const marks: TimelineMark[] = (ctx.history?.events ?? []).map((e) => ({ at: e.at, kind: e.kind }));
  const s = ctx.snapshot;
  const full = ctx.history?.lastFullReadAt;
  if (full !== undefined) {
    marks.push({ at: full, kind: 'full-read' });
  }
  if (s?.fetchedAt !== undefined && s.fetchedAt !== full) {
    marks.push({ at: s.fetchedAt, kind: 'read' });
  }
  if (s?.dataAt !== undefined) {
    marks.push({ at: s.dataAt, kind: 'data' });
  }
  if (ctx.history?.lastCommandAt !== undefined) {
    marks.push({ at: ctx.history.lastCommandAt, kind: 'command' });
  }
  return marks.sort((a, b) => a.at - b.at).slice(-TIMELINE_MARKS_MAX);
}

export class SetupAdapter implements SetupHost {
  constructor(private readonly deps: SetupAdapterDeps) {}

  /** Launched: every action but the status needs Smartcar. */
  private get backend(): SmartcarBackend {
    return this.deps.backend()!;
  }

  authUrl(state: string): string {
    return this.backend.connectUrl(state);
  }

  /**
   * Connect is the owner telling us the truth changed (re-authorized, a permission added, the car again):
   * every car it brings back is read at once, without the faults from before. If Smartcar then fails to
   * list the cars, the authorization stays and the fleet retries; the answer says so.
   */
  async completeAuthorization(approval: ConnectApproval): Promise<ConnectResult> {
    const { fleet, refresher, notes } = this.deps;
    const userId = await this.backend.completeConnect(approval);
    let vehicles: VehicleAccessory[];
    try {
      vehicles = await fleet.discoverUser(userId);
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: 'Listing the vehicles' });
      fleet.retryDiscovery(userId);
      return {
        userId, vehicles: [],
        pending: `Smartcar accepted the connection and it is stored, but listing the vehicles failed (${problem.message}); the plugin tries again by itself and the vehicles appear in Home when Smartcar lists them`,
      };
    }
    for (const v of vehicles) {
      v.clearFaults();
      if (v.affordsFullRead()) {
        refresher.refreshNow(v);
      } else {
        notes.exhausted(v);
      }
    }
    return { userId, vehicles: vehicles.map((v) => ({ id: v.id, name: v.name })) };
  }

  status(): UserStatusView[] {
    const { fleet } = this.deps;
    const backend = this.deps.backend();
    const userIds = new Set([...(backend?.users() ?? []), ...fleet.all().map((v) => v.userId)]);
    return [...userIds].map((userId) => {
      const problem = backend?.reauthorizeReason(userId);
      return {
        userId,
        needsReauth: problem !== undefined,
        ...(problem !== undefined ? { problem } : {}),
        vehicles: fleet.of(userId).map((v) => this.vehicleView(v)),
      };
    });
  }

  /** The car an action names, or the owner's words for one that is gone. */
  private connected(vehicleId: string): VehicleAccessory {
    const v = this.deps.fleet.get(vehicleId);
    if (!v) {
      throw new Error('This vehicle is not connected');
    }
    return v;
  }

  async disconnect(vehicleId: string): Promise<void> {
    const { fleet } = this.deps;
    const v = this.connected(vehicleId);
    await this.deps.webhooks.beforeDisconnect(v);
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
    // The setup page says "Disconnected …" in the log; saying it here too made two lines of one act.
    fleet.remove(vehicleId);
    if (fleet.of(userId).length === 0) {
      await this.backend.forgetUser(userId);
    }
  }

  /**
   * One billed command; the car's refusal comes back in the owner's words (a SmartcarProblem). The
   * limit shown is then the one set, until a read brings the car's own.
   */
  async setChargeLimit(vehicleId: string, percent: number): Promise<{ name: string }> {
    const v = this.connected(vehicleId);
    if (!v.chargeLimitSettable) {
      throw new Error(`${v.name}'s charge limit cannot be set from here: that needs read_charge and control_charge (connect the car again to grant them)`);
    }
    if (parseChargeLimit(percent) !== percent) {
      throw new RangeError(`A charge limit is ${CHARGE_LIMIT_RULE}`);
    }
    await this.deps.commands.setChargeLimit(v, percent);
    v.chargeLimitSet(percent);
    this.deps.persist(v);
    return { name: v.name };
  }

  /**
   * A one-off read of the car's position for the owner who asked: counted in the month like any read, and
   * neither applied to the car's state nor kept (only At Home's verdict ever is).
   */
  async carPosition(vehicleId: string): Promise<CarPosition> {
    const v = this.connected(vehicleId);
    if (!v.context.info.permissions.includes('read_location')) {
      throw new Error(`${v.name} did not grant read_location: connect it again and allow its location, then try again`);
    }
    if (!v.budget.canSpend(this.deps.billing.readCost(['location']), 'poll')) {
      throw new Error(`${v.name} has used this month's requests (${v.budget.limit}): its position can be read when the month renews`);
    }
    if (this.backend.reauthorizeReason(v.userId) !== undefined) {
      throw new Error(`Smartcar needs ${v.name} to be connected again first`);
    }
    let result: ReadResult;
    try {
      result = await this.backend.read(v.userId, v.id, ['location']);
    } catch (err) {
      const problem = mapSmartcarError(err, { operation: `Reading ${v.name}'s position` });
      // Smartcar bills a request the car answered with an error, not one refused before it (as for any read).
      const billed = this.deps.billing.readCost(['location'], problem);
      if (billed > 0) {
        v.countRequests(billed);
        this.deps.persist(v);
      }
      throw problem;
    }
    v.countRequests(result.requests);
    this.deps.persist(v);
    const where = result.whereabouts;
    if (where?.latitude === undefined || where.longitude === undefined) {
      const why = result.failures.location?.message ?? 'Smartcar sent no position';
      throw new Error(`${v.name} did not say where it is (${why}): try again when the car is awake and has coverage`);
    }
    const recordedAt = result.signalAt?.location ?? result.values.dataAt;
    return { name: v.name, latitude: where.latitude, longitude: where.longitude, ...(recordedAt !== undefined ? { recordedAt } : {}) };
  }

  refreshNow(vehicleId?: string): Promise<RefreshNowAnswer> {
    const { fleet, refresher, notes } = this.deps;
    if (vehicleId !== undefined && fleet.get(vehicleId) === undefined) {
      return Promise.reject(new Error('This vehicle is not connected'));
    }
    const now = this.deps.now();
    const skipped: RefreshNowAnswer[] = [];
    let queued = false;
    for (const v of vehicleId === undefined ? fleet.all() : [fleet.get(vehicleId)!]) {
      // Debounced (a double click, a reload) and counted: it spends the same budget as any poll. Only a
      // read of everything counts (a lock's confirming read or a charge-only read left the rest old), and
      // not while HomeKit shows a failed read or command: an owner pressing it after an error expects a retry.
      const at = v.context.history?.lastFullReadAt;
      if (at !== undefined && now - at < this.deps.timing.refreshNowDebounceMs && !v.failing) {
        skipped.push('recent');
        continue;
      }
      if (!v.affordsFullRead()) {
        notes.exhausted(v);
        skipped.push('budget');
        continue;
      }
      if (this.backend.reauthorizeReason(v.userId) !== undefined) {
        // Nothing can be read until the owner connects again; saying "requested" would be a lie.
        skipped.push('reconnect');
        continue;
      }
      refresher.refreshNow(v);
      queued = true;
    }
    return Promise.resolve(queued ? 'queued' : skipped.includes('reconnect') ? 'reconnect' : skipped.includes('budget') ? 'budget' : skipped.length > 0 ? 'recent' : 'queued');
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
      requestBudget: this.deps.config.requestsPerVehiclePerMonth,
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
    if (v.closedUp && s?.openings !== undefined) {
      view.openings = [...s.openings];
    }
    if (v.lowVoltage && s?.lowVoltagePercent !== undefined) {
      view.lowVoltagePercent = Math.round(s.lowVoltagePercent);
      view.lowVoltageLow = lowVoltageStatus(s.lowVoltagePercent, s.lowVoltageStatus) === LowBattery.LOW;
    }
    // Each comes with a read made anyway (range with the level; v3: the odometer and limit with any read).
    const range = rangeText(s?.electricRangeKm, s?.fuelRangeKm, this.deps.config.unitSystem);
    if (range !== undefined) {
      view.range = range;
    }
    if (v.atHomeShown && s?.atHome !== undefined) {
      view.atHome = s.atHome;
    }
    if (s?.odometerKm !== undefined) {
      view.odometer = distanceText(s.odometerKm, this.deps.config.unitSystem);
    }
    if (s?.chargeLimitPercent !== undefined && v.signals.includes('charge')) {
      view.chargeLimit = Math.round(s.chargeLimitPercent);
      if (ctx.chargeLimitSetAt !== undefined) {
        view.chargeLimitSetAt = ctx.chargeLimitSetAt;
      }
    }
    if (v.chargeLimitSettable) {
      view.chargeLimitSettable = true;
    }
    if (s?.fetchedAt !== undefined) {
      view.lastRefreshAt = s.fetchedAt;
    }
    if (s?.dataAt !== undefined) {
      view.dataAt = s.dataAt;
    }
    const timeline = timelineOf(ctx);
    if (timeline.length > 0) {
      view.timeline = timeline;
    }
    const next = this.deps.refresher.nextAt(v.id);
    if (next !== undefined) {
      view.nextRefreshAt = next;
    }
    const webhook = this.deps.webhooks.describe(v);
    if (webhook !== undefined) {
      view.webhook = webhook;
    }
    return view;
  }
}
