// Our declarations for the parts of the `smartcar` SDK (10.x) we use; the SDK ships no types.
// Shapes follow the SDK source (lib/*.js); only src/smartcar/client.ts may import the module.

declare module 'smartcar' {
  namespace smartcar {
    interface Meta {
      requestId?: string;
      dataAge?: Date;
      fetchedAt?: Date;
      unitSystem?: 'metric' | 'imperial';
    }

    interface Access {
      accessToken: string;
      refreshToken: string;
      expiration: Date;
      refreshExpiration: Date;
    }

    interface AuthUrlOptions {
      forcePrompt?: boolean;
      state?: string;
      makeBypass?: string;
      singleSelect?: { enabled?: boolean; vin?: string };
      flags?: Record<string, string | boolean>;
      user?: string;
    }

    class AuthClient {
      constructor(options: { clientId: string; clientSecret: string; redirectUri?: string; mode?: 'live' | 'test' | 'simulated' });
      getAuthUrl(scope?: string[], options?: AuthUrlOptions): string;
      exchangeCode(code: string): Promise<Access>;
      exchangeRefreshToken(refreshToken: string): Promise<Access>;
    }

    interface LockStatus {
      isLocked?: boolean | null;
      /** The rest of /security's body, passed through (smartcar-api.md §3.3). */
      doors?: unknown;
      windows?: unknown;
      sunroof?: unknown;
      storage?: unknown;
      meta: Meta;
    }
    interface Battery {
      percentRemaining?: number | null;
      range?: number | null;
      meta: Meta;
    }
    interface Fuel {
      percentRemaining?: number | null;
      amountRemaining?: number | null;
      range?: number | null;
      meta: Meta;
    }
    interface Location {
      latitude?: number | null;
      longitude?: number | null;
      meta: Meta;
    }
    interface Charge {
      isPluggedIn?: boolean | null;
      state?: 'CHARGING' | 'FULLY_CHARGED' | 'NOT_CHARGING' | null;
      meta: Meta;
    }
    interface Attributes {
      id: string;
      make: string;
      model: string;
      year: number | string;
      meta: Meta;
    }

    /** Each item throws its own SmartcarError when called (with the outer statusCode, 200). */
    interface BatchResponse {
      lockStatus?: () => LockStatus;
      battery?: () => Battery;
      fuel?: () => Fuel;
      charge?: () => Charge;
      location?: () => Location;
      [name: string]: (() => unknown) | undefined;
    }

    interface ActionResponse {
      status?: string;
      message?: string;
      meta: Meta;
    }

    class Vehicle {
      constructor(id: string, token: string, options?: { unitSystem?: 'metric' | 'imperial'; version?: string });
      readonly id: string;
      attributes(): Promise<Attributes>;
      vin(): Promise<{ vin: string; meta: Meta }>;
      lockStatus(): Promise<LockStatus>;
      lock(): Promise<ActionResponse>;
      unlock(): Promise<ActionResponse>;
      startCharge(): Promise<ActionResponse>;
      stopCharge(): Promise<ActionResponse>;
      /** POST /charge/limit; sends the fraction as a string ("0.8"). */
      setChargeLimit(limit: number): Promise<ActionResponse>;
      disconnect(): Promise<ActionResponse>;
      permissions(paging?: { limit?: number; offset?: number }): Promise<{ permissions: string[]; paging: { count: number; offset: number }; meta: Meta }>;
      batch(paths: string[]): Promise<BatchResponse>;
    }

    class SmartcarError extends Error {
      statusCode: number;
      type?: string;
      code?: string | null;
      description?: string;
      suggestedUserMessage?: string;
      retryAfter?: string;
      requestId?: string;
      resolution?: { type?: string | null; url?: string };
    }

    function getUser(accessToken: string): Promise<{ id: string; meta: Meta }>;
    function getVehicles(accessToken: string, paging?: { limit?: number; offset?: number }): Promise<{ vehicles: string[]; paging: { count: number; offset: number }; meta: Meta }>;
  }
  export = smartcar;
}
