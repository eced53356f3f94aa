import pino from 'pino';
import { type Scrub, scrubPath } from './scrub.js';
import { activeTraceFields, type TraceFields } from './trace-context.js';

/**
 * The request line written as one string, without pino's general path (a fields object, the
 * redaction walk, the per-key serialiser loop), for loggers made by `createLogger()`. Same bytes as
 * pino would write for them: level, time, the logger's bindings, the fields, the message. This is
 * the one module that reads pino's internals (its symbols); test/pino-internals.test.ts pins the
 * pino versions it supports.
 *
 * It applies only where the output cannot differ: the logger (or a child of it, which inherits the
 * marker) still uses createLogger's formatters and mixin, has no serialiser for a field of the
 * line (Fastify's req/res/err serialisers are fine), has no message prefix, and
 * writes to a stream that needs no metadata (not a multistream), and none of the line's field names
 * is a redacted key. Anything else goes through pino (`write` returns false).
 */

const { chindingsSym, formattersSym, messageKeySym, needsMetadataGsym, serializersSym, streamSym, timeSym } =
  pino.symbols;
/** In pino.symbols since pino 8.14, not in its type declarations. */
const msgPrefixSym = (pino.symbols as unknown as Record<string, symbol>).msgPrefixSym as symbol;

/** The pino versions whose internals this module was written and tested against. */
export const PINO_SUPPORTED = '>=10.0.0 <11.0.0';

/** The stream a pino logger writes to (a `pretty` logger's transport). */
export function streamOf(logger: object): unknown {
  return (logger as Record<symbol, unknown>)[streamSym];
}

/** Whether a destination needs pino's per-line metadata (a multistream). */
export function needsMetadata(stream: object): boolean {
  return Boolean((stream as Record<symbol, unknown>)[needsMetadataGsym]);
}

export const FAST_LINE = Symbol('vigil.logger.requestLine');

/** What createLogger() records on the logger it makes (children inherit it through the prototype). */
export interface FastLineInfo {
  readonly log: unknown;
  readonly level: unknown;
  /** pino's own (no-op) onChild of the logger as created: a replaced one must see every child. */
  readonly onChild: unknown;
  readonly traceContext: boolean;
  /** The logger's string scrubber (its secret names), for the line's path. */
  readonly scrub: Scrub;
}

/** Marks a logger made by `createLogger()` as one the one-string line may be written for. */
export function enableFastLine(logger: object, traceContext: boolean, scrub: Scrub): void {
  const l = logger as Record<symbol, unknown> & { onChild?: unknown };
  const fm = l[formattersSym] as { log: unknown; level: unknown };
  const info: FastLineInfo = { log: fm.log, level: fm.level, onChild: l.onChild, traceContext, scrub };
  Object.defineProperty(logger, FAST_LINE, { value: info });
}

/** The line's own field names: when one of them is redacted, every line goes through pino. */
export const REQUEST_LINE_KEYS: readonly string[] = [
  'request_id',
  'method',
  'route',
  'path',
  'status_code',
  'duration_ms',
  'trace_id',
  'span_id',
  'trace_flags',
];

/** pino's wildcard serialiser key (applies to every field). */
const WILDCARD = Symbol.for('pino.*');

/**
 * Whether a serialiser set leaves the line's fields alone (checked once per set: children share
 * their parent's, and Fastify's request loggers carry its req/res/err serialisers).
 */
const neutral = new WeakMap<object, boolean>();
function serializersNeutral(s: unknown): boolean {
  if (s === undefined || s === null) return true;
  const set = s as Record<string | symbol, unknown>;
  let ok = neutral.get(set);
  if (ok === undefined) {
    ok = set[WILDCARD] === undefined && REQUEST_LINE_KEYS.every((k) => set[k] === undefined);
    neutral.set(set, ok);
  }
  return ok;
}

const LEVEL_VALUE = { info: 30, warn: 40, error: 50 } as const;
const LEVEL_JSON = { info: '{"level":"info"', warn: '{"level":"warn"', error: '{"level":"error"' } as const;

/** Printable ASCII without `"` and `\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
function str(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

type Internals = Record<symbol, unknown> & {
  levelVal: number;
  [FAST_LINE]?: FastLineInfo;
};

export interface RequestLine {
  /** Omitted when the logger's bindings already carry it (Fastify's request logger). */
  requestId: string | undefined;
  method: string;
  route: string;
  path: string;
  status: number;
  durationMs: number;
  trace: TraceFields | undefined;
}

/**
 * A child of `logger` with one more binding, `key: value` (a string), made the way pino's
 * `child(bindings)` makes it for createLogger()'s loggers: an object inheriting from the logger
 * with the binding appended to its serialised bindings. pino's `child(bindings, {})` (what Fastify
 * calls for every request) also rebuilds the formatters and checks each option, and makes two
 * objects instead of one. Returns undefined where pino's child could differ
 * (not a createLogger() logger, a serialiser for the key, a replaced `onChild`).
 */
export function cheapChild<T extends object>(logger: T, key: string, value: string): T | undefined {
  const l = logger as unknown as Internals & { onChild?: unknown };
  const f = l[FAST_LINE];
  if (f === undefined || l.onChild !== f.onChild) return undefined;
  const fm = l[formattersSym] as { bindings?: (b: object) => object } | undefined;
  // serializersNeutral() vouches for the line's keys only.
  if (fm === undefined || !REQUEST_LINE_KEYS.includes(key) || !serializersNeutral(l[serializersSym])) {
    return undefined;
  }
  // A bindings formatter other than the identity could rename or drop the key.
  // A value the redaction could change (credentials are written with `@` or `=`) goes through pino.
  if (value.indexOf('@') >= 0 || value.indexOf('=') >= 0) return undefined;
  const probe = { [key]: value };
  if (typeof fm.bindings === 'function' && fm.bindings(probe) !== probe) return undefined;
  const child = Object.create(logger) as Internals;
  child[chindingsSym] = `${l[chindingsSym] as string},${str(key)}:${str(value)}`;
  return child as unknown as T;
}

/**
 * Writes the request line through `logger`'s stream, or does nothing when the level is off.
 * Returns false, having written nothing, when the line must go through pino instead.
 */
export function writeRequestLine(
  logger: object,
  level: 'info' | 'warn' | 'error',
  line: RequestLine,
  msg: string,
): boolean {
  const l = logger as Internals;
  const f = l[FAST_LINE];
  if (f === undefined) return false;
  const fm = l[formattersSym] as { log?: unknown; level?: unknown } | undefined;
  if (
    fm === undefined ||
    fm.log !== f.log ||
    fm.level !== f.level ||
    l[msgPrefixSym] ||
    !serializersNeutral(l[serializersSym])
  ) {
    return false;
  }
  const stream = l[streamSym] as { write(s: string): unknown; [k: symbol]: unknown } | undefined;
  if (stream === undefined || stream[needsMetadataGsym]) return false;
  if (l.levelVal > LEVEL_VALUE[level]) return true;
  let s = LEVEL_JSON[level] + (l[timeSym] as () => string)() + (l[chindingsSym] as string);
  if (line.requestId !== undefined) s += `,"request_id":${str(line.requestId)}`;
  s += `,"method":${str(line.method)},"route":${str(line.route)},"path":${str(scrubPath(line.path, f.scrub))},"status_code":${line.status},"duration_ms":${line.durationMs}`;
  const t = line.trace ?? (f.traceContext ? activeTraceFields() : undefined);
  if (t !== undefined) {
    s += `,"trace_id":"${t.trace_id}","span_id":"${t.span_id}","trace_flags":"${t.trace_flags}"`;
  }
  s += `,${str(l[messageKeySym] as string)}:${str(msg)}}\n`;
  stream.write(s);
  return true;
}

/**
 * The request line: as one string where it can be, else through pino with the same fields, and
 * `extra` fields (request headers, an error) always through pino (their redaction and serialisers).
 */
export function logRequestLine(
  logger: { [L in 'info' | 'warn' | 'error']: (obj: object, msg: string) => void },
  level: 'info' | 'warn' | 'error',
  line: RequestLine,
  msg: string,
  extra?: { headers?: unknown; err?: unknown },
): void {
  if (extra === undefined && writeRequestLine(logger, level, line, msg)) return;
  const fields: Record<string, unknown> = {};
  if (line.requestId !== undefined) fields.request_id = line.requestId;
  fields.method = line.method;
  fields.route = line.route;
  // Loggers not made by createLogger() have no redaction of their own.
  fields.path = scrubPath(line.path);
  fields.status_code = line.status;
  fields.duration_ms = line.durationMs;
  if (line.trace !== undefined) {
    fields.trace_id = line.trace.trace_id;
    fields.span_id = line.trace.span_id;
    fields.trace_flags = line.trace.trace_flags;
  }
  if (extra?.headers !== undefined) fields.headers = extra.headers;
  if (extra?.err) fields.err = extra.err;
  logger[level](fields, msg);
}
