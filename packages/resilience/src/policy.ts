import {
  checkFunction,
  checkKnownKeys,
  checkName,
  checkObject,
  checkTimeout,
  checkToggle,
  VigilOptionError,
} from '@vigil/core';
import type { Instruments, Registry } from '@vigil/metrics';
import {
  BreakerCore,
  type BreakerSettings,
  type BreakerView,
  type ResolvedBreakerSettings,
  resolveBreakerSettings,
  warnIfRatesNeedConcurrency,
} from './breaker.js';
import {
  BulkheadCore,
  type BulkheadSettings,
  type BulkheadView,
  type ResolvedBulkheadSettings,
  resolveBulkheadSettings,
} from './bulkhead.js';
import { POLICY_DEFAULTS } from './defaults.js';
import { attemptRunner, makeExecutor, type Runner, Timers } from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { flowRunner } from './internal/flow.js';
import { resolveInstruments } from './internal/instruments.js';
import { resolveLogger } from './internal/log.js';
import { type ResolvedRetrySettings, RetryCore, type RetrySettings, resolveRetrySettings } from './retry.js';
import type { Executor, InstrumentationOptions, RetryEvent, RetryPredicate } from './types.js';

export interface PolicyOptions extends InstrumentationOptions {
  /** Label value of every metric of the policy (`breaker`, `policy`) and name in logs. Required. */
  name: string;
  /** Per-attempt timeout (ms), or `false`. */
  timeoutMs?: number | false;
  /** Deadline (ms) of the whole call, or `false`. Default 30 000 (or `timeoutMs` when larger). */
  overallTimeoutMs?: number | false;
  /** Circuit breaker: `true` for defaults, settings, or `false`. Default on. */
  breaker?: boolean | BreakerSettings;
  /** Retries: `true` for defaults, settings, or `false`. Default off (see README). */
  retry?: boolean | RetrySettings;
  /** Bulkhead: `true` for defaults, settings, or `false`. Default off. */
  bulkhead?: boolean | BulkheadSettings;
}

export interface Policy extends Executor {
  readonly name: string;
  readonly registry: Registry;
  /** The breaker's state and events, when the policy has one. */
  readonly breaker: BreakerView | undefined;
  /** The bulkhead's occupancy, when the policy has one. */
  readonly bulkhead: BulkheadView | undefined;
  /** Subscribe to retries; returns the unsubscribe function (a no-op when retries are off). */
  onRetry(fn: (event: RetryEvent) => void): () => void;
  /**
   * Stops the breaker's timers, rejects queued bulkhead calls, ends pending backoffs with their
   * last error and removes the policy's series. Running attempts finish. Idempotent.
   */
  close(): Promise<void>;
}

export interface ResolvedPolicy {
  readonly name: string;
  readonly timeoutMs: number;
  readonly overallMs: number;
  readonly breaker: ResolvedBreakerSettings | false;
  readonly retry: ResolvedRetrySettings | false;
  readonly bulkhead: ResolvedBulkheadSettings | false;
}

const INSTRUMENTATION_KEYS = ['registry', 'metrics', 'logger', 'now'];
const POLICY_KEYS = ['name', 'timeoutMs', 'overallTimeoutMs', 'breaker', 'retry', 'bulkhead'];

/** Validate the options shared by `createPolicy` and `createHttpClient`. */
export function resolvePolicy(
  input: Record<string, unknown>,
  defaults: {
    readonly timeoutMs: number | false;
    readonly overallTimeoutMs: number | false;
    readonly breaker: boolean | object;
    readonly retry: boolean | object;
    readonly bulkhead: boolean | object;
  },
  name: string,
  extraKeys: readonly string[],
  defaultRetryOn?: RetryPredicate,
): ResolvedPolicy {
  checkKnownKeys('', input, [...POLICY_KEYS, ...INSTRUMENTATION_KEYS, ...extraKeys]);
  const t = checkTimeout('timeoutMs', input.timeoutMs) ?? defaults.timeoutMs;
  const timeoutMs = t === false ? 0 : t;
  const o = checkTimeout('overallTimeoutMs', input.overallTimeoutMs);
  let overallMs: number;
  if (o === undefined) {
    const d = defaults.overallTimeoutMs;
    overallMs = d === false ? 0 : Math.max(d, timeoutMs);
  } else {
    overallMs = o === false ? 0 : o;
    if (overallMs !== 0 && timeoutMs !== 0 && overallMs < timeoutMs) {
      throw new VigilOptionError('overallTimeoutMs', `at least timeoutMs (${timeoutMs}) or false`, o);
    }
  }
  const toggle = (key: 'breaker' | 'retry' | 'bulkhead') => {
    const v = checkToggle(key, input[key]);
    if (v !== undefined) return v;
    const d = defaults[key];
    return d === false ? false : d === true ? {} : (d as Record<string, unknown>);
  };
  const b = toggle('breaker');
  const r = toggle('retry');
  const h = toggle('bulkhead');
  return {
    name,
    timeoutMs,
    overallMs,
    breaker: b === false ? false : resolveBreakerSettings(b, 'breaker.', []),
    retry: r === false ? false : resolveRetrySettings(r, 'retry.', [], defaultRetryOn),
    bulkhead: h === false ? false : resolveBulkheadSettings(h, 'bulkhead.', []),
  };
}

export interface Pipeline {
  readonly run: Runner;
  readonly breaker: BreakerCore | undefined;
  readonly retry: RetryCore | undefined;
  readonly bulkhead: BulkheadCore | undefined;
  close(): void;
}

/**
 * Compose the layers in the one documented order (outermost first):
 *
 *   fallback -> overall timeout -> bulkhead -> retry -> breaker -> attempt timeout -> fn
 *
 * - The attempt timeout is innermost so that a slow attempt counts as a breaker failure, at the
 *   moment it times out, and can be retried.
 * - The breaker sits inside the retry, so it counts every attempt (the downstream's real failure
 *   rate) and an open breaker stops the retry loop at once: `BreakerOpenError` is never retried,
 *   and a retry is not even slept for once the failed attempt has opened the breaker.
 * - The bulkhead holds one slot for the whole call, retries included, and is outside the retry
 *   so a retry never re-queues behind newer calls.
 * - The overall deadline covers queueing, every attempt and every backoff; the retry gives up
 *   early rather than sleep past it.
 * - The fallback (per call) sees the final error, whatever layer produced it.
 */
export function buildPipeline(
  p: ResolvedPolicy,
  ins: Instruments,
  logger: ReturnType<typeof resolveLogger>,
  now: () => number,
): Pipeline {
  let breaker: BreakerCore | undefined;
  let retry: RetryCore | undefined;
  let bulkhead: BulkheadCore | undefined;
  try {
    let inner: Runner;
    if (p.breaker !== false) {
      warnIfRatesNeedConcurrency(p.name, p.breaker, p.timeoutMs, logger);
      breaker = new BreakerCore(p.name, p.breaker, ins, logger, now);
      inner = breaker.layer();
    } else {
      inner = attemptRunner(new Timers('attempt', now), now);
    }
    if (p.retry !== false) retry = new RetryCore(p.name, p.retry, ins, now);
    if (p.bulkhead !== false) bulkhead = new BulkheadCore(p.name, p.bulkhead, ins);
    const run = flowRunner({
      inner,
      breaker,
      retry,
      bulkhead,
      timers: new Timers('overall', now),
      now,
    });
    return {
      run,
      breaker,
      retry,
      bulkhead,
      close() {
        bulkhead?.close();
        retry?.close();
        breaker?.close();
      },
    };
  } catch (e) {
    bulkhead?.close();
    retry?.close();
    breaker?.close();
    throw e;
  }
}

const noop = () => {};

/** A read-only face of a breaker core (so `policy.breaker` cannot close or bypass it). */
export function breakerView(core: BreakerCore): BreakerView {
  return Object.freeze({
    name: core.name,
    get state() {
      return core.state;
    },
    onStateChange: (fn: Parameters<BreakerView['onStateChange']>[0]) => core.onStateChange(fn),
    stats: () => core.stats(),
  });
}

export function bulkheadView(core: BulkheadCore): BulkheadView {
  return Object.freeze({
    get active() {
      return core.active;
    },
    get queued() {
      return core.queued;
    },
  });
}

/**
 * Breaker, retry, timeouts and bulkhead in one options object, composed in one documented order
 * (see `buildPipeline`). For arbitrary functions retries are off unless asked for.
 *
 * ```ts
 * const payments = createPolicy({ name: 'payments', metrics, retry: true, bulkhead: { maxConcurrent: 20 } });
 * const receipt = await payments.execute(({ signal }) => charge(order, { signal }));
 * ```
 */
export function createPolicy(options: PolicyOptions): Policy {
  if (options === undefined) throw new VigilOptionError('name', 'a policy name', undefined);
  const input = checkObject('options', options);
  const name = checkName('name', input.name);
  const resolved = resolvePolicy(input, POLICY_DEFAULTS, name, []);
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  const logger = resolveLogger(input.logger);
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);
  let pipeline: ReturnType<typeof buildPipeline>;
  try {
    pipeline = buildPipeline(resolved, instruments, logger, now);
  } catch (e) {
    void release();
    throw e;
  }
  let closed: Promise<void> | undefined;
  const breaker = pipeline.breaker;
  const { execute, wrap } = makeExecutor(pipeline.run, {
    what: `Policy "${name}"`,
    timeoutMs: resolved.timeoutMs,
    overallMs: resolved.overallMs,
    isClosed: () => closed !== undefined,
    onFallback: breaker ? () => breaker.countFallback() : undefined,
  });
  return {
    name,
    registry: instruments.registry,
    execute,
    wrap,
    breaker: breaker ? breakerView(breaker) : undefined,
    bulkhead: pipeline.bulkhead ? bulkheadView(pipeline.bulkhead) : undefined,
    onRetry: (fn) => (pipeline.retry ? pipeline.retry.onRetry(fn) : noop),
    close() {
      closed ??= (async () => {
        pipeline.close();
        await release();
      })();
      return closed;
    },
  };
}
