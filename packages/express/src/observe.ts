import {
  type AdmissionGate,
  answerShed,
  createRequestObserver,
  type ExcludeRule,
  type HttpRecorder,
  type RequestLogWriter,
  type RouteLabel,
  recordOf,
  recordRequestError,
} from '@vigil/core';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { prepareRequest, requestPath, resolveRoute } from './route.js';

export interface ExpressObserverParts {
  readonly http?: HttpRecorder | undefined;
  readonly log?: RequestLogWriter | undefined;
  readonly exclude: readonly ExcludeRule[] | undefined;
  readonly includeVigilEndpoints?: boolean | undefined;
  readonly routeLabel?: RouteLabel | undefined;
  /** Admission control (load shedding): a rejected request is answered 503 here. */
  readonly gate?: AdmissionGate | undefined;
  readonly isPriority?: ((req: Request) => boolean) | undefined;
}

/**
 * The Express adapter of the request observer: supplies the path (Express' own reading of it for
 * unusual URLs), the route template (captured when Express assigns `req.route`) and `next`.
 */
export function expressObserver(parts: ExpressObserverParts): {
  middleware: RequestHandler;
  errorHandler: ErrorRequestHandler;
} {
  const observer = createRequestObserver({
    ...parts,
    pathOf: (url, req) => requestPath(req as Request, url),
  });
  const isPriority = parts.isPriority;
  const log = parts.log;
  // Express gives each app its own request prototype; the accessors go on it once.
  let lastProto: object | null = null;
  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== lastProto) {
      lastProto = proto;
      prepareRequest(req);
      if (log !== undefined) installLogAccessors(proto, log);
    }
    const rec = observer.observe(
      req,
      res,
      undefined,
      resolveRoute,
      undefined,
      next,
      isPriority !== undefined && isPriority(req) === true,
    );
    const a = rec?.admission;
    if (a !== undefined && !a.admitted) answerShed(res, a);
  };
  return { middleware, errorHandler };
}

/**
 * `app.use(errorHandler)` after your routes: a handler's thrown error becomes an `exception`
 * event on the request's span and the `err` of its request line, then goes on (`next(err)`)
 * unchanged to your own error handlers.
 */
export const errorHandler: ErrorRequestHandler = (err, req, _res, next) => {
  recordRequestError(req, err);
  next(err);
};

const installed = new WeakSet<object>();

/** `req.id` and a lazy `req.log` on the app's request prototype (once per prototype). */
function installLogAccessors(proto: object | null, log: RequestLogWriter): void {
  if (proto === null || installed.has(proto)) return;
  installed.add(proto);
  if (!Object.getOwnPropertyDescriptor(proto, 'id')) {
    Object.defineProperty(proto, 'id', {
      configurable: true,
      get(this: object) {
        return recordOf(this)?.id;
      },
    });
  }
  if (!Object.getOwnPropertyDescriptor(proto, 'log')) {
    Object.defineProperty(proto, 'log', {
      configurable: true,
      get(this: object) {
        // A request left unobserved (an excluded path) still gets a logger, without an id.
        return requestLogger(this) ?? log.child(undefined);
      },
    });
  }
}

/** The logger of a request with its `request_id` bound (made on first use), if it is logged. */
export function requestLogger(req: object): unknown {
  const rec = recordOf(req);
  if (rec === undefined || rec.log === undefined) return undefined;
  rec.child ??= rec.log.child(rec.id);
  return rec.child;
}
