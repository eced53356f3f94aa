export type { ExcludeRule, RequestLogOptions } from '@vigil/core';
export { isVigilOptionError, LABEL_VALUES, VigilOptionError } from '@vigil/core';
export type { Metrics, MetricsOptions } from '@vigil/metrics';
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
