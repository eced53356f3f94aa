import type { IncomingMessage, ServerResponse } from 'node:http';
import { prepareRequest, routeTemplate } from '@vigil/express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from './create-logger.js';
import { VigilOptionError } from './errors.js';
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

export interface ExpressRequestLogger {
  /** `app.use(requestLogger.middleware)`: mount first, before your routes and routers. */
  readonly middleware: RequestHandler;
  readonly logger: Logger;
}

const ID = Symbol('vigil.requestId');
const START = Symbol('vigil.requestStart');
const CHILD = Symbol('vigil.requestLog');

interface Tracked extends ServerResponse {
  [ID]?: string;
  [START]?: number;
  req: IncomingMessage;
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

  function onClose(this: Tracked): void {
    const id = this[ID] as string;
    const req = this.req as Request;
    const finished = this.writableFinished;
    const status = finished ? this.statusCode : undefined;
    const fields: Record<string, unknown> = {
      request_id: id,
      method: req.method,
      route: routeTemplate(req),
      path: pathOf(req.originalUrl ?? req.url),
      status_code: status ?? 499,
      duration_ms: Math.round((performance.now() - (this[START] as number)) * 100) / 100,
    };
    const t = requestTraceFields(req);
    if (t !== undefined) {
      fields.trace_id = t.trace_id;
      fields.span_id = t.span_id;
      fields.trace_flags = t.trace_flags;
    }
    if (o.logHeaders) fields.headers = req.headers;
    logger[levelFor(status)](fields, finished ? 'request completed' : 'request aborted');
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
    const r = res as unknown as Tracked;
    r[ID] = id;
    res.setHeader(header, id);
    if (o.ignore.size > 0 && o.ignore.has(req.path)) return next();
    r[START] = performance.now();
    res.on('close', onClose);
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
  return (req as unknown as { res?: Tracked }).res?.[ID];
}

const installed = new WeakSet<object>();

/** `req.id` and a lazy `req.log` on the app's request prototype (once per prototype). */
function installAccessors(proto: object | null, logger: Logger): void {
  if (proto === null || installed.has(proto)) return;
  installed.add(proto);
  const idOf = (req: IncomingMessage & { res?: Tracked }) => req.res?.[ID];
  if (!Object.getOwnPropertyDescriptor(proto, 'id')) {
    Object.defineProperty(proto, 'id', {
      configurable: true,
      get(this: IncomingMessage & { res?: Tracked }) {
        return idOf(this);
      },
    });
  }
  if (!Object.getOwnPropertyDescriptor(proto, 'log')) {
    Object.defineProperty(proto, 'log', {
      configurable: true,
      get(this: IncomingMessage & { res?: Tracked; [CHILD]?: Logger }) {
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
