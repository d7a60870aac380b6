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

  constructor(private readonly options: V2BackendOptions) {
    const client = new SmartcarClient(options);
    this.client = client;
    this.tokens = new TokenManager({
      store: new TokenFileStore(options.storagePath),
      // A late refresh answer carries the only refresh token that will still work (SmartcarClient).
      refresh: (rt, onLate) => client.refreshTokens(rt, onLate),
      refreshMarginMs: TOKEN_REFRESH_MARGIN_SECONDS * 1000,
      onReauthorizeNeeded: (userId, reason, quiet) => options.events.onReauthorizeNeeded(userId, reason, quiet),
    });
  }

  start(): Promise<string[]> {
    return this.tokens.load((file, err) => this.options.events.onUnreadableUser(file, err));
  }

  users(): string[] {
    return this.tokens.users();
  }

  connectUrl(state: string): string {
    return this.client.authUrl(state);
  }

  async completeConnect(approval: ConnectApproval): Promise<string> {
    if (approval.code === undefined) {
      throw new ReauthorizeError('Smartcar Connect sent no authorization code back; connect the vehicle again');
    }
    const tokens = await this.client.exchangeCode(approval.code);
    const userId = await this.client.userId(tokens.accessToken);
    await this.tokens.add(userId, tokens);
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

  disconnect(userId: string, vehicleId: string): Promise<void> {
    return this.tokens.withToken(userId, (t) => this.client.disconnect(t, vehicleId));
  }

  reauthorizeReason(userId: string): string | undefined {
    return this.tokens.reauthorizeReason(userId);
  }

  requireReauthorization(userId: string, reason: string, options: { quiet?: boolean } = {}): void {
    this.tokens.requireReauthorization(userId, reason, options);
  }

  forgetUser(userId: string): Promise<void> {
    return this.tokens.remove(userId);
  }
}
