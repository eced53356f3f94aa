import { dbQueryDuration, LABEL_VALUES } from '@vigil/catalog';
import { boundLabel, getTracingHook, type TraceIds } from '@vigil/core';
import type { Registry } from 'prom-client';
import { register, StoreHistogram } from './internal/collectors.js';
import { type Series, SeriesStore } from './internal/series-store.js';

export type QueryOutcome = 'success' | 'error';

export interface DbMetrics {
  /**
   * Record one query (seconds). `operation` and `table` must be bounded values, never raw SQL.
   * `exemplar`: the trace of the query's sampled span, shown with the bucket in OpenMetrics.
   */
  observe(
    operation: string,
    table: string,
    outcome: QueryOutcome,
    seconds: number,
    exemplar?: TraceIds | undefined,
  ): Series;
  /** Label sets currently held. */
  readonly seriesCount: number;
}

export interface DbMetricsInternalOptions {
  readonly registry: Registry;
  readonly prefix: string;
  readonly buckets: readonly number[];
  readonly maxSeries: number;
  readonly onOverflow: (metric: string) => void;
}

export function createDbMetrics(o: DbMetricsInternalOptions): DbMetrics {
  const name = o.prefix + dbQueryDuration.name;
  const store = new SeriesStore({
    buckets: o.buckets,
    labelNames: ['table', 'operation', 'outcome'],
    maxSeries: o.maxSeries,
    overflowValue: LABEL_VALUES.overflowRoute,
    overflowThird: (v) => v,
    onOverflow: () => o.onOverflow(name),
  });
  register(o.registry, new StoreHistogram(name, dbQueryDuration.help, store));
  return {
    observe(operation, table, outcome, seconds, exemplar) {
      const s = store.observe(boundLabel(table), boundLabel(operation), outcome, seconds);
      if (exemplar !== undefined) store.setExemplar(s, seconds, exemplar.traceId, exemplar.spanId);
      return s;
    },
    get seriesCount() {
      return store.size;
    },
  };
}

/**
 * Time an async database call (the reference guide's `trackDatabaseQuery`): records
 * `database_query_duration_seconds{operation, table, outcome}` whether it resolves or throws,
 * and passes the result or error through unchanged. With tracing started, the call is also a
 * database client span under the active span.
 */
export async function trackQuery<T>(
  db: DbMetrics,
  operation: string,
  table: string,
  fn: () => Promise<T> | T,
): Promise<T> {
  const hook = getTracingHook();
  const span = hook?.startDb({ system: 'other_sql', operation, table });
  const start = performance.now();
  try {
    const result = await fn();
    if (span !== undefined) hook?.endDb(span, undefined);
    db.observe(operation, table, 'success', (performance.now() - start) / 1000, span?.exemplar);
    return result;
  } catch (err) {
    if (span !== undefined) hook?.endDb(span, err ?? new Error('query failed'));
    db.observe(operation, table, 'error', (performance.now() - start) / 1000, span?.exemplar);
    throw err;
  }
}
