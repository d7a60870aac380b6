// The v2.0 backend: the official SDK (SmartcarClient) plus the per-user tokens it needs (TokenManager).
// Tokens never leave this file: the platform speaks of users and vehicles only.
import { TOKEN_REFRESH_MARGIN_SECONDS } from '../../settings.js';
import { TokenManager } from '../../tokens/manager.js';
import { TokenFileStore } from '../../tokens/store.js';
import { ReauthorizeError } from '../errors.js';
import type { BackendEvents, ConnectApproval, DiscoveredVehicle, Discovery, ReadResult, Signal, SmartcarBackend, VehicleInfo } from '../types.js';
import { SmartcarClient, type SmartcarClientOptions } from './client.js';

export interface V2BackendOptions extends SmartcarClientOptions {
  storagePath: string;
  events: BackendEvents;
}

export class V2Backend implements SmartcarBackend {
  readonly api = 'v2';
  readonly discoversUsers = false;
  private readonly client: SmartcarClient;
  private readonly tokens: TokenManager;
  private readonly store: TokenFileStore;
  /** Users whose token file could not be read at start: their cars stay, waiting for Connect again. */
  private readonly unreadable = new Map<string, string>();

  constructor(private readonly options: V2BackendOptions) {
    const client = new SmartcarClient(options);
    this.client = client;
    this.store = new TokenFileStore(options.storagePath);
    this.tokens = new TokenManager({
      store: this.store,
      // A late refresh answer carries the only refresh token that will still work (SmartcarClient).
      refresh: (rt, onLate) => client.refreshTokens(rt, onLate),
      refreshMarginMs: TOKEN_REFRESH_MARGIN_SECONDS * 1000,
      onReauthorizeNeeded: (userId, reason, quiet) => options.events.onReauthorizeNeeded(userId, reason, quiet),
    });
  }

  async start(): Promise<{ users: string[]; complete: boolean }> {
    const { events } = this.options;
    let users: string[];
    try {
      users = await this.tokens.load((file, err) => {
        events.onUnreadableUser(file, err);
        const userId = this.store.userOf(file);
        if (userId !== undefined) {
          this.unreadable.set(userId, 'its Smartcar token file could not be read');
        }
      });
    } catch (err) {
      // The folder itself cannot be read: nobody is known, so nobody may be taken for gone.
      events.onUnreadableUser(this.store.dir, err);
      return { users: [], complete: false };
    }
    for (const [userId, reason] of this.unreadable) {
      // The cars stay (their automations with them) and show the fault; the file line above said what to do.
      events.onReauthorizeNeeded(userId, reason, true);
    }
    return { users: [...new Set([...users, ...this.unreadable.keys()])], complete: true };
  }

  users(): string[] {
    return [...new Set([...this.tokens.users(), ...this.unreadable.keys()])];
  }

  connectUrl(state: string): string {
    return this.client.authUrl(state);
  }

  async completeConnect(approval: ConnectApproval): Promise<string> {
    if (approval.code === undefined) {
      throw new ReauthorizeError('Smartcar Connect sent no authorization code back');
    }
    const tokens = await this.client.exchangeCode(approval.code);
    const userId = await this.client.userId(tokens.accessToken);
    await this.tokens.add(userId, tokens);
    this.unreadable.delete(userId);
    return userId;
  }

  async discover(userId: string | undefined, known: (vehicleId: string) => VehicleInfo | undefined): Promise<Discovery> {
    if (userId === undefined) {
      // v2 has no application-wide listing: every user we hold tokens for, one after the other.
      const vehicles: DiscoveredVehicle[] = [];
      for (const user of this.users()) {
        vehicles.push(...(await this.discover(user, known)).vehicles);
      }
      return { vehicles, conclusive: false };
    }
    const ids = await this.tokens.withToken(userId, (t) => this.client.listVehicles(t));
    const vehicles: DiscoveredVehicle[] = [];
    for (const id of ids) {
      const permissions = await this.tokens.withToken(userId, (t) => this.client.permissions(t, id));
      const cached = known(id);
      if (cached && cached.make !== '' && (cached.vin !== undefined || !permissions.includes('read_vin'))) {
        // Attributes and VIN are billed requests and never change: reuse what the cache knows.
        vehicles.push({ userId, info: { ...cached, permissions }, cost: 0 });
        continue;
      }
      const info = await this.tokens.withToken(userId, (t) => this.client.describe(t, id, permissions));
      // Attributes and VIN are billed vehicle requests (permissions and the vehicle list are not).
      const cost = (permissions.includes('read_vehicle_info') ? 1 : 0) + (permissions.includes('read_vin') ? 1 : 0);
      vehicles.push({ userId, info, cost });
    }
    // Smartcar's own vehicle list for this user's authorization: a car missing from it is not shared any more.
    return { vehicles, conclusive: true };
  }

  read(userId: string, vehicleId: string, signals: readonly Signal[]): Promise<ReadResult> {
    return this.tokens.withToken(userId, (t) => this.client.read(t, vehicleId, signals));
  }

  setLock(userId: string, vehicleId: string, locked: boolean): Promise<void> {
    return this.tokens.withToken(userId, (t) => this.client.setLock(t, vehicleId, locked));
  }

  setCharging(userId: string, vehicleId: string, charging: boolean): Promise<void> {
    return this.tokens.withToken(userId, (t) => this.client.setCharging(t, vehicleId, charging));
  }

  setChargeLimit(userId: string, vehicleId: string, percent: number): Promise<void> {
    return this.tokens.withToken(userId, (t) => this.client.setChargeLimit(t, vehicleId, percent));
  }

  disconnect(userId: string, vehicleId: string): Promise<void> {
    return this.tokens.withToken(userId, (t) => this.client.disconnect(t, vehicleId));
  }

  reauthorizeReason(userId: string): string | undefined {
    return this.unreadable.get(userId) ?? this.tokens.reauthorizeReason(userId);
  }

  requireReauthorization(userId: string, reason: string, options: { quiet?: boolean } = {}): void {
    if (this.tokens.has(userId)) {
      this.tokens.requireReauthorization(userId, reason, options);
    } else if (!this.unreadable.has(userId)) {
      // No tokens at all for this user (a cached car whose file is gone): the owner hears it once.
      this.unreadable.set(userId, reason);
      this.options.events.onReauthorizeNeeded(userId, reason, options.quiet);
    }
  }

  forgetUser(userId: string): Promise<void> {
    this.unreadable.delete(userId);
    return this.tokens.remove(userId);
  }
}
