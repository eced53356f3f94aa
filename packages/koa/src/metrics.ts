import {
  checkObject,
  type ExcludeRule,
  type RequestLogOptions,
  requestLogWriter,
  VigilOptionError,
} from '@vigil/core';
import { createMetrics, type Metrics, type MetricsOptions } from '@vigil/metrics';
import type { KoaMiddleware } from './context.js';
import { koaObserver } from './observe.js';

export interface KoaMetricsOptions extends MetricsOptions {
  /** An existing Vigil metrics handle to record into (then the other metric options are ignored). */
  metrics?: Metrics;
  /**
   * Paths not recorded: exact (`/internal/ping`), prefixes (`/static/*`), RegExps or predicates on
   * the URL's path. Vigil's own endpoints (`/metrics`, the probes) are never recorded, whatever
   * this list says, unless `includeVigilEndpoints` is true.
   */
  exclude?: readonly ExcludeRule[];
  /** Record Vigil's own endpoints like any other route. Default false. */
  includeVigilEndpoints?: boolean;
  /**
   * A logger from `@vigil/logger`'s `createLogger()`: writes one line per request from the same
   * observer (no second middleware).
   */
  logger?: unknown;
  /** Options of the request line (with `logger`). */
  requestLog?: RequestLogOptions;
}

export const KOA_METRICS_DEFAULTS = Object.freeze({
  exclude: Object.freeze([]) as readonly ExcludeRule[],
  includeVigilEndpoints: false,
});

/** The Koa adapter's handle: the metrics handle, plus the middleware to mount. */
export interface KoaMetrics extends Metrics {
  /** `app.use(metrics.middleware)`: first, before your routers. */
  readonly middleware: KoaMiddleware;
  /** `router.get('/metrics', metrics.koaHandler)`: the scrape endpoint as a Koa middleware. */
  readonly koaHandler: KoaMiddleware;
  /** Closes the metrics handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Koa metrics (and, with `logger`, the request line) in one line:
 * `app.use(createKoaMetrics().middleware)`.
 *
 * Records `http_request_duration_seconds`, `http_requests_total` and `http_requests_in_flight`
 * with `@koa/router`'s matched template including router prefixes (`/api/v1/items/:id`),
 * `__unmatched__` for requests no route matched, `_OTHER` for non-standard methods and `499` for
 * requests the client aborted; a server span per request while `@vigil/tracing` runs.
 */
export function createKoaMetrics(options?: KoaMetricsOptions): KoaMetrics {
  const o = checkObject('options', options) as KoaMetricsOptions;
  const { metrics: given, exclude, includeVigilEndpoints, logger, requestLog, ...rest } = o;
  if (given !== undefined && (typeof given !== 'object' || given === null || !given.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', given);
  }
  const log = logger === undefined ? undefined : requestLogWriter(logger, requestLog);
  const metrics = given ?? createMetrics(rest);
  const owned = given === undefined;
  const middleware = koaObserver({ http: metrics.http, log, exclude, includeVigilEndpoints });
  const koaHandler: KoaMiddleware = (ctx) => {
    ctx.respond = false;
    metrics.handler(ctx.req, ctx.res);
    return Promise.resolve();
  };
  // Inherits the metrics handle's methods, adds the adapter's own.
  return Object.create(metrics, {
    middleware: { value: middleware, enumerable: true },
    koaHandler: { value: koaHandler, enumerable: true },
    close: { value: () => (owned ? metrics.close() : Promise.resolve()), enumerable: true },
  }) as KoaMetrics;
}
