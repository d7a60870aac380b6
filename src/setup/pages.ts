// The setup pages as server-rendered HTML: no external assets, one inline style block and (on the status
// page) one inline script, both allowed by the per-response CSP nonce. Every Smartcar-provided string goes
// through `html`; the script sets text only (textContent), never markup.
import { Html, html, type HtmlValue } from './html.js';
import { CHARGE_LIMIT_RANGE } from '../settings.js';
import { commandReserve } from '../vehicle/budget.js';
import { chargeLimitText } from './charge-limit.js';
import type { TimelineMark, UserStatusView, VehicleStatusView } from './host.js';

const STYLE = `
:root { color-scheme: light dark; --fg: #1c1c1e; --muted: #6e6e73; --bg: #f2f2f7; --card: #fff; --accent: #0a66d8;
  --ok: #1f7a35; --warn: #9a5b00; --bad: #b3261e; --line: #d1d1d6; }
@media (prefers-color-scheme: dark) { :root { --fg: #f2f2f7; --muted: #a1a1a6; --bg: #000; --card: #1c1c1e;
  --accent: #4c9aff; --ok: #5fd27a; --warn: #ffb340; --bad: #ff6b61; --line: #3a3a3c; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 -apple-system, system-ui, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 0 0 .25rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
p { margin: .5rem 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1rem; margin: 0 0 1rem; }
.muted { color: var(--muted); font-size: .9rem; }
.banner { border-radius: 12px; padding: .75rem 1rem; margin: 0 0 1rem; border: 1px solid; }
.banner.ok { color: var(--ok); border-color: var(--ok); }
.banner.warn { color: var(--warn); border-color: var(--warn); }
.banner.bad { color: var(--bad); border-color: var(--bad); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .75rem 0; }
dt { color: var(--muted); }
dd { margin: 0; }
ul { margin: .25rem 0; padding-left: 1.25rem; }
.problems li { color: var(--warn); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
.card .actions { margin-bottom: 0; }
form { margin: 0; }
.button, button { display: inline-block; font: inherit; font-weight: 600; padding: .6rem 1rem; border-radius: 10px;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
.button.secondary, button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
input[type=text], input[type=url] { width: 100%; font: inherit; padding: .6rem; border-radius: 10px;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg); margin: .5rem 0; }
input[type=number] { width: 5.5rem; font: inherit; padding: .6rem; border-radius: 10px; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); margin: 0 .5rem; }
.charge-limit-form { margin-top: .75rem; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 0; }
.charge-limit-form p { flex-basis: 100%; }
code { overflow-wrap: anywhere; }
details summary { cursor: pointer; color: var(--accent); }
.budget-bar { display: block; width: 100%; height: .6rem; margin: .3rem 0 .15rem; border-radius: 4px; }
.budget-bar .track { fill: var(--line); }
.budget-bar .reserve { fill: var(--warn); opacity: .35; }
.budget-bar .used { fill: var(--accent); }
.budget-bar .used.into-reserve { fill: var(--warn); }
.timeline { display: block; width: 100%; height: 1rem; margin: .3rem 0 0; }
.timeline .axis { stroke: var(--line); stroke-width: 2; }
.timeline .mark { stroke: var(--accent); stroke-width: 3; }
.timeline .mark.data { stroke: var(--muted); }
.timeline .mark.command { stroke: var(--warn); }
.timeline .mark.plugged, .timeline .mark.unplugged, .timeline .mark.charging, .timeline .mark.charged { stroke: var(--ok); }
`;

// STYLE is our own constant, so it goes in unescaped (the quotes in font names must survive).
const STYLE_HTML = new Html(STYLE);

export function layout(options: { title: string; nonce: string; body: HtmlValue; script?: Html }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · Homebridge Smartcar</title>
<style nonce="${options.nonce}">${STYLE_HTML}</style>
</head>
<body><main>
${options.body}
</main>${options.script !== undefined ? html`<script nonce="${options.nonce}">${options.script}</script>` : ''}</body>
</html>
`;
}

export interface Banner {
  kind: 'ok' | 'warn' | 'bad';
  text: string;
}

export interface StatusPageModel {
  users: UserStatusView[];
  csrf: string;
  redirectUri: string;
  now: number;
  banner?: Banner;
}

export function statusPage(model: StatusPageModel): Html {
  const vehicleCount = model.users.reduce((n, u) => n + u.vehicles.length, 0);
  const needsAction = model.users.filter((u) => u.needsReauth);
  return html`
<h1>Smartcar vehicles</h1>
${model.banner ? bannerHtml(model.banner) : ''}
${needsAction.map((u) => html`<div class="banner bad" role="alert">
  <strong>Connect again${u.vehicles.length > 0 ? ` (${accountName(u)})` : ''}:</strong> ${u.problem ?? 'Smartcar no longer accepts the authorization for this account.'}
  Its vehicles stay in Home but stop updating until you connect again.
  <div class="actions"><a class="button" href="/connect">Connect again</a></div>
</div>`)}
${vehicleCount === 0
    ? html`<div class="card"><p>No vehicle is connected yet.</p>
  <p>Connect one: you will sign in with your carmaker's account on Smartcar's page and choose which vehicles Homebridge may see.</p></div>`
    : model.users.map((u) => userHtml(u, model))}
<div class="actions">
  <a class="button" id="connect" href="/connect">Connect a vehicle</a>
  ${vehicleCount > 1 ? html`<form method="post" action="/refresh">
    <input type="hidden" name="csrf" value="${model.csrf}">
    <button class="secondary" type="submit">Refresh all now</button></form>` : ''}
</div>
${pasteHtml(model, vehicleCount)}
`;
}

function bannerHtml(banner: Banner): Html {
  return html`<div class="banner ${banner.kind}" role="status" id="banner">${banner.text}</div>`;
}

function userHtml(user: UserStatusView, model: StatusPageModel): Html {
  const name = accountName(user);
  return html`<section aria-label="Smartcar account: ${name}">
<p class="muted account">Smartcar account: ${name}</p>
${user.vehicles.length === 0 ? html`<div class="card"><p>No vehicle of this account is shared with Homebridge.</p></div>` : ''}
${user.vehicles.map((v) => vehicleHtml(v, model))}
</section>`;
}

/** An account as the owner knows it, by its cars ("Model 3 and F-150"): its Smartcar id means nothing to them. */
export function accountName(user: UserStatusView): string {
  const names = user.vehicles.map((v) => v.name);
  if (names.length === 0) {
    return 'no vehicle shared';
  }
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`;
}

function vehicleHtml(v: VehicleStatusView, model: StatusPageModel): Html {
  const title = [v.year > 0 ? String(v.year) : '', v.make, v.model].filter((s) => s !== '').join(' ');
  return html`<article class="card vehicle" data-vehicle-id="${v.vehicleId}">
<h2>${v.name}</h2>
${title !== v.name ? html`<p class="muted">${title}</p>` : ''}
<ul class="problems"${v.problems.length === 0 ? html` hidden` : ''}>${v.problems.map((p) => html`<li>${p}</li>`)}</ul>
<dl>
  <dt>Doors</dt><dd class="lock">${lockText(v)}</dd>
  <dt>${v.levelSource === 'fuel' ? 'Fuel' : 'Battery'}</dt><dd class="level">${v.level === undefined ? 'unknown' : `${Math.round(v.level)}%`}</dd>
  ${v.range !== undefined ? html`<dt>Range</dt><dd class="range">${v.range}</dd>` : ''}
  ${v.charging !== undefined ? html`<dt>Charging</dt><dd class="charging">${chargingText(v.charging)}</dd>` : ''}
  ${v.chargeLimit !== undefined ? html`<dt>Charge limit</dt><dd class="charge-limit">${chargeLimitText(v.chargeLimit, v.chargeLimitSetAt === undefined ? undefined : relativeTime(v.chargeLimitSetAt, model.now))}</dd>` : ''}
  ${v.pluggedIn !== undefined ? html`<dt>Plugged in</dt><dd class="plugged">${v.pluggedIn ? 'yes' : 'no'}</dd>` : ''}
  ${v.lowVoltagePercent !== undefined ? html`<dt>12 V battery</dt><dd class="low-voltage">${`${v.lowVoltagePercent}%${v.lowVoltageLow ? ' (low: have it checked or charged)' : ''}`}</dd>` : ''}
  ${v.openings !== undefined ? html`<dt>Closed up</dt><dd class="closed-up">${v.openings.length === 0 ? 'yes' : `no: ${v.openings.join(', ')} open`}</dd>` : ''}
  ${v.atHome !== undefined ? html`<dt>At home</dt><dd class="at-home">${v.atHome ? 'yes' : 'no, away'}</dd>` : ''}
  ${v.odometer !== undefined ? html`<dt>Odometer</dt><dd class="odometer">${v.odometer}</dd>` : ''}
  <dt>Last refresh</dt><dd class="last-refresh">${v.lastRefreshAt === undefined ? 'not yet' : relativeTime(v.lastRefreshAt, model.now)}</dd>
  ${v.dataAt !== undefined ? html`<dt>Data age</dt><dd class="data-age">${`the car reported ${relativeTime(v.dataAt, model.now)}`}</dd>` : ''}
  ${v.nextRefreshAt !== undefined ? html`<dt>Next refresh</dt><dd class="next-refresh">${relativeTime(v.nextRefreshAt, model.now)}</dd>` : ''}
  ${v.webhook !== undefined ? html`<dt>Webhooks</dt><dd class="webhook">${v.webhook}</dd>` : ''}
  ${v.requestsUsed !== undefined && v.requestBudget !== undefined
    ? html`<dt>Requests</dt><dd>${budgetHtml(v.requestsUsed, v.requestBudget)}</dd>` : ''}
</dl>
${timelineHtml(v.timeline ?? [], model.now)}
<details><summary>Permissions (${v.permissions.length})</summary>
<ul class="permissions">${v.permissions.map((p) => html`<li><code>${p}</code></li>`)}</ul></details>
<div class="actions">
  <form method="post" action="/vehicles/${encodeURIComponent(v.vehicleId)}/refresh">
    <input type="hidden" name="csrf" value="${model.csrf}">
    <button class="secondary" type="submit">Refresh now</button>
  </form>
  <a class="button secondary" href="/vehicles/${encodeURIComponent(v.vehicleId)}/disconnect">Disconnect…</a>
</div>
${v.chargeLimitSettable === true ? chargeLimitFormHtml(v, model) : ''}
</article>`;
}

/** One billed command when sent; the car's refusal comes back on its own page. */
function chargeLimitFormHtml(v: VehicleStatusView, model: StatusPageModel): Html {
  const id = `limit-${v.vehicleId}`;
  return html`<form class="charge-limit-form" method="post" action="/vehicles/${encodeURIComponent(v.vehicleId)}/charge-limit">
  <input type="hidden" name="csrf" value="${model.csrf}">
  <label for="${id}">Charge to (%)</label>
  <input type="number" id="${id}" name="percent" min="${String(CHARGE_LIMIT_RANGE.min)}" max="${String(CHARGE_LIMIT_RANGE.max)}" step="1" required
    value="${v.chargeLimit === undefined ? '' : String(v.chargeLimit)}">
  <button class="secondary" type="submit">Set charge limit</button>
  <p class="muted">One request from the month's budget; the car may refuse (the page then says why).</p>
</form>`;
}

/** Open while it may be needed for a first car (a localhost redirect URI fails on another device); folded after. */
function pasteHtml(model: StatusPageModel, vehicleCount: number): Html {
  return html`<details class="card" id="paste-help"${vehicleCount === 0 && isLocalhostUri(model.redirectUri) ? html` open` : ''}>
<summary>Approved on Smartcar but the page did not load?</summary>
<p>After you approve, Smartcar sends your browser to <code>${model.redirectUri}</code>. Smartcar only
allows plain <code>http://</code> addresses for <code>localhost</code>, so when this browser is not running on the
Homebridge machine that page fails to load ("can't connect"). That is expected: copy the whole address from the
address bar and paste it here.</p>
<form method="post" action="/paste">
  <input type="hidden" name="csrf" value="${model.csrf}">
  <label for="pasted-url">Address of the page that did not load</label>
  <input type="text" id="pasted-url" name="url" inputmode="url" autocomplete="off" autocapitalize="off" spellcheck="false" required
    placeholder="${model.redirectUri}?code=…&amp;state=…">
  <button type="submit" id="paste-submit">Finish connecting</button>
</form>
</details>`;
}

function isLocalhostUri(uri: string): boolean {
  try {
    const host = new URL(uri).hostname;
    return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  } catch {
    return false;
  }
}

/**
 * The month drawn: requests used against the budget, and the part kept for lock and charging commands at its end
 * (scaled as src/vehicle/budget.ts keeps it). The numbers are text beside it; the drawing is hidden from
 * screen readers, which read the text. In budget units, so the script moves one width.
 */
function budgetHtml(used: number, budget: number): Html {
  const reserve = commandReserve(budget);
  const scale = Math.max(1, budget);
  return html`<span class="requests">${requestsText(used, budget)}</span>
<svg class="budget-bar" aria-hidden="true" focusable="false" viewBox="0 0 ${scale} 10" preserveAspectRatio="none">
<rect class="track" x="0" y="0" width="${scale}" height="10"></rect>
<rect class="reserve" x="${scale - reserve}" y="0" width="${reserve}" height="10"></rect>
<rect class="${usedClass(used, budget, reserve)}" data-reserve-from="${budget - reserve}" x="0" y="0" width="${Math.min(used, scale)}" height="10"></rect>
</svg>
<span class="muted reserve-text">${reserve > 0 ? `the last ${reserve} are kept for lock and charging commands` : 'none kept for commands'}</span>`;
}

const TIMELINE_SPAN_MS = 24 * 60 * 60 * 1000;
const TIMELINE_WORDS: Record<TimelineMark['kind'], string> = {
  read: 'read', 'full-read': 'full read', data: 'data recorded', command: 'command',
  plugged: 'plugged in', unplugged: 'unplugged', charging: 'charging began', charged: 'charge ended',
};

/**
 * The car's last day drawn: a tick per read, per moment its data was recorded, per command or plug change,
 * now at the right end; the same moments as text below it (what screen readers read).
 */
function timelineHtml(marks: readonly TimelineMark[], now: number): Html {
  const recent = marks.filter((m) => m.at <= now && now - m.at <= TIMELINE_SPAN_MS);
  return html`<div class="timeline-box"${recent.length === 0 ? html` hidden` : ''}>
<svg class="timeline" aria-hidden="true" focusable="false" viewBox="0 0 ${TIMELINE_SPAN_MS / 60_000} 10" preserveAspectRatio="none">
<line class="axis" x1="0" y1="5" x2="${TIMELINE_SPAN_MS / 60_000}" y2="5" vector-effect="non-scaling-stroke"></line>
${recent.map((m) => { const x = Math.round((TIMELINE_SPAN_MS - (now - m.at)) / 60_000); return html`<line class="mark ${m.kind}" x1="${x}" y1="0" x2="${x}" y2="10" vector-effect="non-scaling-stroke"></line>`; })}
</svg>
<p class="muted timeline-text">Last 24 hours: ${recent.map((m) => `${TIMELINE_WORDS[m.kind]} ${relativeTime(m.at, now)}`).reverse().join(' · ')}</p>
</div>`;
}

function usedClass(used: number, budget: number, reserve: number): string {
  return used > budget - reserve ? 'used into-reserve' : 'used';
}

function requestsText(used: number, budget: number): string {
  return `${used} of ${budget} this month`;
}

function lockText(v: VehicleStatusView): string {
  switch (v.lock) {
    case 'locked':
      return 'locked';
    case 'unlocked':
      return 'unlocked';
    case 'not-available':
      return 'not available for this car';
    default:
      return 'unknown';
  }
}

function chargingText(state: NonNullable<VehicleStatusView['charging']>): string {
  switch (state) {
    case 'CHARGING':
      return 'charging';
    case 'FULLY_CHARGED':
      return 'fully charged';
    default:
      return 'not charging';
  }
}

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** "just now", "5 minutes ago", "in 2 hours": how a person says it, rounded down. */
export function relativeTime(at: number, now: number): string {
  const delta = now - at;
  const abs = Math.abs(delta);
  if (abs < 45 * SECOND_MS) {
    return 'just now';
  }
  const [count, unit] = abs < HOUR_MS
    ? [Math.max(1, Math.round(abs / MINUTE_MS)), 'minute']
    : abs < DAY_MS
      ? [Math.floor(abs / HOUR_MS), 'hour']
      : [Math.floor(abs / DAY_MS), 'day'];
  const words = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return delta >= 0 ? `${words} ago` : `in ${words}`;
}

/**
 * The status page's script: every 10 s it reads /status.json and puts each car's new values into the
 * cards in place, as text. Its wording mirrors the functions above (the browser test compares it with
 * a reload). Our own constant, so it goes in unescaped; it holds no value from Smartcar.
 */
export const STATUS_SCRIPT = new Html(`(() => {
  'use strict';
  const EVERY_MS = 10000;
  const MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  const LOCK = { locked: 'locked', unlocked: 'unlocked', 'not-available': 'not available for this car' };
  const CHARGING = { CHARGING: 'charging', FULLY_CHARGED: 'fully charged' };
  function relative(at, now) {
    const delta = now - at, abs = Math.abs(delta);
    if (abs < 45000) return 'just now';
    const [count, unit] = abs < HOUR ? [Math.max(1, Math.round(abs / MINUTE)), 'minute']
      : abs < DAY ? [Math.floor(abs / HOUR), 'hour'] : [Math.floor(abs / DAY), 'day'];
    const words = count + ' ' + unit + (count === 1 ? '' : 's');
    return delta >= 0 ? words + ' ago' : 'in ' + words;
  }
  function set(card, name, text) {
    const el = card.querySelector('.' + name);
    if (el !== null && el.textContent !== text) el.textContent = text;
  }
  const SPAN = 24 * HOUR, SVG = 'http://www.w3.org/2000/svg';
  const WORDS = { read: 'read', 'full-read': 'full read', data: 'data recorded', command: 'command',
    plugged: 'plugged in', unplugged: 'unplugged', charging: 'charging began', charged: 'charge ended' };
  function timeline(card, marks, now) {
    const box = card.querySelector('.timeline-box');
    if (box === null) return;
    const recent = marks.filter((m) => m.at <= now && now - m.at <= SPAN);
    box.hidden = recent.length === 0;
    const svg = box.querySelector('svg');
    svg.querySelectorAll('line.mark').forEach((l) => l.remove());
    for (const m of recent) {
      const x = String(Math.round((SPAN - (now - m.at)) / MINUTE));
      const l = document.createElementNS(SVG, 'line');
      for (const [k, val] of [['class', 'mark ' + m.kind], ['x1', x], ['y1', '0'], ['x2', x], ['y2', '10'], ['vector-effect', 'non-scaling-stroke']]) l.setAttribute(k, val);
      svg.appendChild(l);
    }
    set(box, 'timeline-text', 'Last 24 hours: ' + recent.map((m) => (WORDS[m.kind] || m.kind) + ' ' + relative(m.at, now)).reverse().join(' · '));
  }
  function apply(data) {
    const cards = new Map(Array.from(document.querySelectorAll('article.vehicle'), (a) => [a.dataset.vehicleId, a]));
    for (const user of data.users) for (const v of user.vehicles) {
      const card = cards.get(v.vehicleId);
      if (card === undefined) continue;
      set(card, 'lock', LOCK[v.lock] || 'unknown');
      set(card, 'level', v.level === undefined ? 'unknown' : Math.round(v.level) + '%');
      if (v.range !== undefined) set(card, 'range', v.range);
      if (v.charging !== undefined) set(card, 'charging', CHARGING[v.charging] || 'not charging');
      if (v.chargeLimit !== undefined) set(card, 'charge-limit', v.chargeLimit + '%' + (v.chargeLimitSetAt === undefined ? '' : ' (as set here ' + relative(v.chargeLimitSetAt, data.now) + ')'));
      if (v.odometer !== undefined) set(card, 'odometer', v.odometer);
      if (v.atHome !== undefined) set(card, 'at-home', v.atHome ? 'yes' : 'no, away');
      if (v.pluggedIn !== undefined) set(card, 'plugged', v.pluggedIn ? 'yes' : 'no');
      if (v.openings !== undefined) set(card, 'closed-up', v.openings.length === 0 ? 'yes' : 'no: ' + v.openings.join(', ') + ' open');
      if (v.lowVoltagePercent !== undefined) set(card, 'low-voltage', v.lowVoltagePercent + '%' + (v.lowVoltageLow ? ' (low: have it checked or charged)' : ''));
      set(card, 'last-refresh', v.lastRefreshAt === undefined ? 'not yet' : relative(v.lastRefreshAt, data.now));
      if (v.dataAt !== undefined) set(card, 'data-age', 'the car reported ' + relative(v.dataAt, data.now));
      if (v.nextRefreshAt !== undefined) set(card, 'next-refresh', relative(v.nextRefreshAt, data.now));
      if (v.webhook !== undefined) set(card, 'webhook', v.webhook);
      if (v.requestsUsed !== undefined && v.requestBudget !== undefined) {
        set(card, 'requests', v.requestsUsed + ' of ' + v.requestBudget + ' this month');
        const bar = card.querySelector('rect.used');
        if (bar !== null) {
          bar.setAttribute('width', String(Math.min(v.requestsUsed, Math.max(1, v.requestBudget))));
          bar.classList.toggle('into-reserve', v.requestsUsed > Number(bar.dataset.reserveFrom));
        }
      }
      timeline(card, v.timeline || [], data.now);
      const problems = card.querySelector('ul.problems');
      if (problems !== null && Array.from(problems.children, (li) => li.textContent).join('\\n') !== v.problems.join('\\n')) {
        problems.replaceChildren(...v.problems.map((p) => { const li = document.createElement('li'); li.textContent = p; return li; }));
        problems.hidden = v.problems.length === 0;
      }
    }
  }
  async function tick() {
    if (document.hidden) return;
    try {
      const res = await fetch('/status.json', { cache: 'no-store', credentials: 'same-origin' });
      if (res.ok) apply(await res.json());
    } catch {
      // The plugin may be restarting: the next tick tries again.
    }
  }
  setInterval(() => { void tick(); }, EVERY_MS);
})();
`);

export function confirmDisconnectPage(options: { vehicle: VehicleStatusView; csrf: string }): Html {
  const v = options.vehicle;
  return html`
<h1>Disconnect ${v.name}?</h1>
<div class="card">
<p>Homebridge stops reading and controlling this vehicle: Smartcar revokes its access, and the accessory disappears
from the Home app (with its automations and scenes).</p>
<p>You can connect it again at any time.</p>
<div class="actions">
  <form method="post" action="/vehicles/${encodeURIComponent(v.vehicleId)}/disconnect">
    <input type="hidden" name="csrf" value="${options.csrf}">
    <button class="danger" type="submit" id="confirm-disconnect">Disconnect</button>
  </form>
  <a class="button secondary" href="/">Cancel</a>
</div>
</div>`;
}

/** A page that explains something went wrong and what to do; `detail` is optional upstream text. */
export function messagePage(options: { heading: string; paragraphs: string[]; detail?: string; action?: 'connect' | 'home' }): Html {
  return html`
<h1>${options.heading}</h1>
<div class="card" id="message">
${options.paragraphs.map((p) => html`<p>${p}</p>`)}
${options.detail !== undefined && options.detail !== '' ? html`<p class="muted">Smartcar said: ${options.detail}</p>` : ''}
<div class="actions">
  ${options.action === 'connect' ? html`<a class="button" href="/connect">Try again</a>` : ''}
  <a class="button${options.action === 'connect' ? ' secondary' : ''}" href="/">Back to the setup page</a>
</div>
</div>`;
}

/** Asked before a state change when the page is open to the network: the setup code from the Homebridge log. */
export function setupCodePage(options: { csrf: string; next: string; wrong?: 'wrong' | 'locked-out' }): Html {
  return html`
<h1>Enter the setup code</h1>
<div class="card" id="setup-code">
<p>This setup page is open to your network, so connecting, refreshing and disconnecting need this Homebridge's
setup code. It is in the Homebridge log ("setup code …") and in the file <code>smartcar-setup-code</code> in the
Homebridge storage folder.</p>
${options.wrong === 'wrong' ? html`<p class="error" id="code-wrong">That code is not right. Try again.</p>` : ''}
${options.wrong === 'locked-out' ? html`<p class="error" id="code-locked">Too many wrong codes: try again in 15 minutes.</p>` : ''}
<form method="post" action="/unlock">
  <input type="hidden" name="csrf" value="${options.csrf}">
  <input type="hidden" name="next" value="${options.next}">
  <label for="setup-code-input">Setup code</label>
  <input id="setup-code-input" name="code" inputmode="numeric" autocomplete="one-time-code" placeholder="1234-5678" maxlength="20" required>
  <div class="actions"><button type="submit" id="unlock">Continue</button> <a class="button secondary" href="/">Back</a></div>
</form>
</div>`;
}
