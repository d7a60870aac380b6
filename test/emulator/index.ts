// Public entry of the Smartcar emulator (see README.md): start it, build a fleet, drive it.
export { SmartcarEmulator, DEFAULT_VEHICLE_THROTTLE } from './emulator.js';
export type { EmulatorOptions, RequestLogEntry, AutoApprove } from './emulator.js';
export { defaultFleet } from './fleet.js';
export type { DefaultFleet } from './fleet.js';
export type { EmulatedVehicle, VehicleInit, Permission, Powertrain, ChargeState, OpenState } from './vehicles.js';
export { DEFAULT_CAPABILITIES, PERMISSIONS } from './vehicles.js';
export type { Fault, FaultMatch, InjectedError } from './faults.js';
export type { IssuedTokens } from './state.js';
export { ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_MS, CODE_TTL_MS } from './state.js';
