// Compact, prefixed forwarding of the children's output. The services log one JSON line per
// request, which at demo rates buries everything else; by default only warnings, errors and
// lifecycle lines (listening, shutdown, circuit breaker) are shown, and a line repeating within
// REPEAT_WINDOW_MS is counted instead of printed. DEMO_VERBOSE=1 shows every line as it came.
import { createInterface } from 'node:readline';

const REPEAT_WINDOW_MS = 10_000;
const REPEATS_SHOWN = 2;
const LIFECYCLE = /listening|ready|start|shutdown|shutting|drain|stopp|closed|exit|circuit breaker|chaos/i;
const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LOUD = new Set(['warn', 'warning', 'error', 'fatal']);
// Fields worth a glance on a shown line; everything else is in the verbose output.
const FIELDS = ['method', 'route', 'status_code', 'breaker', 'state', 'err', 'error', 'reason', 'code'];

const width = 10;
export const tagged = (tag, text) => `${tag.padEnd(width)}| ${text}`;

/** Returns `(line) => string | null`: the line to print, or null to drop it. */
export function createFilter(verbose) {
  const seen = new Map(); // key -> { windowStart, count, suppressed }
  const limit = (key, text) => {
    const now = Date.now();
    let s = seen.get(key);
    if (s === undefined || now - s.windowStart > REPEAT_WINDOW_MS) {
      const suppressed = s?.suppressed ?? 0;
      s = { windowStart: now, count: 0, suppressed: 0 };
      seen.set(key, s);
      if (seen.size > 500) seen.delete(seen.keys().next().value);
      if (suppressed > 0) text += `  (+${suppressed} like it since the last one shown)`;
    }
    s.count++;
    if (s.count > REPEATS_SHOWN) {
      s.suppressed++;
      return null;
    }
    return text;
  };

  return (line) => {
    if (line.trim() === '') return null;
    if (verbose) return line;
    if (line.startsWith('{')) {
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        return limit(line, line);
      }
      return json(rec, limit);
    }
    const logfmt = /(?:^|\s)level=(\w+)/.exec(line); // Prometheus
    if (logfmt) {
      const msg = /msg="([^"]*)"|msg=(\S+)/.exec(line);
      const text = msg ? (msg[1] ?? msg[2]) : line;
      const level = logfmt[1].toLowerCase();
      if (!LOUD.has(level) && !/ready to receive|Server is ready|Completed loading/i.test(text)) return null;
      return limit(text, `${level.toUpperCase()} ${text}`);
    }
    return limit(line, line);
  };
}

function json(rec, limit) {
  const level = typeof rec.level === 'number' ? (LEVELS[rec.level] ?? String(rec.level)) : String(rec.level);
  const msg = String(rec.msg ?? '');
  // Access logs: the traffic summary counts them; only server errors are worth a line.
  if (msg === 'request completed' && !(Number(rec.status_code) >= 500)) return null;
  if (!LOUD.has(level) && !LIFECYCLE.test(msg)) return null;
  const extra = FIELDS.filter((k) => rec[k] !== undefined)
    .map((k) => `${k}=${typeof rec[k] === 'object' ? (rec[k].message ?? JSON.stringify(rec[k])) : rec[k]}`)
    .join(' ');
  const key = `${msg}|${rec.route ?? ''}|${rec.status_code ?? ''}`;
  return limit(key, `${level.toUpperCase()} ${msg}${extra ? `  ${extra}` : ''}`);
}

/** Forwards a child's stdout and stderr through the filter, each line prefixed with `tag`. */
export function forward(child, tag, filter) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      const out = filter(line);
      if (out !== null) process.stdout.write(`${tagged(tag, out)}\n`);
    });
  }
}
