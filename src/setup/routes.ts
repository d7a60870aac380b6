// The setup page's routes: status, Connect round trip (callback and paste fallback), refresh and
// disconnect. It talks only to SetupHost; every state-changing request is a POST carrying the page's
// CSRF token, and every failure ends in a readable page rather than a crash.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';

import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logging } from 'homebridge';

import { CHARGE_LIMIT_RULE, parseChargeLimit } from './charge-limit.js';
import { explainConnectError, parsePastedAddress } from './connect-answer.js';
import { finishConnect as finishConnectAnswer } from './finish-connect.js';
import { connectPopupScript, relayOriginOf } from './connect-popup.js';
import { Html, type HtmlValue } from './html.js';
import type { RefreshNowAnswer, SetupHost, VehicleStatusView } from './host.js';
import type { TokenStore } from './oauth-state.js';
import { OwnerGate } from './owner-gate.js';
import { confirmDisconnectPage, layout, messagePage, setupCodePage, statusPage, STATUS_SCRIPT, type Banner } from './pages.js';

export interface RouteOptions {
  host: SetupHost;
  log: Logging;
  redirectUri: string;
  callbackPath: string;
  states: TokenStore;
  csrf: TokenStore;
  /** Opened to the network, state changes need the setup code (a session made by typing it). */
  gate: OwnerGate;
  now: () => number;
  /** How long Refresh now waits for the new values before answering (they may take Smartcar a while). */
  refreshWaitMs?: number;
}

const REFRESH_WAIT_MS = 12_000;
/** This page's own GET paths, which a redirect URI's path may happen to equal. */
const OWN_PATHS = new Set(['/', '/connect', '/status.json', '/favicon.ico']);
const REFRESH_POLL_MS = 100;

// A pasted address, a CSRF token and a few bytes of form overhead; anything bigger is not ours.
const FORM_LIMIT = '8kb';
const FORM_FIELDS_LIMIT = 10;

export function createApp(options: RouteOptions): express.Express {
  const { host, log, states, csrf } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // We read Connect's answer with URLSearchParams ourselves; no route needs express's parsed query.
  app.set('query parser', false);

  app.use(securityHeaders);
  app.use((req, res, next) => {
    if (isLocalHostHeader(req.headers.host, options.redirectUri)) {
      next();
      return;
    }
    // A public name resolving to this LAN address is a DNS-rebinding page driving the owner's browser.
    log.debug(`Setup page refused a request for host ${oneLine(req.headers.host ?? '')}`);
    page(res, 403, 'Unknown address', messagePage({
      heading: 'Open the setup page by its local address',
      paragraphs: ['For safety the setup page only answers to local names: the Homebridge machine\'s IP address, localhost, its .local name, or the host of the configured redirect URI.'],
    }));
  });
  app.use(express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: FORM_FIELDS_LIMIT }));

  // Matched by plain comparison, not as an express route: a redirect URI path may hold characters
  // express reads as route syntax. First, so a redirect URI of `/` still reaches it.
  const callbackPath = options.callbackPath.replace(/(.)\/$/, '$1');
  app.use(handle(async (req, res, next) => {
    const params = queryOf(req);
    // GET only: a HEAD (link checkers, prefetchers) must not spend the state or the code. A redirect URI
    // whose path is one of this page's own (`/`, or a relay at `https://<owner>.github.io/connect/`) is the
    // callback only with Connect's answer in it, so the page and the Connect button keep working.
    const isCallback = req.method === 'GET'
      && req.path.replace(/(.)\/$/, '$1') === callbackPath
      && (!OWN_PATHS.has(callbackPath) || params.has('code') || params.has('error') || params.has('state') || params.has('user_id'));
    if (!isCallback) {
      next();
      return;
    }
    await finishConnect(params, res);
  }));

  // A redirect URI that is not this machine is the Connect relay: Connect opens in a popup (connect-popup.ts).
  const relayOrigin = relayOriginOf(options.redirectUri);

  app.get('/', (req, res) => {
    const users = host.status();
    const token = csrf.issue();
    const script = relayOrigin === undefined
      ? STATUS_SCRIPT
      : new Html(`${STATUS_SCRIPT.text}\n${connectPopupScript({ csrf: token, callbackPath: options.callbackPath, relayOrigin }).text}`);
    page(res, 200, 'Vehicles', statusPage({
      users,
      csrf: token,
      redirectUri: options.redirectUri,
      now: options.now(),
      banner: bannerFor(queryOf(req)),
    }), script);
  });

  // What the status page's script refetches: the same views the page shows (they hold no secret), and
  // the host's clock, so ages read as on the page. no-store comes with securityHeaders.
  app.get('/status.json', (_req, res) => {
    res.status(200).json({ now: options.now(), users: host.status() });
  });

  app.post('/unlock', requireCsrf, (req, res) => {
    const { answer, token } = options.gate.unlock(formField(req, 'code'));
    const next = safeNext(formField(req, 'next'));
    if (answer === 'ok') {
      if (token !== undefined) {
        res.setHeader('set-cookie', OwnerGate.cookie(token));
      }
      res.redirect(303, next);
      return;
    }
    if (answer === 'locked-out') {
      log.warn('The setup page refused a setup code: too many wrong codes; none is tried for 15 minutes');
    }
    page(res, answer === 'locked-out' ? 429 : 403, 'Setup code', setupCodePage({ csrf: csrf.issue(), next, wrong: answer }));
  });

  app.get('/connect', requireOwner, (_req, res) => {
    const url = host.authUrl(states.issue());
    res.redirect(302, url);
  });

  // The popup's way to Connect when the redirect URI is the Connect relay (docs/connect/index.html): the
  // opener must know the state it says hello with, and GET /connect's redirect hides it inside the popup,
  // whose address a cross-origin page cannot read. A POST with the page's CSRF token (no other site can
  // read the answer or forge the form), behind the setup code like GET /connect: a state is what the
  // callback trusts, so only an owner may be handed one. A refusal is the HTML page; the script then
  // falls back to GET /connect, which asks for the setup code.
  app.post('/connect-url', requireCsrf, requireOwner, (_req, res) => {
    res.status(200).json({ url: host.authUrl(states.issue()) });
  });

  app.post('/paste', requireCsrf, requireOwner, handle(async (req, res) => {
    const params = parsePastedAddress(formField(req, 'url') ?? '');
    if (params === undefined) {
      page(res, 400, 'Not a Smartcar address', messagePage({
        heading: 'That is not the address we need',
        paragraphs: ['Paste the whole address from the address bar of the page that did not load after you approved on Smartcar. It contains "code=" and "state=".'],
      }));
      return;
    }
    await finishConnect(params, res);
  }));

  app.post('/refresh', requireCsrf, requireOwner, handle(async (_req, res) => {
    await refresh(res, undefined, 'the vehicles');
  }));

  app.post('/vehicles/:id/refresh', requireCsrf, requireOwner, handle(async (req, res) => {
    const vehicle = findVehicle(req, res);
    if (vehicle === undefined) {
      return;
    }
    await refresh(res, vehicle.vehicleId, vehicle.name);
  }));

  app.post('/vehicles/:id/charge-limit', requireCsrf, requireOwner, handle(async (req, res) => {
    const vehicle = findVehicle(req, res);
    if (vehicle === undefined) {
      return;
    }
    const percent = parseChargeLimit(formField(req, 'percent'));
    if (percent === undefined || vehicle.chargeLimitSettable !== true) {
      page(res, 400, 'Charge limit', messagePage({
        heading: `${vehicle.name}'s charge limit was not changed`,
        paragraphs: [percent === undefined
          ? `A charge limit is ${CHARGE_LIMIT_RULE}. Go back and enter one.`
          : 'Setting it needs the car to grant read_charge and control_charge: connect it again and tick both.'],
      }));
      return;
    }
    try {
      await host.setChargeLimit(vehicle.vehicleId, percent);
    } catch (err) {
      log.warn(`Setting ${oneLine(vehicle.name)}'s charge limit to ${percent}% failed: ${oneLine(messageOf(err))}`);
      page(res, 502, 'Charge limit not set', messagePage({
        heading: `${vehicle.name}'s charge limit was not changed`,
        paragraphs: ['Smartcar or the car did not take the new limit; the reason is below. The limit stays what it was.'],
        detail: messageOf(err),
      }));
      return;
    }
    res.redirect(303, `/?${new URLSearchParams({ limit: String(percent), car: vehicle.name }).toString()}`);
  }));

  app.get('/vehicles/:id/disconnect', requireOwner, (req, res) => {
    const vehicle = findVehicle(req, res);
    if (vehicle !== undefined) {
      page(res, 200, `Disconnect ${vehicle.name}`, confirmDisconnectPage({ vehicle, csrf: csrf.issue() }));
    }
  });

  app.post('/vehicles/:id/disconnect', requireCsrf, requireOwner, handle(async (req, res) => {
    const vehicle = findVehicle(req, res);
    if (vehicle === undefined) {
      return;
    }
    try {
      await host.disconnect(vehicle.vehicleId);
    } catch (err) {
      log.error(`Disconnecting ${oneLine(vehicle.name)} failed: ${oneLine(messageOf(err))}`);
      page(res, 502, 'Disconnect failed', messagePage({
        heading: `${vehicle.name} was not disconnected`,
        paragraphs: ['Smartcar did not confirm the disconnection. Try again in a minute; the Homebridge log has the details.'],
        detail: messageOf(err),
      }));
      return;
    }
    log.info(`Disconnected ${oneLine(vehicle.name)}`);
    res.redirect(303, '/?disconnected=1');
  }));

  // Browsers ask for it on every page; a quiet empty answer keeps the 404 path for real mistakes.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  app.use((_req, res) => {
    page(res, 404, 'Not found', messagePage({ heading: 'There is no such page', paragraphs: ['The setup page lives at the address below.'] }));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(err);
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (status < 500) {
      // body-parser and the router refuse malformed input with 4xx errors: the client's mistake, not ours.
      log.debug(`Setup page refused ${req.method} ${oneLine(req.path)}: ${status} ${oneLine(messageOf(err))}`);
      page(res, status, 'Bad request', messagePage({ heading: 'That request could not be understood', paragraphs: ['Go back to the setup page and try again.'] }));
      return;
    }
    log.error(`Setup page failed on ${req.method} ${oneLine(req.path)}: ${oneLine(messageOf(err))}`);
    page(res, 500, 'Error', messagePage({ heading: 'Something went wrong', paragraphs: ['The setup page hit an error; the Homebridge log has the details. Your vehicles in Home are not affected.'] }));
  });

  /** The shared end of the callback, the paste form and the relay's hand-off: the same state check, the same outcomes. */
  async function finishConnect(params: URLSearchParams, res: Response): Promise<void> {
    const outcome = await finishConnectAnswer(params, { host, states, log });
    switch (outcome.kind) {
      case 'malformed':
        page(res, 400, 'Not a Smartcar answer', messagePage({
          heading: 'That is not an answer from Smartcar',
          paragraphs: [`It cannot be used: ${outcome.reason}. Nothing was connected.`],
          action: 'connect',
        }));
        return;
      case 'declined': {
        const explanation = explainConnectError(outcome.error, outcome.ours ? outcome.extra : '', options.redirectUri);
        page(res, 400, explanation.heading, messagePage({
          heading: explanation.heading,
          paragraphs: explanation.paragraphs,
          // Smartcar's own words only when the answer belongs to a Connect round trip we started.
          detail: outcome.ours ? outcome.description : undefined,
          action: explanation.retry ? 'connect' : 'home',
        }));
        return;
      }
      case 'expired':
        page(res, 400, 'Link expired', messagePage({
          heading: 'This Smartcar answer cannot be used',
          paragraphs: ['It does not belong to a connection started from this setup page in the last 10 minutes, or it was already used. Nothing was stored.',
            'Start again with "Connect a vehicle".'],
          action: 'connect',
        }));
        return;
      case 'failed':
        page(res, 502, 'Connecting failed', messagePage({
          heading: 'Smartcar did not complete the connection',
          paragraphs: ['Homebridge could not finish connecting with Smartcar, so nothing changed. Start again with "Connect a vehicle"; the Homebridge log has the details.'],
          detail: outcome.detail,
          action: 'connect',
        }));
        return;
      case 'pending':
        res.redirect(303, '/?connected=pending');
        return;
      case 'connected':
        res.redirect(303, `/?connected=${outcome.names.length}`);
    }
  }

  async function refresh(res: Response, vehicleId: string | undefined, what: string): Promise<void> {
    let answer: RefreshNowAnswer | void;
    const asked = (): VehicleStatusView[] => host.status().flatMap((u) => u.vehicles).filter((v) => vehicleId === undefined || v.vehicleId === vehicleId);
    const before = new Map(asked().map((v) => [v.vehicleId, { lastRefreshAt: v.lastRefreshAt, requestsUsed: v.requestsUsed }]));
    try {
      answer = await host.refreshNow(vehicleId);
    } catch (err) {
      log.warn(`Refreshing ${oneLine(what)} failed: ${oneLine(messageOf(err))}`);
      page(res, 502, 'Refresh failed', messagePage({
        heading: `Could not refresh ${what}`,
        paragraphs: ['Smartcar did not answer the refresh. The next scheduled refresh will try again.'],
        detail: messageOf(err),
      }));
      return;
    }
    if (answer === 'recent' || answer === 'budget' || answer === 'reconnect') {
      res.redirect(303, `/?refreshed=${answer}`);
      return;
    }
    // The owner pressed it to see new values: wait for them (bounded), and say which car and what it cost.
    // A car is read once its last read is another than before the press (no clock to compare: the
    // platform's may not be this page's).
    const read = (): VehicleStatusView[] => asked().filter((v) => before.has(v.vehicleId) && v.lastRefreshAt !== undefined
      && v.lastRefreshAt !== before.get(v.vehicleId)!.lastRefreshAt);
    const deadline = Date.now() + (options.refreshWaitMs ?? REFRESH_WAIT_MS);
    while (read().length < before.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, REFRESH_POLL_MS));
    }
    const done = read();
    if (done.length === 0) {
      res.redirect(303, '/?refreshed=1');
      return;
    }
    const cost = done.reduce((sum, v) => sum + Math.max(0, (v.requestsUsed ?? 0) - (before.get(v.vehicleId)?.requestsUsed ?? 0)), 0);
    const query = new URLSearchParams({ refreshed: 'done', requests: String(cost) });
    for (const v of done) {
      query.append('car', v.name);
    }
    if (done.length < before.size) {
      query.set('pending', String(before.size - done.length));
    }
    res.redirect(303, `/?${query.toString()}`);
  }

  /** A state change from a page open to the network: only after the setup code (asked for here). */
  function requireOwner(req: Request, res: Response, next: NextFunction): void {
    if (options.gate.allows(req.headers.cookie)) {
      next();
      return;
    }
    page(res, 403, 'Setup code', setupCodePage({ csrf: csrf.issue(), next: req.method === 'GET' ? req.path : '/' }));
  }

  function requireCsrf(req: Request, res: Response, next: NextFunction): void {
    if (csrf.redeem(formField(req, 'csrf'))) {
      next();
      return;
    }
    page(res, 403, 'Page expired', messagePage({
      heading: 'This page has expired',
      paragraphs: ['For your safety, buttons only work from a recently opened setup page. Open the setup page again and retry.'],
    }));
  }

  function findVehicle(req: Request, res: Response): VehicleStatusView | undefined {
    const id = req.params.id;
    const vehicle = host.status().flatMap((u) => u.vehicles).find((v) => v.vehicleId === id);
    if (vehicle === undefined) {
      page(res, 404, 'Unknown vehicle', messagePage({ heading: 'That vehicle is not connected', paragraphs: ['It may have been disconnected already.'] }));
    }
    return vehicle;
  }

  return app;
}

/** Where to go after the setup code: one of our own pages, never another site. */
function safeNext(next: string | undefined): string {
  return next !== undefined && (next === '/' || next === '/connect' || /^\/vehicles\/[A-Za-z0-9_-]{1,100}\/disconnect$/.test(next)) ? next : '/';
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  const nonce = randomBytes(16).toString('base64');
  res.locals.nonce = nonce;
  res.set({
    'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // The callback URL carries the authorization code: never let it leave in a Referer.
    'Referrer-Policy': 'no-referrer',
    // Not 'same-origin': that would cut the status page off from the Connect popup it opens (a relay
    // redirect URI needs window.opener, and the page needs the popup's handle to say hello). Pages of
    // other sites that open this one are still cut off.
    'Cross-Origin-Opener-Policy': 'same-origin-allow-popups',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  });
  next();
}

/**
 * Names a browser on the LAN uses for Homebridge: IP literals, localhost, single-label and local-only
 * suffixes, the redirect URI's host and this machine's name. A public domain is never one of them.
 */
export function isLocalHostHeader(hostHeader: string | undefined, redirectUri: string): boolean {
  if (hostHeader === undefined || hostHeader === '') {
    return false;
  }
  let name: string;
  try {
    name = new URL(`http://${hostHeader}/`).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (name.startsWith('[') || isIP(name) !== 0 || !name.includes('.')) {
    return true;
  }
  if (/\.(localhost|local|lan|home|internal|home\.arpa)$/.test(name)) {
    return true;
  }
  let redirectHost = '';
  try {
    redirectHost = new URL(redirectUri).hostname.toLowerCase();
  } catch {
    // The server refuses such a redirect URI at construction.
  }
  return name === redirectHost || name === hostname().toLowerCase();
}

function page(res: Response, status: number, title: string, body: HtmlValue, script?: Html): void {
  const nonce = typeof res.locals.nonce === 'string' ? res.locals.nonce : '';
  res.status(status).type('html').send(layout({ title, nonce, body, ...(script !== undefined ? { script } : {}) }).text);
}

function bannerFor(params: URLSearchParams): Banner | undefined {
  const connected = params.get('connected');
  if (connected === 'pending') {
    return { kind: 'warn', text: 'Connected and stored, but Smartcar did not list the vehicles yet. The plugin keeps asking; they appear here and in the Home app by themselves (the Homebridge log has the details).' };
  }
  if (connected !== null && /^\d{1,3}$/.test(connected)) {
    const n = Number(connected);
    return n === 0
      ? { kind: 'warn', text: 'Smartcar connected the account but shared no vehicles. Connect again and tick the vehicles to share.' }
      : { kind: 'ok', text: `Connected ${plural(n, 'vehicle')}. ${n === 1 ? 'It appears' : 'They appear'} in the Home app now.` };
  }
  if (params.get('refreshed') === 'done') {
    const cars = params.getAll('car').slice(0, 20).map((c) => c.slice(0, 64));
    const requests = Number(params.get('requests'));
    const pending = Number(params.get('pending') ?? 0);
    const cost = Number.isInteger(requests) && requests >= 0 ? ` (${plural(requests, 'request')})` : '';
    const rest = Number.isInteger(pending) && pending > 0 ? ` ${plural(pending, 'other vehicle')} did not answer yet; reload in a moment.` : '';
    return { kind: 'ok', text: `Refreshed ${cars.join(', ') || 'the vehicles'}${cost}: the values below are new.${rest}` };
  }
  if (params.get('refreshed') === '1') {
    return { kind: 'ok', text: 'Refresh requested: Smartcar has not answered yet. Reload this page in a moment for the new values.' };
  }
  if (params.get('refreshed') === 'recent') {
    return { kind: 'warn', text: 'Not refreshed: the data was read less than a minute ago. Try again in a minute.' };
  }
  if (params.get('refreshed') === 'reconnect') {
    return { kind: 'warn', text: 'Not refreshed: Smartcar needs this vehicle to be connected again first. Use "Connect again" below.' };
  }
  if (params.get('refreshed') === 'budget') {
    return { kind: 'warn', text: "Not refreshed: this month's request budget is used up. Refreshes resume when the month renews; lock commands still work." };
  }
  const limit = parseChargeLimit(params.get('limit') ?? '');
  if (limit !== undefined) {
    return { kind: 'ok', text: `${(params.get('car') ?? 'The car').slice(0, 64)} took the new charge limit: it charges to ${limit}%.` };
  }
  if (params.get('disconnected') === '1') {
    return { kind: 'ok', text: 'Vehicle disconnected and removed from Home.' };
  }
  return undefined;
}

function queryOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at >= 0 ? req.originalUrl.slice(at + 1) : '');
}

function formField(req: Request, name: string): string | undefined {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) {
    return undefined;
  }
  const value: unknown = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Express 5 forwards rejections itself, but typed handlers must not hand it a floating promise. */
function handle(fn: (req: Request, res: Response, next: NextFunction) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    fn(req, res, next).catch(next);
  };
}

function httpStatusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null) {
    const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
    const code = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : 500;
    return code >= 400 && code < 600 ? code : 500;
  }
  return 500;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Smartcar- and client-provided text goes into the log on one line, without terminal escapes. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 300);
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
