export type { ExcludeRule } from '@vigil/core';
export { isVigilOptionError, LABEL_VALUES, VigilOptionError } from '@vigil/core';
// The adapter carries the core packages it adapts: one import for the one-liners. These stay in the
// entry module: esbuild's ESM output drops an `export *` of an external made in a nested module.
export * from '@vigil/health';
export type { Metrics, MetricsOptions } from '@vigil/metrics';
export * from '@vigil/shutdown';
export * from './health.js';
export * from './load-shedding.js';
export {
  FASTIFY_METRICS_DEFAULTS,
  type FastifyMetricsOptions,
  recordError,
  type VigilFastifyDecoration,
  vigilMetrics,
  vigilMetrics as default,
} from './metrics.js';
