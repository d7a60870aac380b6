// Chooses and builds the backend for the configured API. The v2 SDK is loaded only when v2 is
// configured: a v3 install never pays its memory.
import type { PluginConfig } from '../config.js';
import { SMARTCAR_HOSTS, TOKEN_REFRESH_MARGIN_SECONDS, V3_COMMAND_TIMEOUT_SECONDS } from '../settings.js';
import type { BackendEvents, SmartcarBackend } from './types.js';

export interface BackendContext {
  config: PluginConfig;
  storagePath: string;
  signal: AbortSignal;
  now: () => number;
  events: BackendEvents;
}

/** A host from the environment (the emulator, tests, the demo), else Smartcar's production host. */
function origin(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value !== undefined && value.trim() !== '' ? value.trim().replace(/\/+$/, '') : fallback;
}

export async function createBackend(ctx: BackendContext): Promise<SmartcarBackend> {
  const { config } = ctx;
  const timeoutMs = config.requestTimeoutSeconds * 1000;
  if (config.api === 'v2') {
    const { V2Backend } = await import('./v2/backend.js');
    return new V2Backend({
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      redirectUri: config.redirectUri,
      mode: config.mode,
      askLocation: config.services.atHome,
      unitSystem: config.unitSystem,
      timeoutMs,
      signal: ctx.signal,
      storagePath: ctx.storagePath,
      events: ctx.events,
    });
  }
  const { V3Backend } = await import('./v3/backend.js');
  return new V3Backend({
    applicationId: config.applicationId,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUri: config.redirectUri,
    mode: config.mode,
    askLocation: config.services.atHome,
    hosts: {
      connect: origin('SMARTCAR_CONNECT_ORIGIN', SMARTCAR_HOSTS.connect),
      iam: origin('SMARTCAR_IAM_ORIGIN', SMARTCAR_HOSTS.iam),
      vehicles: origin('SMARTCAR_API_V3_ORIGIN', SMARTCAR_HOSTS.vehicles),
      management: origin('SMARTCAR_MANAGEMENT_API_ORIGIN', SMARTCAR_HOSTS.management),
    },
    timeoutMs,
    commandTimeoutMs: V3_COMMAND_TIMEOUT_SECONDS * 1000,
    tokenMarginMs: TOKEN_REFRESH_MARGIN_SECONDS * 1000,
    signal: ctx.signal,
    now: ctx.now,
    events: ctx.events,
    ...(config.webhookUrl !== undefined && config.managementToken !== undefined
      ? { webhooks: { callbackUri: config.webhookUrl, managementToken: config.managementToken } } : {}),
  });
}
