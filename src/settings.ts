// Names the rest of the plugin agrees on, and every tunable default with its unit in the name.
// PLATFORM_NAME must equal config.schema.json's pluginAlias; PLUGIN_NAME must equal package.json's name.

export const PLATFORM_NAME = 'Smartcar';
export const PLUGIN_NAME = 'homebridge-smartcar';

export const DOCS_URL = 'https://github.com/homebridge-smartcar/homebridge-smartcar#readme';

export const SETUP_PORT = 8585;
// Loopback by default: from other devices the owner uses the plugin's settings in the Homebridge UI, behind its
// login. Opened to the network (setupBind), the page asks for the setup code before any state change.
export const SETUP_BIND = '127.0.0.1';
export const REDIRECT_PATH = '/callback';
// The webhook receiver has its own listener: an owner exposes only it (through a reverse proxy or a
// tunnel), never the setup page.
export const WEBHOOK_PORT = 8586;
export const WEBHOOK_BIND = '0.0.0.0';
// Smartcar sends a FIRST_DELIVERY right after a subscription: none within this means it cannot reach us.
export const WEBHOOK_FIRST_DELIVERY_MINUTES = 15;
// A car reports when something changes; silence is judged against twice its longest recent gap, within
// these bounds: a broken endpoint is noticed within a day at most, a parked car is not mistaken for one
// within three hours.
export const WEBHOOK_SILENCE_MIN_HOURS = 3;
export const WEBHOOK_SILENCE_MAX_HOURS = 24;
// A burst of deliveries writes Homebridge's accessory cache at most this often per car.
export const WEBHOOK_PERSIST_SECONDS = 5;

export const LOW_BATTERY_PERCENT = 20;
export const REQUEST_TIMEOUT_SECONDS = 30;

// Request budget. Smartcar bills every path of a batch as one request, and the common plan allows
// 500 requests per vehicle per month. We keep 100 of them for commands (a lock or unlock costs two:
// the command and the confirming read of /security), which leaves 400 for polling:
//   BEV/PHEV (/security + /battery + /charge = 3 paths): 400 / 3 ≈ 133 reads → 43 200 min / 133 ≈ 325 min
//   ICE      (/security + /fuel = 2 paths):              400 / 2 = 200 reads → 43 200 min / 200 = 216 min
// so the default interval is computed per vehicle from the paths it actually reads (defaultIntervalMinutes).
export const REQUESTS_PER_VEHICLE_PER_MONTH = 500;
export const REQUESTS_RESERVED_FOR_COMMANDS = 100;
export const MINUTES_PER_MONTH = 30 * 24 * 60;
// Smartcar asks for no more than one poll per 30 minutes across brands; below that OEMs throttle.
export const MIN_REFRESH_INTERVAL_MINUTES = 30;
export const MAX_REFRESH_INTERVAL_MINUTES = 7 * 24 * 60;
// Data older than this (default: two missed refreshes plus a margin) flags the services with StatusFault.
export const STALE_MARGIN_MINUTES = 15;

// Transient failures retry sooner than the next planned refresh, doubling up to the interval itself.
export const BACKOFF_INITIAL_SECONDS = 60;
// Vehicles due at nearly the same time are pushed apart by at least this much.
export const REFRESH_SPREAD_SECONDS = 5;
// "Refresh now" on the setup page does nothing when the vehicle was read this recently.
export const REFRESH_NOW_DEBOUNCE_SECONDS = 60;
// First refresh after start-up for a vehicle without fresh cached data.
export const STARTUP_DELAY_SECONDS = 5;
// Access tokens live 2 h; refresh this long before they expire so no request races the expiry.
export const TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60;

/** Default refresh interval for a vehicle whose read costs `pathsPerRead` requests. */
export function defaultIntervalMinutes(pathsPerRead: number, requestsPerMonth = REQUESTS_PER_VEHICLE_PER_MONTH): number {
  const forReads = Math.max(1, requestsPerMonth - REQUESTS_RESERVED_FOR_COMMANDS);
  const reads = Math.max(1, Math.floor(forReads / Math.max(1, pathsPerRead)));
  const minutes = Math.ceil(MINUTES_PER_MONTH / reads);
  return Math.min(MAX_REFRESH_INTERVAL_MINUTES, Math.max(MIN_REFRESH_INTERVAL_MINUTES, minutes));
}

// Smartcar's v2 lock command answers once the car executed it; one read of /security shortly after
// confirms it (1 billed request) without waiting for the next poll.
export const CONFIRM_READ_DELAY_SECONDS = 2;

// Smartcar's v3 hosts (smartcar-v3.md §3); SMARTCAR_CONNECT_ORIGIN, SMARTCAR_IAM_ORIGIN,
// SMARTCAR_API_V3_ORIGIN and SMARTCAR_MANAGEMENT_API_ORIGIN override them (the emulator, tests, the demo).
export const SMARTCAR_HOSTS = {
  connect: 'https://connect.smartcar.com',
  iam: 'https://iam.smartcar.com',
  vehicles: 'https://vehicle.api.smartcar.com',
  management: 'https://management.api.smartcar.com',
} as const;
// A v3 command may hold its connection ~175 s before streaming the outcome (smartcar-v3.md §3.4):
// cutting it shorter would call a lock failed that the car is still carrying out.
export const V3_COMMAND_TIMEOUT_SECONDS = 180;
// v3 discovery: the application's connections are listed (unbilled) this often, so a car connected
// by any route (a phone, the Dashboard) appears within a minute.
export const DISCOVERY_INTERVAL_SECONDS = 60;

/** Smartcar sends distances in km or miles; the plugin keeps km and shows the owner's unitSystem. */
export const KM_PER_MILE = 1.609344;

/** The charge limits Smartcar takes, in percent (v2 /charge/limit 0.5–1, v3 set-limit 50–100). */
export const CHARGE_LIMIT_RANGE = { min: 50, max: 100 } as const;

/** How far from the home point still counts as home: a driveway, a garage, parking down the street. */
export const HOME_RADIUS_METERS = 150;
