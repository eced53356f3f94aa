import type { IncomingMessage } from 'node:http';
import {
  SPAN_DROP_REASONS,
  tracingQueueSize,
  tracingSpansDropped,
  tracingSpansExported,
} from '@vigil/catalog';
import type { Registry } from 'prom-client';
import { escapeHelp, FAST_WRITE, type FastWritable, register } from './internal/collectors.js';

/**
 * The process-wide tracing hook: how Vigil's per-request code (the Express and Fastify adapters,
 * the `pg` instrumentation, `trackDatabaseQuery`) creates spans without importing OpenTelemetry.
 *
 * `@vigil/tracing` registers one implementation per process under a `Symbol.for` key when tracing
 * starts and removes it when tracing closes; everything here only reads it. Without tracing the
 * per-request cost is one property read that finds nothing. The key is shared across copies of
 * these packages (ESM and CommonJS builds, duplicated installs), so it works wherever they load from.
 */
export const TRACING_HOOK: unique symbol = Symbol.for('vigil.tracing.hook');

/**
 * @deprecated Tracing no longer stores a request's trace on the `IncomingMessage` (a property
 * added per request is slow after Express 5's prototype swap); use
 * `getTracingHook()?.requestTrace?.(req)`. Kept so code reading it keeps compiling.
 */
export const REQUEST_TRACE: unique symbol = Symbol.for('vigil.tracing.request');

/** Trace and span id of a sampled span: what a histogram exemplar points at. */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

/** A server request's trace, from `startServer()`. */
export interface RequestTrace {
  /** 32 hex characters. Present for sampled and unsampled requests (logs carry it either way). */
  readonly traceId: string;
  /** 16 hex characters: the server span's id. */
  readonly spanId: string;
  /** W3C trace flags: 1 when sampled. */
  readonly traceFlags: number;
  /** The ids to attach as an exemplar, only when the span is sampled (recorded and exported). */
  readonly exemplar: TraceIds | undefined;
}

/** What a database span needs; built only when tracing is on. */
export interface DbQueryInfo {
  /** `db.system.name`, for example `postgresql`. */
  readonly system: string;
  /** Bounded operation name (`SELECT`), or `unknown`. */
  readonly operation: string;
  /** Bounded table name, or `unknown`. */
  readonly table: string;
  /** The SQL text; recorded only when the tracing option `dbQueryText` allows it. */
  readonly text?: string | undefined;
  /** Database name (`db.namespace`). */
  readonly namespace?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
}

/** A database call's span, from `startDb()`. */
export interface DbTrace {
  readonly exemplar: TraceIds | undefined;
}

export interface TracingStats {
  /** Spans the collector accepted. */
  readonly exported: number;
  /** Spans never exported, by reason (`queue_full`, `export_failed`, `shutdown`). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Spans waiting in the export queue. */
  readonly queued: number;
}

export interface TracingHook {
  /** Starts the span of a server request (W3C context from its headers, or the active span). */
  startServer(req: IncomingMessage): RequestTrace;
  /**
   * The trace `startServer()` returned for this request, if any (logs read their ids here).
   * `socket`: the request's `req.socket` when the caller already has it (saves a read of `req`).
   */
  requestTrace?(req: IncomingMessage, socket?: object | null): RequestTrace | undefined;
  /** Runs `fn` with the request's span as the active context. */
  run<T>(trace: RequestTrace, fn: () => T): T;
  /**
   * Ends a request's span. `route` is the template (anything not starting with `/` means no route
   * matched); `statusCode` undefined means the client aborted before the response completed.
   */
  endServer(trace: RequestTrace, route: string, statusCode: number | undefined): void;
  /**
   * Records an exception a request's handler threw (an `exception` event on its server span; the
   * span's status still follows the response status). Called by Express' `errorHandler` and
   * Fastify's `onError` hook. Optional: tracing versions without it are still valid hooks.
   */
  recordError?(req: IncomingMessage, error: unknown): void;
  /** Starts a database client span under the active span; undefined when there is nothing to record. */
  startDb(info: DbQueryInfo): DbTrace | undefined;
  /** Ends a database span; a truthy `error` marks it failed. */
  endDb(trace: DbTrace, error: unknown): void;
  /** Binds `fn` to the active context (for callbacks a driver calls from elsewhere). */
  bind<F extends (...args: any[]) => any>(fn: F): F;
  /** Export counters, for the `vigil_tracing_*` metrics. */
  stats(): TracingStats;
}

/** The registered tracing hook, or undefined when tracing is not started in this process. */
export function getTracingHook(): TracingHook | undefined {
  return (globalThis as { [TRACING_HOOK]?: TracingHook })[TRACING_HOOK];
}

/** Registers (or with `undefined` removes) the process's tracing hook. Used by `@vigil/tracing`. */
export function setTracingHook(hook: TracingHook | undefined): void {
  const g = globalThis as { [TRACING_HOOK]?: TracingHook };
  if (hook === undefined) delete g[TRACING_HOOK];
  else g[TRACING_HOOK] = hook;
}

/**
 * `vigil_tracing_*` families, read from the tracing hook at scrape time. Writes nothing (not even
 * HELP/TYPE) while tracing is not started, so a registry without tracing shows no empty families.
 */
class TracingStatsCollector implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  readonly help = tracingSpansDropped.help;
  constructor(
    readonly name: string,
    private readonly prefix: string,
  ) {}

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    const s = getTracingHook()?.stats();
    if (s === undefined) return;
    const p = this.prefix;
    const d = defaults ? `,${defaults}` : '';
    const bare = defaults ? `{${defaults}}` : '';
    const exported = p + tracingSpansExported.name;
    const dropped = p + tracingSpansDropped.name;
    const queued = p + tracingQueueSize.name;
    const family = (n: string) => (openMetrics ? n.replace(/_total$/, '') : n);
    out.push(
      `# HELP ${family(exported)} ${escapeHelp(tracingSpansExported.help)}`,
      `# TYPE ${family(exported)} counter`,
      `${exported}${bare} ${s.exported}`,
      `# HELP ${family(dropped)} ${escapeHelp(tracingSpansDropped.help)}`,
      `# TYPE ${family(dropped)} counter`,
    );
    for (const reason of Object.values(SPAN_DROP_REASONS)) {
      out.push(`${dropped}{reason="${reason}"${d}} ${s.dropped[reason] ?? 0}`);
    }
    out.push(
      `# HELP ${queued} ${escapeHelp(tracingQueueSize.help)}`,
      `# TYPE ${queued} gauge`,
      `${queued}${bare} ${s.queued}`,
    );
  }

  get() {
    const s = getTracingHook()?.stats();
    const values = s
      ? Object.values(SPAN_DROP_REASONS).map((reason) => ({
          labels: { reason },
          value: s.dropped[reason] ?? 0,
        }))
      : [];
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/** Registers the `vigil_tracing_*` families (empty while tracing is off). */
export function registerTracingStats(registry: Registry, prefix: string): void {
  register(registry, new TracingStatsCollector(prefix + tracingSpansDropped.name, prefix));
}
