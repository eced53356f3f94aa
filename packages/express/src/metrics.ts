import {
  checkObject,
  checkStringArray,
  type ExcludeRule,
  type RequestLogOptions,
  requestLogWriter,
  VigilOptionError,
} from '@vigil/core';
import { createMetrics, type Metrics, type MetricsOptions } from '@vigil/metrics';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { expressObserver } from './observe.js';
import { assertSupportedExpress } from './version.js';

export interface ExpressMetricsOptions extends MetricsOptions {
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
  /** @deprecated Use `exclude`. */
  excludePaths?: readonly string[];
  /**
   * A logger from `@vigil/logger`'s `createLogger()`: writes one line per request from the same
   * observer (no second middleware), with `req.log` / `req.id` for your handlers.
   */
  logger?: unknown;
  /** Options of the request line (with `logger`). */
  requestLog?: RequestLogOptions;
}

export const EXPRESS_METRICS_DEFAULTS = Object.freeze({
  exclude: Object.freeze([]) as readonly ExcludeRule[],
  includeVigilEndpoints: false,
});

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
  const o = checkObject('options', options) as ExpressMetricsOptions;
  const { metrics: given, exclude, includeVigilEndpoints, excludePaths, logger, requestLog, ...rest } = o;
  if (given !== undefined && (typeof given !== 'object' || given === null || !given.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', given);
  }
  if (excludePaths !== undefined && exclude !== undefined) {
    throw new VigilOptionError(
      'excludePaths',
      'only one of exclude and excludePaths (excludePaths is deprecated)',
      excludePaths,
    );
  }
  checkStringArray('excludePaths', excludePaths, 'an array of path strings');
  const log = logger === undefined ? undefined : requestLogWriter(logger, requestLog);
  const metrics = given ?? createMetrics(rest);
  const owned = given === undefined;
  const parts = expressObserver({
    http: metrics.http,
    log,
    exclude: exclude ?? excludePaths,
    includeVigilEndpoints,
  });
  // Inherits the metrics handle's methods, adds the adapter's own.
  return Object.create(metrics, {
    middleware: { value: parts.middleware, enumerable: true },
    errorHandler: { value: parts.errorHandler, enumerable: true },
    metrics: { value: metrics },
    close: { value: () => (owned ? metrics.close() : Promise.resolve()), enumerable: true },
  }) as ExpressMetrics;
}
