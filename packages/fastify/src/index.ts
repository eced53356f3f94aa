export type { ExcludeRule } from '@vigil/core';
export { isVigilOptionError, LABEL_VALUES, VigilOptionError } from '@vigil/core';
export type { Metrics, MetricsOptions } from '@vigil/metrics';
export * from './health.js';
export * from './load-shedding.js';
export {
  FASTIFY_METRICS_DEFAULTS,
  type FastifyMetricsOptions,
  type VigilFastifyDecoration,
  vigilMetrics,
  vigilMetrics as default,
} from './metrics.js';
