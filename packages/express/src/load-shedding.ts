import {
  type LoadShedder,
  type LoadSheddingOptions,
  resolveLoadShedding,
} from '@vigil/resilience/load-shedding';
import type { Request, RequestHandler } from 'express';
import { expressObserver } from './observe.js';

export type ExpressLoadSheddingOptions = LoadSheddingOptions<Request>;

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
  const { shedder, owned, exclude, isPriority } = resolveLoadShedding<Request>(options);
  // The limiter's side of the request observer: a rejected request is answered 503 before any
  // handler; an admitted one is released when the request's record completes.
  const { middleware } = expressObserver({ exclude, gate: shedder, isPriority });
  return {
    middleware,
    shedder,
    close: () => (owned ? shedder.close() : Promise.resolve()),
  };
}
