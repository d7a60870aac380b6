// What the whole-suite secrets check (test/zz-suite/secrets.test.ts) reads back: every secret an emulator
// was started with or issued, everything Homebridge and the plugin printed, and the mode of every token
// file the plugin wrote. Each test process appends its own files under test-artifacts/suite at exit;
// `npm test` empties the folder first. Only processes run by node:test record (not `npm start`, the bench).
import { appendFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

export const SUITE_DIR = resolve(import.meta.dirname, '../../test-artifacts/suite');
export const SECRETS_FILE = join(SUITE_DIR, 'secrets.jsonl');
export const TOKEN_FILES_FILE = join(SUITE_DIR, 'token-files.jsonl');
export const OUTPUT_DIR = join(SUITE_DIR, 'output');
/** The prefixes of the Homebridge storage folders the harness creates (homebridge-api tempStorage, makeStorage). */
export const STORAGE_PREFIXES = ['hbsc-unit-', 'hbsc-hb-'];

export interface SecretRecord { source: string; pid: number; secrets: string[] }
export interface TokenFileRecord { path: string; mode: number; dirMode: number }

const enabled = process.env.NODE_TEST_CONTEXT !== undefined || process.env.HBSC_SUITE_CAPTURE === '1';
const FLUSH_BYTES = 1 << 20;
const stem = basename(process.argv[1] ?? 'node').replace(/[^\w.-]/g, '_');

const outputs = new Map<string, { file: string; pending: string[]; bytes: number }>();
const secrets = new Map<string, Set<string>>();
const flushed = new Set<string>();
const tokenFiles = new Map<string, TokenFileRecord>();
const hooks = new Set<() => void>();
let hooked = false;
let printedAny = false;

function hookExit(): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', flushAll);
  }
}

/** An appender for one stream of output (a captured log, a Homebridge process); written out at exit. */
export function captureOutput(source: string): (text: string) => void {
  if (!enabled) {
    return () => undefined;
  }
  hookExit();
  const name = `${stem}.${process.pid}.${source.replace(/[^\w.-]/g, '_')}.log`;
  const entry = outputs.get(name) ?? { file: join(OUTPUT_DIR, name), pending: [], bytes: 0 };
  outputs.set(name, entry);
  return (text) => {
    printedAny = true;
    entry.pending.push(text);
    entry.bytes += text.length;
    if (entry.bytes > FLUSH_BYTES) {
      flushOutput(entry);
    }
  };
}

/** Secrets that must never appear in any captured output. */
export function recordSecrets(source: string, values: Iterable<string>): void {
  if (!enabled) {
    return;
  }
  hookExit();
  const set = secrets.get(source) ?? new Set<string>();
  secrets.set(source, set);
  for (const v of values) {
    set.add(v);
  }
}

/** Runs just before the capture is written at exit (an emulator still open records its tokens). */
export function beforeFlush(fn: () => void): () => void {
  if (!enabled) {
    return () => false;
  }
  hookExit();
  hooks.add(fn);
  return () => hooks.delete(fn);
}

/** The plugin's token files under `storage` as they are now, with their modes. */
export function recordTokenFiles(storage: string): void {
  if (!enabled) {
    return;
  }
  hookExit();
  const dir = join(storage, 'smartcar');
  try {
    const dirMode = statSync(dir).mode & 0o777;
    for (const name of readdirSync(dir)) {
      if (name.startsWith('tokens-') && name.endsWith('.json')) {
        const path = join(dir, name);
        tokenFiles.set(path, { path, mode: statSync(path).mode & 0o777, dirMode });
      }
    }
  } catch {
    // No token folder (never connected) or removed meanwhile: nothing to record.
  }
}

function flushOutput(entry: { file: string; pending: string[]; bytes: number }): void {
  if (entry.pending.length === 0) {
    return;
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  appendFileSync(entry.file, entry.pending.join(''));
  entry.pending = [];
  entry.bytes = 0;
}

/** Storage folders this process's harness created: named by the helpers, born after the process. */
function ownStorages(): string[] {
  const since = performance.timeOrigin - 1000;
  const found: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    if (STORAGE_PREFIXES.some((p) => name.startsWith(p))) {
      try {
        if (statSync(join(tmpdir(), name)).birthtimeMs >= since) {
          found.push(join(tmpdir(), name));
        }
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return found;
}

function flushAll(): void {
  try {
    for (const fn of hooks) {
      fn();
    }
    if (printedAny) {
      ownStorages().forEach(recordTokenFiles);
    }
    for (const entry of outputs.values()) {
      flushOutput(entry);
    }
    if (secrets.size > 0 || tokenFiles.size > 0) {
      mkdirSync(SUITE_DIR, { recursive: true });
    }
    for (const [source, set] of secrets) {
      const fresh = [...set].filter((s) => !flushed.has(s));
      if (fresh.length > 0) {
        const record: SecretRecord = { source, pid: process.pid, secrets: fresh };
        appendFileSync(SECRETS_FILE, `${JSON.stringify(record)}\n`);
        fresh.forEach((s) => flushed.add(s));
      }
    }
    if (tokenFiles.size > 0) {
      appendFileSync(TOKEN_FILES_FILE, [...tokenFiles.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
      tokenFiles.clear();
    }
  } catch (err) {
    // Exit is too late to fail a test; the final check fails instead when the capture is missing.
    process.stderr.write(`suite capture not written: ${String(err)}\n`);
  }
}
