import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { boundLabel, LABEL_VALUES } from '../labels.js';
import { checkFunction } from '../options.js';
import { getTracingHook } from '../tracing.js';
import { compileExclude, type ExcludeOptions, type PathFilter, pathOf } from './exclude.js';
import {
  type AdmissionGate,
  type HttpRecorder,
  RECORD,
  type RequestLogWriter,
  type RequestRecord,
  type RouteLabel,
  type RouteResolver,
  type Slotted,
} from './record.js';
import { pinTickObjectShape } from './tick-shape.js';

/**
 * The request observer: one record per request, one completion, one pass at the end that records
 * the metric, ends the span and writes the request line. Framework adapters supply only what their
 * framework knows: the path to test against the exclusions, the route template (at arrival, or a
 * resolver called at completion), and where the rest of the request runs (`next`).
 *
 * Completion needs no listener per response: a request waits in a slot on its socket and is
 * completed by Node's `http.server.response.finish` diagnostics channel (one subscription for the
 * process; every Vigil observer shares it), or by the socket's `close` (one listener per
 * connection) when the client went away first: recorded as aborted (499). A request that finds the
 * slot held by one still in flight (pipelining), HTTP/2, or a socket that is not a real one
 * (`inject()`) is completed by its response's `close` event instead.
 */

export interface RequestObserverOptions extends ExcludeOptions {
  /** Where HTTP metrics go (`metrics.http` of @vigil/metrics); none when undefined. */
  http?: HttpRecorder | undefined;
  /** The request line writer (@vigil/logger); none when undefined. */
  log?: RequestLogWriter | undefined;
  /**
   * Start a server span per request while @vigil/tracing runs. Default: true, except for an
   * admission-only observer (a `gate`): the span starts in the observer that runs the rest of the
   * request (the metrics one), so a shed request has none.
   */
  tracing?: boolean | undefined;
  /** Exact paths of Vigil endpoints this adapter mounts elsewhere than the defaults. */
  endpoints?: readonly string[] | undefined;
  /** The path of a request's URL, tested against the exclusions. Default: the URL without its query. */
  pathOf?: ((url: string, req: IncomingMessage) => string) | undefined;
  /**
   * Admission control (a load shedder): each request not excluded is admitted or rejected before
   * `next`; a rejected one gets no `next` and its record says why (`rec.admission`), for the
   * adapter to answer 503 with `Retry-After`. It is recorded like any other response.
   */
  gate?: AdmissionGate | undefined;
  /**
   * Overrides the `route` label: called at completion with the request and the template the
   * adapter found; a string replaces it (values count against the series cap), `undefined` keeps it.
   */
  routeLabel?: RouteLabel | undefined;
}

export interface RequestObserver {
  /** The compiled exclusions (undefined when nothing is excluded). */
  readonly excludes: PathFilter;
  /**
   * Observes a request: begins its record, or joins the record another Vigil observer began for
   * it (so metrics and the request line of one request share one record and one completion); then
   * calls `next`, inside the request's span when this call started it.
   *
   * @param route the route template when already known, else undefined
   * @param resolveRoute called at completion when `route` is undefined
   * @param id the request id when the framework made one (Fastify's `request.id`; the adapter echoes it)
   * @param priority with a gate: the request is of a class never shed
   * @returns the record, or undefined when the path is excluded
   */
  observe(
    req: IncomingMessage,
    res: ServerResponse,
    route: string | undefined,
    resolveRoute: RouteResolver | undefined,
    id: string | undefined,
    next: (() => void) | undefined,
    priority?: boolean,
  ): RequestRecord | undefined;
}

/** A socket whose slot Vigil does not use (see `usableSlot`): never matches a request, never done. */
const NO_SLOT = Object.freeze({ req: null, done: false }) as unknown as RequestRecord;

let subscribed = false;
let warned = false;

function onFinish(message: unknown): void {
  const m = message as { request: object; response: { statusCode: number }; socket?: Slotted | null };
  const rec = m.socket?.[RECORD];
  if (rec === undefined || rec.done || rec.req !== m.request) return;
  completeRecord(rec, m.response.statusCode);
}

function onSocketClose(this: Slotted): void {
  const rec = this[RECORD];
  if (rec !== undefined && !rec.done && rec.req !== null) completeRecord(rec, undefined);
}

/**
 * Whether completion can rely on the socket slot: a real socket (not `inject()`'s mock, whose
 * responses publish no diagnostics message) serving HTTP/1.x (an HTTP/2 session's socket carries
 * many streams). Checked once per connection.
 */
function usableSlot(socket: object, req: IncomingMessage): boolean {
  return socket instanceof Socket && req.httpVersionMajor === 1;
}

function place(rec: RequestRecord, req: IncomingMessage, res: ServerResponse, socket: Slotted | null): void {
  if (socket != null) {
    const cur = socket[RECORD];
    if (cur === undefined) {
      if (usableSlot(socket, req)) {
        if (!subscribed) {
          subscribe('http.server.response.finish', onFinish);
          subscribed = true;
        }
        (socket as Socket).once('close', onSocketClose);
        socket[RECORD] = rec;
        return;
      }
      socket[RECORD] = NO_SLOT;
    } else if (cur.done) {
      socket[RECORD] = rec;
      return;
    }
  }
  (req as Slotted)[RECORD] = rec;
  // `writableEnded`: the handler answered (`inject()`'s responses never report `writableFinished`).
  res.once('close', () => completeRecord(rec, res.writableEnded ? res.statusCode : undefined));
}

/**
 * The request id from its header (or a new one), echoed in the response. An adapter whose
 * framework made the id (Fastify's `request.id`) passes it and echoes it the framework's way:
 * a header set on the raw response first sends Node's `writeHead` down its slow path.
 */
function echoId(log: RequestLogWriter, req: IncomingMessage, res: ServerResponse): string {
  const id = log.requestId(req.headers[log.idHeader]);
  res.setHeader(log.idHeader, id);
  return id;
}

let routeWarned = false;

/**
 * Calls a user's route or label function (`route`, `routeLabel`, `httpLabels`): a non-empty string
 * (length-bounded) or undefined. One that throws costs the label, never the request: one
 * `VIGIL_ROUTE_ERROR` warning.
 */
export function userRoute<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): string | undefined {
  try {
    const r = fn(...args);
    return typeof r === 'string' && r !== '' ? boundLabel(r) : undefined;
  } catch (err) {
    if (!routeWarned) {
      routeWarned = true;
      process.emitWarning(`Vigil's route or label function threw: ${(err as Error)?.message ?? err}`, {
        code: 'VIGIL_ROUTE_ERROR',
      });
    }
    return undefined;
  }
}

/** Completes a request once: metric, span, request line. `status` undefined: aborted. */
export function completeRecord(rec: RequestRecord, status: number | undefined): void {
  if (rec.done) return;
  rec.done = true;
  const end = performance.now();
  const elapsed = end - rec.start;
  const http = rec.http;
  const admission = rec.admission;
  if (admission?.admitted) {
    rec.gate?.release(admission, status !== undefined && !rec.excluded ? 'ok' : 'ignore', end);
  }
  if (rec.excluded) {
    // Its span (if any) is never ended, so never exported.
    if (http !== undefined) http.leave();
    return;
  }
  try {
    const template = rec.route ?? rec.resolveRoute?.(rec) ?? LABEL_VALUES.unmatchedRoute;
    const route =
      rec.relabel === undefined ? template : (userRoute(rec.relabel, rec.req, template) ?? template);
    const trace = rec.trace;
    if (http !== undefined) http.record(rec.method, route, status, elapsed / 1000, trace?.exemplar, rec.req);
    if (trace !== undefined) getTracingHook()?.endServer(trace, route, status);
    if (rec.log !== undefined) rec.log.write(rec, route, status, Math.round(elapsed * 100) / 100);
  } catch (err) {
    // Observability must not take the service down: report once, keep serving.
    if (!warned) {
      warned = true;
      process.emitWarning(`Vigil could not record a request: ${(err as Error)?.message ?? err}`, {
        code: 'VIGIL_OBSERVER_ERROR',
      });
    }
  }
}

export function createRequestObserver(options: RequestObserverOptions = {}): RequestObserver {
  pinTickObjectShape();
  const http = options.http;
  const log = options.log;
  const tracing = options.tracing ?? options.gate === undefined;
  const includeVigil = options.includeVigilEndpoints === true;
  const excludes = compileExclude(options.exclude, options.includeVigilEndpoints, options.endpoints);
  const pathFor = options.pathOf ?? pathOf;
  const gate = options.gate;
  const relabel = checkFunction<RouteLabel>('routeLabel', options.routeLabel);

  /** Lets the request in (then `true`), or records why not: the adapter answers 503. */
  function admit(rec: RequestRecord, priority: boolean | undefined): boolean {
    const a = (gate as AdmissionGate).tryAcquire(priority === true, rec.start);
    rec.admission = a;
    if (!a.admitted) return false;
    rec.gate = gate;
    return true;
  }

  /** Adds this observer's concerns to a record another observer began. */
  function join(
    rec: RequestRecord,
    res: ServerResponse,
    route: string | undefined,
    id: string | undefined,
    next: (() => void) | undefined,
    priority: boolean | undefined,
  ): RequestRecord {
    if (http !== undefined && rec.http === undefined) {
      rec.http = http;
      http.enter();
    }
    if (log !== undefined && rec.log === undefined) {
      rec.log = log;
      if (rec.id === undefined) rec.id = id ?? echoId(log, rec.req, res);
    }
    if (rec.route === undefined && route !== undefined) rec.route = route;
    if (rec.relabel === undefined) rec.relabel = relabel;
    if (includeVigil) rec.includeVigil = true;
    if (gate !== undefined && rec.admission === undefined && !admit(rec, priority)) return rec;
    const hook = tracing && rec.trace === undefined ? getTracingHook() : undefined;
    if (hook !== undefined) {
      const trace = hook.startServer(rec.req);
      rec.trace = trace;
      if (next !== undefined) hook.run(trace, next);
      return rec;
    }
    if (next !== undefined) next();
    return rec;
  }

  function observe(
    req: IncomingMessage,
    res: ServerResponse,
    route: string | undefined,
    resolveRoute: RouteResolver | undefined,
    id: string | undefined,
    next: (() => void) | undefined,
    priority?: boolean,
  ): RequestRecord | undefined {
    const url = req.url ?? '/';
    if (excludes?.(pathFor(url, req))) {
      if (next !== undefined) next();
      return undefined;
    }
    const socket = req.socket as Slotted | null;
    const slotted = socket?.[RECORD];
    if (slotted !== undefined && !slotted.done) {
      if (slotted.req === req) return join(slotted, res, route, id, next, priority);
      const own = (req as Slotted)[RECORD];
      if (own !== undefined) return join(own, res, route, id, next, priority);
    }
    const rec: RequestRecord = {
      req,
      socket,
      method: req.method ?? 'GET',
      url,
      start: performance.now(),
      trace: undefined,
      http,
      log,
      id: undefined,
      route,
      resolveRoute,
      relabel,
      routeState: undefined,
      routeBase: '',
      error: undefined,
      excluded: false,
      includeVigil,
      done: false,
      child: undefined,
      gate: undefined,
      admission: undefined,
    };
    if (http !== undefined) http.enter();
    if (log !== undefined) rec.id = id ?? echoId(log, req, res);
    place(rec, req, res, socket);
    if (gate !== undefined && !admit(rec, priority)) return rec;
    const hook = tracing ? getTracingHook() : undefined;
    if (hook === undefined) {
      if (next !== undefined) next();
      return rec;
    }
    const trace = hook.startServer(req);
    rec.trace = trace;
    if (next !== undefined) hook.run(trace, next);
    return rec;
  }

  return { excludes, observe };
}
