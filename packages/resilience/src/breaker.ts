import {
  BREAKER_EVENTS,
  BREAKER_OUTCOMES,
  BREAKER_STATE_VALUES,
  circuitBreakerCallDuration,
  circuitBreakerEvents,
  circuitBreakerState,
} from '@vigil/catalog';
import {
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkName,
  checkObject,
  checkTimeout,
  VigilOptionError,
} from '@vigil/core';
import OpossumBreaker from 'opossum';
import type { Registry } from 'prom-client';
import { BREAKER_DEFAULTS } from './defaults.js';
import { BreakerOpenError, isHttpStatusError, isTimeoutError, TimeoutError } from './errors.js';
import {
  type Call,
  lazyAttemptRunner,
  makeExecutor,
  ms,
  OUTCOME_FAILURE,
  OUTCOME_IGNORED,
  OUTCOME_SUCCESS,
  OUTCOME_TIMEOUT,
  overallRunner,
  type Runner,
  Timers,
} from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import {
  attach,
  boundsOf,
  Hist,
  histValues,
  type PromValue,
  resolveRegistry,
} from './internal/instruments.js';
import { Listeners, resolveLogger } from './internal/log.js';
import type {
  BreakerState,
  BreakerStateChange,
  BreakerStats,
  Executor,
  InstrumentationOptions,
  ResilienceLogger,
} from './types.js';

/** Options of the breaker itself (also the `breaker` object of `createPolicy` / `createHttpClient`). */
export interface BreakerSettings {
  errorThresholdPercentage?: number;
  volumeThreshold?: number;
  resetTimeoutMs?: number;
  rollingWindowMs?: number;
  rollingWindowBuckets?: number;
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
  /** Counts in the rolling window the breaker decides on. */
  stats(): BreakerStats;
}

export interface CircuitBreaker extends Executor, BreakerView {
  /** The registry holding this breaker's metrics. */
  readonly registry: Registry;
  /** Stops the breaker's timers, removes its series and listeners. Later calls reject. Idempotent. */
  close(): Promise<void>;
}

const EVENT = Object.fromEntries(BREAKER_EVENTS.map((e, i) => [e, i])) as Record<
  (typeof BREAKER_EVENTS)[number],
  number
>;

/** Default `isFailure`: a 4xx response (except 429) is the caller's problem, not the downstream's. */
export function defaultIsFailure(error: unknown): boolean {
  if (isHttpStatusError(error)) return error.status >= 500 || error.status === 429;
  return true;
}

const SETTINGS_KEYS = [
  'errorThresholdPercentage',
  'volumeThreshold',
  'resetTimeoutMs',
  'rollingWindowMs',
  'rollingWindowBuckets',
  'isFailure',
] as const;

export interface ResolvedBreakerSettings {
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly resetTimeoutMs: number;
  readonly rollingWindowMs: number;
  readonly rollingWindowBuckets: number;
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
  const errorThresholdPercentage =
    checkInt(`${prefix}errorThresholdPercentage`, input.errorThresholdPercentage, 0, 99) ??
    d.errorThresholdPercentage;
  const volumeThreshold = checkInt(`${prefix}volumeThreshold`, input.volumeThreshold, 0) ?? d.volumeThreshold;
  const resetTimeoutMs =
    checkInt(`${prefix}resetTimeoutMs`, input.resetTimeoutMs, 1, 2_147_483_647) ?? d.resetTimeoutMs;
  const rollingWindowMs =
    checkInt(`${prefix}rollingWindowMs`, input.rollingWindowMs, 10, 2_147_483_647) ?? d.rollingWindowMs;
  const rollingWindowBuckets =
    checkInt(`${prefix}rollingWindowBuckets`, input.rollingWindowBuckets, 1, 1000) ?? d.rollingWindowBuckets;
  if (rollingWindowMs / rollingWindowBuckets < 1 || rollingWindowMs % rollingWindowBuckets !== 0) {
    throw new VigilOptionError(
      `${prefix}rollingWindowBuckets`,
      `a divisor of rollingWindowMs (${rollingWindowMs}) giving buckets of at least 1 ms`,
      rollingWindowBuckets,
    );
  }
  const isFailure =
    checkFunction<(e: unknown) => boolean>(`${prefix}isFailure`, input.isFailure) ?? defaultIsFailure;
  return {
    errorThresholdPercentage,
    volumeThreshold,
    resetTimeoutMs,
    rollingWindowMs,
    rollingWindowBuckets,
    isFailure,
  };
}

/**
 * The breaker layer: opossum's state machine and rolling window, Vigil's metrics, logs and
 * listeners around it. Used by `createCircuitBreaker`, `createPolicy` and `createHttpClient`.
 */
export class BreakerCore implements BreakerView {
  readonly events = new Float64Array(BREAKER_EVENTS.length);
  private readonly hists: Hist[];
  private readonly bounds = boundsOf(circuitBreakerCallDuration);
  private readonly ob: OpossumBreaker<[Call], unknown>;
  private readonly listeners = new Listeners<BreakerStateChange>();
  private current: BreakerState = 'closed';
  private since = Date.now();
  private next: Runner | undefined;
  private detach: () => void;
  private shut = false;
  /** Set by errorFilter just before opossum emits `success` for an error it was told to ignore. */
  private ignoredPending = false;

  constructor(
    readonly name: string,
    private readonly settings: ResolvedBreakerSettings,
    registry: Registry,
    private readonly logger: ResilienceLogger,
  ) {
    this.hists = BREAKER_OUTCOMES.map((outcome) => new Hist({ breaker: name, outcome }, this.bounds));
    // Register first: a duplicate name must fail before opossum starts its bucket timer.
    this.detach = attach(registry, 'name', [
      [
        circuitBreakerState,
        name,
        () => [{ labels: { breaker: name }, value: BREAKER_STATE_VALUES[this.current] }],
      ],
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
        circuitBreakerCallDuration,
        name,
        () => {
          const out: PromValue[] = [];
          // success and failure always; timeout and ignored once they happened (fewer idle lines).
          for (let i = 0; i < this.hists.length; i++) {
            const h = this.hists[i] as Hist;
            if (i <= OUTCOME_FAILURE || h.count > 0)
              histValues(circuitBreakerCallDuration.name, this.bounds, h, out);
          }
          return out;
        },
      ],
    ]);
    this.ob = new OpossumBreaker<[Call], unknown>((call: Call) => (this.next as Runner)(call), {
      name,
      // The per-attempt timeout is opossum's (set per call in `layer`): it races inside the
      // promise opossum creates anyway, so it costs no extra promise. Its 'timeout' event (below)
      // turns the error into Vigil's TimeoutError and aborts the attempt's signal.
      timeout: false,
      resetTimeout: settings.resetTimeoutMs,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: settings.rollingWindowBuckets,
      // Latency lives in Vigil's histogram; opossum's percentile arrays would cost every call.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // opossum passes the call record as the action's argument: the outcome is classified once,
      // here, and read back by the `failure` listener below.
      errorFilter: ((e: unknown, call: Call) => {
        const o = this.classify(e, call);
        call.outcome = o;
        if (o !== OUTCOME_IGNORED) return false;
        this.ignoredPending = true;
        return true;
      }) as never,
    });
    // Accounting rides on opossum's own events, emitted synchronously in its settle handlers with
    // the latency it measured anyway: no extra clock reads and no extra promise per call.
    this.ob.on('success', (_result: unknown, latencyMs: number) => {
      const o = this.ignoredPending ? OUTCOME_IGNORED : OUTCOME_SUCCESS;
      this.ignoredPending = false;
      this.record(o, latencyMs);
    });
    this.ob.on('failure', (_error: unknown, latencyMs: number, args: [Call]) => {
      this.record(args[0].outcome, latencyMs);
    });
    // Emitted before opossum classifies and rejects with the error: make it Vigil's TimeoutError
    // (same object, so the rejection carries it) and cancel the attempt for real.
    (this.ob as unknown as NodeJS.EventEmitter).on(
      'timeout',
      (error: Error, _latencyMs: number, args: [Call]) => {
        const call = args[0];
        const e = toTimeoutError(error, call.timeoutMs);
        call.ctx?.abort(e);
      },
    );
    this.ob.on('open', () => this.transition('open'));
    this.ob.on('halfOpen', () => this.transition('half_open'));
    this.ob.on('close', () => this.transition('closed'));
  }

  get state(): BreakerState {
    return this.current;
  }

  onStateChange(fn: (change: BreakerStateChange) => void): () => void {
    if (typeof fn !== 'function') throw new VigilOptionError('onStateChange(fn)', 'a function', fn);
    return this.listeners.add(fn);
  }

  stats(): BreakerStats {
    const s = this.ob.stats;
    return {
      state: this.current,
      calls: s.fires,
      successes: s.successes,
      failures: s.failures,
      timeouts: s.timeouts,
      rejects: s.rejects,
      since: this.since,
    };
  }

  /** Wrap the next layer, the attempt (once). */
  layer(next: Runner): Runner {
    this.next = next;
    const ob = this.ob;
    const options = (ob as unknown as { options: { timeout: number | false } }).options;
    return (call) => {
      // The same test opossum makes, done first so a rejection costs no opossum machinery.
      if (!ob.closed && !ob.pendingClose) return Promise.reject(this.reject());
      // opossum reads its timeout when the call starts (synchronously in fire): per-call values
      // (execute's `timeoutMs`, an HTTP request's) are set right before.
      const t = call.timeoutMs === 0 ? false : call.timeoutMs;
      if (options.timeout !== t) options.timeout = t;
      return ob.fire(call);
    };
  }

  /** Count the `fallback` event. */
  countFallback(): void {
    this.events[EVENT.fallback] = (this.events[EVENT.fallback] as number) + 1;
  }

  close(): void {
    if (this.shut) return;
    this.shut = true;
    this.ob.shutdown();
    this.listeners.clear();
    this.detach();
  }

  private reject(): BreakerOpenError {
    this.events[EVENT.reject] = (this.events[EVENT.reject] as number) + 1;
    // Keep opossum's window as it would be had opossum rejected the call itself.
    const status = this.ob.status as unknown as { increment(p: string): void };
    status.increment('fires');
    status.increment('rejects');
    return new BreakerOpenError(this.name, this.current === 'half_open' ? 'half_open' : 'open');
  }

  private record(outcome: number, latencyMs: number): void {
    (this.hists[outcome] as Hist).observe(latencyMs / 1000);
    const ev =
      outcome === OUTCOME_SUCCESS
        ? EVENT.success
        : outcome === OUTCOME_TIMEOUT
          ? EVENT.timeout
          : outcome === OUTCOME_FAILURE
            ? EVENT.failure
            : EVENT.ignored;
    this.events[ev as number] = (this.events[ev as number] as number) + 1;
  }

  private classify(e: unknown, call: Call): number {
    if (isTimeoutError(e)) return OUTCOME_TIMEOUT;
    // The caller (not the downstream) gave up: neutral, except that an aborted trial call proves
    // nothing, so a half-open breaker stays cautious and opens again.
    if (call.scope?.aborted) {
      return this.ob.halfOpen ? OUTCOME_FAILURE : OUTCOME_IGNORED;
    }
    let failure = true;
    try {
      failure = this.settings.isFailure(e);
    } catch {}
    return failure ? OUTCOME_FAILURE : OUTCOME_IGNORED;
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    const at = Date.now();
    this.since = at;
    const ev = to === 'open' ? EVENT.open : to === 'half_open' ? EVENT.half_open : EVENT.close;
    this.events[ev as number] = (this.events[ev as number] as number) + 1;
    const s = this.ob.stats;
    const fields = {
      breaker: this.name,
      state: to,
      previousState: from,
      calls: s.fires,
      failures: s.failures,
      timeouts: s.timeouts,
    };
    if (to === 'open') {
      this.logger.warn(
        { ...fields, resetTimeoutMs: this.settings.resetTimeoutMs },
        `circuit breaker "${this.name}" opened: calls are rejected for ${this.settings.resetTimeoutMs} ms`,
      );
    } else if (to === 'half_open') {
      this.logger.info(fields, `circuit breaker "${this.name}" half-open: letting one trial call through`);
    } else {
      this.logger.info(fields, `circuit breaker "${this.name}" closed: calls flow again`);
    }
    this.listeners.emit({ breaker: this.name, from, to, at });
  }
}

/** Turn opossum's timeout error (fresh per timeout) into a Vigil `TimeoutError`, in place. */
function toTimeoutError(error: Error, timeoutMs: number): TimeoutError {
  const e = error as unknown as Record<string, unknown>;
  Object.setPrototypeOf(error, TimeoutError.prototype);
  e.code = 'VIGIL_TIMEOUT';
  e.name = 'TimeoutError';
  e.scope = 'attempt';
  e.timeoutMs = timeoutMs;
  e.message = `Attempt timed out after ${timeoutMs} ms`;
  return error as TimeoutError;
}

const BREAKER_KEYS = ['name', 'timeoutMs', 'registry', 'metrics', 'logger', 'now'];

/**
 * A circuit breaker on opossum, visible by default: state gauge, event counter and call-duration
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
  const registry = resolveRegistry(input as InstrumentationOptions);

  const core = new BreakerCore(name, settings, registry, logger);
  let closed: Promise<void> | undefined;
  const run = overallRunner(core.layer(lazyAttemptRunner()), new Timers('overall', now), now);
  const { execute, wrap } = makeExecutor(run, {
    what: `Circuit breaker "${name}"`,
    timeoutMs,
    overallMs: 0,
    isClosed: () => closed !== undefined,
    onFallback: () => core.countFallback(),
  });
  return {
    name,
    registry,
    execute,
    wrap,
    get state() {
      return core.state;
    },
    onStateChange: (fn) => core.onStateChange(fn),
    stats: () => core.stats(),
    close() {
      // In-flight calls keep their deadlines: the deadline timer is unref'd and stops by itself
      // once the last of them settles.
      closed ??= (async () => core.close())();
      return closed;
    },
  };
}
