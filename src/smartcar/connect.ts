// What both APIs ask of Smartcar Connect.

const SCOPES = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge', 'control_charge', 'read_fuel', 'read_odometer'];

/**
 * Scopes asked in Connect; all optional, so the owner may decline some and the services follow. The
 * car's location only while At Home may use it (`services.atHome`): no permission is asked that nothing uses.
 */
export function connectScopes(options: { location: boolean }): string[] {
  return options.location ? [...SCOPES, 'read_location'] : [...SCOPES];
}
