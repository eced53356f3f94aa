import { defineMetric, type MetricDefinition } from './define.js';

// Metrics of the tracing feature (`@vigil/tracing`). They are read at scrape time from the tracing
// pipeline of the process (one per process), by every metrics registry Vigil creates; a process
// without tracing started exposes none of them.

/**
 * Values of the `reason` label of `vigil_tracing_spans_dropped_total`: why an ended, sampled span
 * never reached the collector.
 */
export const SPAN_DROP_REASONS = Object.freeze({
  /** The export queue was full (the collector is slower than the service, or unreachable). */
  queueFull: 'queue_full',
  /** The collector answered an error, timed out or could not be reached. */
  exportFailed: 'export_failed',
  /** Still queued when the flush at shutdown reached its timeout. */
  shutdown: 'shutdown',
  /** The collector took the request but refused these spans (an OTLP partial success). */
  rejected: 'rejected',
});

export const tracingSpansExported = defineMetric({
  name: 'vigil_tracing_spans_exported_total',
  type: 'counter',
  help: 'Sampled spans the collector accepted.',
  unit: 'spans',
  labels: [],
  source: 'vigil',
  group: 'tracing',
});

export const tracingSpansDropped = defineMetric({
  name: 'vigil_tracing_spans_dropped_total',
  type: 'counter',
  help: 'Sampled spans that were never exported, by reason: queue_full, export_failed, shutdown or rejected.',
  unit: 'spans',
  labels: ['reason'],
  source: 'vigil',
  group: 'tracing',
});

export const tracingQueueSize = defineMetric({
  name: 'vigil_tracing_queue_spans',
  type: 'gauge',
  help: 'Ended spans waiting in the export queue (bounded by maxQueueSize).',
  unit: 'spans',
  labels: [],
  source: 'vigil',
  group: 'tracing',
});

/** Every tracing metric, in the order generators list them. */
export const TRACING_METRICS: readonly MetricDefinition[] = Object.freeze([
  tracingSpansExported,
  tracingSpansDropped,
  tracingQueueSize,
]);
