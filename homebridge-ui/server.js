// The Homebridge UI's server process for this plugin's settings: Config UI X forks it while the settings
// are open. It keeps nothing and writes nothing: every request goes to the running platform's loopback
// admin endpoint (src/admin/server.ts), found anew in <storage>/smartcar-admin.json on each request.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';

import { HomebridgePluginUiServer, RequestError } from '@homebridge/plugin-ui-utils';

const ADMIN_FILE = 'smartcar-admin.json';
// Smartcar vehicle ids are UUIDs; the same bound as the endpoint's.
const VEHICLE_ID = /^[A-Za-z0-9-]{1,64}$/;
const SECRET = /^[0-9a-f]{64}$/;
const TIMEOUT_MS = 30_000;
// Connect's answer as the relay hands it to the page, and the longest each field may be (the endpoint's bounds).
const ANSWER_FIELDS = { state: 512, code: 512, userId: 512, error: 501, errorDescription: 501 };
// The car actions whose refusals the endpoint words for the owner, and what the page says was not done.
const NOT_DONE = { '/charge-limit': 'The charge limit was not changed', '/home-from-car': 'The home point was not filled in' };
const NOT_RUNNING = 'Homebridge is not running the Smartcar plugin: start it, then reopen these settings';

class SmartcarUiServer extends HomebridgePluginUiServer {
  constructor() {
    super();
    this.onRequest('/status', async (body) => {
      fields(body, []);
      // The page needs to know what this Homebridge UI can do with the options form (see homeFromCar).
      return { ...await this.admin('GET', '/status'), uiVersion: this.homebridgeUiVersion ?? null };
    });
    this.onRequest('/refresh', (body) => this.admin('POST', '/refresh', vehicle(body, false)));
    this.onRequest('/disconnect', (body) => this.admin('POST', '/disconnect', vehicle(body, true)));
    this.onRequest('/complete', (body) => this.admin('POST', '/complete', connectAnswer(body)));
    this.onRequest('/charge-limit', (body) => this.admin('POST', '/charge-limit', chargeLimit(body)));
    this.onRequest('/home-from-car', (body) => this.admin('POST', '/home-from-car', vehicle(body, true)));
    this.onRequest('/connect-url', (body) => {
      fields(body, []);
      return this.admin('POST', '/connect-url', {});
    });
    this.ready();
  }

  /**
   * The base class's dispatch, without its "Incoming Request" line (the page polls /status, so that was a
   * line in the Homebridge UI log every few seconds) and with own handlers only: it looked paths up on a
   * plain object, so "constructor" or "toString" reached Object's methods.
   */
  async processRequest(request) {
    const path = typeof request.path === 'string' ? request.path : '';
    const handler = Object.hasOwn(this.handlers, path) ? this.handlers[path] : undefined;
    if (handler === undefined) {
      return this.sendResponse(request, { message: 'Not Found', path: path.slice(0, 200) }, false);
    }
    try {
      return this.sendResponse(request, await handler(request.body || {}), true);
    } catch (err) {
      if (err instanceof RequestError) {
        return this.sendResponse(request, { message: err.message, error: err.requestError }, false);
      }
      process.stderr.write(`Smartcar settings: ${path} failed: ${err && err.stack ? err.stack : String(err)}\n`);
      return this.sendResponse(request, { message: 'The Smartcar settings hit an error; the Homebridge UI log has it' }, false);
    }
  }

  /** One call to the endpoint; a 401 once more with the file read again (the plugin may have just restarted). */
  async admin(method, path, body) {
    try {
      return await call(await this.credentials(), method, path, body);
    } catch (err) {
      if (!(err instanceof StaleSecret)) {
        throw err;
      }
    }
    try {
      return await call(await this.credentials(), method, path, body);
    } catch (err) {
      if (err instanceof StaleSecret) {
        throw new RequestError('The Smartcar plugin restarted while these settings were open: close and reopen them', { status: 401 });
      }
      throw err;
    }
  }

  async credentials() {
    const storage = this.homebridgeStoragePath;
    if (!storage) {
      throw new RequestError('The Homebridge UI did not say where Homebridge keeps its files (HOMEBRIDGE_STORAGE_PATH): restart Homebridge, then reopen these settings', { status: 500 });
    }
    let parsed;
    try {
      parsed = JSON.parse(await readFile(join(storage, ADMIN_FILE), 'utf8'));
    } catch (err) {
      if (err && err.code === 'ENOENT') {
        throw new RequestError(NOT_RUNNING, { status: 503 });
      }
      if (err && err.code === 'EACCES') {
        throw new RequestError(`The Homebridge UI may not read ${join(storage, ADMIN_FILE)}: run it as the same user as Homebridge`, { status: 503 });
      }
      throw new RequestError(`${NOT_RUNNING} (its ${ADMIN_FILE} cannot be read)`, { status: 503 });
    }
    const { port, secret } = parsed ?? {};
    if (!Number.isInteger(port) || port < 1 || port > 65535 || typeof secret !== 'string' || !SECRET.test(secret)) {
      throw new RequestError(`${NOT_RUNNING} (its ${ADMIN_FILE} is not one the plugin wrote)`, { status: 503 });
    }
    return { port, secret };
  }
}

class StaleSecret extends Error {}

async function call({ port, secret }, method, path, body) {
  let res;
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    if (err && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new RequestError(`Homebridge did not answer within ${TIMEOUT_MS / 1000} s: try again; if it keeps happening, restart Homebridge`, { status: 504 });
    }
    // Refused or reset: nobody listens on that port any more (Homebridge stopped, or the plugin failed to start).
    throw new RequestError(NOT_RUNNING, { status: 503 });
  }
  let answer;
  try {
    answer = await res.json();
  } catch {
    answer = {};
  }
  if (res.ok) {
    return answer;
  }
  if (res.status === 401) {
    throw new StaleSecret();
  }
  const why = typeof answer.error === 'string' ? answer.error : `status ${res.status}`;
  if (path === '/complete' && typeof answer.error === 'string') {
    // Already in the owner's words: why Connect's answer was not taken, or what Smartcar said.
    throw new RequestError(answer.error, { status: res.status });
  }
  if (Object.hasOwn(NOT_DONE, path) && res.status !== 404 && typeof answer.error === 'string') {
    // The input, the permission, or the car's own refusal: each in the owner's words already.
    throw new RequestError(`${NOT_DONE[path]}: ${answer.error}`, { status: res.status });
  }
  if (res.status === 404 && path !== '/status') {
    throw new RequestError('That car is not connected any more: the list is reloaded', { status: 404 });
  }
  if (res.status === 502) {
    throw new RequestError(`Smartcar did not do it: ${why}. Try again in a minute; the Homebridge log has the details`, { status: 502 });
  }
  throw new RequestError(`The plugin refused the request (${why})`, { status: res.status });
}

/** The UI sends `{}` or `{vehicleId}`; anything else is refused here before it reaches the plugin. */
function vehicle(body, required) {
  fields(body, ['vehicleId']);
  const id = body.vehicleId;
  if (id === undefined && !required) {
    return {};
  }
  if (typeof id !== 'string' || !VEHICLE_ID.test(id)) {
    throw new RequestError('That is not a vehicle id', { status: 400 });
  }
  return { vehicleId: id };
}

/** `{vehicleId, percent}`: a car and a whole percent (the endpoint checks the range and says it in the owner's words). */
function chargeLimit(body) {
  fields(body, ['vehicleId', 'percent']);
  const { vehicleId } = vehicle({ vehicleId: body.vehicleId }, true);
  if (!Number.isInteger(body.percent)) {
    throw new RequestError('The charge limit must be a whole percent', { status: 400 });
  }
  return { vehicleId, percent: body.percent };
}

/** Connect's answer from the page: known fields only, each a string within its bound, with a state and an answer. */
function connectAnswer(body) {
  fields(body, Object.keys(ANSWER_FIELDS));
  const answer = {};
  for (const [name, max] of Object.entries(ANSWER_FIELDS)) {
    const value = body[name];
    if (value === undefined) {
      continue;
    }
    if (typeof value !== 'string' || value.length > max) {
      throw new RequestError(`Smartcar's answer is not usable: ${name} must be text of at most ${max} characters`, { status: 400 });
    }
    answer[name] = value;
  }
  if (typeof answer.state !== 'string' || answer.state === '') {
    throw new RequestError('Smartcar\'s answer is not usable: it has no state', { status: 400 });
  }
  if (answer.code === undefined && answer.userId === undefined && answer.error === undefined) {
    throw new RequestError('Smartcar\'s answer is not usable: it has no code, user id or error', { status: 400 });
  }
  return answer;
}

function fields(body, allowed) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError('The request must be an object', { status: 400 });
  }
  if (Object.keys(body).some((k) => !allowed.includes(k))) {
    throw new RequestError('The request has a field this plugin does not know', { status: 400 });
  }
}

(() => new SmartcarUiServer())();
