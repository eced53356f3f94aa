import type { MetricDefinition } from './define.js';

// Metrics of the resilience feature are defined here with defineMetric (imported from './define.js').

/** Every resilience metric, in the order generators list them. */
export const RESILIENCE_METRICS: readonly MetricDefinition[] = Object.freeze([]);
