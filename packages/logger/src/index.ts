/** Flushes and closes every open logger (for a shutdown sequence): see the README. */
export type { DestinationStream, Logger, LoggerHandle, LoggerOptions, LogLevel } from './create-logger.js';
export { createLogger, FILE_BUFFER, LOGGER_DEFAULTS } from './create-logger.js';
export { INVALID_OPTION, isVigilOptionError, VigilOptionError } from './errors.js';
export type { LoggerProviderLike, OtlpLogsOptions } from './internal/otlp-logs.js';
export { REQUEST_LOG_DEFAULTS, type RequestLogOptions } from './internal/request-log.js';
export { activeTraceFields, type TraceFields } from './internal/trace-context.js';
