import { httpRequestDuration, httpRequestsInFlight, httpRequestsTotal, LABEL_VALUES } from '@vigil/catalog';
import type { HttpRecorder, TraceIds } from '@vigil/core';
import { boundLabel, normalizeMethod, statusClass, statusLabel } from '@vigil/core';
import type { Registry } from 'prom-client';
import { FunctionGauge, register, StoreCountCounter, StoreHistogram } from './internal/collectors.js';
import { type Series, SeriesStore } from './internal/series-store.js';

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

export interface HttpMetricsInternalOptions {
  readonly registry: Registry;
  readonly prefix: string;
  readonly buckets: readonly number[];
  readonly maxSeries: number;
  readonly onOverflow: (metric: string) => void;
}

export function createHttpMetrics(o: HttpMetricsInternalOptions): HttpMetrics {
  const durationName = o.prefix + httpRequestDuration.name;
  const totalName = o.prefix + httpRequestsTotal.name;
  // Store label order: route first (the one the cap replaces), method, status code last.
  const store = new SeriesStore({
    buckets: o.buckets,
    labelNames: ['route', 'method', 'status_code'],
    maxSeries: o.maxSeries,
    overflowValue: LABEL_VALUES.overflowRoute,
    overflowThird: statusClass,
    onOverflow: () => o.onOverflow(durationName),
  });
  let inFlight = 0;
  register(o.registry, new StoreHistogram(durationName, httpRequestDuration.help, store));
  register(o.registry, new StoreCountCounter(totalName, httpRequestsTotal.help, store, durationName));
  register(
    o.registry,
    new FunctionGauge(o.prefix + httpRequestsInFlight.name, httpRequestsInFlight.help, () => inFlight),
  );

  return {
    enter() {
      inFlight++;
    },
    leave() {
      inFlight--;
    },
    record(method, route, status, seconds, exemplar) {
      inFlight--;
      const s = store.observe(
        boundLabel(route),
        normalizeMethod(method),
        status === undefined ? LABEL_VALUES.abortedStatus : statusLabel(status),
        seconds,
      );
      if (exemplar !== undefined) store.setExemplar(s, seconds, exemplar.traceId, exemplar.spanId);
    },
    start() {
      inFlight++;
      return performance.now();
    },
    end(method, route, statusCode, startMs, exemplar) {
      inFlight--;
      const seconds = (performance.now() - startMs) / 1000;
      const s = store.observe(boundLabel(route), normalizeMethod(method), statusLabel(statusCode), seconds);
      if (exemplar !== undefined) store.setExemplar(s, seconds, exemplar.traceId, exemplar.spanId);
      return s;
    },
    abort(method, route, startMs, exemplar) {
      inFlight--;
      const seconds = (performance.now() - startMs) / 1000;
      const s = store.observe(
        boundLabel(route),
        normalizeMethod(method),
        LABEL_VALUES.abortedStatus,
        seconds,
      );
      if (exemplar !== undefined) store.setExemplar(s, seconds, exemplar.traceId, exemplar.spanId);
      return s;
    },
    get inFlight() {
      return inFlight;
    },
    get seriesCount() {
      return store.size;
    },
  };
}
