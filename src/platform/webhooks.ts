// Webhook deliveries as the platform lives with them: the receiver's listener, each car's subscription,
// every delivery applied to its car once (retries deduplicated across restarts, older values never over
// newer ones), and the health of the stream. While a car's deliveries are healthy its values need no
// polling: the refresher asks vouchedUntil() and plans no read before then. Deliveries stop (silence
// longer than the car's history makes expected, a delivery that fails verification): polling resumes
// within the budget, and the log and the setup page say why. The wire format stays in src/smartcar/.
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';

import type { API, Logging } from 'homebridge';

import type { PluginConfig } from '../config.js';
import type { SmartcarProblem } from '../smartcar/errors.js';
import type { BackendWebhooks, DeliveredEvent, Signal, SmartcarBackend } from '../smartcar/types.js';
import { utcMinute, type VehicleAccessory } from '../vehicle/accessory.js';
import { describeForOwner } from '../vehicle/owner-words.js';
import { WebhookReceiver, type ReceiverAnswer } from '../webhook/receiver.js';
import { DeliveryLog } from './delivery-log.js';
import type { Fleet } from './fleet.js';
import { LogOnce } from './log-once.js';

const MINUTE_MS = 60_000;
/** Gaps between deliveries remembered per car to judge a silence by. */
const GAPS_KEPT = 20;

export interface WebhookTiming {
  /** After subscribing, the first delivery (FIRST_DELIVERY) is due within this. */
  readonly firstDeliveryWaitMs: number;
  /** A silence is judged against twice the longest recent gap, clamped to these. */
  readonly silenceMinMs: number;
  readonly silenceMaxMs: number;
  /** A burst of deliveries writes the accessory cache at most this often per car. */
  readonly persistEveryMs: number;
}

export interface WebhookHubDeps {
  api: API;
  log: Logging;
  config: PluginConfig;
  now: () => number;
  storagePath: string;
  backend: () => SmartcarBackend;
  fleet: Pick<Fleet, 'get' | 'all'>;
  timing: WebhookTiming;
  /** The car's deliveries became healthy or stopped being so: plan its next poll again. */
  replan: (vehicleId: string) => void;
}

interface CarState {
  /** Subscribed in this run (Smartcar accepted or said it exists). */
  subscribedAt?: number;
  subscribeError?: string;
  /** What the owner reads on the setup page when deliveries do not vouch for the values. */
  lapse?: string;
  /** The lapse is one time settles by itself (subscribing, the first delivery still awaited): no need for the owner. */
  lapseSettles?: boolean;
}

export class WebhookHub {
  private receiver: WebhookReceiver | undefined;
  private readonly seen: DeliveryLog;
  private readonly cars = new Map<string, CarState>();
  private readonly refusals: LogOnce;
  /** The last delivery that failed verification: until a good one, no car's deliveries are trusted to be arriving. */
  private forgedAt: number | undefined;
  private readonly persistTimers = new Map<string, NodeJS.Timeout>();
  private testSeen = false;

  constructor(private readonly deps: WebhookHubDeps) {
    this.seen = new DeliveryLog(join(deps.storagePath, 'smartcar-webhooks'), deps.log, deps.now);
    this.refusals = new LogOnce(deps.log);
  }

  private get webhooks(): BackendWebhooks | undefined {
    return this.deps.backend().webhooks;
  }

  get enabled(): boolean {
    return this.receiver !== undefined;
  }

  /** Starts the receiver when webhooks are configured; a port it cannot get leaves polling as it was. */
  async start(): Promise<void> {
    const { config, log } = this.deps;
    if (this.webhooks === undefined || config.webhookUrl === undefined) {
      return;
    }
    await this.seen.open();
    const path = new URL(config.webhookUrl).pathname;
    const receiver = new WebhookReceiver({
      port: config.webhookPort,
      bind: config.webhookBind,
      path,
      deliver: (raw, signature) => this.deliver(raw, signature),
      refused: (status, reason) => this.refused(`HTTP ${status}: ${reason}`),
    });
    let port: number;
    try {
      port = await receiver.start();
    } catch (err) {
      log.error(`Webhook receiver not started: ${err instanceof Error ? err.message : String(err)}. The plugin polls within the request budget instead.`);
      return;
    }
    this.receiver = receiver;
    log.info(`Webhook receiver listening on ${config.webhookBind}:${port}${path}; Smartcar delivers to ${config.webhookUrl} (forward that URL to this port)`);
    void this.probe();
  }

  async stop(): Promise<void> {
    for (const timer of this.persistTimers.values()) {
      clearTimeout(timer);
    }
    this.persistTimers.clear();
    await this.receiver?.stop();
    this.receiver = undefined;
    await this.seen.flush();
  }

  /** The car is served: make sure its deliveries come. */
  track(v: VehicleAccessory): void {
    if (!this.enabled || this.cars.get(v.id)?.subscribedAt !== undefined) {
      return;
    }
    const state: CarState = this.cars.get(v.id) ?? {};
    this.cars.set(v.id, state);
    this.webhooks!.subscribe(v.userId, v.id).then(() => {
      state.subscribedAt = this.deps.now();
      delete state.subscribeError;
      this.deps.log.debug(`${v.name}: subscribed to the Smartcar webhook`);
      this.deps.replan(v.id);
    }, (err: unknown) => {
      const message = (err as SmartcarProblem).message ?? String(err);
      state.subscribeError = message;
      this.deps.log.warn(`${v.name}: subscribing to the Smartcar webhook failed (${message}); the plugin polls for it instead`);
    });
  }

  /** The car is no longer served (removed, disconnected): forget it here. */
  untrack(vehicleId: string): void {
    this.cars.delete(vehicleId);
    const timer = this.persistTimers.get(vehicleId);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.persistTimers.delete(vehicleId);
    }
  }

  /** The owner disconnects the car: its deliveries end first (best effort; Smartcar drops them with the connection anyway). */
  async beforeDisconnect(v: VehicleAccessory): Promise<void> {
    if (!this.enabled) {
      return;
    }
    try {
      await this.webhooks!.unsubscribe(v.userId, v.id);
    } catch (err) {
      this.deps.log.debug(`${v.name}: unsubscribing from the webhook failed: ${(err as Error).message}`);
    }
  }

  /**
   * Until when healthy deliveries vouch for the car's values (no poll needed before), or undefined:
   * webhooks off, not subscribed, no delivery yet, silent too long, or a delivery failed verification.
   */
  vouchedUntil(v: VehicleAccessory): number | undefined {
    const state = this.cars.get(v.id);
    if (!this.enabled || state === undefined) {
      return undefined;
    }
    const now = this.deps.now();
    const d = v.context.deliveries;
    let lapse: string | undefined;
    let settles = false;
    let until: number | undefined;
    if (state.subscribeError !== undefined) {
      lapse = `Not subscribed to the webhook (${state.subscribeError}): polling instead`;
    } else if (state.subscribedAt === undefined) {
      lapse = 'Subscribing to the webhook…';
      settles = true;
    } else if (this.forgedAt !== undefined && (d === undefined || d.lastAt < this.forgedAt)) {
      lapse = `A webhook delivery failed verification at ${utcMinute(this.forgedAt)} (check managementToken): polling until a good one arrives`;
    } else if (d === undefined) {
      settles = now - state.subscribedAt <= this.deps.timing.firstDeliveryWaitMs;
      lapse = settles
        ? 'Subscribed to the webhook; waiting for its first delivery (polling meanwhile)'
        : `No webhook delivery since subscribing at ${utcMinute(state.subscribedAt)}: check that ${this.deps.config.webhookUrl!} reaches this Homebridge on port ${this.deps.config.webhookPort}; polling meanwhile`;
    } else if (d.carries !== undefined && v.signals.some((s) => !d.carries!.includes(s))) {
      const missing = v.signals.filter((s) => !d.carries!.includes(s));
      lapse = `Webhook deliveries arrive but carry no ${missing.join(' or ')} signal (add it to the webhook in the Smartcar Dashboard): polling continues for it`;
    } else {
      const expected = this.expectedSilenceMs(d.gapsMs);
      until = d.lastAt + expected;
      if (until <= now) {
        lapse = `No webhook delivery since ${utcMinute(d.lastAt)} (expected within ${Math.round(expected / MINUTE_MS / 6) / 10} h): polling again until one arrives`;
        until = undefined;
      }
    }
    if (lapse !== state.lapse) {
      if (lapse !== undefined && state.lapse === undefined && d !== undefined) {
        this.deps.log.warn(`${v.name}: ${lapse}`);
        void this.probe();
      } else if (lapse === undefined) {
        this.deps.log.info(`${v.name}: webhook deliveries arrive; scheduled reads pause while they do`);
      }
      state.lapse = lapse;
    }
    state.lapseSettles = settles;
    v.vouchUntil(until);
    return until;
  }

  /**
   * Whether this car's deliveries need the owner (the connection-health sensor): they lapsed for a reason
   * time does not settle (subscribing and the first delivery still awaited do not count).
   */
  needsOwner(vehicleId: string): boolean {
    const state = this.cars.get(vehicleId);
    return this.enabled && state?.lapse !== undefined && state.lapseSettles !== true;
  }

  /** One line for the setup page about this car's deliveries, or undefined when webhooks are off. */
  describe(v: VehicleAccessory): string | undefined {
    if (!this.enabled) {
      return undefined;
    }
    const until = this.vouchedUntil(v);
    const last = v.context.deliveries?.lastAt;
    if (until !== undefined) {
      return `Webhook deliveries arrive (the last at ${utcMinute(last!)}); no scheduled reads unless none comes by ${utcMinute(until)}`;
    }
    return this.cars.get(v.id)?.lapse ?? 'Webhooks: this car is not subscribed yet';
  }

  /** Twice the longest recent gap, within bounds: a car that reports hourly is missed sooner than one parked for days. */
  private expectedSilenceMs(gaps: readonly number[]): number {
    const { silenceMinMs, silenceMaxMs } = this.deps.timing;
    const longest = gaps.length > 0 ? Math.max(...gaps) : silenceMaxMs / 2;
    return Math.min(silenceMaxMs, Math.max(silenceMinMs, 2 * longest));
  }

  // ---- deliveries ---------------------------------------------------------------------------------

  private deliver(rawBody: Buffer, signature: string | undefined): ReceiverAnswer {
    try {
      const receipt = this.webhooks!.receive(rawBody, signature);
      switch (receipt.kind) {
        case 'challenge':
          this.deps.log.info('Smartcar verified the webhook URL: deliveries can arrive');
          return { status: 200, body: receipt.reply };
        case 'refused':
          this.refused(receipt.reason);
          if (receipt.forged) {
            this.forgedAt = this.deps.now();
            for (const v of this.deps.fleet.all()) {
              this.deps.replan(v.id);
            }
          }
          return { status: receipt.status, body: { error: receipt.reason } };
        case 'event':
          this.apply(receipt.event);
          return { status: 200, body: {} };
      }
    } catch (err) {
      // Acknowledged anyway: a retry of something the plugin cannot apply would fail the same way.
      this.deps.log.error(`Applying a webhook delivery failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`);
      return { status: 200, body: {} };
    }
  }

  private refused(reason: string): void {
    this.refusals.warn('refused', `Refused a webhook delivery: ${reason}`);
  }

  private apply(event: DeliveredEvent): void {
    const { log, fleet, now } = this.deps;
    if (!this.seen.first(event.eventId)) {
      log.debug(`Webhook event ${event.eventId} again (a retry): already applied`);
      return;
    }
    if (event.test) {
      // A Dashboard test delivery: proof the URL works, not the car's state.
      (this.testSeen ? log.debug.bind(log) : log.info.bind(log))('A test delivery from the Smartcar Dashboard arrived (ignored: test deliveries carry no car state)');
      this.testSeen = true;
      return;
    }
    const v = fleet.get(event.vehicleId);
    if (v === undefined) {
      log.debug(`A webhook delivery for vehicle ${event.vehicleId}, which this plugin does not serve (yet)`);
      return;
    }
    const at = now();
    const body = event.body;
    if (body.type === 'other') {
      log.debug(`${v.name}: webhook event ${body.name} (nothing to do)`);
    } else if (body.type === 'state') {
      v.applyDelivery(body.result, at);
    } else {
      for (const e of body.errors) {
        this.applyError(v, e.resolved, e.signals, e.problem);
      }
    }
    this.arrived(v, at, body.type === 'state' ? body.carried : undefined);
  }

  private applyError(v: VehicleAccessory, resolved: boolean, signals: Signal[], problem: SmartcarProblem): void {
    if (resolved) {
      this.deps.log.info(`${v.name}: Smartcar reports ${problem.smartcar?.type ?? 'the problem'} resolved`);
      v.deliveredResolved(signals);
      return;
    }
    if (problem.kind === 'reauthorize') {
      this.deps.backend().requireReauthorization(v.userId, problem.message);
      return;
    }
    v.deliveredError(signals, describeForOwner(problem));
  }

  /** A good delivery for the car: its stream is healthy again; write the cache soon (once per burst). */
  private arrived(v: VehicleAccessory, at: number, carried: Signal[] | undefined): void {
    const d = v.context.deliveries;
    const gapsMs = d === undefined ? [] : [...d.gapsMs, at - d.lastAt].slice(-GAPS_KEPT);
    // Every VEHICLE_STATE holds all the signals the webhook is configured with: the latest says which.
    const carries = carried ?? d?.carries;
    v.context.deliveries = { lastAt: at, gapsMs, ...(carries !== undefined ? { carries } : {}) };
    this.deps.replan(v.id);
    if (!this.persistTimers.has(v.id)) {
      this.persistTimers.set(v.id, setTimeout(() => {
        this.persistTimers.delete(v.id);
        if (this.deps.fleet.get(v.id) === v) {
          this.deps.api.updatePlatformAccessories([v.accessory]);
        }
      }, this.deps.timing.persistEveryMs));
    }
  }

  /** Whether webhookUrl reaches this receiver: a GET with a nonce only this process knows, through the owner's proxy. */
  private async probe(): Promise<void> {
    const { config, log } = this.deps;
    const receiver = this.receiver;
    if (receiver === undefined || config.webhookUrl === undefined) {
      return;
    }
    const url = new URL(config.webhookUrl);
    url.searchParams.set('probe', receiver.probeNonce);
    try {
      const probe = await getJson(url, PROBE_TIMEOUT_MS);
      if ((probe.body as { probe?: unknown } | undefined)?.probe !== receiver.probeNonce) {
        throw new Error(`HTTP ${probe.status} from something else than this receiver`);
      }
      log.debug(`${config.webhookUrl} reaches the webhook receiver`);
    } catch (err) {
      // From inside the home some routers cannot reach their own public address (no NAT loopback): say so.
      log.warn(`From this machine, ${config.webhookUrl} (webhookUrl) does not reach this webhook receiver (${err instanceof Error ? err.message : String(err)}): `
        + `check that the reverse proxy or tunnel forwards it to port ${config.webhookPort} with its path. (Some routers cannot reach their own public address from inside: if the Dashboard's Verify succeeds, deliveries do arrive.) Polling continues meanwhile.`);
    }
  }
}

const PROBE_TIMEOUT_MS = 10_000;

/** One GET, bounded, on node:http(s) (fetch would load undici: ~16 MiB on Node 20 for one request). */
function getJson(url: URL, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 4096) {
          req.destroy(new Error('the answer is too long'));
        } else {
          chunks.push(c);
        }
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}
