/**
 * @vigil/resilience: circuit breakers, retries, timeouts, bulkheads, fallbacks and an
 * instrumented fetch client, visible in metrics, logs, traces and readiness. No import-time side
 * effects: everything starts inside a factory call and stops with `close()`.
 */
export {
  BREAKER_EVENTS,
  BREAKER_OPEN_REASONS,
  BREAKER_OUTCOMES,
  BREAKER_STATE_VALUES,
  HTTP_CLIENT_STATUS,
  LOAD_SHED_REASONS,
} from '@vigil/catalog';
export { isOutboundUntracked, untrackedOutbound } from '@vigil/core';
export type { BreakerSettings, BreakerView, CircuitBreaker, CircuitBreakerOptions } from './breaker.js';
export { createCircuitBreaker, defaultIsFailure } from './breaker.js';
export type { Bulkhead, BulkheadOptions, BulkheadSettings, BulkheadView } from './bulkhead.js';
export { createBulkhead } from './bulkhead.js';
export {
  BREAKER_CHECK_DEFAULTS,
  BREAKER_DEFAULTS,
  BULKHEAD_DEFAULTS,
  HTTP_CLIENT_DEFAULTS,
  LOAD_SHEDDER_DEFAULTS,
  OUTBOUND_DEFAULTS,
  POLICY_DEFAULTS,
  RETRY_DEFAULTS,
} from './defaults.js';
export {
  BreakerOpenError,
  BulkheadRejectedError,
  ClosedError,
  ERROR_CODES,
  HttpStatusError,
  INVALID_OPTION,
  isBreakerOpenError,
  isBulkheadRejectedError,
  isClosedError,
  isHttpStatusError,
  isTimeoutError,
  isVigilOptionError,
  TimeoutError,
  VigilOptionError,
} from './errors.js';
export type { HeadersLike, HttpClient, HttpClientOptions, HttpRequestInit } from './http-client.js';
export { createHttpClient, parseRetryAfter } from './http-client.js';
export { MAX_NAMES_PER_REGISTRY } from './internal/instruments.js';
export type {
  Admission,
  LoadShedder,
  LoadShedderOptions,
  ShedReason,
  ShedRejection,
  ShedToken,
} from './load-shedder.js';
export { createLoadShedder } from './load-shedder.js';
export type { OutboundInstrumentation, OutboundOptions, OutboundRequestInfo } from './outbound.js';
export { instrumentOutbound } from './outbound.js';
export type { Policy, PolicyOptions } from './policy.js';
export { createPolicy } from './policy.js';
export type { BreakerCheckOptions, LoadShedderCheckOptions, LoadShedderCheckResult } from './readiness.js';
export { createBreakerCheck, createLoadShedderCheck } from './readiness.js';
export type { Retry, RetryOptions, RetrySettings, RetryView } from './retry.js';
export { createRetry, isConnectError, isRetryableError, RETRYABLE_STATUS_CODES } from './retry.js';
export type { Timeout, TimeoutOptions } from './timeout.js';
export { createTimeout } from './timeout.js';
export type {
  AttemptContext,
  BreakerOpenReason,
  BreakerState,
  BreakerStateChange,
  BreakerStateSource,
  BreakerStats,
  ExecuteOptions,
  Executor,
  InstrumentationOptions,
  Protected,
  ReadinessCheck,
  ReadinessCheckResult,
  ResilienceLogger,
  RetryEvent,
  RetryPredicate,
} from './types.js';
