import { defineMetric, type MetricDefinition } from './define.js';

// Metrics of the health feature (`@vigil/health`). Check results are recorded when a check run
// completes; the probe status gauge is computed at scrape time from the last known results, so a
// scrape never runs a check.

/**
 * Encoding of `vigil_health_check_status` and `vigil_health_status`: one gauge value per status of
 * the IETF health-check draft, so `min by (check)` finds the worst and `== 0` selects failures.
 */
export const HEALTH_STATUS_VALUES = Object.freeze({ pass: 1, warn: 0.5, fail: 0 });

/** Check-duration buckets (seconds): 1 ms to 5 s; readiness answers should stay under 1 s. */
export const HEALTH_CHECK_DURATION_BUCKETS = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

export const healthCheckStatus = defineMetric({
  name: 'vigil_health_check_status',
  type: 'gauge',
  help: 'Result of the last run of a health check: 1 pass, 0.5 warn, 0 fail (timeouts are fail).',
  unit: 'status',
  labels: ['check'],
  source: 'vigil',
  group: 'health',
});

export const healthCheckDuration = defineMetric({
  name: 'vigil_health_check_duration_seconds',
  type: 'histogram',
  help: 'Duration of health check runs, by check (a run cut at its timeout records the timeout).',
  unit: 'seconds',
  labels: ['check'],
  buckets: HEALTH_CHECK_DURATION_BUCKETS,
  source: 'vigil',
  group: 'health',
});

export const healthStatus = defineMetric({
  name: 'vigil_health_status',
  type: 'gauge',
  help: 'Current answer of each probe from the last known check results: 1 pass, 0.5 warn, 0 fail.',
  unit: 'status',
  labels: ['probe'],
  source: 'vigil',
  group: 'health',
});

/** Every health metric, in the order generators list them. */
export const HEALTH_METRICS: readonly MetricDefinition[] = Object.freeze([
  healthCheckStatus,
  healthCheckDuration,
  healthStatus,
]);
