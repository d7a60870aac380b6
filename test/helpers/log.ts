// A Homebridge Logging stand-in that records every line, so tests can assert what the owner reads
// (and that no secret ever reaches the log).
import type { Logging } from 'homebridge';

import { captureOutput } from './suite-capture.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug' | 'success';
  message: string;
}

export interface CapturedLog {
  log: Logging;
  lines: LogLine[];
  text(level?: LogLine['level']): string;
}

// Everything the plugin logs in any test also goes to the whole-suite capture (test/zz-suite).
const suiteOutput = captureOutput('fake-homebridge');

export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: unknown, ...rest: unknown[]) => {
    const line: LogLine = { level, message: [message, ...rest].map((p) => (p instanceof Error ? p.stack ?? p.message : String(p))).join(' ') };
    lines.push(line);
    suiteOutput(`[${level}] ${line.message}\n`);
  };
  const log = Object.assign(at('info'), {
    prefix: 'Smartcar',
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    success: at('success'),
    log: (level: string, message: string, ...rest: unknown[]) => at(level as LogLine['level'])(message, ...rest),
  }) as unknown as Logging;
  return {
    log,
    lines,
    text: (level) => lines.filter((l) => level === undefined || l.level === level).map((l) => `${l.level}: ${l.message}`).join('\n'),
  };
}
