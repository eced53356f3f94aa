import { defineMetric, type MetricDefinition } from './define.js';

// Metrics of the resilience feature (@vigil/resilience): circuit breakers, retries, bulkheads and
// the instrumented outbound HTTP client. Every label is bounded: `breaker` / `policy` / `target` are
// names chosen in code (validated, at most 100 per registry), `event` / `outcome` are fixed sets,
// `method` is the standard set or `_OTHER`, `status_code` is 100..599 or one of the fixed words in
// `HTTP_CLIENT_STATUS`.

/** Duration buckets (seconds) shared by breaker calls and outbound requests: 5 ms to 10 s. */
const CALL_DURATION_BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/**
 * Values of `vigil_circuit_breaker_state`. One series per breaker whose value is the state, ordered
 * by severity so `max by (breaker)` over replicas shows the worst one and `== 2` means open.
 */
export const BREAKER_STATE_VALUES = Object.freeze({ closed: 0, half_open: 1, open: 2 } as const);

/** Values of the `event` label of `vigil_circuit_breaker_events_total`. */
export const BREAKER_EVENTS = Object.freeze([
  'success',
  'failure',
  'timeout',
  'ignored',
  'reject',
  'fallback',
  'open',
  'half_open',
  'close',
] as const);

/**
 * Values of the `reason` label of `vigil_circuit_breaker_opens_total`: which trigger opened the
 * breaker. `consecutive`: that many failures in a row; `error_rate` / `slow_rate`: the share of
 * failed / slow calls in the window; `trial_failed`: the half-open trial calls did not succeed.
 */
export const BREAKER_OPEN_REASONS = Object.freeze([
  'consecutive',
  'error_rate',
  'slow_rate',
  'trial_failed',
] as const);

/** Values of the `outcome` label of `vigil_circuit_breaker_call_duration_seconds`. */
export const BREAKER_OUTCOMES = Object.freeze(['success', 'failure', 'timeout', 'ignored'] as const);

/**
 * `status_code` of an outbound request that got no HTTP status: cut by a timeout, aborted by the
 * caller, or failed at the network level (connection refused or reset, DNS, TLS).
 */
export const HTTP_CLIENT_STATUS = Object.freeze({
  timeout: 'timeout',
  aborted: 'aborted',
  error: 'error',
} as const);

export const circuitBreakerState = defineMetric({
  name: 'vigil_circuit_breaker_state',
  type: 'gauge',
  help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
  unit: 'state',
  labels: ['breaker'],
  source: 'vigil',
  group: 'resilience',
});

export const circuitBreakerEvents = defineMetric({
  name: 'vigil_circuit_breaker_events_total',
  type: 'counter',
  help: 'Circuit breaker events: success, failure, timeout, ignored, reject, fallback, open, half_open, close.',
  unit: 'events',
  labels: ['breaker', 'event'],
  source: 'vigil',
  group: 'resilience',
});

export const circuitBreakerOpens = defineMetric({
  name: 'vigil_circuit_breaker_opens_total',
  type: 'counter',
  help: 'Times the circuit breaker opened, by the trigger that opened it: consecutive, error_rate, slow_rate, trial_failed.',
  unit: 'transitions',
  labels: ['breaker', 'reason'],
  source: 'vigil',
  group: 'resilience',
});

export const circuitBreakerSlowCalls = defineMetric({
  name: 'vigil_circuit_breaker_slow_calls_total',
  type: 'counter',
  help: 'Calls the circuit breaker let through that took at least its slowCallDurationMs, whatever their outcome.',
  unit: 'calls',
  labels: ['breaker'],
  source: 'vigil',
  group: 'resilience',
});

export const circuitBreakerCallDuration = defineMetric({
  name: 'vigil_circuit_breaker_call_duration_seconds',
  type: 'histogram',
  help: 'Duration of calls the circuit breaker let through, by outcome (rejected calls are not timed).',
  unit: 'seconds',
  labels: ['breaker', 'outcome'],
  buckets: CALL_DURATION_BUCKETS,
  source: 'vigil',
  group: 'resilience',
});

export const retryAttempts = defineMetric({
  name: 'vigil_retry_attempts_total',
  type: 'counter',
  help: 'Retries made (attempts after the first one of a call).',
  unit: 'attempts',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const retryExhausted = defineMetric({
  name: 'vigil_retry_exhausted_total',
  type: 'counter',
  help: 'Calls that failed with a retryable error after their last allowed attempt (attempts, deadline or Retry-After too long).',
  unit: 'calls',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const retryBudgetRejected = defineMetric({
  name: 'vigil_retry_budget_rejected_total',
  type: 'counter',
  help: 'Retries not made because the retry budget (a share of recent calls) was spent.',
  unit: 'retries',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const bulkheadRejections = defineMetric({
  name: 'vigil_bulkhead_rejections_total',
  type: 'counter',
  help: 'Calls rejected because the bulkhead had no free slot and its queue was full.',
  unit: 'calls',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const bulkheadActive = defineMetric({
  name: 'vigil_bulkhead_active_calls',
  type: 'gauge',
  help: 'Calls currently running inside the bulkhead.',
  unit: 'calls',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const bulkheadQueued = defineMetric({
  name: 'vigil_bulkhead_queued_calls',
  type: 'gauge',
  help: 'Calls currently waiting for a bulkhead slot.',
  unit: 'calls',
  labels: ['policy'],
  source: 'vigil',
  group: 'resilience',
});

export const httpClientRequestDuration = defineMetric({
  name: 'http_client_request_duration_seconds',
  type: 'histogram',
  help: 'Duration of outbound HTTP requests (each attempt), by target, method and status code.',
  unit: 'seconds',
  labels: ['target', 'method', 'status_code'],
  buckets: CALL_DURATION_BUCKETS,
  source: 'vigil',
  group: 'http_client',
  // `target` is host:port (or the name a mapping gave), so not split into server.address/port.
  semconv: {
    name: 'http.client.request.duration',
    unit: 's',
    attributes: {
      target: 'server.address',
      method: 'http.request.method',
      status_code: 'http.response.status_code',
    },
  },
});

/**
 * Values of the `reason` label of `vigil_load_shed_requests_total`: `concurrency` (the adaptive
 * concurrency limit was reached), or the static guard that tripped: `event_loop_delay`,
 * `event_loop_utilization`, `heap` (heap used against V8's heap limit).
 */
export const LOAD_SHED_REASONS = Object.freeze([
  'concurrency',
  'event_loop_delay',
  'event_loop_utilization',
  'heap',
] as const);

export const loadShedLimit = defineMetric({
  name: 'vigil_load_shed_limit',
  type: 'gauge',
  help: 'Concurrency limit of the load shedder: requests it admits at once before it answers 503 (adaptive: follows latency).',
  unit: 'requests',
  labels: [],
  source: 'vigil',
  group: 'resilience',
});

export const loadShedInFlight = defineMetric({
  name: 'vigil_load_shed_in_flight_requests',
  type: 'gauge',
  help: 'Requests admitted by the load shedder and not finished yet (probes and excluded routes not counted).',
  unit: 'requests',
  labels: [],
  source: 'vigil',
  group: 'resilience',
});

export const loadShedRequests = defineMetric({
  name: 'vigil_load_shed_requests_total',
  type: 'counter',
  help: 'Requests answered 503 by the load shedder before any handler ran, by reason: concurrency, event_loop_delay, event_loop_utilization, heap.',
  unit: 'requests',
  labels: ['reason'],
  source: 'vigil',
  group: 'resilience',
});

/** Every resilience metric, in the order generators list them. */
export const RESILIENCE_METRICS: readonly MetricDefinition[] = Object.freeze([
  circuitBreakerState,
  circuitBreakerEvents,
  circuitBreakerOpens,
  circuitBreakerSlowCalls,
  circuitBreakerCallDuration,
  retryAttempts,
  retryExhausted,
  retryBudgetRejected,
  bulkheadRejections,
  bulkheadActive,
  bulkheadQueued,
  loadShedLimit,
  loadShedInFlight,
  loadShedRequests,
  httpClientRequestDuration,
]);
