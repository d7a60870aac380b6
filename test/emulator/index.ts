// Public entry of the Smartcar emulator (see README.md): start it, build a fleet, drive it — v2 and v3.
export { SmartcarEmulator, DEFAULT_VEHICLE_THROTTLE, DEFAULT_LONG_RUNNING_AFTER_MS } from './emulator.js';
export type { EmulatorOptions, RequestLogEntry, AutoApprove, Host, Origins, ConnectOptions } from './emulator.js';
export { defaultFleet } from './fleet.js';
export type { DefaultFleet } from './fleet.js';
export type { EmulatedVehicle, VehicleInit, Permission, Powertrain, ChargeState, OpenState } from './vehicles.js';
export { DEFAULT_CAPABILITIES, PERMISSIONS } from './vehicles.js';
export type { Fault, FaultMatch, InjectedError, SignalError } from './faults.js';
export type { IssuedTokens } from './state.js';
export { ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_MS, CODE_TTL_MS } from './state.js';
export type { Connection, ConnectionMode } from './connections.js';
export type { V3Readings } from './v3/readings.js';
export { DEFAULT_READINGS, READING_VALUES, READING_NAMES } from './v3/readings.js';
export type { V3Credentials } from './v3/iam.js';
export { APP_TOKEN_TTL_S } from './v3/iam.js';
export type { Webhook, WebhookInit, Subscription } from './v3/webhooks.js';
export { SIGNALS } from './v3/signals.js';
export { COMMANDS } from './v3/commands.js';
