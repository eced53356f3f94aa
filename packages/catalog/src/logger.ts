import { defineMetric, type MetricDefinition } from './define.js';

// Metrics of the logging feature (`@vigil/logger`). Its loggers count what they drop in one
// process-wide record (`@vigil/core`'s logger-stats), read at scrape time by every metrics registry
// Vigil creates; a process without a Vigil logger exposes none of them.

/** Values of the `reason` label of `vigil_log_lines_dropped_total`: why a line was never written. */
export const LOG_DROP_REASONS = Object.freeze({
  /** The destination's buffer was full: its reader (a log shipper, a pipe) stopped or is too slow. */
  bufferFull: 'buffer_full',
  /** Writing failed: the reader closed the pipe, the disk is full, the file is gone. */
  writeFailed: 'write_failed',
  /** Still buffered when close() or the exit flush reached its time bound, or logged after close(). */
  shutdown: 'shutdown',
});

export type LogDropReason = (typeof LOG_DROP_REASONS)[keyof typeof LOG_DROP_REASONS];

export const logLinesDropped = defineMetric({
  name: 'vigil_log_lines_dropped_total',
  type: 'counter',
  help: 'Log lines never written, by reason: buffer_full, write_failed or shutdown.',
  unit: 'lines',
  labels: ['reason'],
  source: 'vigil',
  group: 'logging',
});

/** Every logging metric, in the order generators list them. */
export const LOGGING_METRICS: readonly MetricDefinition[] = Object.freeze([logLinesDropped]);
