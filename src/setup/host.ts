// The narrow surface the setup web server sees of the platform: it never touches tokens or the SDK.
// The platform implements it; tests of the web layer can implement it with the emulator behind it.
import type { ConnectApproval } from '../smartcar/types.js';

export type LockView = 'locked' | 'unlocked' | 'unknown' | 'not-available';

export interface VehicleStatusView {
  vehicleId: string;
  userId: string;
  name: string;
  make: string;
  model: string;
  year: number;
  permissions: string[];
  lock: LockView;
  /** 0-100; EV/PHEV battery, or fuel for ICE (see `levelSource`). */
  level?: number;
  levelSource?: 'battery' | 'fuel';
  charging?: 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING';
  pluggedIn?: boolean;
  /** With the Closed Up sensor: what the car reports open ([] = all closed). */
  openings?: string[];
  /** The 12 V battery's charge (0–100) and whether it is low, where the car reports it. */
  lowVoltagePercent?: number;
  lowVoltageLow?: boolean;
  /** Range left in the owner's units ("312 km", "41 mi electric, 320 mi fuel"), and the odometer ("12,346 km"). */
  range?: string;
  odometer?: string;
  /** The charge limit the car charges to, 0–100, where the car reports it (or the plugin set it). */
  chargeLimit?: number;
  /** Epoch ms the plugin set `chargeLimit`, while no read has brought the car's own (v2 never reads it). */
  chargeLimitSetAt?: number;
  /** The owner may set the charge limit here (an electric car with control_charge). */
  chargeLimitSettable?: boolean;
  /** With the At Home sensor: at home or away (never the position). */
  atHome?: boolean;
  /** Epoch ms of our last successful refresh, and of the data itself (Smartcar's sc-data-age). */
  lastRefreshAt?: number;
  dataAt?: number;
  nextRefreshAt?: number;
  requestsUsed?: number;
  requestBudget?: number;
  /** What the plugin keeps of the car's recent reads, data ages and changes, oldest first. */
  timeline?: TimelineMark[];
  /** Things the owner must act on, written for the owner ("Grant read_charge by re-connecting"). */
  problems: string[];
  /** With webhooks on: whether the car's deliveries arrive, when the last came, and what polling does meanwhile. */
  webhook?: string;
}

/** One moment of a car's recent days, as the plugin kept it (epoch ms). */
export interface TimelineMark {
  at: number;
  /** Our last read, our last read of every signal, when the car recorded its data, a lock command, a plug or charge change. */
  kind: 'read' | 'full-read' | 'data' | 'command' | 'plugged' | 'unplugged' | 'charging' | 'charged';
}

export interface UserStatusView {
  userId: string;
  /** Smartcar refused this user's tokens: the owner must run Connect again. */
  needsReauth: boolean;
  problem?: string;
  vehicles: VehicleStatusView[];
}

export interface ConnectedVehicle {
  id: string;
  name: string;
}

export interface ConnectResult {
  userId: string;
  vehicles: ConnectedVehicle[];
  /**
   * Set when the authorization was stored but Smartcar did not list the vehicles yet: what happened
   * and what comes next, for the owner (the plugin retries by itself).
   */
  pending?: string;
}

export type RefreshNowAnswer = 'queued' | 'recent' | 'budget' | 'reconnect';

export interface SetupHost {
  /** The Smartcar Connect URL for this state. */
  authUrl(state: string): string;
  /** Finish Connect (v2: exchange the code and store the tokens), discover the vehicles and register their accessories. */
  completeAuthorization(approval: ConnectApproval): Promise<ConnectResult>;
  status(): UserStatusView[];
  /** Disconnect one vehicle (Smartcar DELETE /application) and remove its accessory. */
  disconnect(vehicleId: string): Promise<void>;
  /**
   * Ask for a refresh as soon as the budget allows; undefined vehicleId means every vehicle. Answers
   * 'recent' when every asked vehicle was read under a minute ago, 'budget' when its budget is spent,
   * 'reconnect' when Smartcar needs the owner to connect again first.
   */
  refreshNow(vehicleId?: string): Promise<RefreshNowAnswer | void>;
  /**
   * Set the percent (a whole number, 50–100) the car charges to: one billed command. Rejects with the
   * reason in the owner's words (not connected, no permission, out of range, the car's refusal).
   */
  setChargeLimit(vehicleId: string, percent: number): Promise<{ name: string }>;
  /**
   * Where the car is now, read once (one billed request) for the owner to take as the home point: handed
   * back and kept nowhere, never logged. Rejects in the owner's words (no read_location, budget, no answer).
   */
  carPosition(vehicleId: string): Promise<CarPosition>;
}

export interface CarPosition {
  name: string;
  latitude: number;
  longitude: number;
  /** Epoch ms the car recorded it, when Smartcar says (a stored copy may be hours old). */
  recordedAt?: number;
}
