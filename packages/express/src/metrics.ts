import { checkObject, checkStringArray, VigilOptionError } from '@vigil/core';
import {
  ADAPTER_METRICS_DEFAULTS,
  type AdapterMetricsOptions,
  adapterHandle,
  adaptMetrics,
  type Metrics,
} from '@vigil/metrics';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { expressObserver } from './observe.js';
import { assertSupportedExpress } from './version.js';

export interface ExpressMetricsOptions extends AdapterMetricsOptions {
  /** @deprecated Use `exclude`. */
  excludePaths?: readonly string[];
}

export const EXPRESS_METRICS_DEFAULTS = ADAPTER_METRICS_DEFAULTS;

/** The Express adapter's handle: the metrics handle, plus the middleware to mount. */
export interface ExpressMetrics extends Metrics {
  /** `app.use(metrics.middleware)`: mount first, before your routes and routers. */
  readonly middleware: RequestHandler;
  /**
   * `app.use(metrics.errorHandler)` after your routes: a handler's thrown error becomes an
   * `exception` event on the request's span (with @vigil/tracing started) and the `err` of its
   * request line, then goes on (`next(err)`) unchanged; statuses are recorded either way.
   */
  readonly errorHandler: ErrorRequestHandler;
  /** @deprecated The handle itself is the metrics handle (`metrics.registry`, `metrics.instrumentPg`). */
  readonly metrics: Metrics;
  /** Closes the metrics handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Express metrics (and, with `logger`, the request line) in one line:
 * `app.use(createExpressMetrics().middleware)`. Throws a `VigilOptionError` (`option: 'express'`)
 * when the `express` it resolves is not Express 5.
 *
 * Records `http_request_duration_seconds`, `http_requests_total` and `http_requests_in_flight`
 * with the matched route template including mount paths (`/api/v1/items/:id`), a fixed
 * `__unmatched__` for requests no route matched, `_OTHER` for non-standard methods, and `499` for
 * requests the client aborted.
 */
export function createExpressMetrics(options?: ExpressMetricsOptions): ExpressMetrics {
  assertSupportedExpress();
  const excludePaths = checkObject('options', options).excludePaths;
  if (excludePaths !== undefined && (options as ExpressMetricsOptions).exclude !== undefined) {
    throw new VigilOptionError(
      'excludePaths',
      'only one of exclude and excludePaths (excludePaths is deprecated)',
      excludePaths,
    );
  }
  checkStringArray('excludePaths', excludePaths, 'an array of path strings');
  const adapted = adaptMetrics<Pick<ExpressMetricsOptions, 'excludePaths'>>(options, ['excludePaths']);
  const { metrics, log, exclude, includeVigilEndpoints, routeLabel } = adapted;
  const parts = expressObserver({
    http: metrics.http,
    log,
    exclude: exclude ?? (excludePaths as readonly string[] | undefined),
    includeVigilEndpoints,
    routeLabel,
  });
  const handle = adapterHandle<ExpressMetrics>(adapted, {
    middleware: parts.middleware,
    errorHandler: parts.errorHandler,
  });
  // The deprecated `metrics.metrics`, not enumerable as before.
  return Object.defineProperty(handle, 'metrics', { value: metrics });
}
