import { httpRequestDuration, httpRequestsInFlight, httpRequestsTotal } from '@vigil/catalog';
import {
  boundLabel,
  type HttpRecorder,
  LABEL_VALUES,
  normalizeMethod,
  statusClass,
  statusLabel,
  type TraceIds,
} from '@vigil/core';
import type { InstrumentsInternal } from './instruments.js';
import type { HistogramFamily } from './internal/families.js';
import type { Series } from './internal/store.js';

/**
 * HTTP RED metrics, framework-agnostic. The request observer of @vigil/core calls `enter()` when a
 * request arrives and `record()` once when it completes or is aborted; `start()` / `end()` /
 * `abort()` do the same for code that times requests itself.
 */
export interface HttpMetrics extends HttpRecorder {
  /** Marks a request in flight; returns the start time (`performance.now()`, ms). */
  start(): number;
  /**
   * Records a finished request. `route` must be a template (or one of the fixed values in
   * `LABEL_VALUES`), never a raw URL. Returns the series, for exemplars.
   */
  end(
    method: string | undefined,
    route: string,
    statusCode: number,
    startMs: number,
    exemplar?: TraceIds | undefined,
  ): Series;
  /** Records an aborted request (client went away before the response completed). */
  abort(method: string | undefined, route: string, startMs: number, exemplar?: TraceIds | undefined): Series;
  /** Requests currently in flight. */
  readonly inFlight: number;
  /** Label sets currently held (including overflow sets). */
  readonly seriesCount: number;
}

/** Past the series cap a request keeps its method and status class; the route becomes `__overflow__`. */
const overflow = (v: readonly string[]) => [
  LABEL_VALUES.overflowRoute,
  v[1] as string,
  statusClass(v[2] as string),
];

export function createHttpMetrics(ins: InstrumentsInternal): HttpMetrics {
  const duration = ins.instrument(httpRequestDuration, { overflow }) as unknown as HistogramFamily;
  ins.countView(httpRequestsTotal, duration);
  let inFlight = 0;
  const gauge = ins.instrument(httpRequestsInFlight).labels();
  ins.instrument(httpRequestsInFlight).collect(() => gauge.set(inFlight));
  const store = duration.store;

  const observe = (
    route: string,
    method: string | undefined,
    status: string,
    seconds: number,
    exemplar: TraceIds | undefined,
  ): Series => {
    const s = store.get3(boundLabel(route), normalizeMethod(method), status);
    duration.observeSeries(s, seconds, exemplar);
    return s;
  };

  return {
    enter() {
      inFlight++;
    },
    leave() {
      inFlight--;
    },
    record(method, route, status, seconds, exemplar) {
      inFlight--;
      observe(
        route,
        method,
        status === undefined ? LABEL_VALUES.abortedStatus : statusLabel(status),
        seconds,
        exemplar,
      );
    },
    start() {
      inFlight++;
      return performance.now();
    },
    end(method, route, statusCode, startMs, exemplar) {
      inFlight--;
      return observe(route, method, statusLabel(statusCode), (performance.now() - startMs) / 1000, exemplar);
    },
    abort(method, route, startMs, exemplar) {
      inFlight--;
      return observe(
        route,
        method,
        LABEL_VALUES.abortedStatus,
        (performance.now() - startMs) / 1000,
        exemplar,
      );
    },
    get inFlight() {
      return inFlight;
    },
    get seriesCount() {
      return store.size;
    },
  };
}
