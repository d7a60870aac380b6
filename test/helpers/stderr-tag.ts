// Homebridge prints warn and error lines on stderr and everything else on stdout, with no level word
// once colours are off, and the e2e harness merges the two streams. A one-line preload, passed through
// NODE_OPTIONS, tags each stderr line so a suite can tell what the owner sees as a warning or an error.
const TAG = '[stderr] ';

// Runs inside Homebridge before it loads: prefixes every line written to stderr, nothing else.
const PRELOAD = `
const write = process.stderr.write.bind(process.stderr);
let lineStart = true;
process.stderr.write = (chunk, ...rest) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const tagged = text.replace(/[^\\n]+/g, (line, at) => (at === 0 && !lineStart ? line : ${JSON.stringify(TAG)} + line));
  lineStart = text.endsWith('\\n');
  return write(tagged, ...rest.filter((r) => typeof r === 'function'));
};
`;

/** Environment for HomebridgeProcess.start that tags its stderr lines (keeps any NODE_OPTIONS already set). */
export function stderrTagEnv(): Record<string, string> {
  const preload = `--import=data:text/javascript;base64,${Buffer.from(PRELOAD).toString('base64')}`;
  return { NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ') };
}

/** The warn and error lines (stderr) in `output`, untagged. */
export function stderrLines(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith(TAG)).map((l) => l.slice(TAG.length));
}
