import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { loggerStats } from '@vigil/core';
import pino from 'pino';
import { VigilOptionError } from './errors.js';
import { type Destination, FILE_BUFFER, fdDestination, streamDestination } from './internal/destination.js';
import { checkOtlpOption, createOtlpLogs, type OtlpLogsOptions } from './internal/otlp-logs.js';
import { createRedactor } from './internal/redact.js';
import { PathSyntaxError, resolveRedact } from './internal/redact-paths.js';
import { enableFastLine, needsMetadata, REQUEST_LINE_KEYS, streamOf } from './internal/request-line.js';
import { enableRequestLog } from './internal/request-log.js';
import { createScrubber, DEFAULT_SECRET_NAMES } from './internal/scrub.js';
import { activeTraceFields } from './internal/trace-context.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The logger: a pino instance (so Fastify's `loggerInstance` and pino's ecosystem accept it), with
 * an end of life.
 */
export type Logger = pino.Logger & LoggerHandle;

/** What createLogger() adds to the pino instance it returns. */
export interface LoggerHandle {
  /**
   * Writes what is buffered, waiting at most `flushTimeoutMs` for a stalled reader (what is left
   * then is dropped and counted), and releases the destination: its timer, its `exit` listener and
   * its file. Lines logged afterwards go to stdout or a descriptor only if it takes them at once;
   * for a file path or a stream they are dropped (counted). Idempotent; never rejects. Closing a
   * child closes the logger it came from.
   */
  close(): Promise<void>;
  /**
   * A file path destination: closes the file and opens the path again, for log rotation that moves
   * the file (logrotate's `create`). A moved or removed file is also noticed by itself within about
   * a second. Other destinations: nothing (a stream's own `reopen()` is called if it has one).
   */
  reopen(): void;
}

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
  /**
   * Bytes of lines kept for a reader that is slow or stopped (stdout piped to a stalled log shipper,
   * a full disk, a stream that does not drain); lines beyond are dropped and counted in
   * `vigil_log_lines_dropped_total{reason="buffer_full"}`, with one warning on stderr.
   */
  bufferBytes: 8 * 1024 * 1024,
  /**
   * How long `close()` and process exit wait for a stalled reader to take what is buffered before
   * dropping it (counted, `reason="shutdown"`): the process exits on time whatever the pipe does.
   */
  flushTimeoutMs: 1_000,
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
  /** Default 8 MiB: see `LOGGER_DEFAULTS.bufferBytes`. */
  bufferBytes?: number;
  /** Default 1 s: see `LOGGER_DEFAULTS.flushTimeoutMs`. */
  flushTimeoutMs?: number;
  /**
   * Also send every line (after redaction) as an OpenTelemetry log record over OTLP/HTTP, with its
   * trace context: `true` (endpoint and headers from the standard `OTEL_EXPORTER_OTLP_*`
   * variables) or `{ endpoint, headers, loggerProvider }`. Needs `@opentelemetry/api`,
   * `@opentelemetry/sdk-logs`, `@opentelemetry/exporter-logs-otlp-http` and
   * `@opentelemetry/resources` installed. The lines still go to the destination.
   */
  otlp?: boolean | OtlpLogsOptions;
}

const KNOWN = [
  'service',
  'level',
  'redact',
  'destination',
  'sync',
  'base',
  'traceContext',
  'pretty',
  'bufferBytes',
  'flushTimeoutMs',
  'otlp',
];

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
  for (const n of ['bufferBytes', 'flushTimeoutMs'] as const) {
    const v = o[n];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)) {
      throw new VigilOptionError(n, 'a positive integer', v);
    }
  }
  const limits = {
    bufferBytes: (o.bufferBytes as number | undefined) ?? LOGGER_DEFAULTS.bufferBytes,
    flushTimeoutMs: (o.flushTimeoutMs as number | undefined) ?? LOGGER_DEFAULTS.flushTimeoutMs,
  };
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

  const otlpOptions = checkOtlpOption(o.otlp);
  if (otlpOptions !== undefined && o.pretty === true) {
    throw new VigilOptionError('otlp', 'no pretty output together with otlp', true);
  }
  if (otlpOptions !== undefined && typeof dest === 'object' && needsMetadata(dest as object)) {
    throw new VigilOptionError('otlp', 'a destination other than a pino multistream', 'a multistream');
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
    const target = resolvePinoPretty();
    if (target === undefined) {
      throw new VigilOptionError('pretty', 'pino-pretty to be installed (npm i -D pino-pretty)', true);
    }
    const logger = pino({ ...opts, transport: { target } });
    const transport = streamOf(logger) as {
      end(): void;
      once(e: string, f: () => void): void;
    };
    let ended: Promise<void> | undefined;
    enableRequestLog(logger);
    return withHandle(logger, {
      close: () => {
        ended ??= new Promise<void>((r) => {
          const t = setTimeout(r, limits.flushTimeoutMs);
          transport.once('close', () => {
            clearTimeout(t);
            r();
          });
          transport.end();
        });
        return ended;
      },
      reopen: () => {},
    });
  }
  // From the first logger on, /metrics shows vigil_log_lines_dropped_total (at 0 until a drop).
  loggerStats();
  let destination: Destination | undefined;
  if (dest === undefined) destination = fdDestination({ fd: 1 }, true, limits);
  else if (typeof dest === 'string') destination = fdDestination({ path: dest }, o.sync === true, limits);
  else if (typeof dest === 'number') destination = fdDestination({ fd: dest }, true, limits);
  // A multistream needs pino's per-line metadata: it is given as it is (its streams are its own).
  else if (!needsMetadata(dest as object)) {
    destination = streamDestination(dest as DestinationStream, limits);
  }
  // The OTLP bridge sees each line as written (redacted), whichever path wrote it.
  const otlp = otlpOptions === undefined ? undefined : createOtlpLogs(otlpOptions, service);
  if (otlp !== undefined && destination !== undefined) {
    const d = destination;
    const write = d.write.bind(d);
    d.write = (line: string) => {
      write(line);
      otlp.line(line);
    };
    // Closed with the destination (close(), process exit, @vigil/shutdown), within the same bound.
    const close = d.close.bind(d);
    d.close = (timeoutMs?: number) => {
      const bound = Math.min(timeoutMs ?? limits.flushTimeoutMs, limits.flushTimeoutMs);
      return Promise.all([close(timeoutMs), otlp.close(bound)]).then(() => {});
    };
  }
  const stream = (destination ?? dest) as pino.DestinationStream;
  const logger = withHandle(pino(opts, stream), {
    close: () => destination?.close() ?? Promise.resolve(),
    reopen: () => {
      if (destination) destination.reopen();
      else (dest as { reopen?: () => void }).reopen?.();
    },
  });
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

export { FILE_BUFFER };

/** `close()` and `reopen()` on the pino instance (non-enumerable; children inherit them). */
function withHandle(logger: pino.Logger, handle: LoggerHandle): Logger {
  Object.defineProperties(logger, {
    close: { value: handle.close, configurable: true, writable: true },
    reopen: { value: handle.reopen, configurable: true, writable: true },
  });
  return logger as Logger;
}

// The app's dependency first (resolved from its working directory), then one installed next to
// this package (npm's flat node_modules); pnpm's isolated layout only has the first.
function resolvePinoPretty(): string | undefined {
  for (const from of [join(process.cwd(), 'index.js'), import.meta.url]) {
    try {
      return createRequire(from).resolve('pino-pretty');
    } catch {}
  }
  return undefined;
}
