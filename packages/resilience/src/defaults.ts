/**
 * Every default of this package, one frozen constant per factory. The README's options tables are
 * generated from these objects (and their doc comments), so docs and code cannot disagree.
 */

/** Defaults of `createCircuitBreaker` (and the `breaker` part of `createPolicy` / `createHttpClient`). */
export const BREAKER_DEFAULTS = Object.freeze({
  /** Failures (timeouts included) in a row that open the breaker, whatever the traffic; `0` turns this trigger off. */
  consecutiveFailures: 5,
  /** Failure percentage (0 to 99) of the calls in the window above which the breaker opens. */
  errorThresholdPercentage: 50,
  /** A call that takes at least this long (ms) is slow, even when it succeeds; `false` turns slow calls off. */
  slowCallDurationMs: 5_000 as number | false,
  /** Slow-call percentage (0 to 99) of the calls in the window above which the breaker opens. */
  slowCallThresholdPercentage: 80,
  /** Calls the window must hold before a rate (failures or slow calls) may open the breaker. See "Which trigger trips when". */
  volumeThreshold: 10,
  /** Length (ms) of the time window the rates are computed over. */
  rollingWindowMs: 10_000,
  /** Buckets of the time window (it slides one bucket at a time). */
  rollingWindowBuckets: 10,
  /** When set, the rates are computed over the last this many calls instead of the time window (a count window); `0` keeps the time window. */
  rollingWindowCalls: 0,
  /** Time (ms) the breaker stays open before trial calls are let through (half-open). */
  resetTimeoutMs: 30_000,
  /** Trial calls let through while half-open; further calls are rejected until they have decided. */
  permittedCallsInHalfOpen: 1,
  /** Share (1 to 100 %) of the trial calls that must succeed, and not be slow, to close the breaker; otherwise it opens again. */
  halfOpenSuccessPercentage: 100,
  /** Per-call timeout (ms) inside the breaker, or `false`; a timeout counts as a failure and aborts `ctx.signal`. */
  timeoutMs: 10_000 as number | false,
});

/** Defaults of `createRetry` (and the `retry` part of `createPolicy` / `createHttpClient`). */
export const RETRY_DEFAULTS = Object.freeze({
  /** Attempts in total, the first one included (3 = up to 2 retries). */
  maxAttempts: 3,
  /** Backoff cap (ms) of the first retry; it doubles per retry. The delay is uniform in [0, cap] (full jitter). */
  baseDelayMs: 100,
  /** Upper bound (ms) of the backoff cap. */
  maxDelayMs: 5_000,
  /** Longest `Retry-After` (ms) honoured; a server asking for more gets no retry (the error is returned). */
  maxRetryAfterMs: 30_000,
  /** Retries allowed per window as a share of the calls in that window (0.2 = at most 20 % extra load). */
  budgetRatio: 0.2,
  /** Retries allowed per window on top of the ratio, so quiet services can still retry. */
  budgetMinRetries: 10,
  /** Window (ms) of the retry budget. */
  budgetWindowMs: 10_000,
});

/** Defaults of `createBulkhead` (and the `bulkhead` part of `createPolicy` / `createHttpClient`). */
export const BULKHEAD_DEFAULTS = Object.freeze({
  /** Calls running at the same time. */
  maxConcurrent: 10,
  /** Calls waiting for a slot; one more is rejected with `BulkheadRejectedError`. */
  maxQueue: 10,
});

/** Defaults of `createPolicy`. */
export const POLICY_DEFAULTS = Object.freeze({
  /** Per-attempt timeout (ms), or `false`. */
  timeoutMs: 10_000 as number | false,
  /** Deadline (ms) of the whole call (queueing, attempts and backoff), or `false`. At least `timeoutMs`. */
  overallTimeoutMs: 30_000 as number | false,
  /** Circuit breaker: `true` (defaults), options, or `false`. */
  breaker: true as boolean | object,
  /** Retries: off for arbitrary functions (Vigil cannot know they are safe to repeat); `true` or options to enable. */
  retry: false as boolean | object,
  /** Bulkhead: `true` (defaults), options, or `false`. */
  bulkhead: false as boolean | object,
});

/** Defaults of `createHttpClient`. */
export const HTTP_CLIENT_DEFAULTS = Object.freeze({
  /** Per-attempt timeout (ms) until the response headers (`fetch`) or the whole body (`json`, `text`), or `false`. */
  timeoutMs: 10_000 as number | false,
  /** Deadline (ms) of the whole request including retries and backoff, or `false`. At least `timeoutMs`. */
  overallTimeoutMs: 30_000 as number | false,
  /** Circuit breaker: `true` (defaults), options, or `false`. 5xx and 429 responses count as failures. */
  breaker: true as boolean | object,
  /** Retries: `true` (defaults), options, or `false`. Only idempotent requests are retried (see README). */
  retry: true as boolean | object,
  /** Bulkhead: `true` (defaults), options, or `false`. */
  bulkhead: false as boolean | object,
  /** Response statuses that are retried (idempotent requests only). */
  retryStatusCodes: Object.freeze([408, 429, 500, 502, 503, 504]) as readonly number[],
  /** Client spans and `traceparent` propagation through `@opentelemetry/api`. */
  tracing: true,
  /** Bytes of an error response body kept in `HttpStatusError.body` by `json()` / `text()`. */
  maxErrorBodyBytes: 2048,
});

/** Defaults of `createLoadShedder` (and of the Express and Fastify load-shedding adapters). */
export const LOAD_SHEDDER_DEFAULTS = Object.freeze({
  /** The adaptive concurrency limit; `false` leaves only the static guards you set. */
  adaptive: true,
  /** Concurrency limit at start; it adapts within a second or two. */
  initialLimit: 50,
  /** Lowest concurrency limit (requests admitted at once). */
  minLimit: 1,
  /** Highest concurrency limit. */
  maxLimit: 1000,
  /** Latency allowed, as a multiple of the requests' no-load latency (their own time, without waiting behind others), before the limit shrinks. */
  tolerance: 1.5,
  /** Queueing (ms) always allowed, however cheap the requests: a few ms of waiting is no reason to shed. */
  minQueueDelayMs: 2,
  /** How often (ms) the limit is adjusted from the latency of the requests finished since. */
  intervalMs: 100,
  /** Static guard: shed while the event loop's delay (max over the last `guardIntervalMs`) is above this (ms), or `false`. */
  maxEventLoopDelayMs: false as number | false,
  /** Static guard: shed while event-loop utilisation (0 to 1, over the last `guardIntervalMs`) is above this, or `false`. */
  maxEventLoopUtilization: false as number | false,
  /** Static guard: shed while heap used / V8's heap limit (0 to 1) is above this, or `false`. */
  maxHeapUsedRatio: false as number | false,
  /** How often (ms) the static guards are sampled. */
  guardIntervalMs: 500,
  /** `Retry-After` (seconds) of a 503 from the shedder. */
  retryAfterSeconds: 1,
});

/** Defaults of `createBreakerCheck`. */
export const BREAKER_CHECK_DEFAULTS = Object.freeze({
  /** Status reported while the breaker is open: `warn` keeps the pod in rotation. */
  whenOpen: 'warn' as 'warn' | 'fail',
  /** Status reported while the breaker is half-open (probing). */
  whenHalfOpen: 'warn' as 'pass' | 'warn' | 'fail',
});

/** Defaults of `instrumentOutbound`. */
export const OUTBOUND_DEFAULTS = Object.freeze({
  /** Observe `node:http` / `node:https` requests (axios, got, node-fetch, superagent, most SDKs). */
  http: true,
  /** Observe `fetch()` and undici requests. */
  fetch: true,
  /** Inside an active trace: a client span per request and `traceparent` (and `tracestate`) sent with it. */
  tracing: true,
  /** Distinct `target` values recorded; requests to further targets are recorded as `__overflow__`. */
  maxTargets: 100,
  /** Hosts never observed: hostnames (`metadata.google.internal`) or `host:port`. */
  excludeHosts: Object.freeze([]) as readonly string[],
});
