// Platform lifecycle: the class Homebridge constructs. It restores cached vehicles (their last values
// are served at once), builds the backend after launch, wires the parts in src/platform/ together,
// serves the setup page, and stops everything on shutdown. Errors are caught here, at the edge, and logged once.
import { join } from 'node:path';

import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig } from 'homebridge';

import { AdminServer } from './admin/server.js';
import { normalizeConfig, type PluginConfig } from './config.js';
import { BudgetNotes } from './platform/budget-notes.js';
import { ApplicationNotes } from './platform/log-once.js';
import { Fleet } from './platform/fleet.js';
import { VehicleLedger } from './platform/ledger.js';
import { CommandGate } from './platform/command-gate.js';
import { ConnectionHealth, isHealthContext, type HealthContext } from './platform/health.js';
import { Refresher } from './platform/refresher.js';
import { SetupAdapter } from './platform/setup-adapter.js';
import { WebhookHub } from './platform/webhooks.js';
import type { CarPosition, ConnectResult, RefreshNowAnswer, SetupHost, UserStatusView } from './setup/host.js';
import { SetupServer } from './setup/server.js';
import {
  BACKOFF_INITIAL_SECONDS, CONFIRM_READ_DELAY_SECONDS, DISCOVERY_INTERVAL_SECONDS, REFRESH_NOW_DEBOUNCE_SECONDS, REFRESH_SPREAD_SECONDS,
  STARTUP_DELAY_SECONDS, WEBHOOK_FIRST_DELIVERY_MINUTES, WEBHOOK_PERSIST_SECONDS, WEBHOOK_SILENCE_MAX_HOURS, WEBHOOK_SILENCE_MIN_HOURS,
} from './settings.js';
import { createBackend } from './smartcar/backend.js';
import { billingFor } from './smartcar/billing.js';
import type { ConnectApproval, SmartcarBackend } from './smartcar/types.js';
import type { VehicleContext } from './vehicle/accessory.js';
import type { TimerSource } from './vehicle/scheduler.js';

/** Delays in ms; integration tests shorten them (a real Homebridge never changes them). */
export const timing = {
  startupDelayMs: STARTUP_DELAY_SECONDS * 1000,
  spreadMs: REFRESH_SPREAD_SECONDS * 1000,
  backoffInitialMs: BACKOFF_INITIAL_SECONDS * 1000,
  confirmDelayMs: CONFIRM_READ_DELAY_SECONDS * 1000,
  /** "Refresh now" is ignored when the vehicle was read less than this long ago. */
  refreshNowDebounceMs: REFRESH_NOW_DEBOUNCE_SECONDS * 1000,
  /** v3: how often the application's connections are listed (unbilled) to find cars connected elsewhere. */
  discoveryIntervalMs: DISCOVERY_INTERVAL_SECONDS * 1000,
  /** Webhooks: the first delivery after subscribing is due within this; a silence is judged within these bounds. */
  firstDeliveryWaitMs: WEBHOOK_FIRST_DELIVERY_MINUTES * 60_000,
  silenceMinMs: WEBHOOK_SILENCE_MIN_HOURS * 3_600_000,
  silenceMaxMs: WEBHOOK_SILENCE_MAX_HOURS * 3_600_000,
  persistEveryMs: WEBHOOK_PERSIST_SECONDS * 1000,
};

/**
 * The platform's time: the budget tests and the bench run a simulated month on the emulator's clock
 * with virtual timers (the scheduler is the only long-lived timer). Read when the platform is built.
 */
export const clock: { now: () => number; timers: TimerSource | undefined } = { now: () => Date.now(), timers: undefined };

/** The parts, built only when the plugin is configured. */
interface Parts {
  fleet: Fleet;
  refresher: Refresher;
  setup: SetupAdapter;
  ledger: VehicleLedger;
  webhooks: WebhookHub;
  health: ConnectionHealth;
}

export class SmartcarPlatform implements DynamicPlatformPlugin, SetupHost {
  private readonly config: PluginConfig | undefined;
  private readonly abort = new AbortController();
  private readonly now = clock.now;
  private readonly parts: Parts | undefined;
  /** Built at launch (it needs the storage path, and v2 loads the SDK); the parts reach it through a getter. */
  private backend: SmartcarBackend | undefined;
  private setupServer: SetupServer | undefined;
  private adminServer: AdminServer | undefined;
  private launched: Promise<void> | undefined;

  constructor(
    private readonly log: Logging,
    rawConfig: PlatformConfig,
    private readonly api: API,
  ) {
    this.config = normalizeConfig(rawConfig ?? {}, log);
    const config = this.config;
    if (config === undefined) {
      return;
    }
    this.parts = this.build(config);
    api.on('didFinishLaunching', () => {
      this.launched = this.launch().catch((err: unknown) => this.log.error(`Starting Smartcar failed: ${messageOf(err)}`));
    });
    api.on('shutdown', () => {
      void this.shutdown();
    });
  }

  configureAccessory(accessory: PlatformAccessory): void {
    if (isHealthContext(accessory.context)) {
      this.parts?.health.restore(accessory as PlatformAccessory<HealthContext>);
      return;
    }
    this.parts?.fleet.restore(accessory as PlatformAccessory<VehicleContext>);
  }

  /** Resolves when start-up (tokens, discovery, setup page) has finished; tests await it. */
  whenLaunched(): Promise<void> {
    return this.launched ?? Promise.resolve();
  }

  // ---- SetupHost: the setup page's calls, answered by the adapter -----------------------------------

  authUrl(state: string): string {
    return this.parts!.setup.authUrl(state);
  }

  completeAuthorization(approval: ConnectApproval): Promise<ConnectResult> {
    return this.parts!.setup.completeAuthorization(approval);
  }

  status(): UserStatusView[] {
    return this.parts?.setup.status() ?? [];
  }

  disconnect(vehicleId: string): Promise<void> {
    return this.parts!.setup.disconnect(vehicleId);
  }

  refreshNow(vehicleId?: string): Promise<RefreshNowAnswer> {
    return this.parts!.setup.refreshNow(vehicleId);
  }

  setChargeLimit(vehicleId: string, percent: number): Promise<{ name: string }> {
    return this.parts!.setup.setChargeLimit(vehicleId, percent);
  }

  carPosition(vehicleId: string): Promise<CarPosition> {
    return this.parts!.setup.carPosition(vehicleId);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /**
   * Fleet, refresher and lock gate need each other (a found car is scheduled, a refresh looks its car up,
   * a command checks its car is still served), so the arrows below are resolved when called, not now.
   */
  private build(config: PluginConfig): Parts {
    const { log, api, now } = this;
    const signal = this.abort.signal;
    const billing = billingFor(config.api);
    const backend = (): SmartcarBackend => this.backend!;
    const notes = new BudgetNotes(log);
    const application = new ApplicationNotes(log);
    // Beside the token folder, not in it: that one holds secrets only, owner-only.
    const ledger = new VehicleLedger(join(api.user.storagePath(), 'smartcar-ledger'), log);
    const fleet: Fleet = new Fleet({
      api, log, config, billing, now, signal, backend, timing, ledger, application,
      changed: () => health.update(),
      schedule: {
        schedule: (v) => {
          refresher.schedule(v);
          webhooks.track(v);
        },
        isScheduled: (id) => refresher.isScheduled(id),
        unschedule: (id) => {
          refresher.unschedule(id);
          webhooks.untrack(id);
        },
      },
      commands: {
        setLock: (v, locked) => gate.setLock(v, locked),
        setCharging: (v, on) => gate.setCharging(v, on),
        confirm: (v, kind) => refresher.confirm(v.id, kind),
      },
    });
    const refresher = new Refresher({
      api, log, config, billing, now, signal, backend, timing, timers: clock.timers, fleet, notes, application, vouchedUntil: (v) => webhooks.vouchedUntil(v),
    });
    const webhooks = new WebhookHub({
      api, log, config, now, backend, fleet, timing, storagePath: api.user.storagePath(), replan: (id) => refresher.replan(id),
    });
    const gate = new CommandGate({
      backend, now, isCurrent: (v) => fleet.isCurrent(v), readEverythingNext: (id) => refresher.readEverythingNext(id),
      persist: (v) => api.updatePlatformAccessories([v.accessory]),
    });
    const setup = new SetupAdapter({
      log, config, now, backend: () => this.backend, fleet, refresher, notes, timing, webhooks,
      commands: gate, billing, persist: (v) => api.updatePlatformAccessories([v.accessory]),
    });
    // What needs the owner, car by car: what the car's own state says, and its webhook deliveries.
    const health = new ConnectionHealth({
      api, log, enabled: config.services.connection,
      needs: () => fleet.all().filter((v) => v.needsOwner() || webhooks.needsOwner(v.id)).map((v) => v.name),
    });
    return { fleet, refresher, setup, ledger, webhooks, health };
  }

  private async launch(): Promise<void> {
    const config = this.config!;
    const { fleet, refresher } = this.parts!;
    this.backend = await createBackend({
      config,
      storagePath: this.api.user.storagePath(),
      signal: this.abort.signal,
      now: this.now,
      events: {
        onReauthorizeNeeded: (userId, reason, quiet) => refresher.reauthorizeNeeded(userId, reason, quiet),
        onUnreadableUser: (file, err) => {
          this.log.error(`Cannot read the Smartcar token file ${file} (${messageOf(err)}); connect that vehicle again on the setup page`);
        },
      },
    });
    this.log.debug(`Speaking Smartcar API ${this.backend.api}`);
    await this.parts!.ledger.open();
    // Before the cars start: each one served is subscribed as it is scheduled.
    await this.parts!.webhooks.start();
    try {
      await fleet.start(await this.backend.start());
    } catch (err) {
      // Whatever went wrong with the cars, the setup page is how the owner fixes it: start it anyway.
      this.log.error(`Starting the Smartcar vehicles failed: ${messageOf(err)}; cached vehicles keep their last values`);
    }
    this.parts!.health.start();
    await this.startSetupServer(config);
    await this.startAdminServer();
  }

  /** The Homebridge UI's way in (homebridge-ui/server.js): loopback only, behind a secret in the storage folder. */
  private async startAdminServer(): Promise<void> {
    if (this.abort.signal.aborted) {
      return;
    }
    const server = new AdminServer({
      host: this, log: this.log, storagePath: this.api.user.storagePath(), api: this.config?.api, now: this.now,
      connectUrl: () => this.setupServer?.connectUrl(),
      // The relay's answer, handed over in the Homebridge UI, meets the setup page's own one-time states.
      completeConnect: (params) => this.setupServer?.completeConnect(params),
      redirectUri: this.config?.redirectUri,
      setupCode: () => this.setupServer?.setupCode,
    });
    try {
      await server.start();
      this.adminServer = server;
    } catch (err) {
      this.log.warn(`The plugin's settings in the Homebridge UI cannot reach it: ${messageOf(err)}`);
      await server.stop().catch(() => undefined);
      return;
    }
    if (this.abort.signal.aborted) {
      await server.stop();
    }
  }

  private async startSetupServer(config: PluginConfig): Promise<void> {
    if (this.abort.signal.aborted) {
      return;
    }
    const server = new SetupServer({
      port: config.setupPort, bind: config.setupBind, redirectUri: config.redirectUri, log: this.log, host: this,
      // Opened to the network, the page asks for this install's setup code before any state change.
      setupCodeFile: join(this.api.user.storagePath(), 'smartcar-setup-code'),
    });
    try {
      await server.start();
      this.setupServer = server;
    } catch {
      // start() has already logged the reason in one line; HomeKit keeps working without the page.
      return;
    }
    if (this.abort.signal.aborted) {
      await server.stop();
    }
  }

  private async shutdown(): Promise<void> {
    this.abort.abort();
    this.parts?.fleet.stop();
    try {
      await this.parts?.webhooks.stop();
    } catch (err) {
      this.log.debug(`Stopping the webhook receiver: ${messageOf(err)}`);
    }
    try {
      await this.adminServer?.stop();
    } catch (err) {
      this.log.debug(`Stopping the Homebridge UI endpoint: ${messageOf(err)}`);
    }
    try {
      await this.setupServer?.stop();
    } catch (err) {
      this.log.debug(`Stopping the setup page: ${messageOf(err)}`);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
