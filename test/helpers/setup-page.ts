// The setup page driven over plain HTTP, as a browser would, for suites that are not about the page
// itself (the browser suite proves the page; these only need its effects).
import assert from 'node:assert/strict';

import type { RefreshNowAnswer } from '../../src/setup/host.js';

/**
 * Follows /connect → Smartcar Connect → callback → status page. The emulator must auto-approve.
 * `localhost` in the redirect URI is rewritten to 127.0.0.1 so no resolver is involved.
 */
export async function connectThroughSetupPage(setupUrl: string): Promise<string> {
  let url = `${setupUrl}/connect`;
  for (let hop = 0; hop < 6; hop++) {
    const res = await fetch(url, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) {
      return url;
    }
    url = new URL(location, url).toString().replace('://localhost:', '://127.0.0.1:');
  }
  throw new Error('too many redirects');
}

/**
 * "Refresh now" on the status page, as the owner presses it (a fresh CSRF token per page): the one of
 * a car when vehicleId is given, else "Refresh all" (whose answer is "queued" when any car was taken).
 * Says what the plugin did with it.
 */
export async function refreshNow(setupUrl: string, vehicleId?: string): Promise<RefreshNowAnswer> {
  const page = await (await fetch(`${setupUrl}/`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'the status page carries a CSRF token');
  const res = await fetch(`${setupUrl}${vehicleId === undefined ? '/refresh' : `/vehicles/${encodeURIComponent(vehicleId)}/refresh`}`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ csrf }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 303, 'Refresh now answers with the status page');
  const answer = new URL(res.headers.get('location') ?? '/', setupUrl).searchParams.get('refreshed');
  return answer === 'recent' || answer === 'budget' || answer === 'reconnect' ? answer : 'queued';
}
