// What both APIs ask of Smartcar Connect.

/** Scopes asked in Connect; all optional, so the owner may decline some and the services follow. */
export const CONNECT_SCOPES = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge', 'control_charge', 'read_fuel', 'read_odometer'];
