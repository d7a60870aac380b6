// A failure that repeats on every attempt (the car asleep, Smartcar down) would fill the log: the
// owner sees it once at warn, then at debug, until a different message or a success resets it.
import type { Logging } from 'homebridge';

export class LogOnce {
  /** The last message warned about, per subject (a vehicle id, or what failed). */
  private readonly last = new Map<string, string>();

  constructor(private readonly log: Logging) {}

  warn(key: string, message: string): void {
    if (this.last.get(key) === message) {
      this.log.debug(message);
    } else {
      this.last.set(key, message);
      this.log.warn(message);
    }
  }

  /** It worked again: the next failure is news. */
  forget(key: string): void {
    this.last.delete(key);
  }
}

/**
 * Refusals of the whole application (SmartcarProblem.appWide), told once whoever meets them first: every
 * car's read and every listing fail alike, and one line says it. A success anywhere makes the next one news.
 */
export class ApplicationNotes {
  private readonly once: LogOnce;

  constructor(log: Logging) {
    this.once = new LogOnce(log);
  }

  /** `why`: the refusal in the owner's words (describeForOwner). */
  refused(why: string): void {
    this.once.warn('application', `Smartcar refused this application, so no car is read or listed until that is fixed (the plugin keeps trying): ${why}`);
  }

  answered(): void {
    this.once.forget('application');
  }
}
