export type { ExcludeRule, RequestLogOptions } from '@vigil/core';
export { isVigilOptionError, LABEL_VALUES, VigilOptionError } from '@vigil/core';
// The adapter carries the core packages it adapts: one import for the one-liners. These stay in the
// entry module: esbuild's ESM output drops an `export *` of an external made in a nested module.
export * from '@vigil/health';
export type { Metrics, MetricsOptions } from '@vigil/metrics';
export * from '@vigil/shutdown';
export type { KoaContextLike, KoaMiddleware } from './context.js';
export { createKoaHealth, KOA_HEALTH_DEFAULTS, type KoaHealth, type KoaHealthOptions } from './health.js';
export { createKoaLoadShedding, type KoaLoadShedding, type KoaLoadSheddingOptions } from './load-shedding.js';
export {
  createKoaMetrics,
  KOA_METRICS_DEFAULTS,
  type KoaMetrics,
  type KoaMetricsOptions,
} from './metrics.js';
