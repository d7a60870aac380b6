// The one end of every Connect round trip, whichever way Smartcar's answer came back: the setup page's
// callback, its paste box, or the Homebridge UI handing over what the Connect relay posted to it. One
// reading of the answer, one spend of the one-time state, one completeAuthorization, the same log lines.
import type { Logging } from 'homebridge';

import { readConnectAnswer } from './connect-answer.js';
import type { SetupHost } from './host.js';
import type { TokenStore } from './oauth-state.js';

export type ConnectOutcome =
  /** Not shaped like an answer from Connect at all: nothing was looked up or spent. */
  | { kind: 'malformed'; reason: string }
  /** Smartcar said no (`error=`); `ours` says whether the state was one we issued (then its words may be shown). */
  | { kind: 'declined'; error: string; description: string; extra: string; ours: boolean }
  /** A state we did not issue, already used, or expired: nothing was stored. */
  | { kind: 'expired' }
  /** Smartcar refused to complete it; `detail` is its message with the code masked. */
  | { kind: 'failed'; detail: string }
  /** Stored, but Smartcar did not list the cars yet; the plugin keeps asking. */
  | { kind: 'pending'; message: string }
  | { kind: 'connected'; names: string[] };

export async function finishConnect(params: URLSearchParams, deps: { host: SetupHost; states: TokenStore; log: Logging }): Promise<ConnectOutcome> {
  const { host, states, log } = deps;
  const answer = readConnectAnswer(params);
  if (answer.kind === 'malformed') {
    return { kind: 'malformed', reason: answer.reason };
  }
  // Redeeming first spends the state whatever happens next, so no answer can be replayed.
  const stateOk = states.redeem(answer.state);
  if (answer.kind === 'error') {
    log.warn(`Smartcar Connect ended without connecting a vehicle (${oneLine(answer.error)})`);
    return { kind: 'declined', error: answer.error, description: answer.description, extra: answer.extra, ours: stateOk };
  }
  if (!stateOk) {
    log.warn('Setup page refused a Smartcar answer with an unknown, used or expired state; nothing was stored');
    return { kind: 'expired' };
  }
  let connected: Awaited<ReturnType<SetupHost['completeAuthorization']>>;
  try {
    connected = await host.completeAuthorization({
      ...(answer.code !== undefined ? { code: answer.code } : {}),
      ...(answer.userId !== undefined ? { userId: answer.userId } : {}),
    });
  } catch (err) {
    // Smartcar's "Invalid code: <code>." would otherwise put the code in the log and the page.
    const message = err instanceof Error ? err.message : String(err);
    const detail = answer.code === undefined ? message : message.split(answer.code).join('[code]');
    log.error(`Connecting a vehicle failed: ${oneLine(detail)}. Nothing was stored; open the setup page and connect again.`);
    return { kind: 'failed', detail };
  }
  if (connected.pending !== undefined) {
    log.warn(oneLine(connected.pending));
    return { kind: 'pending', message: connected.pending };
  }
  const names = connected.vehicles.map((v) => oneLine(v.name));
  log.info(`Connected ${names.length} vehicle${names.length === 1 ? '' : 's'}${names.length > 0 ? `: ${names.join(', ')}` : ''}`);
  return { kind: 'connected', names };
}

/** Smartcar- and client-provided text goes into the log on one line, without terminal escapes. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 300);
}
