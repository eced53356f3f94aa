/**
 * The metric catalog: every metric Vigil emits, described once.
 *
 * Middleware builds its instruments from these definitions, and the dashboards and alert rules are
 * generated from them, so a name, label or bucket boundary changes in exactly one place.
 */

import { LABEL_VALUES } from '@vigil/core';
import { defineMetric, type MetricDefinition, type MetricType } from './define.js';

/**
 * Fixed label values that stand in for unbounded or unknown input (`__unmatched__`, `_OTHER`,
 * `499`, ...). Dashboards and alert rules match on these, so they are part of the public contract;
 * they are defined in @vigil/core, next to the normalisers that produce them.
 */
export { LABEL_VALUES } from '@vigil/core';
export type { MetricDefinition, MetricSource, MetricType, SemconvName } from './define.js';
export { defineMetric } from './define.js';

/** Request-duration buckets (seconds): 5 ms to 10 s, 11 boundaries (prom-client's defaults). */
export const HTTP_DURATION_BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** Query-duration buckets (seconds): 1 ms to 10 s; queries are usually faster than requests. */
export const DB_DURATION_BUCKETS = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

// ---------------------------------------------------------------------------------------------
// HTTP server (RED)
// ---------------------------------------------------------------------------------------------

export const httpRequestDuration = defineMetric({
  name: 'http_request_duration_seconds',
  type: 'histogram',
  help: 'Duration of HTTP requests served, from arrival to the last byte of the response.',
  unit: 'seconds',
  labels: ['route', 'method', 'status_code'],
  buckets: HTTP_DURATION_BUCKETS,
  source: 'vigil',
  group: 'http',
  semconv: {
    name: 'http.server.request.duration',
    unit: 's',
    attributes: {
      route: 'http.route',
      method: 'http.request.method',
      status_code: 'http.response.status_code',
    },
  },
});

export const httpRequestsTotal = defineMetric({
  name: 'http_requests_total',
  type: 'counter',
  help: 'HTTP requests served, by method, route template and status code.',
  unit: 'requests',
  labels: ['route', 'method', 'status_code'],
  source: 'vigil',
  group: 'http',
  // The count of http.server.request.duration.
  semconv: false,
});

/** Replaces the reference guide's `active_connections`, which counted requests, not connections. */
export const httpRequestsInFlight = defineMetric({
  name: 'http_requests_in_flight',
  type: 'gauge',
  help: 'HTTP requests currently being served (replaces active_connections).',
  unit: 'requests',
  labels: [],
  source: 'vigil',
  group: 'http',
  semconv: { name: 'http.server.active_requests', unit: '{request}', attributes: {} },
});

// ---------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------

export const dbQueryDuration = defineMetric({
  name: 'database_query_duration_seconds',
  type: 'histogram',
  help: 'Duration of database queries, by operation, table, outcome and database system.',
  unit: 'seconds',
  // `system` last: series written before it existed keep their label order.
  labels: ['table', 'operation', 'outcome', 'system'],
  labelValues: { outcome: [LABEL_VALUES.success, LABEL_VALUES.error] },
  buckets: DB_DURATION_BUCKETS,
  source: 'vigil',
  group: 'database',
  semconv: {
    name: 'db.client.operation.duration',
    unit: 's',
    attributes: { table: 'db.collection.name', operation: 'db.operation.name', system: 'db.system.name' },
  },
});

/** Values of the `state` label of `database_pool_connections`. */
export const POOL_CONNECTION_STATES = Object.freeze({ idle: 'idle', used: 'used' } as const);

export const dbPoolConnections = defineMetric({
  name: 'database_pool_connections',
  type: 'gauge',
  help: 'Connections of a database client pool, by pool, database system and state (idle or used).',
  unit: 'connections',
  labels: ['pool', 'system', 'state'],
  labelValues: { state: [POOL_CONNECTION_STATES.idle, POOL_CONNECTION_STATES.used] },
  source: 'vigil',
  group: 'database',
});

export const dbPoolWaiting = defineMetric({
  name: 'database_pool_waiting_requests',
  type: 'gauge',
  help: 'Requests waiting for a free connection of a database client pool (the pool is exhausted while above 0).',
  unit: 'requests',
  labels: ['pool', 'system'],
  source: 'vigil',
  group: 'database',
});

// ---------------------------------------------------------------------------------------------
// Runtime (Vigil's additions to prom-client's defaults)
// ---------------------------------------------------------------------------------------------

export const eventLoopUtilization = defineMetric({
  name: 'nodejs_eventloop_utilization_ratio',
  type: 'gauge',
  help: 'Share of time the event loop was busy since the previous scrape (0 to 1).',
  unit: 'ratio',
  labels: [],
  source: 'vigil',
  group: 'runtime',
});

/** prom-client's `nodejs_heap_size_total_bytes` is the heap V8 has committed so far, not how far it may grow. */
export const heapSizeLimitBytes = defineMetric({
  name: 'nodejs_heap_size_limit_bytes',
  type: 'gauge',
  help: "V8's heap size limit in bytes (--max-old-space-size, or V8's default for the machine).",
  unit: 'bytes',
  labels: [],
  source: 'vigil',
  group: 'runtime',
});

/** Absent where the process has no memory limit of its own (no cgroup limit, or one above the machine's memory). */
export const processMemoryLimitBytes = defineMetric({
  name: 'nodejs_process_memory_limit_bytes',
  type: 'gauge',
  help: 'Memory the process may use under the limits of its container (cgroup) in bytes.',
  unit: 'bytes',
  labels: [],
  source: 'vigil',
  group: 'runtime',
});

/**
 * One series per process, value 1: the dashboards' deploy annotations mark where its labels change.
 * The values come from the build (`createMetrics({ buildInfo })` or its environment variables).
 */
export const buildInfo = defineMetric({
  name: 'vigil_build_info',
  type: 'gauge',
  help: 'Version and commit of the running build (value 1); a change of its labels is a deploy.',
  unit: 'info',
  labels: ['version', 'commit'],
  source: 'vigil',
  group: 'runtime',
});

// ---------------------------------------------------------------------------------------------
// Vigil internals
// ---------------------------------------------------------------------------------------------

export const seriesOverflowTotal = defineMetric({
  name: 'vigil_metrics_series_overflow_total',
  type: 'counter',
  help: 'Observations recorded under the overflow label set because a metric reached its series cap.',
  unit: 'observations',
  labels: ['metric'],
  source: 'vigil',
  group: 'internal',
});

// ---------------------------------------------------------------------------------------------
// prom-client's default Node.js metrics that Vigil's dashboards and alerts rely on
// (collected when runtime metrics are on; listed so generators can check names).
// ---------------------------------------------------------------------------------------------

const promClient = <const L extends readonly string[]>(
  name: string,
  type: MetricType,
  unit: string,
  help: string,
  labels: L,
  buckets?: readonly number[],
) =>
  defineMetric({
    name,
    type,
    unit,
    help,
    labels,
    source: 'prom-client',
    group: 'runtime',
    ...(buckets ? { buckets } : {}),
  });

export const processCpuSecondsTotal = promClient(
  'process_cpu_seconds_total',
  'counter',
  'seconds',
  'Total user and system CPU time spent in seconds.',
  [],
);
export const processResidentMemoryBytes = promClient(
  'process_resident_memory_bytes',
  'gauge',
  'bytes',
  'Resident memory size in bytes.',
  [],
);
export const processStartTimeSeconds = promClient(
  'process_start_time_seconds',
  'gauge',
  'seconds',
  'Start time of the process since unix epoch in seconds.',
  [],
);
export const eventLoopLagP99 = promClient(
  'nodejs_eventloop_lag_p99_seconds',
  'gauge',
  'seconds',
  'The 99th percentile of the recorded event loop delays.',
  [],
);
export const heapSizeUsedBytes = promClient(
  'nodejs_heap_size_used_bytes',
  'gauge',
  'bytes',
  'Process heap size used from Node.js in bytes.',
  [],
);
export const heapSizeTotalBytes = promClient(
  'nodejs_heap_size_total_bytes',
  'gauge',
  'bytes',
  'Process heap size from Node.js in bytes.',
  [],
);
export const heapSpaceSizeAvailableBytes = promClient(
  'nodejs_heap_space_size_available_bytes',
  'gauge',
  'bytes',
  'Process heap space size available from Node.js in bytes.',
  ['space'],
);
export const gcDuration = promClient(
  'nodejs_gc_duration_seconds',
  'histogram',
  'seconds',
  'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
  ['kind'],
  [0.001, 0.01, 0.1, 1, 2, 5],
);
export const activeHandles = promClient(
  'nodejs_active_handles_total',
  'gauge',
  'handles',
  'Number of active libuv handles grouped by handle type.',
  [],
);
export const nodejsVersionInfo = promClient('nodejs_version_info', 'gauge', 'info', 'Node.js version info.', [
  'version',
  'major',
  'minor',
  'patch',
]);

import { HEALTH_METRICS } from './health.js';
import { LOGGING_METRICS } from './logger.js';
import { MESSAGING_METRICS } from './messaging.js';
import { RESILIENCE_METRICS } from './resilience.js';
import { TRACING_METRICS } from './tracing.js';

export * from './health.js';
export * from './logger.js';
export * from './messaging.js';
export * from './resilience.js';
export * from './slo.js';
export * from './tracing.js';

/** Every metric Vigil emits or relies on, in one list (generators iterate over this). */
export const CATALOG: readonly MetricDefinition[] = Object.freeze([
  ...HEALTH_METRICS,
  ...RESILIENCE_METRICS,
  ...TRACING_METRICS,
  ...LOGGING_METRICS,
  httpRequestDuration,
  httpRequestsTotal,
  httpRequestsInFlight,
  dbQueryDuration,
  dbPoolConnections,
  dbPoolWaiting,
  ...MESSAGING_METRICS,
  eventLoopUtilization,
  heapSizeLimitBytes,
  processMemoryLimitBytes,
  buildInfo,
  seriesOverflowTotal,
  processCpuSecondsTotal,
  processResidentMemoryBytes,
  processStartTimeSeconds,
  eventLoopLagP99,
  heapSizeUsedBytes,
  heapSizeTotalBytes,
  heapSpaceSizeAvailableBytes,
  gcDuration,
  activeHandles,
  nodejsVersionInfo,
]);

/** Look up a catalog entry by name. */
export function getMetric(name: string): MetricDefinition | undefined {
  return CATALOG.find((m) => m.name === name);
}
