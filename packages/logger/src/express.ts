import type { IncomingMessage } from 'node:http';
import { onCompletion, prepareRequest, requestPath, routeTemplate } from '@vigil/express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from './create-logger.js';
import { VigilOptionError } from './errors.js';
import { logRequestLine } from './internal/request-line.js';
import {
  levelFor,
  pathOf,
  REQUEST_LOG_DEFAULTS,
  type RequestLogOptions,
  requestIdFrom,
  resolveRequestLog,
} from './internal/request-log.js';
import { requestTraceFields } from './internal/trace-context.js';

export type { RequestLogOptions };
export { REQUEST_LOG_DEFAULTS };

export interface ExpressRequestLoggerOptions extends RequestLogOptions {
  /** The logger to write to (from `createLogger()`). */
  logger: Logger;
}

/** What the request line needs at completion (read once when the request came in). */
interface LineState {
  readonly req: Request;
  readonly socket: object | null;
  readonly method: string;
  readonly url: string;
  readonly id: string;
  readonly start: number;
  readonly slot: IdSlot | undefined;
}

export interface ExpressRequestLogger {
  /** `app.use(requestLogger.middleware)`: mount first, before your routes and routers. */
  readonly middleware: RequestHandler;
  readonly logger: Logger;
}

/**
 * Each request's id sits in a slot on its socket (one request at a time per HTTP/1.1 connection),
 * marked done when the request's line is written so the connection's next request can take it.
 * Not a property on req/res: Express 5 swaps both prototypes per request, after which every added
 * property is slow. Not a WeakMap for every request: its set gives each object an identity hash
 * and every scavenge ephemeron work (the costliest line of the middleware when it did). Requests
 * that find the slot taken (pipelined, HTTP/2) and requests that are not logged use the WeakMap.
 */
const SLOT = Symbol('vigil.requestLog.id');
interface IdSlot {
  readonly req: object;
  readonly id: string;
  done: boolean;
}
type Slotted = { [SLOT]?: IdSlot };
const ids = new WeakMap<object, string>();
const CHILD = Symbol('vigil.requestLog');

function idOf(req: IncomingMessage & { res?: object }): string | undefined {
  const slot = (req.socket as Slotted | null | undefined)?.[SLOT];
  if (slot !== undefined && slot.req === req) return slot.id;
  return req.res === undefined ? undefined : ids.get(req.res);
}

/**
 * One JSON line per request, written when it completes (Express 5):
 * `{ level, time, service, request_id, method, route, path, status_code, duration_ms, trace_id,
 * span_id, trace_flags, msg: "request completed" }` at `error` for 5xx, `warn` for 4xx and aborted
 * requests, `info` otherwise. Probes and `/metrics` are not logged, request headers only when
 * `logHeaders` is on (redacted). The request id is taken from a well-formed `x-request-id` or
 * generated (a UUID), and echoed in the response.
 *
 * Nothing is created per request beyond the line itself: no child logger (unless your code uses
 * `req.log`), no serializer of `req`/`res`.
 */
export function createExpressRequestLogger(options: ExpressRequestLoggerOptions): ExpressRequestLogger {
  if (typeof options !== 'object' || options === null) {
    throw new VigilOptionError('options', 'an options object with a logger', options);
  }
  const { logger, ...rest } = options;
  if (!logger || typeof logger.info !== 'function' || typeof logger.child !== 'function') {
    throw new VigilOptionError('logger', 'a pino logger (createLogger())', logger);
  }
  const o = resolveRequestLog(rest, []);
  const header = o.header;

  // State in one object per request handed to the completion (see `ids` for why not on `res`).
  // Each property of req/res is read once, in the middleware: on Express 5 every read is a V8
  // inline-cache miss (~2,000 instructions under callgrind), the largest part of this logger's
  // cost there; the completion needs no listener on `res` (see @vigil/express' onCompletion).
  function onDone(s: LineState, status: number | undefined): void {
    if (s.slot !== undefined) s.slot.done = true;
    const req = s.req;
    logRequestLine(
      logger,
      levelFor(status),
      {
        requestId: s.id,
        method: s.method,
        route: routeTemplate(req, s.socket, true),
        path: pathOf(s.url),
        status: status ?? 499,
        durationMs: Math.round((performance.now() - s.start) * 100) / 100,
        trace: requestTraceFields(req, s.socket),
      },
      status !== undefined ? 'request completed' : 'request aborted',
      o.logHeaders ? { headers: req.headers } : undefined,
    );
  }

  let lastProto: object | null = null;
  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== lastProto) {
      lastProto = proto;
      prepareRequest(req);
      installAccessors(proto, logger);
    }
    const id = requestIdFrom(req.headers[header]);
    res.setHeader(header, id);
    if (o.ignore.size > 0 && o.ignore.has(requestPath(req))) {
      ids.set(res, id);
      return next();
    }
    const start = performance.now();
    const socket = req.socket as Slotted | null;
    let slot: IdSlot | undefined;
    if (socket != null && (socket[SLOT] === undefined || socket[SLOT].done)) {
      slot = { req, id, done: false };
      socket[SLOT] = slot;
    } else ids.set(res, id);
    onCompletion(req, res, socket, onDone, {
      req,
      socket,
      method: req.method,
      url: req.originalUrl ?? req.url,
      id,
      start,
      slot,
    });
    next();
  };

  return { middleware, logger };
}

/**
 * The logger for a request, with its `request_id` bound (a pino child, created on first use):
 * `requestLog(req).info({ orderId }, 'order placed')`. Also available as `req.log` in JavaScript.
 */
export function requestLog(req: Request | IncomingMessage): Logger {
  return (req as unknown as { log: Logger }).log;
}

/** The request id (the incoming `x-request-id` when well-formed, else a new UUID); also `req.id`. */
export function requestId(req: Request | IncomingMessage): string | undefined {
  return idOf(req as IncomingMessage & { res?: object });
}

const installed = new WeakSet<object>();

/** `req.id` and a lazy `req.log` on the app's request prototype (once per prototype). */
function installAccessors(proto: object | null, logger: Logger): void {
  if (proto === null || installed.has(proto)) return;
  installed.add(proto);
  if (!Object.getOwnPropertyDescriptor(proto, 'id')) {
    Object.defineProperty(proto, 'id', {
      configurable: true,
      get(this: IncomingMessage & { res?: object }) {
        return idOf(this);
      },
    });
  }
  if (!Object.getOwnPropertyDescriptor(proto, 'log')) {
    Object.defineProperty(proto, 'log', {
      configurable: true,
      get(this: IncomingMessage & { res?: object; [CHILD]?: Logger }) {
        let child = this[CHILD];
        if (child === undefined) {
          child = logger.child({ request_id: idOf(this) });
          this[CHILD] = child;
        }
        return child;
      },
    });
  }
}
