import { dbQueryDuration } from '@vigil/catalog';
import { boundLabel, getTracingHook, LABEL_VALUES, type TraceIds } from '@vigil/core';
import type { InstrumentsInternal } from './instruments.js';
import type { HistogramFamily } from './internal/families.js';
import type { Series } from './internal/store.js';

export type QueryOutcome = 'success' | 'error';

export interface DbMetrics {
  /**
   * Record one query (seconds). `operation` and `table` must be bounded values, never raw SQL.
   * `exemplar`: the trace of the query's sampled span, shown with the bucket in OpenMetrics.
   * `system`: the database system (`postgresql`, `mysql`, `redis`, ...); default `other_sql`.
   */
  observe(
    operation: string,
    table: string,
    outcome: QueryOutcome,
    seconds: number,
    exemplar?: TraceIds | undefined,
    system?: string,
  ): Series;
  /** Label sets currently held. */
  readonly seriesCount: number;
}

/** `system` of queries timed without one (`trackDatabaseQuery`): OpenTelemetry's value for SQL of unknown kind. */
export const OTHER_DB_SYSTEM = 'other_sql';

/** Past the series cap a query keeps its operation, outcome and system; the table becomes `__overflow__`. */
const overflow = (v: readonly string[]) => [
  LABEL_VALUES.overflowRoute,
  v[1] as string,
  v[2] as string,
  v[3] as string,
];

export function createDbMetrics(ins: InstrumentsInternal): DbMetrics {
  const family = ins.instrument(dbQueryDuration, { overflow }) as unknown as HistogramFamily;
  const store = family.store;
  return {
    observe(operation, table, outcome, seconds, exemplar, system = OTHER_DB_SYSTEM) {
      const s = store.get4(boundLabel(table), boundLabel(operation), outcome, system);
      family.observeSeries(s, seconds, exemplar);
      return s;
    },
    get seriesCount() {
      return store.size;
    },
  };
}

/**
 * Time an async database call (the reference guide's `trackDatabaseQuery`): records
 * `database_query_duration_seconds{operation, table, outcome, system="other_sql"}` whether it resolves or throws,
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
  const span = hook?.startDb({ system: OTHER_DB_SYSTEM, operation, table });
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
