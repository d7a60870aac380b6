// Connections: which (user, vehicle) pairs the application may reach, with the permissions granted,
// in the one world both APIs share. Connect approval, `issueTokens` and `connect` create or update
// them; a disconnect through either API removes them (EmulatorState.disconnect keeps v2 in step).
import { randomUUID } from 'node:crypto';
import type { EmulatorClock } from './clock.js';
import type { Permission } from './vehicles.js';

export type ConnectionMode = 'live' | 'simulated';

export interface Connection {
  /** Stable, distinct from the vehicle and user ids (ref v3 §3.1). */
  id: string;
  userId: string;
  vehicleId: string;
  permissions: Permission[];
  mode: ConnectionMode;
  /** Connect's `external_id`, filterable as filter[user.externalId]. */
  externalId: string | null;
  createdAt: number;
  updatedAt: number;
}

export class ConnectionBook {
  /** Insertion order = connection date order (ties keep the order they were made in). */
  private readonly byId = new Map<string, Connection>();

  constructor(private readonly clock: EmulatorClock) {}

  /** Creates the (user, vehicle) connection, or updates its permissions, mode and (when given) external id. */
  upsert(userId: string, vehicleId: string, permissions: Permission[], mode: ConnectionMode, externalId: string | null = null): Connection {
    const now = this.clock.now();
    const existing = this.find(userId, vehicleId);
    if (existing) {
      existing.permissions = [...permissions];
      existing.mode = mode;
      existing.externalId = externalId ?? existing.externalId;
      existing.updatedAt = now;
      return existing;
    }
    const c: Connection = { id: randomUUID(), userId, vehicleId, permissions: [...permissions], mode, externalId, createdAt: now, updatedAt: now };
    this.byId.set(c.id, c);
    return c;
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  find(userId: string, vehicleId: string): Connection | undefined {
    return this.list().find((c) => c.userId === userId && c.vehicleId === vehicleId);
  }

  /** The vehicle's connection (a vehicle has one owner, so at most one). */
  ofVehicle(vehicleId: string): Connection | undefined {
    return this.list().find((c) => c.vehicleId === vehicleId);
  }

  /** Sorted by connection date, oldest first. */
  list(): Connection[] {
    return [...this.byId.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  delete(id: string): Connection | undefined {
    const c = this.byId.get(id);
    this.byId.delete(id);
    return c;
  }
}

/** The public (in-process and control API) view: a copy, so callers cannot edit the world by accident. */
export function connectionView(c: Connection): Connection {
  return { ...c, permissions: [...c.permissions] };
}
