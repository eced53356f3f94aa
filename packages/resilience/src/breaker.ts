import {
  BREAKER_EVENTS,
  BREAKER_OPEN_REASONS,
  BREAKER_OUTCOMES,
  BREAKER_STATE_VALUES,
  circuitBreakerCallDuration,
  circuitBreakerEvents,
  circuitBreakerOpens,
  circuitBreakerSlowCalls,
  circuitBreakerState,
} from '@vigil/catalog';
import {
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkName,
  checkObject,
  checkTimeout,
  MAX_TIMER_MS,
  VigilOptionError,
} from '@vigil/core';
import type { HistogramSeries, Instruments, Registry } from '@vigil/metrics';
import { BREAKER_DEFAULTS } from './defaults.js';
import { BreakerOpenError, isHttpStatusError, isTimeoutError } from './errors.js';
import {
  type Call,
  clock,
  invoke,
  makeExecutor,
  ms,
  overallRunner,
  type Runner,
  Timers,
} from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { attach, histogram, removeHistogram, resolveInstruments } from './internal/instruments.js';
import { Listeners, resolveLogger } from './internal/log.js';
import { Scope } from './internal/scope.js';
import { CountWindow, type OutcomeWindow, TimeWindow } from './internal/window.js';
import type {
  BreakerOpenReason,
  BreakerState,
  BreakerStateChange,
  BreakerStats,
  Executor,
  InstrumentationOptions,
  ResilienceLogger,
} from './types.js';

/** Options of the breaker itself (also the `breaker` object of `createPolicy` / `createHttpClient`). */
export interface BreakerSettings {
  consecutiveFailures?: number;
  errorThresholdPercentage?: number;
  slowCallDurationMs?: number | false;
  slowCallThresholdPercentage?: number;
  volumeThreshold?: number;
  rollingWindowMs?: number;
  rollingWindowBuckets?: number;
  rollingWindowCalls?: number;
  resetTimeoutMs?: number;
  permittedCallsInHalfOpen?: number;
  halfOpenSuccessPercentage?: number;
  /**
   * Which errors count against the downstream. Default: every error except an `HttpStatusError`
   * with a 4xx status other than 429. Errors it rejects count as `ignored` (like successes).
   */
  isFailure?: (error: unknown) => boolean;
}

export interface CircuitBreakerOptions extends BreakerSettings, InstrumentationOptions {
  /** Label value of every metric and name in logs: from code, e.g. `users-api`. Required. */
  name: string;
  /** Per-call timeout (ms) inside the breaker, or `false`. */
  timeoutMs?: number | false;
}

/** State and events of a breaker, without the ability to call through it. */
export interface BreakerView {
  readonly name: string;
  readonly state: BreakerState;
  /** Subscribe to state changes; returns the function that unsubscribes. */
  onStateChange(fn: (change: BreakerStateChange) => void): () => void;
  /** Counts the breaker decides on (its window, its run of failures). */
  stats(): BreakerStats;
}

export interface CircuitBreaker extends Executor, BreakerView {
  /** The registry holding this breaker's metrics. */
  readonly registry: Registry;
  /** Stops the breaker's timer, removes its series and listeners. Later calls reject. Idempotent. */
  close(): Promise<void>;
}

const EVENT = Object.fromEntries(BREAKER_EVENTS.map((e, i) => [e, i])) as Record<
  (typeof BREAKER_EVENTS)[number],
  number
>;
const REASON = Object.fromEntries(BREAKER_OPEN_REASONS.map((r, i) => [r, i])) as Record<
  BreakerOpenReason,
  number
>;

/** Default `isFailure`: a 4xx response (except 429) is the caller's problem, not the downstream's. */
export function defaultIsFailure(error: unknown): boolean {
  if (isHttpStatusError(error)) return error.status >= 500 || error.status === 429;
  return true;
}

const SETTINGS_KEYS = [
  'consecutiveFailures',
  'errorThresholdPercentage',
  'slowCallDurationMs',
  'slowCallThresholdPercentage',
  'volumeThreshold',
  'rollingWindowMs',
  'rollingWindowBuckets',
  'rollingWindowCalls',
  'resetTimeoutMs',
  'permittedCallsInHalfOpen',
  'halfOpenSuccessPercentage',
  'isFailure',
] as const;

export interface ResolvedBreakerSettings {
  readonly consecutiveFailures: number;
  readonly errorThresholdPercentage: number;
  /** 0 when slow calls are off. */
  readonly slowCallDurationMs: number;
  readonly slowCallThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly rollingWindowMs: number;
  readonly rollingWindowBuckets: number;
  /** 0 for the time window. */
  readonly rollingWindowCalls: number;
  readonly resetTimeoutMs: number;
  readonly permittedCallsInHalfOpen: number;
  readonly halfOpenSuccessPercentage: number;
  readonly isFailure: (error: unknown) => boolean;
}

/** Validate breaker settings; `prefix` names nested options (`breaker.`). */
export function resolveBreakerSettings(
  input: Record<string, unknown>,
  prefix: string,
  extraKeys: readonly string[],
): ResolvedBreakerSettings {
  checkKnownKeys(prefix, input, [...SETTINGS_KEYS, ...extraKeys]);
  const d = BREAKER_DEFAULTS;
  const o = (k: string) => `${prefix}${k}`;
  const consecutiveFailures =
    checkInt(o('consecutiveFailures'), input.consecutiveFailures, 0, 1000) ?? d.consecutiveFailures;
  const errorThresholdPercentage =
    checkInt(o('errorThresholdPercentage'), input.errorThresholdPercentage, 0, 99) ??
    d.errorThresholdPercentage;
  const slow = checkTimeout(o('slowCallDurationMs'), input.slowCallDurationMs) ?? d.slowCallDurationMs;
  const slowCallThresholdPercentage =
    checkInt(o('slowCallThresholdPercentage'), input.slowCallThresholdPercentage, 0, 99) ??
    d.slowCallThresholdPercentage;
  const volumeThreshold = checkInt(o('volumeThreshold'), input.volumeThreshold, 0) ?? d.volumeThreshold;
  const resetTimeoutMs =
    checkInt(o('resetTimeoutMs'), input.resetTimeoutMs, 1, MAX_TIMER_MS) ?? d.resetTimeoutMs;
  const rollingWindowMs =
    checkInt(o('rollingWindowMs'), input.rollingWindowMs, 10, MAX_TIMER_MS) ?? d.rollingWindowMs;
  const rollingWindowBuckets =
    checkInt(o('rollingWindowBuckets'), input.rollingWindowBuckets, 1, 1000) ?? d.rollingWindowBuckets;
  if (rollingWindowMs / rollingWindowBuckets < 1 || rollingWindowMs % rollingWindowBuckets !== 0) {
    throw new VigilOptionError(
      o('rollingWindowBuckets'),
      `a divisor of rollingWindowMs (${rollingWindowMs}) giving buckets of at least 1 ms`,
      rollingWindowBuckets,
    );
  }
  const rollingWindowCalls =
    checkInt(o('rollingWindowCalls'), input.rollingWindowCalls, 0, 100_000) ?? d.rollingWindowCalls;
  if (rollingWindowCalls > 0) {
    if (input.rollingWindowMs !== undefined || input.rollingWindowBuckets !== undefined) {
      throw new VigilOptionError(
        o('rollingWindowCalls'),
        '0 when rollingWindowMs or rollingWindowBuckets is set (the window counts either time or calls)',
        rollingWindowCalls,
      );
    }
    if (volumeThreshold > rollingWindowCalls) {
      throw new VigilOptionError(
        o('volumeThreshold'),
        `at most rollingWindowCalls (${rollingWindowCalls}): the window never holds more calls`,
        volumeThreshold,
      );
    }
  }
  const permittedCallsInHalfOpen =
    checkInt(o('permittedCallsInHalfOpen'), input.permittedCallsInHalfOpen, 1, 1000) ??
    d.permittedCallsInHalfOpen;
  const halfOpenSuccessPercentage =
    checkInt(o('halfOpenSuccessPercentage'), input.halfOpenSuccessPercentage, 1, 100) ??
    d.halfOpenSuccessPercentage;
  const isFailure =
    checkFunction<(e: unknown) => boolean>(o('isFailure'), input.isFailure) ?? defaultIsFailure;
  return {
    consecutiveFailures,
    errorThresholdPercentage,
    slowCallDurationMs: slow === false ? 0 : slow,
    slowCallThresholdPercentage,
    volumeThreshold,
    rollingWindowMs,
    rollingWindowBuckets,
    rollingWindowCalls,
    resetTimeoutMs,
    permittedCallsInHalfOpen,
    halfOpenSuccessPercentage,
    isFailure,
  };
}

/**
 * Warn once, at construction, when only concurrency could ever trip the rate triggers: a caller
 * that waits for each call puts at most `rollingWindowMs / timeoutMs` timed-out calls in the time
 * window, and with `consecutiveFailures: 0` nothing else would open the breaker for it.
 */
export function warnIfRatesNeedConcurrency(
  name: string,
  s: ResolvedBreakerSettings,
  timeoutMs: number,
  logger: ResilienceLogger,
): void {
  if (s.consecutiveFailures > 0 || s.rollingWindowCalls > 0 || timeoutMs === 0) return;
  const sequential = Math.floor(s.rollingWindowMs / timeoutMs);
  if (sequential >= s.volumeThreshold) return;
  logger.warn(
    {
      breaker: name,
      volumeThreshold: s.volumeThreshold,
      rollingWindowMs: s.rollingWindowMs,
      timeoutMs,
    },
    `circuit breaker "${name}": a caller that waits for each call fits at most ${sequential} timed-out calls in the ${s.rollingWindowMs} ms window, fewer than volumeThreshold (${s.volumeThreshold}), and consecutiveFailures is 0: against a hung dependency only concurrent callers can open it`,
  );
}

// Internal outcome codes; the first four index BREAKER_OUTCOMES.
const SUCCESS = 0;
const FAILURE = 1;
const TIMEOUT = 2;
const IGNORED = 3;
/** The caller gave up (its signal): says nothing about the downstream. Recorded as `ignored`. */
const CANCELLED = 4;

const CLOSED = BREAKER_STATE_VALUES.closed;
const HALF_OPEN = BREAKER_STATE_VALUES.half_open;
const OPEN = BREAKER_STATE_VALUES.open;
const STATE_NAMES: readonly BreakerState[] = ['closed', 'half_open', 'open'];

/**
 * The breaker layer: a small state machine (closed, open, half-open) with four triggers, its own
 * windows, the per-attempt timeout, and Vigil's metrics, logs and listeners around it. Used by
 * `createCircuitBreaker`, `createPolicy` and `createHttpClient`.
 *
 * Every call admitted is tagged with the generation of the state it was admitted in; a result is
 * counted towards the triggers only while that state lasts, so a call that ends after the breaker
 * changed state (a slow call started before it opened) cannot move the new state.
 */
export class BreakerCore implements BreakerView {
  readonly events = new Float64Array(BREAKER_EVENTS.length);
  private readonly opens = new Float64Array(BREAKER_OPEN_REASONS.length);
  private slowTotal = 0;
  /** Call durations by outcome: success and failure from the start, the others once they happen. */
  private readonly hists: (HistogramSeries | undefined)[];
  private readonly window: OutcomeWindow;
  private readonly listeners = new Listeners<BreakerStateChange>();
  private readonly timers: Timers;
  private readonly slowMs: number;
  /** Trial successes needed to close from half-open. */
  private readonly required: number;
  private st: number = CLOSED;
  private gen = 0;
  private run = 0;
  private trials = 0;
  private trialOk = 0;
  private trialBad = 0;
  private rejects = 0;
  /** The state left by the last change. */
  private previous: BreakerState = 'closed';
  private since = Date.now();
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private detach: () => void;
  private shut = false;

  constructor(
    readonly name: string,
    private readonly s: ResolvedBreakerSettings,
    private readonly ins: Instruments,
    private readonly logger: ResilienceLogger,
    private readonly now: () => number,
  ) {
    this.hists = BREAKER_OUTCOMES.map((outcome, i) =>
      i <= FAILURE ? histogram(ins, circuitBreakerCallDuration, [name, outcome]) : undefined,
    );
    this.window =
      s.rollingWindowCalls > 0
        ? new CountWindow(s.rollingWindowCalls)
        : new TimeWindow(s.rollingWindowMs, s.rollingWindowBuckets);
    this.timers = new Timers('attempt', now);
    this.slowMs = s.slowCallDurationMs;
    this.required = Math.max(1, Math.ceil((s.permittedCallsInHalfOpen * s.halfOpenSuccessPercentage) / 100));
    this.detach = attach(ins, 'name', [
      [circuitBreakerState, name, () => [{ labels: { breaker: name }, value: this.st }]],
      [
        circuitBreakerEvents,
        name,
        () =>
          BREAKER_EVENTS.map((event, i) => ({
            labels: { breaker: name, event },
            value: this.events[i] as number,
          })),
      ],
      [
        circuitBreakerOpens,
        name,
        () =>
          BREAKER_OPEN_REASONS.map((reason, i) => ({
            labels: { breaker: name, reason },
            value: this.opens[i] as number,
          })),
      ],
      [circuitBreakerSlowCalls, name, () => [{ labels: { breaker: name }, value: this.slowTotal }]],
    ]);
  }

  get state(): BreakerState {
    return STATE_NAMES[this.st] as BreakerState;
  }

  onStateChange(fn: (change: BreakerStateChange) => void): () => void {
    if (typeof fn !== 'function') throw new VigilOptionError('onStateChange(fn)', 'a function', fn);
    return this.listeners.add(fn);
  }

  stats(): BreakerStats {
    const w = this.window;
    w.advance(this.now());
    return {
      state: this.state,
      calls: w.calls,
      successes: w.calls - w.failures,
      failures: w.failures,
      timeouts: w.timeouts,
      slowCalls: w.slow,
      consecutiveFailures: this.run,
      rejects: this.rejects,
      since: this.since,
    };
  }

  /** True when a call made now would be rejected. */
  rejectsNow(): boolean {
    return this.st === OPEN || (this.st === HALF_OPEN && this.trials >= this.s.permittedCallsInHalfOpen);
  }

  /** Count a rejection and build its error (`cause`: the error a retry was about to retry). */
  reject(cause?: unknown): BreakerOpenError {
    this.events[EVENT.reject] = (this.events[EVENT.reject] as number) + 1;
    this.rejects++;
    return new BreakerOpenError(
      this.name,
      this.st === HALF_OPEN ? 'half_open' : 'open',
      cause === undefined ? undefined : { cause },
    );
  }

  /**
   * The innermost layer: the gate, then one attempt of the function under the per-attempt
   * timeout, its outcome recorded the moment it is known (a timeout at the timeout, not when a
   * hung attempt finally ends).
   */
  layer(): Runner {
    return (call) => {
      const parent = call.scope;
      if (parent?.aborted) return Promise.reject(parent.reason);
      const st = this.st;
      if (st !== CLOSED) {
        if (st === OPEN || this.trials >= this.s.permittedCallsInHalfOpen) {
          return Promise.reject(this.reject());
        }
        this.trials++;
      }
      const gen = this.gen;
      const trial = st !== CLOSED;
      const t0 = clock(call, this.now);
      call.t0 = Number.NaN;
      const scope = Scope.child(parent);
      scope.attempt = call.attempt;
      call.running = scope;
      const t = call.timeoutMs;
      if (t !== 0) this.timers.queue(t).add(scope, t0);
      return new Promise((resolve, reject) => {
        let pending = true;
        scope.onAbort = (reason) => {
          this.settle(gen, trial, this.classify(reason, call), t0);
          // Its own timeout: reject now, so a retry can start. Given up from above (overall
          // deadline, caller): the caller is answered already; settle when the work really ends,
          // so a policy's bulkhead slot is held as long as the work runs.
          if (isTimeoutError(reason) && reason.scope === 'attempt') {
            pending = false;
            scope.dispose();
            reject(reason);
          }
        };
        invoke(call.fn, scope).then(
          (v) => {
            if (scope.aborted) {
              if (pending) {
                scope.dispose();
                reject(scope.reason);
              }
              return;
            }
            scope.dispose();
            this.settle(gen, trial, SUCCESS, t0);
            resolve(v);
          },
          (e) => {
            if (scope.aborted) {
              if (pending) {
                scope.dispose();
                reject(scope.reason);
              }
              return;
            }
            scope.dispose();
            this.settle(gen, trial, this.classify(e, call), t0);
            reject(e);
          },
        );
      });
    };
  }

  /** Count the `fallback` event. */
  countFallback(): void {
    this.events[EVENT.fallback] = (this.events[EVENT.fallback] as number) + 1;
  }

  close(): void {
    if (this.shut) return;
    this.shut = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    this.detach();
    BREAKER_OUTCOMES.forEach((outcome, i) => {
      if (this.hists[i] !== undefined)
        removeHistogram(this.ins, circuitBreakerCallDuration, [this.name, outcome]);
    });
  }

  private classify(e: unknown, call: Call): number {
    if (isTimeoutError(e)) return TIMEOUT;
    // The caller (not the downstream) gave up.
    if (call.scope?.aborted) return CANCELLED;
    let failure = true;
    try {
      failure = this.s.isFailure(e);
    } catch {}
    return failure ? FAILURE : IGNORED;
  }

  private settle(gen: number, trial: boolean, outcome: number, t0: number): void {
    const end = this.now();
    const latencyMs = end - t0;
    const o = outcome === CANCELLED ? IGNORED : outcome;
    let h = this.hists[o];
    if (h === undefined) {
      h = histogram(this.ins, circuitBreakerCallDuration, [this.name, BREAKER_OUTCOMES[o] as string]);
      this.hists[o] = h;
    }
    h.observe(latencyMs / 1000);
    const ev =
      o === SUCCESS
        ? EVENT.success
        : o === TIMEOUT
          ? EVENT.timeout
          : o === FAILURE
            ? EVENT.failure
            : EVENT.ignored;
    this.events[ev as number] = (this.events[ev as number] as number) + 1;
    const slow = this.slowMs > 0 && latencyMs >= this.slowMs && outcome !== CANCELLED;
    if (slow) this.slowTotal++;
    if (gen !== this.gen || this.shut) return;
    const bad = outcome === FAILURE || outcome === TIMEOUT;
    if (trial) {
      // An aborted trial proves nothing, and a slow one is no recovery: both count against it.
      if (bad || slow || outcome === CANCELLED) {
        this.trialBad++;
        if (this.trialBad > this.s.permittedCallsInHalfOpen - this.required) this.open('trial_failed', end);
      } else {
        this.trialOk++;
        if (this.trialOk >= this.required) this.toClosed();
      }
      return;
    }
    if (outcome === CANCELLED) return;
    const w = this.window;
    w.add(end, bad, outcome === TIMEOUT, slow);
    if (bad) this.run++;
    else this.run = 0;
    const s = this.s;
    if (s.consecutiveFailures > 0 && this.run >= s.consecutiveFailures) {
      this.open('consecutive', end);
    } else if (w.calls >= s.volumeThreshold && w.calls > 0) {
      if (w.failures * 100 > s.errorThresholdPercentage * w.calls) this.open('error_rate', end);
      else if (this.slowMs > 0 && w.slow * 100 > s.slowCallThresholdPercentage * w.calls)
        this.open('slow_rate', end);
    }
  }

  private open(reason: BreakerOpenReason, t: number): void {
    const w = this.window;
    w.advance(t);
    const detail =
      reason === 'consecutive'
        ? `${this.run} failures in a row`
        : reason === 'error_rate'
          ? `${w.failures} of the last ${w.calls} calls failed`
          : reason === 'slow_rate'
            ? `${w.slow} of the last ${w.calls} calls took ${this.slowMs} ms or more`
            : `${this.trialBad} of ${this.trials} trial calls failed`;
    const fields = {
      reason,
      calls: w.calls,
      failures: w.failures,
      timeouts: w.timeouts,
      slowCalls: w.slow,
      consecutiveFailures: this.run,
      resetTimeoutMs: this.s.resetTimeoutMs,
    };
    this.opens[REASON[reason]] = (this.opens[REASON[reason]] as number) + 1;
    this.enter(OPEN);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.shut) return;
      this.enter(HALF_OPEN);
      const n = this.s.permittedCallsInHalfOpen;
      this.logger.info(
        { breaker: this.name, state: 'half_open', previousState: 'open', permittedCallsInHalfOpen: n },
        `circuit breaker "${this.name}" half-open: letting ${n === 1 ? 'one trial call' : `${n} trial calls`} through`,
      );
      this.emit('open', 'half_open', undefined);
    }, this.s.resetTimeoutMs);
    this.timer.unref?.();
    this.logger.warn(
      { breaker: this.name, state: 'open', previousState: this.previous, ...fields },
      `circuit breaker "${this.name}" opened (${detail}): calls are rejected for ${this.s.resetTimeoutMs} ms`,
    );
    this.emit(this.previous, 'open', reason);
  }

  private toClosed(): void {
    const trials = this.trials;
    this.enter(CLOSED);
    this.logger.info(
      { breaker: this.name, state: 'closed', previousState: 'half_open', trialCalls: trials },
      `circuit breaker "${this.name}" closed: calls flow again`,
    );
    this.emit('half_open', 'closed', undefined);
  }

  /** Switch state: a new generation, fresh counts for it, the transition event. */
  private enter(to: number): void {
    this.previous = STATE_NAMES[this.st] as BreakerState;
    this.st = to;
    this.gen++;
    this.trials = 0;
    this.trialOk = 0;
    this.trialBad = 0;
    this.rejects = 0;
    this.since = Date.now();
    if (to === CLOSED) {
      this.window.reset();
      this.run = 0;
    }
    const ev = to === OPEN ? EVENT.open : to === HALF_OPEN ? EVENT.half_open : EVENT.close;
    this.events[ev as number] = (this.events[ev as number] as number) + 1;
  }

  private emit(from: BreakerState, to: BreakerState, reason: BreakerOpenReason | undefined): void {
    if (this.listeners.size === 0) return;
    this.listeners.emit(
      reason === undefined
        ? { breaker: this.name, from, to, at: this.since }
        : { breaker: this.name, from, to, reason, at: this.since },
    );
  }
}

const BREAKER_KEYS = ['name', 'timeoutMs', 'registry', 'metrics', 'logger', 'now'];

/**
 * A circuit breaker that opens on consecutive failures, on the failure rate or on the slow-call
 * rate, visible by default: state gauge, event and open-reason counters and a call-duration
 * histogram in the registry, one log line per state change, `onStateChange` subscriptions and a
 * readiness check (`createBreakerCheck`).
 *
 * ```ts
 * const users = createCircuitBreaker({ name: 'users-api', metrics });
 * const user = await users.execute(({ signal }) => fetchUser(id, { signal }));
 * ```
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const input = checkObject('options', options);
  if (options === undefined) throw new VigilOptionError('name', 'a breaker name', undefined);
  const settings = resolveBreakerSettings(input, '', BREAKER_KEYS);
  const name = checkName('name', input.name);
  const timeoutMs = ms(checkTimeout('timeoutMs', input.timeoutMs), BREAKER_DEFAULTS.timeoutMs);
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  const logger = resolveLogger(input.logger);
  warnIfRatesNeedConcurrency(name, settings, timeoutMs, logger);
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);
  let core: BreakerCore;
  try {
    core = new BreakerCore(name, settings, instruments, logger, now);
  } catch (e) {
    void release();
    throw e;
  }
  let closed: Promise<void> | undefined;
  const run = overallRunner(core.layer(), new Timers('overall', now), now);
  const { execute, wrap } = makeExecutor(run, {
    what: `Circuit breaker "${name}"`,
    timeoutMs,
    overallMs: 0,
    isClosed: () => closed !== undefined,
    onFallback: () => core.countFallback(),
  });
  return {
    name,
    registry: instruments.registry,
    execute,
    wrap,
    get state() {
      return core.state;
    },
    onStateChange: (fn) => core.onStateChange(fn),
    stats: () => core.stats(),
    close() {
      // In-flight calls keep their deadlines: the deadline timers are unref'd and stop by
      // themselves once the last of them settles.
      closed ??= (async () => {
        core.close();
        await release();
      })();
      return closed;
    },
  };
}
