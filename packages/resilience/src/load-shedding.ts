/**
 * `@vigil/resilience/load-shedding`: the load shedder alone, for the framework adapters, without
 * the HTTP client and its OpenTelemetry dependency.
 */
export { LOAD_SHEDDER_DEFAULTS } from './defaults.js';
export {
  type Admission,
  createLoadShedder,
  type LoadShedder,
  type LoadShedderOptions,
  type ShedReason,
  type ShedRejection,
  type ShedToken,
} from './load-shedder.js';
export { createLoadShedderCheck, type LoadShedderCheckOptions } from './readiness.js';
export { type LoadSheddingOptions, resolveLoadShedding } from './shedding-adapter.js';
