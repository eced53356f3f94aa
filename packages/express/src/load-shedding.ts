import { compileExclude, type ExcludeRule, VigilOptionError } from '@vigil/core';
import {
  createLoadShedder,
  type LoadShedder,
  type LoadShedderOptions,
  type ShedRejection,
} from '@vigil/resilience';
import type { Request, RequestHandler, Response } from 'express';
import { requestPath } from './route.js';

export interface ExpressLoadSheddingOptions extends LoadShedderOptions {
  /** A shedder to use (`createLoadShedder()`); then the shedder options are not allowed here. */
  shedder?: LoadShedder;
  /** Paths never shed nor counted, besides Vigil's own endpoints (the probes, `/metrics`), which never are. */
  exclude?: readonly ExcludeRule[];
  /** Requests of a class you never want shed (still counted in flight), e.g. admin or payment calls. */
  isPriority?: (req: Request) => boolean;
}

export interface ExpressLoadShedding {
  /** `app.use(shedding.middleware)`: after the health middleware, before the metrics middleware and every route. */
  readonly middleware: RequestHandler;
  readonly shedder: LoadShedder;
  /** Closes the shedder if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/** Answer 503 with `Retry-After` at once: nothing of the request is read or routed. */
function shed(res: Response, r: ShedRejection): void {
  res.statusCode = 503;
  res.setHeader('retry-after', String(r.retryAfterSeconds));
  res.setHeader('content-type', 'application/json');
  res.end(`{"error":"overloaded","reason":"${r.reason}"}`);
}

/**
 * Load shedding for Express 5 in one line: `app.use(createExpressLoadShedding({ metrics }).middleware)`.
 * Over the limit, a request gets 503 with `Retry-After` before any handler runs; the probes,
 * `/metrics` and `isPriority` requests are never shed. See `createLoadShedder` for the limit.
 */
export function createExpressLoadShedding(options?: ExpressLoadSheddingOptions): ExpressLoadShedding {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const { shedder: given, exclude, isPriority, ...rest } = options ?? {};
  const excluded = compileExclude(exclude, false);
  if (isPriority !== undefined && typeof isPriority !== 'function') {
    throw new VigilOptionError('isPriority', 'a function (req) => boolean', isPriority);
  }
  const extra = Object.keys(rest);
  if (given !== undefined && extra.length > 0) {
    throw new VigilOptionError(extra[0] as string, 'no shedder option when `shedder` is given', 'a value');
  }
  const shedder = given ?? createLoadShedder(rest);

  const middleware: RequestHandler = (req, res, next) => {
    if (excluded?.(requestPath(req)) === true) return next();
    const a = shedder.tryAcquire(isPriority !== undefined && isPriority(req) === true);
    if (!a.admitted) return shed(res, a);
    // The framework's completion signal; a request whose client went away gives no latency.
    res.once('close', () => shedder.release(a, res.writableFinished ? 'ok' : 'ignore'));
    next();
  };
  return {
    middleware,
    shedder,
    close: () => (given === undefined ? shedder.close() : Promise.resolve()),
  };
}
