import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import pino from 'pino';
import { VigilOptionError } from './errors.js';
import { createRedactor } from './internal/redact.js';
import { PathSyntaxError, resolveRedact } from './internal/redact-paths.js';
import { enableFastLine, REQUEST_LINE_KEYS } from './internal/request-line.js';
import { enableRequestLog } from './internal/request-log.js';
import { createScrubber, DEFAULT_SECRET_NAMES } from './internal/scrub.js';
import { activeTraceFields } from './internal/trace-context.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The logger: a pino instance (so Fastify's `loggerInstance` and pino's ecosystem accept it). */
export type Logger = pino.Logger;

/** A pino destination: anything with `write(line)`. */
export interface DestinationStream {
  write(line: string): unknown;
}

/** Defaults for `createLogger`; the README's options table is generated from this object. */
export const LOGGER_DEFAULTS = Object.freeze({
  /** Minimum level written. The `LOG_LEVEL` variable overrides the default (not an explicit option). */
  level: 'info' as LogLevel,
  /**
   * Keys whose values are replaced by `[REDACTED]` at any depth (case-insensitive), in headers,
   * bodies, errors and any object you log, and query parameters of these names in any string.
   * `redact` adds to this list.
   */
  redactKeys: DEFAULT_SECRET_NAMES,
  /** `trace_id`, `span_id` and `trace_flags` of the active span on every line. */
  traceContext: true,
  /** Human-readable output through `pino-pretty` (install it; for local development only). */
  pretty: false,
});

export interface LoggerOptions {
  /** `service` on every line. Default: `OTEL_SERVICE_NAME`, else the app's package.json name. */
  service?: string;
  /** Default: `LOG_LEVEL`, else `info`. */
  level?: LogLevel;
  /**
   * More to redact, added to `LOGGER_DEFAULTS.redactKeys`: key names (`'ssn'`, at any depth,
   * case-insensitive) or pino-style paths from the line's root (`'req.headers["x-tenant-key"]'`,
   * `'user.profile.ssn'`, `'items[*].card'`, `'*.pin'`).
   */
  redact?: readonly string[];
  /**
   * Write here instead of stdout: a file path (buffered: see `FILE_BUFFER`), a file descriptor, or
   * a stream. `'/dev/stdout'` gives stdout with the same buffering.
   */
  destination?: string | number | DestinationStream;
  /** Write every line to a file path at once (default false: buffered, see `FILE_BUFFER`). */
  sync?: boolean;
  /** More fields on every line. */
  base?: Record<string, unknown>;
  traceContext?: boolean;
  pretty?: boolean;
}

const KNOWN = ['service', 'level', 'redact', 'destination', 'sync', 'base', 'traceContext', 'pretty'];

function appName(): string | undefined {
  let dir = process.argv[1] ? dirname(resolve(process.argv[1])) : process.cwd();
  for (let i = 0; i < 12; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const name = (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
        if (typeof name === 'string' && name !== '') return name;
      } catch {
        return undefined;
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/**
 * A pino logger for a service: JSON lines with `service`, a string `level`, the active span's
 * `trace_id` / `span_id` / `trace_flags`, and secrets redacted (authorization, cookies, passwords,
 * tokens, API keys) wherever they appear. Invalid options throw `VigilOptionError` naming the option.
 *
 * ```ts
 * const log = createLogger(); // then: log.info({ orderId }, 'order placed')
 * ```
 */
export function createLogger(options?: LoggerOptions): Logger {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k)) throw new VigilOptionError(k, `one of ${KNOWN.join(', ')}`, 'an unknown option');
  }
  if (o.level !== undefined && (typeof o.level !== 'string' || !LEVELS.includes(o.level))) {
    throw new VigilOptionError('level', `one of ${LEVELS.join(', ')}`, o.level);
  }
  const envLevel = process.env.LOG_LEVEL?.trim().toLowerCase();
  const level =
    (o.level as LogLevel | undefined) ??
    (envLevel && LEVELS.includes(envLevel) ? (envLevel as LogLevel) : LOGGER_DEFAULTS.level);
  if (o.service !== undefined && (typeof o.service !== 'string' || o.service === '')) {
    throw new VigilOptionError('service', 'a non-empty string', o.service);
  }
  const service = (o.service as string | undefined) ?? (process.env.OTEL_SERVICE_NAME?.trim() || appName());
  if (o.redact !== undefined && (!Array.isArray(o.redact) || o.redact.some((k) => typeof k !== 'string'))) {
    throw new VigilOptionError('redact', 'an array of key names or paths', o.redact);
  }
  let spec: ReturnType<typeof resolveRedact>;
  try {
    spec = resolveRedact([...LOGGER_DEFAULTS.redactKeys, ...((o.redact as string[] | undefined) ?? [])]);
  } catch (err) {
    if (!(err instanceof PathSyntaxError)) throw err;
    const bad = (o.redact as string[]).find((p) => {
      try {
        resolveRedact([p]);
        return false;
      } catch {
        return true;
      }
    });
    throw new VigilOptionError(
      'redact',
      `key names or pino paths such as req.headers["x-api-key"] (${err.message})`,
      bad,
    );
  }
  for (const b of ['sync', 'traceContext', 'pretty'] as const) {
    if (o[b] !== undefined && typeof o[b] !== 'boolean') throw new VigilOptionError(b, 'a boolean', o[b]);
  }
  if (o.base !== undefined && (typeof o.base !== 'object' || o.base === null || Array.isArray(o.base))) {
    throw new VigilOptionError('base', 'an object of fields', o.base);
  }
  const dest = o.destination;
  if (
    dest !== undefined &&
    typeof dest !== 'string' &&
    !(typeof dest === 'number' && Number.isInteger(dest) && dest >= 0) &&
    !(typeof dest === 'object' && dest !== null && typeof (dest as DestinationStream).write === 'function')
  ) {
    throw new VigilOptionError('destination', 'a file path, a file descriptor or a stream', dest);
  }

  const scrub = createScrubber(spec.keys);
  const redact = createRedactor(spec, scrub);
  const traceContext = (o.traceContext as boolean | undefined) ?? LOGGER_DEFAULTS.traceContext;
  const pretty = (o.pretty as boolean | undefined) ?? LOGGER_DEFAULTS.pretty;

  const opts: pino.LoggerOptions = {
    level,
    base: { pid: process.pid, ...(service ? { service } : {}), ...(o.base as object | undefined) },
    formatters: {
      level: (label) => ({ level: label }),
      log: redact.line,
      bindings: redact.line,
    },
    serializers: { err: redact.err },
    hooks: {
      // Strings passed as the message (and its interpolation values) are scrubbed too; a line
      // without a message takes its error's, which pino would otherwise print as it is.
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if (typeof a === 'string') args[i] = scrub(a);
        }
        const first = args[0] as unknown;
        if (first !== null && typeof first === 'object' && args[1] === undefined) {
          const e = first instanceof Error ? first : (first as { err?: unknown }).err;
          const m = (e as { message?: unknown } | null | undefined)?.message;
          if (typeof m === 'string' && (first as { msg?: unknown }).msg === undefined) {
            (args as unknown[])[1] = scrub(m);
          }
        }
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
  if (traceContext) {
    // A line that brings its own trace ids (the request lines) skips the context lookup.
    opts.mixin = (obj) =>
      (obj as { trace_id?: unknown }).trace_id !== undefined ? NO_FIELDS : (activeTraceFields() ?? NO_FIELDS);
    // pino's default merge assigns into the mixin's object; skip the merge when there is nothing to add.
    opts.mixinMergeStrategy = (obj, mixin) => (mixin === NO_FIELDS ? obj : Object.assign(mixin, obj));
  }

  if (pretty) {
    if (dest !== undefined) throw new VigilOptionError('pretty', 'no destination together with pretty', dest);
    let target: string;
    try {
      target = createRequire(join(process.cwd(), 'index.js')).resolve('pino-pretty');
    } catch {
      throw new VigilOptionError('pretty', 'pino-pretty to be installed (npm i -D pino-pretty)', true);
    }
    const prettyLogger = pino({ ...opts, transport: { target } });
    enableRequestLog(prettyLogger);
    return prettyLogger;
  }
  let logger: Logger;
  if (dest === undefined) logger = pino(opts);
  else if (typeof dest === 'string') {
    logger =
      o.sync === true
        ? pino(opts, pino.destination({ dest, sync: true, mkdir: true }))
        : pino(opts, bufferedFile(dest));
  } else if (typeof dest === 'number') logger = pino(opts, pino.destination({ dest, sync: true }));
  else logger = pino(opts, dest as pino.DestinationStream);
  // pino applies the bindings formatter to `base` only, not to a child's bindings: redact those here.
  const pinoChild = logger.child as unknown as (
    this: unknown,
    b: pino.Bindings,
    o?: pino.ChildLoggerOptions,
  ) => Logger;
  Object.defineProperty(logger, 'child', {
    configurable: true,
    writable: true,
    value: function child(this: unknown, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) {
      return pinoChild.call(this, bindings ? redact.line(bindings) : bindings, childOptions);
    },
  });
  // The request loggers' one-string line (internal/request-line.ts), unless a field of that line
  // is itself a redacted key (then every line goes through pino and its redaction).
  const lower = new Set(spec.keys);
  const lineKeyRedacted = (k: string) =>
    lower.has(k) || spec.paths.some((p) => p.length === 1 && (p[0] === k || p[0] === '*'));
  if (!REQUEST_LINE_KEYS.some(lineKeyRedacted)) enableFastLine(logger, traceContext, scrub);
  enableRequestLog(logger);
  return logger;
}

const NO_FIELDS = Object.freeze({}) as Record<string, never>;

/**
 * How a file destination is written: lines collect in memory and are written with one `write`
 * system call once `bytes` have collected, at the latest `flushIntervalMs` after a line, and
 * synchronously at process exit (including `process.exit()` and an uncaught exception). On this
 * project's VMs a write system call costs 20–30 µs, about what a whole request costs on bare
 * Fastify. Measured per logged line, pino's serialisation included: one write per line 7.2 µs,
 * pino's asynchronous mode with a 4 KB minimum 10–12 µs (it re-measures its growing buffer on
 * every line and hands each block to the thread pool), sonic-boom synchronous 4 KB blocks 3.9 µs,
 * this 3.0 µs.
 */
export const FILE_BUFFER = Object.freeze({ bytes: 16_384, flushIntervalMs: 100 });

/** A pino destination that appends to `path` in blocks (see FILE_BUFFER). */
function bufferedFile(path: string): pino.DestinationStream & {
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
} {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const fd = openSync(path, 'a');
  let lines: string[] = [];
  let size = 0;
  let closed = false;
  let reported = false;

  const flushSync = (): void => {
    if (size === 0 || closed) return;
    const text = lines.length === 1 ? (lines[0] as string) : lines.join('');
    lines = [];
    size = 0;
    // The string itself (Node encodes it straight into the write: 0.4 vs 0.6 µs per line with a
    // Buffer made first); a short write (rare, for files) goes on from a Buffer.
    const n = writeSync(fd, text);
    if (n !== text.length && n !== Buffer.byteLength(text)) {
      const data = Buffer.from(text);
      let off = n;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    }
  };
  const safeFlush = (): void => {
    try {
      flushSync();
    } catch (err) {
      // A full disk or a removed mount must not take the service down: report once, keep going.
      if (!reported) {
        reported = true;
        process.emitWarning(`@vigil/logger: writing ${path} failed: ${(err as Error).message}`);
      }
    }
  };
  const timer = setInterval(safeFlush, FILE_BUFFER.flushIntervalMs);
  timer.unref();
  const atExit = (): void => safeFlush();
  process.once('exit', atExit);

  return {
    write(line: string): void {
      if (closed) return;
      lines.push(line);
      size += line.length;
      if (size >= FILE_BUFFER.bytes) safeFlush();
    },
    flush(cb?: (err?: Error) => void): void {
      try {
        flushSync();
        cb?.();
      } catch (err) {
        cb?.(err as Error);
      }
    },
    flushSync,
    end(): void {
      if (closed) return;
      safeFlush();
      closed = true;
      clearInterval(timer);
      process.removeListener('exit', atExit);
      closeSync(fd);
    },
  };
}
