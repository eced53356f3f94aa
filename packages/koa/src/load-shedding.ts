import {
  type LoadShedder,
  type LoadSheddingOptions,
  resolveLoadShedding,
} from '@vigil/resilience/load-shedding';
import type { KoaContextLike, KoaMiddleware } from './context.js';
import { koaObserver } from './observe.js';

/** `isPriority` gets Koa's context. */
export type KoaLoadSheddingOptions = LoadSheddingOptions<KoaContextLike>;

export interface KoaLoadShedding {
  /** `app.use(shedding.middleware)`: after the health middleware, before the metrics middleware and every route. */
  readonly middleware: KoaMiddleware;
  readonly shedder: LoadShedder;
  /** Closes the shedder if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Load shedding for Koa in one line: `app.use(createKoaLoadShedding({ metrics }).middleware)`.
 * Over the limit, a request gets 503 with `Retry-After` before any later middleware runs; the
 * probes, `/metrics` and `isPriority` requests are never shed. See `createLoadShedder` for the limit.
 */
export function createKoaLoadShedding(options?: KoaLoadSheddingOptions): KoaLoadShedding {
  const { shedder, owned, exclude, isPriority } = resolveLoadShedding<KoaContextLike>(options);
  return {
    middleware: koaObserver({ exclude, gate: shedder, isPriority }),
    shedder,
    close: () => (owned ? shedder.close() : Promise.resolve()),
  };
}
