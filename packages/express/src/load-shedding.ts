import { compileExclude, type ExcludeRule, VigilOptionError } from '@vigil/core';
import {
  createLoadShedder,
  type LoadShedder,
  type LoadShedderOptions,
} from '@vigil/resilience/load-shedding';
import type { Request, RequestHandler } from 'express';
import { expressObserver } from './observe.js';

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
  compileExclude(exclude, false); // a bad rule fails before a shedder is made
  if (isPriority !== undefined && typeof isPriority !== 'function') {
    throw new VigilOptionError('isPriority', 'a function (req) => boolean', isPriority);
  }
  const extra = Object.keys(rest);
  if (given !== undefined && extra.length > 0) {
    throw new VigilOptionError(extra[0] as string, 'no shedder option when `shedder` is given', 'a value');
  }
  const shedder = given ?? createLoadShedder(rest);
  // The limiter's side of the request observer: a rejected request is answered 503 before any
  // handler; an admitted one is released when the request's record completes.
  const { middleware } = expressObserver({ exclude, gate: shedder, isPriority });
  return {
    middleware,
    shedder,
    close: () => (given === undefined ? shedder.close() : Promise.resolve()),
  };
}
