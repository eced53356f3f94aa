import type { IncomingMessage } from 'node:http';
import { httpRequestDuration, httpRequestsInFlight, httpRequestsTotal } from '@vigil/catalog';
import {
  boundLabel,
  type HttpRecorder,
  LABEL_VALUES,
  normalizeMethod,
  statusClass,
  statusLabel,
  type TraceIds,
  userRoute,
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
    req?: IncomingMessage,
  ): Series;
  /** Records an aborted request (client went away before the response completed). */
  abort(
    method: string | undefined,
    route: string,
    startMs: number,
    exemplar?: TraceIds | undefined,
    req?: IncomingMessage,
  ): Series;
  /** Requests currently in flight. */
  readonly inFlight: number;
  /** Label sets currently held (including overflow sets). */
  readonly seriesCount: number;
}

/** A declared label of the HTTP metrics (`httpLabels`): its name, its values, where it comes from. */
export interface HttpLabel {
  readonly name: string;
  readonly values: ReadonlySet<string>;
  readonly from: (req: IncomingMessage) => unknown;
}

/**
 * Past the series cap a request keeps its method, status class and declared labels (bounded by
 * their declaration); the route becomes `__overflow__`.
 */
const overflow = (v: readonly string[]) =>
  v.length === 3
    ? [LABEL_VALUES.overflowRoute, v[1] as string, statusClass(v[2] as string)]
    : [LABEL_VALUES.overflowRoute, v[1] as string, statusClass(v[2] as string), ...v.slice(3)];

/** A declared label's value for `req`: one of its values, else `_OTHER` (also without a request). */
function labelValue(l: HttpLabel, req: IncomingMessage | undefined): string {
  if (req === undefined) return LABEL_VALUES.otherValue;
  const v = userRoute(l.from, req);
  return v !== undefined && l.values.has(v) ? v : LABEL_VALUES.otherValue;
}

export function createHttpMetrics(ins: InstrumentsInternal, labels: readonly HttpLabel[] = []): HttpMetrics {
  const duration = ins.instrument(httpRequestDuration, {
    overflow,
    extraLabels: labels.length === 0 ? undefined : labels.map((l) => l.name),
  }) as unknown as HistogramFamily;
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
    req: IncomingMessage | undefined,
  ): Series => {
    const s =
      labels.length === 0
        ? store.get3(boundLabel(route), normalizeMethod(method), status)
        : store.get([
            boundLabel(route),
            normalizeMethod(method),
            status,
            ...labels.map((l) => labelValue(l, req)),
          ]);
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
    record(method, route, status, seconds, exemplar, req) {
      inFlight--;
      observe(
        route,
        method,
        status === undefined ? LABEL_VALUES.abortedStatus : statusLabel(status),
        seconds,
        exemplar,
        req,
      );
    },
    start() {
      inFlight++;
      return performance.now();
    },
    end(method, route, statusCode, startMs, exemplar, req) {
      inFlight--;
      return observe(
        route,
        method,
        statusLabel(statusCode),
        (performance.now() - startMs) / 1000,
        exemplar,
        req,
      );
    },
    abort(method, route, startMs, exemplar, req) {
      inFlight--;
      return observe(
        route,
        method,
        LABEL_VALUES.abortedStatus,
        (performance.now() - startMs) / 1000,
        exemplar,
        req,
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
