import { retryAttempts, retryBudgetRejected, retryExhausted } from '@vigil/catalog';
import {
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkName,
  checkNumber,
  checkObject,
  checkTimeout,
  MAX_TIMER_MS,
  VigilOptionError,
} from '@vigil/core';
import type { Instruments, Registry } from '@vigil/metrics';
import { RETRY_DEFAULTS } from './defaults.js';
import { isBreakerOpenError, isHttpStatusError, isTimeoutError } from './errors.js';
import {
  attemptRunner,
  type Call,
  clock,
  makeExecutor,
  overallRunner,
  type Runner,
  Timers,
} from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { attach, resolveInstruments } from './internal/instruments.js';
import { Listeners } from './internal/log.js';
import { Scope } from './internal/scope.js';
import type { Executor, InstrumentationOptions, RetryEvent, RetryPredicate } from './types.js';

/** Options of the retry itself (also the `retry` object of `createPolicy` / `createHttpClient`). */
export interface RetrySettings {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxRetryAfterMs?: number;
  budgetRatio?: number;
  budgetMinRetries?: number;
  budgetWindowMs?: number;
  /** Which errors are retried. Default `isRetryableError`. */
  retryOn?: RetryPredicate;
  /** Random source in [0, 1) for the jitter, for tests. Default `Math.random`. */
  random?: () => number;
}

export interface RetryOptions extends RetrySettings, Omit<InstrumentationOptions, 'logger'> {
  /** Label value of the retry metrics (`policy`). Required. */
  name: string;
  /** Per-attempt timeout (ms), or `false` (the default for a bare retry). */
  timeoutMs?: number | false;
}

export interface RetryView {
  /** Subscribe to retries (called just before each backoff); returns the unsubscribe function. */
  onRetry(fn: (event: RetryEvent) => void): () => void;
}

export interface Retry extends Executor, RetryView {
  readonly name: string;
  readonly registry: Registry;
  /** Removes the series; calls sleeping before a retry fail at once with their last error. Idempotent. */
  close(): Promise<void>;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Failures before any byte of the request left: safe to retry whatever the method. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Statuses `isRetryableError` retries on an `HttpStatusError`. */
export const RETRYABLE_STATUS_CODES: readonly number[] = Object.freeze([408, 429, 500, 502, 503, 504]);

function codeOf(e: unknown): string | undefined {
  // fetch wraps network errors: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  for (let x: unknown = e, depth = 0; x && typeof x === 'object' && depth < 3; depth++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string' && (TRANSIENT_CODES.has(c) || CONNECT_CODES.has(c))) return c;
    x = (x as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The default `retryOn`: transient faults only. An attempt timeout, a network error
 * (connection refused or reset, DNS `EAI_AGAIN`, undici socket errors), an `HttpStatusError` with
 * 408, 429, 500, 502, 503 or 504, or any error with `retryable: true`. Never an open breaker, a
 * full bulkhead, an overall timeout or a caller abort.
 */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (isTimeoutError(error)) return error.scope === 'attempt';
  if (isBreakerOpenError(error)) return false;
  if (isHttpStatusError(error)) return RETRYABLE_STATUS_CODES.includes(error.status);
  if ((error as { retryable?: unknown }).retryable === true) return true;
  return codeOf(error) !== undefined;
}

/** True for network errors that happen before the request is sent (safe for any method). */
export function isConnectError(error: unknown): boolean {
  const c = codeOf(error);
  return c !== undefined && CONNECT_CODES.has(c);
}

/**
 * Retries allowed as a share of recent calls (Finagle's and Envoy's "retry budget"): over a sliding
 * window, retries <= minRetries + ratio * calls. Without it, N callers retrying 3 times turn an
 * overloaded dependency's trouble into 3x its load.
 */
export class RetryBudget {
  private readonly calls: Float64Array;
  private readonly retries: Float64Array;
  private readonly bucketMs: number;
  private cur = Number.NEGATIVE_INFINITY;
  private totalCalls = 0;
  private totalRetries = 0;

  constructor(
    private readonly ratio: number,
    private readonly minRetries: number,
    windowMs: number,
    private readonly now: () => number,
    buckets = 10,
  ) {
    this.calls = new Float64Array(buckets);
    this.retries = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Count a call; `t` is a `now()` reading. */
  recordCall(t: number): void {
    const i = this.rotate(t);
    this.calls[i] = (this.calls[i] as number) + 1;
    this.totalCalls++;
  }

  /** Spend one retry if the budget allows it. */
  tryRetry(): boolean {
    const i = this.rotate(this.now());
    if (this.totalRetries + 1 > this.minRetries + this.ratio * this.totalCalls) return false;
    this.retries[i] = (this.retries[i] as number) + 1;
    this.totalRetries++;
    return true;
  }

  /** Retries still available right now. */
  available(): number {
    this.rotate(this.now());
    return Math.max(0, Math.floor(this.minRetries + this.ratio * this.totalCalls - this.totalRetries));
  }

  private rotate(t: number): number {
    const n = this.calls.length;
    const idx = Math.floor(t / this.bucketMs);
    if (idx !== this.cur) {
      if (idx < this.cur || idx - this.cur >= n) {
        this.calls.fill(0);
        this.retries.fill(0);
        this.totalCalls = 0;
        this.totalRetries = 0;
      } else {
        for (let k = this.cur + 1; k <= idx; k++) {
          const pos = ((k % n) + n) % n;
          this.totalCalls -= this.calls[pos] as number;
          this.totalRetries -= this.retries[pos] as number;
          this.calls[pos] = 0;
          this.retries[pos] = 0;
        }
      }
      this.cur = idx;
    }
    return ((idx % n) + n) % n;
  }
}

export interface ResolvedRetrySettings {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly budgetRatio: number;
  readonly budgetMinRetries: number;
  readonly budgetWindowMs: number;
  readonly retryOn: RetryPredicate;
  readonly random: () => number;
}

const SETTINGS_KEYS = [
  'maxAttempts',
  'baseDelayMs',
  'maxDelayMs',
  'maxRetryAfterMs',
  'budgetRatio',
  'budgetMinRetries',
  'budgetWindowMs',
  'retryOn',
  'random',
] as const;

export function resolveRetrySettings(
  input: Record<string, unknown>,
  prefix: string,
  extraKeys: readonly string[],
  defaultRetryOn: RetryPredicate = isRetryableError,
): ResolvedRetrySettings {
  checkKnownKeys(prefix, input, [...SETTINGS_KEYS, ...extraKeys]);
  const d = RETRY_DEFAULTS;
  const maxAttempts = checkInt(`${prefix}maxAttempts`, input.maxAttempts, 1, 100) ?? d.maxAttempts;
  const baseDelayMs = checkInt(`${prefix}baseDelayMs`, input.baseDelayMs, 0, MAX_TIMER_MS) ?? d.baseDelayMs;
  const maxDelayMs = checkInt(`${prefix}maxDelayMs`, input.maxDelayMs, 0, MAX_TIMER_MS) ?? d.maxDelayMs;
  if (maxDelayMs < baseDelayMs) {
    throw new VigilOptionError(`${prefix}maxDelayMs`, `at least baseDelayMs (${baseDelayMs})`, maxDelayMs);
  }
  const maxRetryAfterMs =
    checkInt(`${prefix}maxRetryAfterMs`, input.maxRetryAfterMs, 0, MAX_TIMER_MS) ?? d.maxRetryAfterMs;
  const budgetRatio = checkNumber(`${prefix}budgetRatio`, input.budgetRatio, 0, 100) ?? d.budgetRatio;
  const budgetMinRetries =
    checkInt(`${prefix}budgetMinRetries`, input.budgetMinRetries, 0) ?? d.budgetMinRetries;
  const budgetWindowMs =
    checkInt(`${prefix}budgetWindowMs`, input.budgetWindowMs, 10, MAX_TIMER_MS) ?? d.budgetWindowMs;
  const retryOn = checkFunction<RetryPredicate>(`${prefix}retryOn`, input.retryOn) ?? defaultRetryOn;
  const random = checkFunction<() => number>(`${prefix}random`, input.random) ?? Math.random;
  return {
    maxAttempts,
    baseDelayMs,
    maxDelayMs,
    maxRetryAfterMs,
    budgetRatio,
    budgetMinRetries,
    budgetWindowMs,
    retryOn,
    random,
  };
}

/** `decide()`: no retry, because the breaker under the retry would reject it. */
export const REJECTED_BY_BREAKER = -2;

/** What `decide()` needs of a breaker under the retry. */
interface Gate {
  rejectsNow(): boolean;
}

interface Sleeper {
  timer: ReturnType<typeof setTimeout>;
  scope: Scope;
  wake: () => void;
  fail: (e: unknown) => void;
  lastError: unknown;
}

/** The retry layer: full-jitter exponential backoff, attempts, budget, Retry-After, deadline. */
export class RetryCore implements RetryView {
  retries = 0;
  exhausted = 0;
  budgetRejected = 0;
  private readonly budget: RetryBudget;
  private readonly listeners = new Listeners<RetryEvent>();
  private readonly sleepers = new Set<Sleeper>();
  private detach: () => void;
  private shut = false;

  constructor(
    readonly name: string,
    private readonly s: ResolvedRetrySettings,
    ins: Instruments,
    private readonly now: () => number,
  ) {
    this.budget = new RetryBudget(s.budgetRatio, s.budgetMinRetries, s.budgetWindowMs, now);
    const labels = { policy: name };
    this.detach = attach(ins, 'name', [
      [retryAttempts, name, () => [{ labels, value: this.retries }]],
      [retryExhausted, name, () => [{ labels, value: this.exhausted }]],
      [retryBudgetRejected, name, () => [{ labels, value: this.budgetRejected }]],
    ]);
  }

  onRetry(fn: (event: RetryEvent) => void): () => void {
    if (typeof fn !== 'function') throw new VigilOptionError('onRetry(fn)', 'a function', fn);
    return this.listeners.add(fn);
  }

  /** Retries still available in the budget right now. */
  budgetAvailable(): number {
    return this.budget.available();
  }

  layer(next: Runner): Runner {
    return (call) => {
      this.recordCall(call);
      return next(call).then(undefined, (e) => this.onError(next, call, e, undefined));
    };
  }

  close(): void {
    if (this.shut) return;
    this.shut = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.scope.dispose();
      s.fail(s.lastError);
    }
    this.sleepers.clear();
    this.listeners.clear();
    this.detach();
  }

  /** Full jitter: uniform in [0, min(maxDelay, base * 2^(attempt-1))]. */
  private backoff(attempt: number): number {
    const cap = Math.min(this.s.maxDelayMs, this.s.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.s.random() * (cap + 1));
  }

  /** Count a call in the budget (once per call, before its first attempt). */
  recordCall(call: Call): void {
    this.budget.recordCall(clock(call, this.now));
  }

  /**
   * Decide about a failed attempt: the delay (ms) before the next one, -1 to give up and reject
   * with the error, or `REJECTED_BY_BREAKER` when `gate` (the breaker under the retry) would reject
   * the next attempt anyway. Counts exhausted / budget-rejected / retries and notifies listeners.
   */
  decide(call: Call, err: unknown, previous: unknown, gate?: Gate): number {
    if (
      previous !== undefined &&
      isBreakerOpenError(err) &&
      (err as { cause?: unknown }).cause === undefined
    ) {
      // Say why we were retrying when the breaker opened under us.
      (err as { cause?: unknown }).cause = previous;
    }
    if (isTimeoutError(err) && err.scope === 'attempt') call.timedOut = true;
    if (call.scope?.aborted || this.shut) return -1;
    const attempt = call.attempt;
    let retryable = false;
    try {
      retryable = (call.retryOn ?? this.s.retryOn)(err, attempt);
    } catch {}
    if (!retryable) return -1;
    if (attempt >= this.s.maxAttempts) {
      this.exhausted++;
      return -1;
    }
    if (gate?.rejectsNow()) return REJECTED_BY_BREAKER;
    let delay = this.backoff(attempt);
    const ra = (err as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof ra === 'number' && ra >= 0) {
      if (ra > this.s.maxRetryAfterMs) {
        this.exhausted++;
        return -1;
      }
      if (ra > delay) delay = ra;
    }
    if (call.deadline !== Number.POSITIVE_INFINITY) {
      // Sleeping into the overall deadline would only trade this error for a timeout; and once the
      // target has timed out, a retry is worth making only if a whole attempt still fits.
      const need = call.timedOut && call.timeoutMs > 0 ? delay + call.timeoutMs : delay;
      if (this.now() + need >= call.deadline) {
        this.exhausted++;
        return -1;
      }
    }
    if (!this.budget.tryRetry()) {
      this.budgetRejected++;
      return -1;
    }
    this.retries++;
    if (this.listeners.size > 0) {
      this.listeners.emit({ policy: this.name, attempt: attempt + 1, delayMs: delay, error: err });
    }
    return delay;
  }

  private onError(next: Runner, call: Call, err: unknown, previous: unknown): Promise<unknown> {
    const delay = this.decide(call, err, previous);
    if (delay < 0) return Promise.reject(err);
    return this.sleep(delay, call.scope, err).then(() => {
      call.attempt++;
      call.t0 = Number.NaN;
      return next(call).then(undefined, (e) => this.onError(next, call, e, err));
    });
  }

  /**
   * Backoff. The timer is ref'd on purpose: the caller is waiting for this retry, so the process
   * must not exit under it. Aborting the call (caller or overall deadline) clears it at once.
   */
  sleep(ms: number, parent: Scope | undefined, lastError: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const scope = Scope.child(parent);
      const sleeper: Sleeper = {
        timer: undefined as unknown as ReturnType<typeof setTimeout>,
        scope,
        wake: resolve,
        fail: reject,
        lastError,
      };
      if (scope.aborted) {
        reject(scope.reason);
        return;
      }
      scope.onAbort = (reason) => {
        clearTimeout(sleeper.timer);
        this.sleepers.delete(sleeper);
        reject(reason);
      };
      sleeper.timer = setTimeout(() => {
        this.sleepers.delete(sleeper);
        scope.dispose();
        resolve();
      }, ms);
      this.sleepers.add(sleeper);
    });
  }
}

const RETRY_KEYS = ['name', 'timeoutMs', 'registry', 'metrics', 'now'];

/**
 * Retries with exponential backoff and full jitter, capped by attempts, a retry budget and the
 * call's deadline; honours `Retry-After` and `AbortSignal`. Retries only transient errors by
 * default (`isRetryableError`): wrap only work that is safe to repeat.
 *
 * ```ts
 * const retry = createRetry({ name: 'geo', metrics });
 * const pos = await retry.execute(({ signal }) => geocode(address, { signal }));
 * ```
 */
export function createRetry(options: RetryOptions): Retry {
  if (options === undefined) throw new VigilOptionError('name', 'a retry policy name', undefined);
  const input = checkObject('options', options);
  const settings = resolveRetrySettings(input, '', RETRY_KEYS);
  const name = checkName('name', input.name);
  const t = checkTimeout('timeoutMs', input.timeoutMs);
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);
  const core = new RetryCore(name, settings, instruments, now);
  let closed: Promise<void> | undefined;
  const { execute, wrap } = makeExecutor(
    overallRunner(
      core.layer(attemptRunner(new Timers('attempt', now), now)),
      new Timers('overall', now),
      now,
    ),
    {
      what: `Retry "${name}"`,
      timeoutMs: t === undefined || t === false ? 0 : t,
      overallMs: 0,
      isClosed: () => closed !== undefined,
    },
  );
  return {
    name,
    registry: instruments.registry,
    execute,
    wrap,
    onRetry: (fn) => core.onRetry(fn),
    close() {
      closed ??= (async () => {
        core.close();
        await release();
      })();
      return closed;
    },
  };
}
