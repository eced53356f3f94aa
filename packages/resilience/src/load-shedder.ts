import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { LOAD_SHED_REASONS, loadShedInFlight, loadShedLimit, loadShedRequests } from '@vigil/catalog';
import {
  checkBoolean,
  checkFunction,
  checkInt,
  checkKnownKeys,
  checkNumber,
  checkObject,
  VigilOptionError,
} from '@vigil/core';
import type { Registry } from '@vigil/metrics';
import { LOAD_SHEDDER_DEFAULTS } from './defaults.js';
import { attach, resolveInstruments } from './internal/instruments.js';
import type { InstrumentationOptions } from './types.js';

/** Why a request was shed (the `reason` label of `vigil_load_shed_requests_total`). */
export type ShedReason = (typeof LOAD_SHED_REASONS)[number];

export interface LoadShedderOptions extends Omit<InstrumentationOptions, 'logger'> {
  /** The adaptive concurrency limit; `false` leaves only the static guards you set. */
  adaptive?: boolean;
  initialLimit?: number;
  minLimit?: number;
  maxLimit?: number;
  tolerance?: number;
  intervalMs?: number;
  minQueueDelayMs?: number;
  maxEventLoopDelayMs?: number | false;
  maxEventLoopUtilization?: number | false;
  maxHeapUsedRatio?: number | false;
  guardIntervalMs?: number;
  retryAfterSeconds?: number;
}

/** An admitted request: hand it back to `release()` when the request has finished. */
export interface ShedToken {
  readonly admitted: true;
}

/** A request to answer with 503 and `Retry-After: retryAfterSeconds`, before any handler runs. */
export interface ShedRejection {
  readonly admitted: false;
  readonly reason: ShedReason;
  readonly retryAfterSeconds: number;
}

export type Admission = ShedToken | ShedRejection;

export interface LoadShedder {
  /**
   * Decide about one request, before any handler runs. `priority` requests (probes excluded
   * already, a class of your own) are always admitted, and still counted in flight. `at`: the
   * caller's `performance.now()` at arrival, if it has one (used unless a `now` clock was given).
   */
  tryAcquire(priority?: boolean, at?: number): Admission;
  /**
   * The admitted request finished. `outcome: 'ignore'` (the client went away, the request was
   * cut short) releases it without using its latency. Idempotent per token. `at`: the caller's
   * `performance.now()` at the end, as for `tryAcquire`.
   */
  release(token: ShedToken, outcome?: 'ok' | 'ignore', at?: number): void;
  /** The current concurrency limit (`Infinity` without the adaptive limit). */
  readonly limit: number;
  readonly inFlight: number;
  /** True while requests are being shed (one was shed in the last 5 s). */
  readonly shedding: boolean;
  /** The reason of the last request shed, if any. */
  readonly lastReason: ShedReason | undefined;
  readonly registry: Registry;
  /** Stops the timers and the event-loop monitor, removes the series; later calls admit everything. */
  close(): Promise<void>;
}

const REASON_INDEX = Object.fromEntries(LOAD_SHED_REASONS.map((r, i) => [r, i])) as Record<
  ShedReason,
  number
>;
const CONCURRENCY = REASON_INDEX.concurrency;
const DELAY = REASON_INDEX.event_loop_delay;
const UTILIZATION = REASON_INDEX.event_loop_utilization;
const HEAP = REASON_INDEX.heap;
const NONE = -1;
/** How long after the last shed request `shedding` stays true. */
const SHEDDING_HOLD_MS = 5_000;
/** Resolution (ms) of the event-loop delay monitor. */
const ELD_RESOLUTION_MS = 10;
/**
 * Event-loop utilisation over an interval below which the limit never shrinks: requests that wait
 * while the loop is mostly idle wait for something else (a slow database, other processes on the
 * CPU), which shedding would not cure.
 */
const BUSY_UTILIZATION = 0.9;

class Token implements ShedToken {
  readonly admitted = true as const;
  released = false;
  constructor(readonly start: number) {}
}

const KEYS = [
  'adaptive',
  'initialLimit',
  'minLimit',
  'maxLimit',
  'tolerance',
  'intervalMs',
  'minQueueDelayMs',
  'maxEventLoopDelayMs',
  'maxEventLoopUtilization',
  'maxHeapUsedRatio',
  'guardIntervalMs',
  'retryAfterSeconds',
  'registry',
  'metrics',
  'now',
];

interface Resolved {
  readonly adaptive: boolean;
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly tolerance: number;
  readonly intervalMs: number;
  readonly minQueueDelayMs: number;
  /** 0 when the guard is off. */
  readonly maxDelayMs: number;
  readonly maxElu: number;
  readonly maxHeap: number;
  readonly guardIntervalMs: number;
  readonly retryAfterSeconds: number;
}

/** Validate `createLoadShedder` options (also the adapters' shedder options). */
export function resolveLoadShedderOptions(
  input: Record<string, unknown>,
  extraKeys: readonly string[] = [],
): Resolved {
  checkKnownKeys('', input, [...KEYS, ...extraKeys]);
  const d = LOAD_SHEDDER_DEFAULTS;
  const adaptive = checkBoolean('adaptive', input.adaptive) ?? d.adaptive;
  const minLimit = checkInt('minLimit', input.minLimit, 1, 100_000) ?? d.minLimit;
  const maxLimit = checkInt('maxLimit', input.maxLimit, 1, 100_000) ?? d.maxLimit;
  if (maxLimit < minLimit)
    throw new VigilOptionError('maxLimit', `at least minLimit (${minLimit})`, maxLimit);
  const initialLimit =
    checkInt('initialLimit', input.initialLimit, 1, 100_000) ??
    Math.min(maxLimit, Math.max(minLimit, d.initialLimit));
  if (initialLimit < minLimit || initialLimit > maxLimit) {
    throw new VigilOptionError(
      'initialLimit',
      `from minLimit (${minLimit}) to maxLimit (${maxLimit})`,
      initialLimit,
    );
  }
  const tolerance = checkNumber('tolerance', input.tolerance, 1, 100) ?? d.tolerance;
  const intervalMs = checkInt('intervalMs', input.intervalMs, 10, 60_000) ?? d.intervalMs;
  const minQueueDelayMs =
    checkNumber('minQueueDelayMs', input.minQueueDelayMs, 0, 60_000) ?? d.minQueueDelayMs;
  const off = (name: string, v: unknown, min: number, max: number): number => {
    if (v === undefined || v === false) return 0;
    return checkNumber(name, v, min, max) as number;
  };
  return {
    adaptive,
    initialLimit,
    minLimit,
    maxLimit,
    tolerance,
    intervalMs,
    minQueueDelayMs,
    maxDelayMs: off('maxEventLoopDelayMs', input.maxEventLoopDelayMs ?? d.maxEventLoopDelayMs, 1, 60_000),
    maxElu: off(
      'maxEventLoopUtilization',
      input.maxEventLoopUtilization ?? d.maxEventLoopUtilization,
      0.01,
      1,
    ),
    maxHeap: off('maxHeapUsedRatio', input.maxHeapUsedRatio ?? d.maxHeapUsedRatio, 0.001, 1),
    guardIntervalMs: checkInt('guardIntervalMs', input.guardIntervalMs, 10, 60_000) ?? d.guardIntervalMs,
    retryAfterSeconds:
      checkInt('retryAfterSeconds', input.retryAfterSeconds, 0, 86_400) ?? d.retryAfterSeconds,
  };
}

/**
 * Sheds load before a service falls over: an adaptive concurrency limit that follows latency
 * (gradient-style, against the service's own no-load latency), plus optional static guards
 * (event-loop delay, event-loop utilisation, heap used against V8's limit). Framework-agnostic:
 * an adapter calls `tryAcquire()` before any handler and `release()` when the request finished.
 *
 * ```ts
 * const shedder = createLoadShedder({ metrics });
 * const t = shedder.tryAcquire();
 * if (!t.admitted) return reply503(t.retryAfterSeconds);
 * onFinished(() => shedder.release(t));
 * ```
 *
 * How the limit works on Node.js: a request counts as in flight from admission until the event
 * loop has finished the turn in which it completed. A synchronous handler completes in the turn
 * it started in, so requests admitted in one turn run one after the other: counting them until
 * the turn ends is what makes the limit bound the work queued in the loop (a plain in-flight count
 * never exceeds 1 with synchronous handlers, however overloaded the loop is). Every `intervalMs`
 * the latency the finished requests saw (admission to the end of their turn, plus the loop's mean
 * delay, which their awaits waited for) is compared with their no-load latency (admission to their
 * own end: what they cost without waiting behind others), which follows the mix of requests as it
 * changes. When they waited more than `tolerance` allows (and more than `minQueueDelayMs`) while
 * the loop was busy, the limit shrinks in proportion; otherwise, if the limit was reached, it grows
 * by about half its square root. While the loop is busy, a turn that has run longer than that
 * tolerated queueing admits no more requests (the first of a turn always runs).
 */
export function createLoadShedder(options: LoadShedderOptions = {}): LoadShedder {
  const input = checkObject('options', options);
  const s = resolveLoadShedderOptions(input);
  const clock = checkFunction<() => number>('now', input.now);
  // The default clock is the request observer's, so it can hand over the readings it takes anyway.
  const now = clock ?? (() => performance.now());
  const shared = clock === undefined;
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);
  const a = s.adaptive ? s : undefined;

  const shedCounts = new Float64Array(LOAD_SHED_REASONS.length);
  const rejections = LOAD_SHED_REASONS.map((reason) =>
    Object.freeze({ admitted: false as const, reason, retryAfterSeconds: s.retryAfterSeconds }),
  );
  let limit = a ? a.initialLimit : Number.POSITIVE_INFINITY;
  let inFlight = 0;
  let guard = NONE;
  let lastShedAt = Number.NEGATIVE_INFINITY;
  let lastReason: ShedReason | undefined;
  let closed = false;

  // Releases wait for the end of the loop turn (setImmediate runs after the turn's I/O callbacks);
  // the turn's finished requests are kept as sums, so the end of a turn costs the same for any count.
  let turnReleased = 0;
  let turnSamples = 0;
  let turnStartSum = 0;
  let turnOwnSum = 0;
  let flushArmed = false;
  // The interval's samples: latency to the end of the turn (what the requests saw), and each
  // request's own latency (its no-load latency: what it costs without waiting behind others, under
  // overload too, and whatever the mix of requests).
  let sumLatency = 0;
  let sumOwn = 0;
  let samples = 0;
  let limited = false;
  let active = false;
  // While the loop is saturated, a turn that has run `turnBudget` ms admits no more requests: what
  // waits behind it (later in the turn, or in the socket buffers) then waits for one request's work
  // at most, not for the limit's worth of them.
  let turnBudget = Number.POSITIVE_INFINITY;
  let turnStart = 0;
  let turnOpen = false;
  const flush = (): void => {
    flushArmed = false;
    turnOpen = false;
    inFlight -= turnReleased;
    turnReleased = 0;
    if (turnSamples > 0) {
      sumLatency += turnSamples * now() - turnStartSum;
      sumOwn += turnOwnSum;
      samples += turnSamples;
      turnSamples = 0;
      turnStartSum = 0;
      turnOwnSum = 0;
    }
  };

  // The control loop runs only while requests come in: an idle service has no timer.
  let timer: ReturnType<typeof setInterval> | undefined;
  const period = a ? Math.min(a.intervalMs, s.guardIntervalMs) : s.guardIntervalMs;
  let sinceGuard = 0;
  // The loop's delay: its mean feeds the limit, its maximum the delay guard.
  const eld = a || s.maxDelayMs > 0 ? monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS }) : undefined;
  let lagMs = 0;
  let maxDelayMs = 0;
  let elu = s.maxElu > 0 ? performance.eventLoopUtilization() : undefined;
  let adaptElu = performance.eventLoopUtilization();

  const tick = (): void => {
    if (eld !== undefined) {
      const mean = eld.mean;
      // monitorEventLoopDelay records each interval of its timer: the delay is what exceeds it.
      lagMs = Number.isFinite(mean) ? Math.max(0, mean / 1e6 - ELD_RESOLUTION_MS) : 0;
      if (eld.count > 0) maxDelayMs = Math.max(maxDelayMs, eld.max / 1e6 - ELD_RESOLUTION_MS);
      eld.reset();
    }
    if (a) adapt();
    sinceGuard += period;
    if (sinceGuard >= s.guardIntervalMs) {
      sinceGuard = 0;
      guard = checkGuards();
      maxDelayMs = 0;
    }
    if (!active && inFlight === 0) stop();
    active = false;
  };

  const adapt = (): void => {
    const cfg = a as Resolved;
    if (samples === 0) {
      limited = false;
      return;
    }
    const seen = sumLatency / samples + lagMs;
    const own = sumOwn / samples;
    sumLatency = 0;
    sumOwn = 0;
    samples = 0;
    const target = Math.max(cfg.tolerance * own, own + cfg.minQueueDelayMs);
    const nowElu = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(nowElu, adaptElu).utilization >= BUSY_UTILIZATION;
    adaptElu = nowElu;
    // A pinned limit (minLimit = maxLimit) is a fixed one: nothing of it adapts.
    turnBudget = busy && cfg.minLimit < cfg.maxLimit ? target - own : Number.POSITIVE_INFINITY;
    let next = limit;
    if (seen > target && busy) next = limit * Math.max(0.5, target / seen);
    else if (limited) next = limit + Math.max(0.25, Math.sqrt(limit) / 2);
    limit = Math.min(cfg.maxLimit, Math.max(cfg.minLimit, next));
    limited = false;
  };

  const checkGuards = (): number => {
    if (s.maxDelayMs > 0 && maxDelayMs > s.maxDelayMs) return DELAY;
    if (elu !== undefined) {
      const nowElu = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(nowElu, elu).utilization;
      elu = nowElu;
      if (u > s.maxElu) return UTILIZATION;
    }
    if (s.maxHeap > 0) {
      const h = getHeapStatistics();
      if (h.used_heap_size / h.heap_size_limit > s.maxHeap) return HEAP;
    }
    return NONE;
  };

  const start = (): void => {
    timer = setInterval(tick, period);
    timer.unref();
    eld?.enable();
  };
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    eld?.disable();
    // A guard tripped at the last sample must not outlive the traffic that tripped it.
    guard = NONE;
    turnBudget = Number.POSITIVE_INFINITY;
  };

  const shed = (reason: number, t: number): ShedRejection => {
    shedCounts[reason] = (shedCounts[reason] as number) + 1;
    lastShedAt = t;
    lastReason = LOAD_SHED_REASONS[reason];
    return rejections[reason] as ShedRejection;
  };

  const detach = attach(instruments, 'registry', [
    [loadShedLimit, 'load-shedder', () => [{ labels: {}, value: limit }]],
    [loadShedInFlight, 'load-shedder', () => [{ labels: {}, value: inFlight }]],
    [
      loadShedRequests,
      'load-shedder',
      () => LOAD_SHED_REASONS.map((reason, i) => ({ labels: { reason }, value: shedCounts[i] as number })),
    ],
  ]);

  return {
    tryAcquire(priority = false, at?: number): Admission {
      const t = shared && at !== undefined ? at : now();
      if (closed) return new Token(t);
      active = true;
      if (timer === undefined) start();
      if (!priority) {
        if (guard !== NONE) return shed(guard, t);
        // Whole requests only: a limit of 1.7 admits one at a time.
        if (inFlight + 1 > limit) {
          limited = true;
          return shed(CONCURRENCY, t);
        }
        if (turnOpen && t - turnStart > turnBudget) return shed(CONCURRENCY, t);
      }
      if (!turnOpen && a !== undefined) {
        turnOpen = true;
        turnStart = t;
        if (!flushArmed) {
          flushArmed = true;
          setImmediate(flush);
        }
      }
      inFlight++;
      if (inFlight + 1 > limit) limited = true;
      return new Token(t);
    },
    release(token: ShedToken, outcome: 'ok' | 'ignore' = 'ok', at?: number): void {
      const tok = token as Token;
      if (!(tok instanceof Token) || tok.released || closed) return;
      tok.released = true;
      turnReleased++;
      if (outcome !== 'ignore') {
        turnOwnSum += (shared && at !== undefined ? at : now()) - tok.start;
        turnStartSum += tok.start;
        turnSamples++;
      }
      if (!flushArmed) {
        flushArmed = true;
        setImmediate(flush);
      }
    },
    get limit() {
      return limit;
    },
    get inFlight() {
      return inFlight;
    },
    get shedding() {
      return now() - lastShedAt < SHEDDING_HOLD_MS;
    },
    get lastReason() {
      return lastReason;
    },
    registry: instruments.registry,
    async close() {
      if (closed) return;
      closed = true;
      stop();
      detach();
      await release();
    },
  };
}
