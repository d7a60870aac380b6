// The opener side of the Connect relay (docs/connect/index.html, protocol v1) for the setup page: with a
// relay as redirect URI, "Connect a vehicle" and "Connect again" open Connect in a popup, say hello to it
// until the relay hands Smartcar's answer back, and then take this page to its own callback, so the answer
// meets the same one-time state, setup code and CSRF rules as one that arrived there directly.
import { Html } from './html.js';

export interface ConnectPopupOptions {
  /** The page's CSRF token, for POST /connect-url. */
  csrf: string;
  /** Where Connect's answer is finished on this page (the redirect URI's path). */
  callbackPath: string;
  /** The relay's origin: the redirect URI's. */
  relayOrigin: string;
}

/** Only a redirect URI on another host than this machine's names is a relay; localhost keeps the plain redirect. */
export function relayOriginOf(redirectUri: string): string | undefined {
  try {
    const url = new URL(redirectUri);
    if (['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      return undefined;
    }
    return url.origin;
  } catch {
    return undefined;
  }
}

/** The script, with its three values as JSON (`<` escaped, so no value can end the script element). */
export function connectPopupScript(options: ConnectPopupOptions): Html {
  const config = JSON.stringify(options).replace(/</g, '\\u003c');
  return new Html(`(() => {
  'use strict';
  const CONFIG = ${config};
  const HELLO = 'smartcar-relay-hello';
  const RESULT = 'smartcar-relay-result';
  // The protocol asks for a hello every 250-500 ms until the answer comes or the popup is closed.
  const HELLO_EVERY_MS = 300;
  // The relay closes itself right after answering: a popup seen closed this many ticks in a row really is.
  const CLOSED_TICKS = 3;
  // The page is its own callback (a reverse proxy on the redirect URI's host): Connect comes back here anyway.
  if (CONFIG.relayOrigin === window.location.origin) return;
  let running;

  function progress(kind, text) {
    let box = document.getElementById('connect-progress');
    if (box === null) {
      box = document.createElement('div');
      box.id = 'connect-progress';
      box.setAttribute('role', 'status');
      const actions = document.getElementById('connect');
      const anchor = actions === null ? null : actions.closest('.actions');
      (anchor === null ? document.querySelector('main') : anchor.parentNode).insertBefore(box, anchor);
    }
    box.className = 'banner ' + kind;
    box.textContent = text;
  }

  /** Today's way: the whole page goes to Connect (GET /connect asks for the setup code first where needed). */
  function fullPage() {
    window.location.assign('/connect');
  }

  async function connectUrl() {
    const res = await fetch('/connect-url', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: CONFIG.csrf }).toString(),
    });
    // A refusal (no setup code yet, an expired page) is an HTML page: GET /connect says what to do.
    if (!res.ok || !(res.headers.get('content-type') || '').startsWith('application/json')) return undefined;
    const body = await res.json();
    return body !== null && typeof body === 'object' && typeof body.url === 'string' ? body.url : undefined;
  }

  async function start(event) {
    event.preventDefault();
    if (running !== undefined) running.stop();
    // Opened at once, while the click still counts as the owner's: after the fetch below a browser may block it.
    // Blank first, on this origin, so the opener keeps its handle (the page's COOP allows its own popups).
    const popup = window.open('', 'smartcar-connect');
    if (popup === null) {
      fullPage();
      return;
    }
    let url;
    try {
      url = await connectUrl();
    } catch {
      url = undefined;
    }
    let state = null;
    let target = '';
    try {
      const parsed = new URL(url);
      state = parsed.searchParams.get('state');
      target = new URL(parsed.searchParams.get('redirect_uri') || '').origin;
    } catch {
      state = null;
    }
    // Explicit: the hello goes only to the relay this plugin is configured with. A Connect URL sending the
    // answer anywhere else, or without a state, is not one to say hello for.
    if (url === undefined || state === null || state === '' || target !== CONFIG.relayOrigin) {
      popup.close();
      fullPage();
      return;
    }
    popup.location.href = url;
    progress('ok', 'Smartcar Connect is open in a new window: sign in with your car brand\\'s account, choose your cars and allow access. This page finishes the connection by itself.');
    running = sayHello(popup, state);
  }

  function sayHello(popup, state) {
    let closedFor = 0;
    const hello = { type: HELLO, state };
    function onMessage(event) {
      // Only the window we opened: another tab, frame or site posting a "result" is not Connect's answer.
      if (event.source !== popup) return;
      // Only from the relay's origin: whatever else the popup shows (Smartcar's pages, a page it was sent to) is not the relay.
      if (event.origin !== CONFIG.relayOrigin) return;
      const data = event.data;
      // Only the answer to our own Connect: the relay hands over only its own state, which must be ours.
      if (data === null || typeof data !== 'object' || data.type !== RESULT || data.state !== state) return;
      stop();
      // The fields go to this page's callback as Smartcar would have sent them; the plugin checks them all again.
      const query = new URLSearchParams();
      if (typeof data.error === 'string') {
        query.set('error', data.error);
        if (typeof data.errorDescription === 'string') query.set('error_description', data.errorDescription);
      } else {
        if (typeof data.code === 'string') query.set('code', data.code);
        if (typeof data.userId === 'string') query.set('user_id', data.userId);
      }
      query.set('state', state);
      progress('ok', 'Smartcar answered: finishing the connection…');
      window.location.assign(CONFIG.callbackPath + '?' + query.toString());
    }
    const timer = setInterval(() => {
      if (popup.closed) {
        closedFor += 1;
        if (closedFor >= CLOSED_TICKS) {
          stop();
          progress('warn', 'The Connect window closed before Smartcar\\'s answer reached this page. If you approved: with API v3 the car appears here within a minute (reload the page); otherwise paste the address that window showed into the box below.');
          const paste = document.getElementById('paste-help');
          if (paste !== null) paste.open = true;
        }
        return;
      }
      closedFor = 0;
      // To the relay's exact origin: while the popup is still on Smartcar's pages the browser drops the
      // hello, so the state is never shown to any other page.
      popup.postMessage(hello, CONFIG.relayOrigin);
    }, HELLO_EVERY_MS);
    window.addEventListener('message', onMessage);
    function stop() {
      clearInterval(timer);
      window.removeEventListener('message', onMessage);
      running = undefined;
    }
    return { stop };
  }

  for (const link of document.querySelectorAll('a[href="/connect"]')) {
    link.addEventListener('click', (event) => { void start(event); });
  }
})();
`);
}
