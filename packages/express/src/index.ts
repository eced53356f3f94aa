import type { IncomingMessage, ServerResponse } from 'node:http';
import { LABEL_VALUES } from '@vigil/catalog';
import { createMetrics, type Metrics, type MetricsOptions, VigilOptionError } from '@vigil/metrics';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { prepareRequest, routeTemplate } from './route.js';

export interface ExpressMetricsOptions extends MetricsOptions {
  /** An existing Vigil metrics handle to record into (then the other metric options are ignored). */
  metrics?: Metrics;
  /**
   * Paths (exact `req.path` matches) not recorded, such as probes. Default: `/metrics`.
   * Excluded requests still pass through untouched.
   */
  excludePaths?: readonly string[];
}

export const EXPRESS_METRICS_DEFAULTS = Object.freeze({
  excludePaths: Object.freeze(['/metrics']) as readonly string[],
});

export interface ExpressMetrics {
  /** `app.use(metrics.middleware)`: mount first, before your routes and routers. */
  readonly middleware: RequestHandler;
  /** `app.get('/metrics', metrics.handler)`: Prometheus text, OpenMetrics when negotiated, gzip. */
  readonly handler: RequestHandler;
  /** The underlying metrics handle (registry, DB timing, pg instrumentation, metrics server). */
  readonly metrics: Metrics;
  /** Closes the metrics handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

const START = Symbol('vigil.start');
const RECORDED = Symbol('vigil.recorded');

interface Tracked extends ServerResponse {
  [START]?: number;
  [RECORDED]?: boolean;
  req: IncomingMessage;
}

/**
 * Express 5 metrics in one line: `app.use(createExpressMetrics().middleware)`.
 *
 * Records `http_request_duration_seconds`, `http_requests_total` and `http_requests_in_flight`
 * with the matched route template including mount paths (`/api/v1/items/:id`), a fixed
 * `__unmatched__` for requests no route matched, `_OTHER` for non-standard methods, and `499` for
 * requests the client aborted.
 */
export function createExpressMetrics(options?: ExpressMetricsOptions): ExpressMetrics {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const { metrics: given, excludePaths: ex, ...rest } = options ?? {};
  if (ex !== undefined && (!Array.isArray(ex) || ex.some((p) => typeof p !== 'string'))) {
    throw new VigilOptionError('excludePaths', 'an array of path strings', ex);
  }
  if (given !== undefined && (typeof given !== 'object' || given === null || !given.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', given);
  }
  const metrics = given ?? createMetrics(rest);
  const owned = given === undefined;
  const http = metrics.http;
  const excluded = new Set(ex ?? EXPRESS_METRICS_DEFAULTS.excludePaths);

  // One shared listener (no per-request closure): 'close' fires once per response, after
  // 'finish' when it completed, or on its own when the client went away first.
  function onClose(this: Tracked): void {
    if (this[RECORDED]) return;
    this[RECORDED] = true;
    const req = this.req as Request;
    const start = this[START] as number;
    const route = routeTemplate(req);
    if (this.writableFinished) http.end(req.method, route, this.statusCode, start);
    else http.abort(req.method, route, start);
  }

  let lastProto: object | null = null;
  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (excluded.size > 0 && excluded.has(req.path)) return next();
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== lastProto) {
      lastProto = proto;
      prepareRequest(req);
    }
    const r = res as unknown as Tracked;
    r[START] = http.start();
    res.on('close', onClose);
    next();
  };

  const scrapeHandler = metrics.handler;
  const handler: RequestHandler = (req, res) => scrapeHandler(req, res);

  return {
    middleware,
    handler,
    metrics,
    close: () => (owned ? metrics.close() : Promise.resolve()),
  };
}

export type { Metrics, MetricsOptions };
export { LABEL_VALUES };
