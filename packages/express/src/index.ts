export type { ExcludeRule, RequestLogOptions } from '@vigil/core';
export { isVigilOptionError, LABEL_VALUES, VigilOptionError } from '@vigil/core';
// The adapter carries the core packages it adapts: one import for the one-liners. These stay in the
// entry module: esbuild's ESM output drops an `export *` of an external made in a nested module.
export * from '@vigil/health';
export type { Metrics, MetricsOptions } from '@vigil/metrics';
export * from '@vigil/shutdown';
export * from './health.js';
export * from './load-shedding.js';
export {
  createExpressMetrics,
  EXPRESS_METRICS_DEFAULTS,
  type ExpressMetrics,
  type ExpressMetricsOptions,
} from './metrics.js';
export { errorHandler } from './observe.js';
export {
  createExpressRequestLogger,
  type ExpressRequestLogger,
  type ExpressRequestLoggerOptions,
  type RequestLog,
  requestId,
  requestLog,
} from './request-log.js';
