// The charge limit as the owner types it (the setup page's form, the Homebridge UI's field): a whole
// percent Smartcar takes. Both doors parse it here, so both refuse the same input with the same words.
import { CHARGE_LIMIT_RANGE } from '../settings.js';

export const CHARGE_LIMIT_RULE = `a whole percent from ${CHARGE_LIMIT_RANGE.min} to ${CHARGE_LIMIT_RANGE.max}`;

/** The percent, or undefined for anything else ("", "80.5", "0x50", 120, "80%"). */
export function parseChargeLimit(input: unknown): number | undefined {
  const text = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim() : '';
  if (!/^\d{2,3}$/.test(text)) {
    return undefined;
  }
  const percent = Number(text);
  return percent >= CHARGE_LIMIT_RANGE.min && percent <= CHARGE_LIMIT_RANGE.max ? percent : undefined;
}

/** "80%", and where it comes from while it is the one set here rather than the car's own. */
export function chargeLimitText(percent: number, setAgo: string | undefined): string {
  return setAgo === undefined ? `${percent}%` : `${percent}% (as set here ${setAgo})`;
}
