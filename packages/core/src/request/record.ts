import type { IncomingMessage, ServerResponse } from 'node:http';
import { VigilOptionError } from '../errors.js';
import { getTracingHook, type RequestTrace, type TraceIds } from '../tracing.js';

/** What the observer records a request into: @vigil/metrics' HTTP metrics implement it. */
export interface HttpRecorder {
  /** A request came in (the in-flight gauge). */
  enter(): void;
  /** A request that entered will not be recorded (a probe Vigil answered itself). */
  leave(): void;
  /**
   * A request completed (`status` undefined: the client aborted); it leaves the in-flight gauge.
   * `req` is the request, for labels the recorder derives from it (`httpLabels` of @vigil/metrics).
   */
  record(
    method: string,
    route: string,
    status: number | undefined,
    seconds: number,
    exemplar: TraceIds | undefined,
    req?: IncomingMessage,
  ): void;
}

/** Writes the request line: @vigil/logger's loggers provide it (see `requestLogWriter`). */
export interface RequestLogWriter {
  /** Lower-case header the request id is read from and echoed in. */
  readonly idHeader: string;
  /** The incoming id when well-formed, else a new random one. */
  requestId(header: string | string[] | undefined): string;
  /** A logger with the request's id bound (`req.log`). */
  child(requestId: string | undefined): unknown;
  /** Writes the line for a completed request (`status` undefined: aborted). */
  write(rec: RequestRecord, route: string, status: number | undefined, durationMs: number): void;
}

/** Options of the request line, the same wherever it is written. */
export interface RequestLogOptions {
  /** Incoming request id honoured from this header (when well-formed), and echoed in the response. */
  requestIdHeader?: string;
  /** Add the request headers to the line (redacted). */
  logHeaders?: boolean;
}

/**
 * How an adapter gets a request line writer from a logger without depending on @vigil/logger:
 * `createLogger()` puts a factory under this key on the loggers it makes (children inherit it).
 */
export const REQUEST_LOG: unique symbol = Symbol.for('vigil.logger.requestLog/1') as never;

/** The request line writer of a logger from @vigil/logger's `createLogger()`. */
export function requestLogWriter(
  logger: unknown,
  options?: RequestLogOptions,
  option = 'logger',
): RequestLogWriter {
  const make = (logger as { [REQUEST_LOG]?: unknown } | null | undefined)?.[REQUEST_LOG];
  if (typeof make !== 'function') {
    throw new VigilOptionError(option, "a logger from @vigil/logger's createLogger()", logger);
  }
  return (make as (this: unknown, o: RequestLogOptions) => RequestLogWriter).call(logger, options ?? {});
}

/**
 * Admission control ahead of the handlers (@vigil/resilience's load shedder implements it): a
 * request is admitted, or rejected with the `Retry-After` the response should carry.
 */
export interface AdmissionGate {
  /** `at`: `performance.now()` at the request's arrival (the gate may use it rather than read a clock). */
  tryAcquire(priority?: boolean, at?: number): Admission;
  /**
   * The admitted request finished; `ignore`: it was cut short, its latency means nothing. `at`:
   * `performance.now()` at completion.
   */
  release(admission: Admitted, outcome?: 'ok' | 'ignore', at?: number): void;
}
export interface Admitted {
  readonly admitted: true;
}
export interface Rejected {
  readonly admitted: false;
  readonly reason: string;
  readonly retryAfterSeconds: number;
}
export type Admission = Admitted | Rejected;

/**
 * Answers a shed request at once, the same way on every framework: 503, `Retry-After`, and a small
 * JSON body naming the reason. Nothing of the request is read or routed.
 */
export function answerShed(res: ServerResponse, r: Rejected): void {
  res.writeHead(503, { 'retry-after': String(r.retryAfterSeconds), 'content-type': 'application/json' });
  res.end(`{"error":"overloaded","reason":"${r.reason}"}`);
}

/** Resolves the route template of a request at completion (adapters whose router decides late). */
export type RouteResolver = (rec: RequestRecord) => string | undefined;

/**
 * The user's override of a request's `route` label, given the template the adapter found: a
 * string replaces it, `undefined` keeps it. Its values count against the series cap like routes.
 */
export type RouteLabel = (req: IncomingMessage, route: string) => string | undefined;

/**
 * One request, from arrival to completion: everything the observer needs, read once when the
 * request came in, so completion touches neither `req` nor `res` (on Express 5 each property read
 * of them misses V8's inline caches). Shared by every Vigil observer on the request.
 */
export interface RequestRecord {
  readonly req: IncomingMessage;
  readonly socket: object | null;
  /** The request method as sent. */
  readonly method: string;
  /** The URL as received (path and query). */
  readonly url: string;
  /** `performance.now()` at arrival. */
  readonly start: number;
  trace: RequestTrace | undefined;
  http: HttpRecorder | undefined;
  log: RequestLogWriter | undefined;
  /** The request id (when a request log is on). */
  id: string | undefined;
  /** The route template when the adapter knew it at arrival. */
  route: string | undefined;
  resolveRoute: RouteResolver | undefined;
  /** The user's `routeLabel` override, if any. */
  relabel: RouteLabel | undefined;
  /** Adapter-owned route state (Express: the matched route and the mount path at that moment). */
  routeState: unknown;
  routeBase: string;
  /** The handler's error, for the request line. */
  error: unknown;
  /** Not recorded: a path excluded late, such as a probe answered by Vigil. */
  excluded: boolean;
  /** Vigil's own endpoints are recorded (the observer's `includeVigilEndpoints`). */
  includeVigil: boolean;
  done: boolean;
  /** Adapter-owned: the request's child logger, made on first use. */
  child: unknown;
  /** The admission gate that let the request in, released at completion. */
  gate: AdmissionGate | undefined;
  /** What the gate decided: admitted, or rejected (the adapter answers 503 and calls no handler). */
  admission: Admission | undefined;
}

/**
 * Where a request's record lives: in a slot on its socket, which serves one request at a time on
 * HTTP/1.1, and on the request itself when that slot is held by a request still in flight
 * (pipelining, HTTP/2). Not a WeakMap: an entry per request costs an identity hash and ephemeron
 * work in every scavenge. `Symbol.for`, so every copy of this package finds the same record.
 */
export const RECORD: unique symbol = Symbol.for('vigil.request.record/1') as never;
export type Slotted = { [RECORD]?: RequestRecord | undefined };

/** The record of `req`, if a Vigil observer saw it. `socket`: `req.socket` when the caller has it. */
export function recordOf(req: object, socket?: object | null): RequestRecord | undefined {
  const sock = (socket === undefined ? (req as { socket?: object | null }).socket : socket) as
    | Slotted
    | null
    | undefined;
  const slotted = sock?.[RECORD];
  if (slotted !== undefined && slotted.req === req) return slotted;
  return (req as Slotted)[RECORD];
}

/**
 * Marks a request as not to be recorded, unless its observer records Vigil's own endpoints. Called
 * by the handlers Vigil mounts (probes, `/metrics`), so they stay out of the RED metrics, spans and
 * request log whatever their path and mount order.
 */
export function excludeVigilEndpoint(req: object): void {
  const rec = recordOf(req);
  if (rec !== undefined && !rec.includeVigil) rec.excluded = true;
}

/**
 * Records a handler's error on its request: the span's `exception` event and the request line's
 * `err`. The first error wins, so the framework's hook and a user's filter can both call it.
 * Returns false for a request Vigil does not observe.
 */
export function recordRequestError(req: object, error: unknown): boolean {
  const rec = recordOf(req);
  if (rec === undefined) return false;
  if (rec.error !== undefined) return true;
  rec.error = error;
  if (rec.trace !== undefined) getTracingHook()?.recordError(rec.trace, error);
  return true;
}
