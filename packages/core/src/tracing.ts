import type { IncomingMessage } from 'node:http';

/**
 * The process-wide tracing contract: how Vigil's per-request code (the request observer, the
 * database instrumentation) creates spans without importing OpenTelemetry.
 *
 * `@vigil/tracing` registers one implementation per process under a `Symbol.for` key when tracing
 * starts and removes it when tracing closes; everything else only reads it, so without tracing the
 * cost per request is one property read that finds nothing. The key is shared by every copy of
 * these packages (ESM and CommonJS builds, duplicated installs); its version suffix changes when
 * the interface does, so mismatched copies ignore each other instead of calling the wrong shape.
 */
export const TRACING_HOOK: unique symbol = Symbol.for('vigil.tracing.hook/2') as never;

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

/** What a messaging span needs (one message published or processed); built only when tracing is on. */
export interface MessageInfo {
  /** `messaging.system`, for example `rabbitmq`. */
  readonly system: string;
  /** Where the message goes or comes from: the exchange (publish) or the queue (process). */
  readonly destination: string;
  /** AMQP routing key (`messaging.rabbitmq.destination.routing_key`). */
  readonly routingKey?: string | undefined;
  readonly messageId?: string | undefined;
  readonly bodySize?: number | undefined;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
}

/** A message's span, from `startSend()` or `startProcess()`. */
export interface MessageTrace {
  readonly exemplar: TraceIds | undefined;
}

/** Export counters of the running tracing pipeline (the `vigil_tracing_*` metrics). */
export interface TracingStats {
  /** Spans the collector accepted. */
  readonly exported: number;
  /** Spans never exported, by reason (`queue_full`, `export_failed`, `shutdown`, `rejected`). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Spans waiting in the export queue. */
  readonly queued: number;
}

export interface TracingHook {
  /** Starts the span of a server request (W3C context from its headers, or the active span). */
  startServer(req: IncomingMessage): RequestTrace;
  /** Runs `fn` with the request's span as the active context. */
  run<T>(trace: RequestTrace, fn: () => T): T;
  /**
   * Ends a request's span. `route` is the template (anything not starting with `/` means no route
   * matched); `statusCode` undefined means the client aborted before the response completed.
   */
  endServer(trace: RequestTrace, route: string, statusCode: number | undefined): void;
  /** Records an exception a request's handler threw (an `exception` event on its server span). */
  recordError(trace: RequestTrace, error: unknown): void;
  /** Starts a database client span under the active span; undefined when there is nothing to record. */
  startDb(info: DbQueryInfo): DbTrace | undefined;
  /** Ends a database span; a truthy `error` marks it failed. */
  endDb(trace: DbTrace, error: unknown): void;
  /**
   * Starts a PRODUCER span under the active span and writes the trace context (`traceparent`,
   * `tracestate`) into `headers`; undefined (and `headers` untouched) outside any span. With an
   * unsampled active span there is no span, but the context is still written (flags `00`).
   * Optional: a hook from a copy of @vigil/tracing older than messaging support lacks it.
   */
  startSend?(info: MessageInfo, headers: Record<string, unknown>): MessageTrace | undefined;
  /**
   * Starts the CONSUMER span of a received message: a child of the trace context in its
   * `headers`, or a new trace without one. Run the handler with `runMessage` so its calls nest.
   */
  startProcess?(info: MessageInfo, headers: Readonly<Record<string, unknown>> | undefined): MessageTrace;
  /** Runs `fn` with a message's span as the active context. */
  runMessage?<T>(trace: MessageTrace, fn: () => T): T;
  /** Ends a messaging span; a truthy `error` marks it failed, `outcome` is recorded on it. */
  endMessage?(trace: MessageTrace, error: unknown, outcome?: string): void;
  /** Binds `fn` to the active context (for callbacks a driver calls from elsewhere). */
  bind<F extends (...args: any[]) => any>(fn: F): F;
  /** Export counters, for the `vigil_tracing_*` metrics. */
  stats(): TracingStats;
}

type Globals = { [TRACING_HOOK]?: TracingHook };

/** The registered tracing hook, or undefined when tracing is not started in this process. */
export function getTracingHook(): TracingHook | undefined {
  return (globalThis as Globals)[TRACING_HOOK];
}

/** Registers (or with `undefined` removes) the process's tracing hook. Used by `@vigil/tracing`. */
export function setTracingHook(hook: TracingHook | undefined): void {
  const g = globalThis as Globals;
  if (hook === undefined) delete g[TRACING_HOOK];
  else g[TRACING_HOOK] = hook;
}
