import {
  ADAPTER_METRICS_DEFAULTS,
  type AdapterMetricsOptions,
  adapterHandle,
  adaptMetrics,
  type Metrics,
} from '@vigil/metrics';
import type { KoaMiddleware } from './context.js';
import { koaObserver } from './observe.js';

export type KoaMetricsOptions = AdapterMetricsOptions;

export const KOA_METRICS_DEFAULTS = ADAPTER_METRICS_DEFAULTS;

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
  const adapted = adaptMetrics(options);
  const { metrics, log, exclude, includeVigilEndpoints, routeLabel } = adapted;
  const middleware = koaObserver({ http: metrics.http, log, exclude, includeVigilEndpoints, routeLabel });
  const koaHandler: KoaMiddleware = (ctx) => {
    ctx.respond = false;
    metrics.handler(ctx.req, ctx.res);
    return Promise.resolve();
  };
  return adapterHandle<KoaMetrics>(adapted, { middleware, koaHandler });
}
