// When to read a vehicle next, from the budget left, the days left in the billing month, the car's
// own habits and its current state. Pure (time and history come in as arguments), so it is
// table-tested; the one scheduler calls it after every refresh. Every plan carries a one-line reason.
import { MIN_REFRESH_INTERVAL_MINUTES } from '../settings.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Transitions that matter to the owner: the plug and the end of charging. */
export type ChangeKind = 'plugged' | 'unplugged' | 'charging' | 'charged';

/** Kept in the accessory context: the car's recent transitions, learned from its own reads. */
export interface RefreshHistory {
  events: { at: number; kind: ChangeKind }[];
  /** Epoch ms of the last read that saw the plug or charge state change. */
  lastChangeAt?: number;
  lastCommandAt?: number;
  /** Epoch ms of the last read of every signal (not a charge-only one). */
  lastFullReadAt?: number;
}

export interface ChargeView {
  pluggedIn?: boolean;
  chargeState?: string;
  fetchedAt?: number;
  /** When the car recorded the data (Smartcar's sc-data-age). */
  dataAt?: number;
}

export interface PolicyInput {
  now: number;
  /** Full reads the poll budget still affords this month. */
  readsLeft: number;
  /** Epoch ms the next billing month starts (the budget renews). */
  monthEnd: number;
  history: RefreshHistory;
  snapshot: ChargeView | undefined;
  /** Local time of day: offset of local time from UTC in ms (habits are local). */
  utcOffsetMs?: number;
  /**
   * Billed requests of a full read (every signal) and of a charge-only read (the plug and charge state,
   * plus the level while charging). Without a cheaper charge-only read every read is full.
   */
  fullCost?: number;
  focusCost?: number;
  /** Poll requests left this month (defaults to readsLeft × fullCost). */
  requestsLeft?: number;
}

export interface PolicyPlan {
  delayMs: number;
  why: string;
  /** Read only the charge signals this time (a full read is not due yet). */
  focus: boolean;
}

export const POLICY = {
  minMs: MIN_REFRESH_INTERVAL_MINUTES * MINUTE_MS,
  /** While charging, read this much more often than the even spread (to catch completion). */
  chargingFactor: 0.4,
  /** After a command the owner is at or near the car: one more look within this. */
  afterCommandMs: 30 * MINUTE_MS,
  afterCommandWindowMs: 2 * HOUR_MS,
  /** Parked with nothing changing for this long: stretch the interval by idleFactor. */
  idleAfterMs: 20 * HOUR_MS,
  idleFactor: 2,
  /** Unchanged this long: the car is away; its habits at home do not apply. */
  awayAfterMs: 36 * HOUR_MS,
  /**
   * A habit: at least habitMinSupport past transitions within habitWindowMs, in the last habitDays days.
   * 3 within 2 h was chosen on 9 scripted months (bench seeds 1–17): 2 within 75 min chased chance
   * pairs of weekend events and spent reads on them.
   */
  habitDays: 21,
  habitWindowMs: 120 * MINUTE_MS,
  habitMinSupport: 3,
  /** Read this long after the latest time a habit usually happens. */
  habitMarginMs: 5 * MINUTE_MS,
  maxEvents: 120,
  /** A habit read that found no change yet: look again once, an hour later (the change is late, not skipped). */
  habitRetryMs: 60 * MINUTE_MS,
  habitRetryWindowMs: 60 * MINUTE_MS,
  /**
   * With charge-only reads: a full read (lock, level) every fullSpread even intervals; the requests
   * this saves buy charge-only reads in between, where the plug and charge changes are.
   */
  fullSpread: 2,
};

/** Records what changed between two reads: at the car's data time when it falls between them, else halfway. */
export function observe(history: RefreshHistory | undefined, before: ChargeView | undefined, after: ChargeView, now: number): RefreshHistory {
  const h: RefreshHistory = { ...history, events: [...(history?.events ?? [])] };
  if (before === undefined) {
    return h;
  }
  const since = before.fetchedAt;
  const at = after.dataAt !== undefined && since !== undefined && after.dataAt > since && after.dataAt <= now
    ? after.dataAt
    : since !== undefined ? Math.round((since + now) / 2) : now;
  const add = (kind: ChangeKind): void => {
    h.events.push({ at, kind });
    h.lastChangeAt = now;
  };
  if (before.pluggedIn !== undefined && after.pluggedIn !== undefined && before.pluggedIn !== after.pluggedIn) {
    add(after.pluggedIn ? 'plugged' : 'unplugged');
  }
  const wasCharging = before.chargeState === 'CHARGING';
  const isCharging = after.chargeState === 'CHARGING';
  if (before.chargeState !== undefined && after.chargeState !== undefined && wasCharging !== isCharging) {
    add(isCharging ? 'charging' : 'charged');
  }
  h.events = h.events.filter((e) => now - e.at <= POLICY.habitDays * DAY_MS).slice(-POLICY.maxEvents);
  return h;
}

/** The transitions that could happen next from this state. */
function expectedKinds(s: ChargeView | undefined): ChangeKind[] {
  if (s?.chargeState === 'CHARGING') {
    return ['charged', 'unplugged'];
  }
  if (s?.pluggedIn === true) {
    return ['unplugged', 'charging'];
  }
  if (s?.pluggedIn === false) {
    return ['plugged'];
  }
  return ['plugged', 'unplugged', 'charged'];
}

const isWeekend = (localMs: number): boolean => {
  const d = new Date(localMs).getUTCDay();
  return d === 0 || d === 6;
};

/**
 * The next time (epoch ms, within a day) a habitual transition of `kinds` is due: past events of the same
 * day type (weekday/weekend) projected onto today and tomorrow; a cluster with enough support gives a
 * read just after its latest member.
 */
export function nextHabit(input: PolicyInput, kinds: ChangeKind[]): { at: number; kind: ChangeKind; support: number } | undefined {
  const offset = input.utcOffsetMs ?? 0;
  const { now } = input;
  const past = input.history.events.filter((e) => kinds.includes(e.kind) && now - e.at <= POLICY.habitDays * DAY_MS);
  let best: { at: number; kind: ChangeKind; support: number } | undefined;
  for (const dayShift of [0, 1]) {
    const localDayStart = Math.floor((now + offset) / DAY_MS) * DAY_MS + dayShift * DAY_MS;
    const weekend = isWeekend(localDayStart);
    const sameType = past.filter((e) => isWeekend(e.at + offset) === weekend);
    const projected = sameType.map((e) => ({ kind: e.kind, at: localDayStart - offset + ((e.at + offset) % DAY_MS) })).sort((a, b) => a.at - b.at);
    for (const start of projected) {
      const cluster = projected.filter((p) => p.kind === start.kind && p.at >= start.at && p.at - start.at <= POLICY.habitWindowMs);
      const readAt = cluster[cluster.length - 1]!.at + POLICY.habitMarginMs;
      if (cluster.length >= POLICY.habitMinSupport && readAt > now + POLICY.minMs / 2 && (best === undefined || readAt < best.at)) {
        best = { at: readAt, kind: start.kind, support: cluster.length };
      }
    }
    if (best) {
      break;
    }
  }
  return best;
}

/**
 * A habit of `kinds` whose read time passed within habitRetryWindowMs while the car still waits for that
 * transition: the read at the usual time found no change, so the change is late, not skipped.
 */
export function lateHabit(input: PolicyInput, kinds: ChangeKind[]): { at: number; kind: ChangeKind; support: number } | undefined {
  const offset = input.utcOffsetMs ?? 0;
  const { now } = input;
  const past = input.history.events.filter((e) => kinds.includes(e.kind) && now - e.at <= POLICY.habitDays * DAY_MS);
  let latest: { at: number; kind: ChangeKind; support: number } | undefined;
  for (const dayShift of [-1, 0]) {
    const localDayStart = Math.floor((now + offset) / DAY_MS) * DAY_MS + dayShift * DAY_MS;
    const weekend = isWeekend(localDayStart);
    const projected = past.filter((e) => isWeekend(e.at + offset) === weekend)
      .map((e) => ({ kind: e.kind, at: localDayStart - offset + ((e.at + offset) % DAY_MS) })).sort((a, b) => a.at - b.at);
    for (const start of projected) {
      const cluster = projected.filter((p) => p.kind === start.kind && p.at >= start.at && p.at - start.at <= POLICY.habitWindowMs);
      const readAt = cluster[cluster.length - 1]!.at + POLICY.habitMarginMs;
      if (cluster.length >= POLICY.habitMinSupport && readAt <= now && now - readAt <= POLICY.habitRetryWindowMs && (latest === undefined || readAt > latest.at)) {
        latest = { at: readAt, kind: start.kind, support: cluster.length };
      }
    }
  }
  return latest;
}

function hhmm(ms: number, offset: number): string {
  return new Date(ms + offset).toISOString().slice(11, 16);
}

function human(ms: number): string {
  return ms >= 2 * HOUR_MS ? `${(ms / HOUR_MS).toFixed(1)} h` : `${Math.round(ms / MINUTE_MS)} min`;
}

export function planNext(input: PolicyInput): PolicyPlan {
  const { now, readsLeft, monthEnd, history, snapshot } = input;
  const offset = input.utcOffsetMs ?? 0;
  const untilMonthEnd = Math.max(0, monthEnd - now);
  if (readsLeft < 1) {
    return { delayMs: untilMonthEnd + MINUTE_MS, why: `request budget used up: next read when the month renews (${new Date(monthEnd).toISOString().slice(0, 10)})`, focus: false };
  }
  const even = Math.max(POLICY.minMs, untilMonthEnd / readsLeft);
  const fullCost = input.fullCost ?? 1;
  const focusCost = input.focusCost ?? 0;
  // Charge-only reads pay when they are cheaper than a full one and a full read has been made to start from.
  const focusing = focusCost > 0 && focusCost < fullCost && history.lastFullReadAt !== undefined;
  let regular = even;
  let fullEvery = even;
  if (focusing) {
    // Over one full-read period: one full read, and the requests left over as charge-only reads.
    fullEvery = even * POLICY.fullSpread;
    const pace = untilMonthEnd / Math.max(1, input.requestsLeft ?? readsLeft * fullCost);
    const focusReads = Math.max(0, (fullEvery / pace - fullCost) / focusCost);
    regular = Math.max(POLICY.minMs, fullEvery / (1 + focusReads));
  }
  let delayMs = regular;
  let why = `${readsLeft} reads left for ${human(untilMonthEnd)}: every ${human(regular)}`;
  let idle = false;
  let afterCommand = false;
  // Unchanged since the last plug or charge change our reads saw; before any, since the car last recorded
  // its data (a car asleep or parked underground answers with what it reported days ago).
  const quietSince = history.lastChangeAt ?? snapshot?.dataAt;
  const quietByCar = history.lastChangeAt === undefined && quietSince !== undefined;

  if (snapshot?.chargeState === 'CHARGING') {
    delayMs = even * POLICY.chargingFactor;
    why = `charging: every ${human(delayMs)} to catch completion (${readsLeft} reads left)`;
  } else if (history.lastCommandAt !== undefined && now - history.lastCommandAt < POLICY.afterCommandWindowMs) {
    delayMs = Math.min(regular, POLICY.afterCommandMs);
    why = `a command ${human(now - history.lastCommandAt)} ago: look again in ${human(delayMs)}`;
    afterCommand = true;
  } else if (quietSince !== undefined && now - quietSince > POLICY.idleAfterMs) {
    idle = true;
    delayMs = regular * POLICY.idleFactor;
    const since = quietByCar ? `the car last reported ${human(now - quietSince)} ago` : `unchanged for ${human(now - quietSince)}`;
    why = `parked, ${since}: every ${human(delayMs)} (${readsLeft} reads left)`;
  }

  const away = quietSince !== undefined && now - quietSince > POLICY.awayAfterMs;
  const habit = away ? undefined : nextHabit(input, expectedKinds(snapshot));
  if (habit && habit.at - now < delayMs) {
    delayMs = habit.at - now;
    why = `usually ${habit.kind} by ${hhmm(habit.at - POLICY.habitMarginMs, offset)} (${habit.support}× lately): read at ${hhmm(habit.at, offset)}`;
  }
  const late = away ? undefined : lateHabit(input, expectedKinds(snapshot));
  if (late && POLICY.habitRetryMs < delayMs) {
    delayMs = POLICY.habitRetryMs;
    why = `usually ${late.kind} by ${hhmm(late.at - POLICY.habitMarginMs, offset)} (${late.support}× lately), not yet: look again in ${human(delayMs)}`;
  }

  let focus = false;
  if (focusing) {
    const fullDue = history.lastFullReadAt! + fullEvery * (idle ? POLICY.idleFactor : 1);
    if (afterCommand || fullDue - now <= delayMs) {
      // The lock and the level are read at least every fullEvery (and right after a command).
      delayMs = Math.min(delayMs, Math.max(0, fullDue - now));
      why = afterCommand ? why : `${why}; lock and level due`;
    } else {
      focus = true;
      why = `${why} (charge signals only; lock and level at ${hhmm(fullDue, offset)})`;
    }
  }
  // Spending a read sooner than the floor would trip OEM throttles (Smartcar: ≥ 30 min between polls).
  delayMs = Math.max(POLICY.minMs, Math.round(delayMs));
  return { delayMs, why, focus };
}
