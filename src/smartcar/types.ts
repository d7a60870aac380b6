// Backend-neutral vehicle data and the operations the plugin needs from Smartcar. The v2 client
// implements VehicleBackend today; a v3 (signals/commands) backend can implement the same later
// without the accessories, scheduler or platform noticing.

/** What a refresh can read; each maps to one v2 path (and later to v3 signals). */
export type Signal = 'lock' | 'battery' | 'fuel' | 'charge';

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
}

export interface ReadResult {
  /** The values read now; signals that failed are absent. */
  values: Omit<VehicleSnapshot, 'fetchedAt'>;
  /** Per-signal failures of a read that otherwise succeeded. */
  failures: Partial<Record<Signal, Error>>;
  /** Billable requests this read cost (each batch path counts as one). */
  requests: number;
}

export interface VehicleBackend {
  authUrl(state: string): string;
  exchangeCode(code: string): Promise<TokenSet>;
  refreshTokens(refreshToken: string): Promise<TokenSet>;
  userId(accessToken: string): Promise<string>;
  listVehicles(accessToken: string): Promise<string[]>;
  permissions(accessToken: string, vehicleId: string): Promise<string[]>;
  /** Make, model, year and (with read_vin) the VIN. */
  describe(accessToken: string, vehicleId: string, permissions: readonly string[]): Promise<VehicleInfo>;
  read(accessToken: string, vehicleId: string, signals: readonly Signal[]): Promise<ReadResult>;
  setLock(accessToken: string, vehicleId: string, locked: boolean): Promise<void>;
  disconnect(accessToken: string, vehicleId: string): Promise<void>;
}
