// Smartcar's problems in the owner's words, and what happens next: the same sentences for a failed
// read, a refused command and a webhook's error report, in the log and on the setup page.
import type { SmartcarProblem } from '../smartcar/errors.js';

/** What happens next, or what the owner can do, for problems that are not re-authorization. */
export function nextStep(problem: SmartcarProblem, what: 'read' | 'command'): string {
  const later = what === 'read' ? 'the plugin will retry by itself' : 'try again later';
  switch (problem.kind) {
    case 'permission':
      return 'Connect is on the setup page';
    case 'configuration':
      return `check the Smartcar Dashboard (plan, billing, clientId/clientSecret); ${later}`;
    case 'vehicle-state':
      return what === 'read' ? later : 'fix that at the car, then try again';
    case 'rate-limited': {
      const s = (problem as SmartcarProblem & { retryAfterSeconds?: number }).retryAfterSeconds;
      return what === 'read' ? `the plugin will retry${s !== undefined ? ` in ${s} s` : ' later'}` : later;
    }
    default:
      return later;
  }
}

export function describeForOwner(problem: SmartcarProblem): string {
  switch (problem.kind) {
    case 'vehicle-state': {
      const p = problem as SmartcarProblem & { code: string; userMessage: string };
      return `${p.userMessage} (${p.code})`;
    }
    case 'reauthorize':
      return `${problem.message}. Open the setup page and connect the vehicle again.`;
    case 'rate-limited':
      return `Smartcar asks to wait before the next request (${problem.message})`;
    default:
      return problem.message;
  }
}
