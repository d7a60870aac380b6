// Backend-neutral vehicle data and the operations the plugin needs from Smartcar. The v2 backend
// (SDK, per-user tokens) and the v3 backend (application token, signals, commands) both implement
// SmartcarBackend, so the accessories, scheduler and platform never learn which API is spoken.
import type { SmartcarProblem } from './errors.js';

/** What a refresh can read; each maps to one v2 path (and later to v3 signals). */
export type Signal = 'lock' | 'battery' | 'fuel' | 'charge' | 'location';

export type ChargeState = 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING';

export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms. */
  expiresAt: number;
  refreshExpiresAt: number;
}

export interface VehicleInfo {
  id: string;
  make: string;
  model: string;
  year: number;
  vin?: string;
  permissions: string[];
}

/** The last known values of one vehicle. Absent = not read (or not readable), never a guess. */
export interface VehicleSnapshot {
  /** Epoch ms of our last successful read of any signal. */
  fetchedAt: number;
  /** Epoch ms the vehicle recorded the data (Smartcar's sc-data-age), when given. */
  dataAt?: number;
  locked?: boolean;
  /** 0–100. */
  batteryPercent?: number;
  /** 0–100. */
  fuelPercent?: number;
  pluggedIn?: boolean;
  chargeState?: ChargeState;
  /**
   * What the car reports open, in the owner's words ("front left door", "trunk"); [] = everything it
   * reports is closed. Read with the lock (v2 /security, v3 closure signals) at no extra cost.
   */
  openings?: string[];
  /** The 12 V battery's charge, 0–100, where the car reports it (v3 lowvoltagebattery-stateofcharge; v2 has none). */
  lowVoltagePercent?: number;
  /** Smartcar's verdict on the 12 V battery where it gives one (v3 lowvoltagebattery-status). */
  lowVoltageStatus?: 'GOOD' | 'WARN' | 'BAD';
  /** Range left on the battery and on the tank, in km whatever the unit Smartcar sent (v2 /battery, /fuel; v3 *-range). */
  electricRangeKm?: number;
  fuelRangeKm?: number;
  /** The odometer in km, where a read brings it at no extra request (v3 odometer-traveleddistance). */
  odometerKm?: number;
  /** The charge limit the car charges to, 0–100 (v3 charge-chargelimits activeLimit; null there when unplugged). */
  chargeLimitPercent?: number;
  /**
   * Whether the car is at home: the car's own word (v3 location-isathome) where it gives one, else its
   * position against the owner's home point. Only this verdict is kept, never the position.
   */
  atHome?: boolean;
}

/** Where the car is, as a read brought it: kept in memory only, never stored or logged. */
export interface Whereabouts {
  latitude?: number;
  longitude?: number;
  /** The car's (or its maker's) own verdict against the home it knows (v3 location-isathome). */
  atHome?: boolean;
}

export interface ReadResult {
  /** The values read now; signals that failed are absent. */
  values: Omit<VehicleSnapshot, 'fetchedAt'>;
  /** The VIN, when the read carried it for free (v3 lists it among the signals). */
  vin?: string;
  /** Where the car is (the location signal, or v3's is-at-home riding along): never part of `values`. */
  whereabouts?: Whereabouts;
  /**
   * Epoch ms Smartcar itself last fetched these values from the car (v3 retrievedAt), when it says:
   * the same value twice means Smartcar serves a stored copy that a reread cannot make fresher.
   */
  servedAt?: number;
  /** Smartcar answered with no data at all for this car (v3 without a webhook subscription may). */
  empty?: boolean;
  /** Per-signal failures of a read that otherwise succeeded. */
  failures: Partial<Record<Signal, Error>>;
  /** Billable requests this read cost (each batch path counts as one). */
  requests: number;
  /**
   * Per signal, epoch ms the car recorded the value delivered (v3 oemUpdatedAt), when Smartcar says:
   * deliveries arrive unordered, so a value older than the one shown must not replace it.
   */
  signalAt?: Partial<Record<Signal, number>>;
}

/** What Smartcar Connect sent back to the redirect URI (or the owner pasted): v2 needs the code, v3 the user id. */
export interface ConnectApproval {
  code?: string;
  userId?: string;
}

/** One vehicle of one user as discovery sees it. */
export interface DiscoveredVehicle {
  userId: string;
  info: VehicleInfo;
  /** Billed requests discovery spent on this vehicle (v2 attributes and VIN); 0 when cached info was reused. */
  cost: number;
}

export interface Discovery {
  vehicles: DiscoveredVehicle[];
  /**
   * True when the answer proves which vehicles are connected (every page answered, not an empty listing
   * Smartcar might have served by mistake): only then may a vehicle missing from it be removed.
   */
  conclusive: boolean;
}

/**
 * Smartcar as the rest of the plugin sees it: users and vehicles, never tokens or API versions. The v2
 * backend keeps per-user tokens behind it; the v3 backend one application token and `sc-user-id`.
 */
export interface SmartcarBackend {
  readonly api: 'v2' | 'v3';
  /**
   * True when the application's users are found by listing its connections (v3): discovery then runs on
   * a timer, and cached cars wait for a conclusive listing. False: users are the stored authorizations (v2).
   */
  readonly discoversUsers: boolean;
  /**
   * Loads what the backend keeps between runs: the users it knows (v2: stored authorizations), and
   * whether that list is complete. Never throws: a storage it cannot read is reported through events,
   * and an incomplete list means cached cars of users missing from it must be kept.
   */
  start(): Promise<{ users: string[]; complete: boolean }>;
  /** Users this backend can act for now. */
  users(): string[];
  connectUrl(state: string): string;
  /** Finishes a Connect run; returns the Smartcar user it connected. */
  completeConnect(approval: ConnectApproval): Promise<string>;
  /**
   * The vehicles of one user, or of every user the application has (v3 lists them all; v2 knows only the
   * users it holds tokens for). `known` returns cached info so billed description calls are skipped.
   */
  discover(userId: string | undefined, known: (vehicleId: string) => VehicleInfo | undefined): Promise<Discovery>;
  read(userId: string, vehicleId: string, signals: readonly Signal[]): Promise<ReadResult>;
  setLock(userId: string, vehicleId: string, locked: boolean): Promise<void>;
  /** Starts (true) or stops charging; resolves once Smartcar says the car did it. */
  setCharging(userId: string, vehicleId: string, charging: boolean): Promise<void>;
  /** Sets the percent (50–100) the car charges to; resolves once Smartcar says the car took it. */
  setChargeLimit(userId: string, vehicleId: string, percent: number): Promise<void>;
  disconnect(userId: string, vehicleId: string): Promise<void>;
  /** Why this user must connect again, or undefined. */
  reauthorizeReason(userId: string): string | undefined;
  /** Smartcar said this user's car account must be connected again (told once through onReauthorizeNeeded). */
  requireReauthorization(userId: string, reason: string, options?: { quiet?: boolean }): void;
  /** The user has no vehicle left with this plugin: drop what is kept for them. */
  forgetUser(userId: string): Promise<void>;
  /** Present when webhooks are configured and the API has them (v3). */
  readonly webhooks?: BackendWebhooks;
}

/** One webhook delivery, checked and read by the backend. */
export type DeliveryReceipt =
  /** A verification challenge: answer with this JSON body (Smartcar checks it in the Dashboard). */
  | { kind: 'challenge'; reply: Record<string, string> }
  /** Not from Smartcar, or not readable: refused with this HTTP status; `reason` is for one log line. */
  | { kind: 'refused'; status: 400 | 401; reason: string; forged?: boolean }
  | { kind: 'event'; event: DeliveredEvent };

/** A signed event. `test`: a Dashboard test delivery, acknowledged and ignored. */
export interface DeliveredEvent {
  /** The same on every retry of one event: deduplication keys on it. */
  eventId: string;
  test: boolean;
  vehicleId: string;
  userId: string | undefined;
  /** Epoch ms Smartcar sent it, when it says. */
  deliveredAt: number | undefined;
  body:
    /** The car's state: the values as a read would bring them (requests: 0), with per-signal ages. */
    | { type: 'state'; result: ReadResult; first: boolean; carried: Signal[] }
    /** Smartcar reports (or clears) trouble with the car or its signals. */
    | { type: 'errors'; errors: DeliveredError[] }
    /** An event type the plugin does not act on. */
    | { type: 'other'; name: string };
}

export interface DeliveredError {
  /** RESOLVED clears what ERROR set. */
  resolved: boolean;
  /** The signals it concerns; empty = the whole car. */
  signals: Signal[];
  problem: SmartcarProblem;
}

/** Webhooks as the platform sees them: a receiver's checks and the car's subscription, nothing of the wire format. */
export interface BackendWebhooks {
  /** Checks one delivery (signature over the raw body, shape). Never throws. */
  receive(rawBody: Buffer, signature: string | undefined): DeliveryReceipt;
  /** Makes sure the car's deliveries come (already subscribed is fine). */
  subscribe(userId: string, vehicleId: string): Promise<void>;
  /** Stops them (not subscribed is fine). */
  unsubscribe(userId: string, vehicleId: string): Promise<void>;
}

export interface BackendEvents {
  /** Told once when a user's authorization is gone for good. quiet: a failed command already said why. */
  onReauthorizeNeeded(userId: string, reason: string, quiet?: boolean): void;
  /** A stored authorization could not be read at start. */
  onUnreadableUser(file: string, err: unknown): void;
}
