// The refresh policy as a table: each row is a situation an owner would recognise and the plan it gets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { observe, planNext, POLICY, type PolicyInput, type RefreshHistory } from '../../src/vehicle/policy.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 2, 10, 12, 0); // a Tuesday, noon UTC
const MONTH_END = Date.UTC(2026, 3, 1);
const parked = { pluggedIn: false, chargeState: 'NOT_CHARGING', fetchedAt: NOW };
// Plugged in around 18:10–18:40 on the last five weekdays.
const evenings: RefreshHistory = {
  events: [1, 6, 7, 8, 13].map((d, i) => ({ at: NOW - d * DAY + 6 * HOUR + (10 + i * 7) * MIN, kind: 'plugged' as const })),
  lastChangeAt: NOW - 18 * HOUR,
};

const base = (over: Partial<PolicyInput>): PolicyInput => ({ now: NOW, readsLeft: 100, monthEnd: MONTH_END, history: { events: [] }, snapshot: parked, ...over });
const even = (MONTH_END - NOW) / 100;

describe('planNext', () => {
  const rows: { name: string; input: PolicyInput; delay: (ms: number) => boolean; why: RegExp }[] = [
    { name: 'no history: the reads left spread evenly over the month', input: base({}), delay: (d) => Math.abs(d - even) < MIN, why: /100 reads left/ },
    { name: 'charging: more often, to catch completion', input: base({ snapshot: { pluggedIn: true, chargeState: 'CHARGING' } }), delay: (d) => d < even / 2, why: /charging/ },
    { name: 'parked and unchanged for a day: less often', input: base({ history: { events: [], lastChangeAt: NOW - 30 * HOUR } }), delay: (d) => d > 1.5 * even, why: /parked, unchanged/ },
    { name: 'no change seen yet, and the car last reported three days ago (asleep): parked, less often, and the line says why', input: base({ snapshot: { ...parked, dataAt: NOW - 3 * DAY } }), delay: (d) => d > 1.5 * even, why: /parked, the car last reported 72\.0 h ago/ },
    { name: 'a command 10 min ago: look again within 30 min', input: base({ history: { events: [], lastCommandAt: NOW - 10 * MIN } }), delay: (d) => d === 30 * MIN, why: /command/ },
    { name: 'usually plugged in by 18:38 on weekdays: read just after', input: base({ readsLeft: 30, history: evenings }), delay: (d) => d === 6 * HOUR + 43 * MIN, why: /usually plugged by 18:38/ },
    { name: 'plugged in around 18:15 on only two evenings: chance, not a habit; the even spread stays', input: base({ readsLeft: 30, history: { ...evenings, events: evenings.events.slice(0, 2) } }), delay: (d) => Math.abs(d - (MONTH_END - NOW) / 30) < MIN, why: /30 reads left/ },
    { name: 'the usual-time read at 18:43 found it not plugged in yet: look again in an hour', input: base({ now: NOW + 6 * HOUR + 50 * MIN, readsLeft: 30, history: evenings, snapshot: { ...parked, fetchedAt: NOW + 6 * HOUR + 50 * MIN } }), delay: (d) => d === HOUR, why: /usually plugged by 18:38.*not yet/ },
    { name: 'away for two days: the habits at home are not chased', input: base({ readsLeft: 30, history: { ...evenings, lastChangeAt: NOW - 48 * HOUR } }), delay: (d) => d > 7 * HOUR, why: /parked/ },
    { name: 'charge-only reads cost 1 of 3: they come about twice as often as full reads would', input: base({ fullCost: 3, focusCost: 1, requestsLeft: 300, history: { events: [], lastFullReadAt: NOW - HOUR } }), delay: (d) => d < even * 0.6 && d > POLICY.minMs, why: /every .*\(charge signals only; lock and level at/ },
    { name: 'the lock and level are read at least every two even intervals', input: base({ fullCost: 3, focusCost: 1, requestsLeft: 300, history: { events: [], lastFullReadAt: NOW - 2 * even + 10 * MIN } }), delay: (d) => Math.abs(d - 10 * MIN) < MIN || d === POLICY.minMs, why: /lock and level due$/ },
    { name: 'no full read made yet (or no cheaper read possible): a full read at the even spread', input: base({ fullCost: 3, focusCost: 0, requestsLeft: 300, history: { events: [], lastFullReadAt: NOW - HOUR } }), delay: (d) => Math.abs(d - even) < MIN, why: /^100 reads left[^(]*$/ },
    { name: 'a command 10 min ago: the next look reads the lock too', input: base({ fullCost: 3, focusCost: 1, requestsLeft: 300, history: { events: [], lastCommandAt: NOW - 10 * MIN, lastFullReadAt: NOW - HOUR } }), delay: (d) => d === 30 * MIN, why: /^a command [^(]*$/ },
    { name: 'budget spent: nothing until the month renews', input: base({ readsLeft: 0 }), delay: (d) => d >= MONTH_END - NOW, why: /used up.*2026-04-01/ },
    { name: 'never sooner than 30 min, even with budget to burn', input: base({ readsLeft: 10_000, snapshot: { chargeState: 'CHARGING' } }), delay: (d) => d === 30 * MIN, why: /charging/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const plan = planNext(row.input);
      assert.ok(row.delay(plan.delayMs), `${plan.delayMs / MIN} min: ${plan.why}`);
      assert.match(plan.why, row.why);
      assert.ok(!plan.why.includes('\n'), 'one line');
      assert.equal(plan.focus, /charge signals only/.test(plan.why), 'a charge-only read says so in its line');
    });
  }
});

describe('observe', () => {
  it('places a plug-in at the car\'s data time when it lies between the reads', () => {
    const h = observe(undefined, { pluggedIn: false, chargeState: 'NOT_CHARGING', fetchedAt: NOW - 4 * HOUR }, { pluggedIn: true, chargeState: 'CHARGING', fetchedAt: NOW, dataAt: NOW - 3 * HOUR }, NOW);
    assert.deepEqual(h.events, [{ at: NOW - 3 * HOUR, kind: 'plugged' }, { at: NOW - 3 * HOUR, kind: 'charging' }]);
    assert.equal(h.lastChangeAt, NOW);
  });

  it('nothing changed: no event, and the last change stays where it was', () => {
    const h = observe({ events: [], lastChangeAt: NOW - DAY }, parked, { ...parked, fetchedAt: NOW + HOUR }, NOW + HOUR);
    assert.deepEqual(h.events, []);
    assert.equal(h.lastChangeAt, NOW - DAY);
  });
});
