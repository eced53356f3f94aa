export { TRACING_DEFAULTS } from './defaults.js';
export {
  INVALID_OPTION,
  isTracingAlreadyStartedError,
  isVigilOptionError,
  TRACING_ALREADY_STARTED,
  TracingAlreadyStartedError,
  VigilOptionError,
} from './errors.js';
export { activeTrace, createSpan, withSpan } from './span.js';
export { getTracing, startTracing } from './start.js';
export type {
  ActiveSpan,
  Attributes,
  AttributeValue,
  InstrumentationLike,
  SpanOptions,
  Tracing,
  TracingLogger,
  TracingOptions,
  TracingStats,
} from './types.js';
