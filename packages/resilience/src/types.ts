import type { Registry } from '@vigil/metrics';

/** What the protected function receives on each attempt. */
export interface AttemptContext {
  /**
   * Aborted when this attempt's timeout expires, the call's overall deadline passes or the
   * caller's signal aborts; its `reason` says which (a `TimeoutError` or the caller's reason).
   * Pass it on (`fetch(url, { signal })`) so that cancelled work really stops.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
}

/** A function protected by a policy. */
export type Protected<T> = (ctx: AttemptContext) => Promise<T> | T;

/** Per-call options of `execute()`. */
export interface ExecuteOptions<T = unknown> {
  /** Cancels the call: waiting, backoff and the running attempt (its `ctx.signal` aborts). */
  signal?: AbortSignal;
  /** Per-attempt timeout (ms) for this call, overriding the policy's `timeoutMs`; `false` for none. */
  timeoutMs?: number | false;
  /** Overall deadline (ms) for this call, overriding the policy's `overallTimeoutMs`; `false` for none. */
  overallTimeoutMs?: number | false;
  /** Which errors this call may retry, overriding the retry policy's `retryOn`. */
  retryOn?: RetryPredicate;
  /**
   * Value to use when the call fails (breaker open, bulkhead full, timeout, last error). Not called
   * when the caller's own signal aborted the call. Counted as a `fallback` breaker event.
   */
  fallback?: (error: unknown) => T | Promise<T>;
}

/** Decides whether an error may be retried. `attempt` is the attempt that failed (1-based). */
export type RetryPredicate = (error: unknown, attempt: number) => boolean;

/** Something that runs functions under a policy. Every handle in this package is one. */
export interface Executor {
  /** Run `fn` under the policy. Rejects with the last error, or a package error (see README). */
  execute<T>(fn: Protected<T>, options?: ExecuteOptions<T>): Promise<T>;
  /**
   * Wrap a function once: `const getUser = policy.wrap(fetchUser)`. The wrapped function does not
   * see the signal; use `execute` when the work can be cancelled.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R> | R): (...args: A) => Promise<R>;
}

/** A pino-compatible logger; only `info` and `warn` are used, once per breaker state change. */
export interface ResilienceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options shared by every factory that records metrics or logs. */
export interface InstrumentationOptions {
  /** Registry for the metrics. Default: `metrics.registry`, else a new private Registry. */
  registry?: Registry;
  /** A Vigil metrics handle (`createMetrics()`); its registry is used. */
  metrics?: { readonly registry: Registry };
  /**
   * Where state changes are logged: a pino-compatible logger, or `false` for silence.
   * Default: one `console.warn` line per state change.
   */
  logger?: ResilienceLogger | false;
  /** Monotonic clock in ms, for tests. Default `performance.now`. */
  now?: () => number;
}

/** Breaker states, also the `observedValue` of its readiness check. */
export type BreakerState = 'closed' | 'half_open' | 'open';

/** Which trigger opened a breaker (the `reason` label of `vigil_circuit_breaker_opens_total`). */
export type BreakerOpenReason = 'consecutive' | 'error_rate' | 'slow_rate' | 'trial_failed';

export interface BreakerStateChange {
  readonly breaker: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Why it opened (only on a change to `open`). */
  readonly reason?: BreakerOpenReason;
  /** `Date.now()` of the change. */
  readonly at: number;
}

/** Counts the breaker decides on: its window (time or count), its run of failures, its rejections. */
export interface BreakerStats {
  readonly state: BreakerState;
  /** Calls in the window (rejected calls are not calls). */
  readonly calls: number;
  readonly successes: number;
  /** Failed calls in the window, timeouts included. */
  readonly failures: number;
  readonly timeouts: number;
  /** Calls in the window that took at least `slowCallDurationMs`, whatever their outcome. */
  readonly slowCalls: number;
  /** Failures in a row, up to now (reset by a success). */
  readonly consecutiveFailures: number;
  /** Calls rejected since the last state change. */
  readonly rejects: number;
  /** `Date.now()` of the last state change (creation time if none). */
  readonly since: number;
}

/** Read access to a breaker's state, the shape `createBreakerCheck` takes. */
export interface BreakerStateSource {
  readonly name: string;
  readonly state: BreakerState;
}

/** One retry about to happen (after `delayMs`). */
export interface RetryEvent {
  readonly policy: string;
  /** The attempt about to run (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/** A readiness check, structurally compatible with @vigil/health's checks. */
export interface ReadinessCheck {
  readonly name: string;
  /** Always `false`: one open dependency should not take every pod out of rotation. */
  readonly critical: false;
  check(): Promise<ReadinessCheckResult>;
}

export interface ReadinessCheckResult {
  readonly status: 'pass' | 'warn' | 'fail';
  /** Human-readable reason when not `pass`. */
  readonly output?: string;
  /** The breaker's state. */
  readonly observedValue: BreakerState;
  /** ISO time since when the breaker is in this state. */
  readonly since?: string;
}
