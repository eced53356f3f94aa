import type { MetricDefinition } from './define.js';

// Metrics of the health feature are defined here with defineMetric (imported from './define.js').

/** Every health metric, in the order generators list them. */
export const HEALTH_METRICS: readonly MetricDefinition[] = Object.freeze([]);
