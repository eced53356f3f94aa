import { checkTimeout, VigilOptionError } from '@vigil/core';
import { ClosedError, TimeoutError } from '../errors.js';
import type { AttemptContext, ExecuteOptions, Protected, RetryPredicate } from '../types.js';
import { type DeadlineNode, DeadlineQueue, neverAborted, Scope } from './scope.js';

/**
 * The execution model shared by every handle.
 *
 * A policy is a chain of layers built once at construction, outermost first:
 *
 *   fallback -> overall timeout -> bulkhead -> retry -> breaker + attempt timeout -> fn
 *
 * Each layer is a `Runner` that takes the per-call `Call` record and returns a promise. Layers never
 * throw synchronously and never allocate per call beyond their promise and its callbacks; a
 * layer that is switched off is simply not in the chain.
 */
export type Runner = (call: Call) => Promise<unknown>;

export class Call {
  /** Innermost cancellation scope established so far (caller signal, then overall deadline). */
  scope: Scope | undefined;
  attempt = 1;
  /** Absolute time (`now()` units) of the overall deadline, `Infinity` when there is none. */
  deadline = Number.POSITIVE_INFINITY;
  /** An attempt of this call timed out: a retry must then leave room for a whole attempt. */
  timedOut = false;
  /** The running attempt's scope, set by the breaker layer (the overall deadline aborts it). */
  running: Scope | undefined = undefined;
  /**
   * A `now()` reading shared by the layers during the synchronous descent of one attempt (clock
   * reads are not free); `NaN` when stale. Reset after every async boundary (bulkhead
   * queue, backoff).
   */
  t0 = Number.NaN;
  constructor(
    readonly fn: Protected<unknown>,
    scope: Scope | undefined,
    /** Per-attempt timeout (ms), 0 for none. */
    readonly timeoutMs: number,
    /** Overall deadline (ms), 0 for none. */
    readonly overallMs: number,
    readonly retryOn: RetryPredicate | undefined,
  ) {
    this.scope = scope;
  }
}

class Ctx implements AttemptContext {
  constructor(
    private readonly scope: Scope | undefined,
    readonly attempt: number,
  ) {}
  get signal(): AbortSignal {
    return this.scope === undefined ? neverAborted() : this.scope.signal;
  }
}

/** The shared clock reading of the current descent, taking it if there is none. */
export function clock(call: Call, now: () => number): number {
  let t = call.t0;
  if (Number.isNaN(t)) {
    t = now();
    call.t0 = t;
  }
  return t;
}

/** The context of a first attempt that nothing can cancel (shared: it holds no state). */
const FIRST: AttemptContext = new Ctx(undefined, 1);

export function invoke(fn: Protected<unknown>, ctx: AttemptContext): Promise<unknown> {
  try {
    return Promise.resolve(fn(ctx));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Deadline queues of one kind (attempt or overall), one per distinct duration. */
export class Timers {
  private readonly queues = new Map<number, DeadlineQueue>();
  private lastMs = -1;
  private last: DeadlineQueue | undefined;
  private readonly expire: (s: DeadlineNode, ms: number) => void;

  constructor(
    readonly kind: 'attempt' | 'overall',
    private readonly now: () => number,
  ) {
    this.expire = (s, ms) => s.expire(new TimeoutError(kind, ms));
  }

  queue(ms: number): DeadlineQueue {
    if (ms === this.lastMs) return this.last as DeadlineQueue;
    let q = this.queues.get(ms);
    if (q === undefined) {
      q = new DeadlineQueue(ms, this.now, this.expire);
      this.queues.set(ms, q);
    }
    this.lastMs = ms;
    this.last = q;
    return q;
  }
}

/**
 * Settle with the work's outcome, or reject with the scope's reason the moment it aborts (its own
 * deadline, a parent's, or the caller's signal), whether or not the work honours the signal.
 */
function race(scope: Scope, work: Promise<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    scope.onAbort = (reason) => {
      scope.dispose();
      reject(reason);
    };
    work.then(
      (v) => {
        if (scope.aborted) return;
        scope.dispose();
        resolve(v);
      },
      (e) => {
        if (scope.aborted) return;
        scope.dispose();
        reject(e);
      },
    );
  });
}

/**
 * The innermost layer: one attempt of the user's function, under the per-attempt timeout. The
 * attempt's scope is the `AttemptContext` the function receives; without a timeout or a parent
 * scope nothing can cut the attempt short, so the function is called as is.
 */
export function attemptRunner(timers: Timers, now: () => number): Runner {
  return (call) => {
    const t = call.timeoutMs;
    const parent = call.scope;
    if (t === 0 && parent === undefined) {
      call.t0 = Number.NaN;
      return invoke(call.fn, call.attempt === 1 ? FIRST : new Ctx(undefined, call.attempt));
    }
    const scope = Scope.child(parent);
    scope.attempt = call.attempt;
    if (scope.aborted) return Promise.reject(scope.reason);
    if (t !== 0) timers.queue(t).add(scope, clock(call, now));
    call.t0 = Number.NaN;
    return race(scope, invoke(call.fn, scope));
  };
}

/**
 * The outermost race: one scope over the whole call (caller signal and overall deadline), every
 * attempt, queue wait and backoff included. The call rejects the moment it aborts, whatever the
 * layers below are waiting for; they see the aborted scope and stop.
 */
export function overallRunner(next: Runner, timers: Timers, now: () => number): Runner {
  return (call) => {
    const t = call.overallMs;
    if (t === 0 && call.scope === undefined) return next(call);
    const scope = Scope.child(call.scope);
    if (scope.aborted) return Promise.reject(scope.reason);
    if (t !== 0) {
      timers.queue(t).add(scope, clock(call, now));
      call.deadline = scope.deadline;
    }
    call.scope = scope;
    return race(scope, next(call));
  };
}

export interface ExecuteConfig {
  readonly what: string;
  /** Default per-attempt timeout (ms), 0 for none. */
  readonly timeoutMs: number;
  /** Default overall timeout (ms), 0 for none. */
  readonly overallMs: number;
  isClosed(): boolean;
  /** Called when a fallback replaces a failure (counts the breaker's `fallback` event). */
  onFallback?: (() => void) | undefined;
}

function isSignal(v: unknown): v is AbortSignal {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as AbortSignal).aborted === 'boolean' &&
    typeof (v as AbortSignal).addEventListener === 'function'
  );
}

const EXECUTE_KEYS = ['signal', 'timeoutMs', 'overallTimeoutMs', 'retryOn', 'fallback'];

/** Build `execute` and `wrap` for a chain of layers. */
export function makeExecutor(run: Runner, cfg: ExecuteConfig) {
  function execute<T>(fn: Protected<T>, options?: ExecuteOptions<T>): Promise<T> {
    if (cfg.isClosed()) return Promise.reject(new ClosedError(cfg.what));
    if (typeof fn !== 'function') {
      return Promise.reject(new VigilOptionError('execute(fn)', 'a function', fn));
    }
    let root: Scope | undefined;
    let timeoutMs = cfg.timeoutMs;
    let overallMs = cfg.overallMs;
    let retryOn: RetryPredicate | undefined;
    let fallback: ((e: unknown) => unknown) | undefined;
    if (options !== undefined) {
      try {
        if (typeof options !== 'object' || options === null) {
          throw new VigilOptionError('execute(options)', 'an options object', options);
        }
        for (const k of Object.keys(options)) {
          if (!EXECUTE_KEYS.includes(k)) {
            throw new VigilOptionError(
              `execute(options).${k}`,
              `one of ${EXECUTE_KEYS.join(', ')}`,
              'an unknown option',
            );
          }
        }
        const { signal } = options;
        if (signal !== undefined) {
          if (!isSignal(signal)) throw new VigilOptionError('signal', 'an AbortSignal', signal);
          if (signal.aborted) return Promise.reject(signal.reason);
          root = Scope.fromSignal(signal);
        }
        const t = checkTimeout('timeoutMs', options.timeoutMs);
        if (t !== undefined) timeoutMs = t === false ? 0 : t;
        const o = checkTimeout('overallTimeoutMs', options.overallTimeoutMs);
        if (o !== undefined) overallMs = o === false ? 0 : o;
        if (options.retryOn !== undefined) {
          if (typeof options.retryOn !== 'function') {
            throw new VigilOptionError('retryOn', 'a function', options.retryOn);
          }
          retryOn = options.retryOn;
        }
        if (options.fallback !== undefined) {
          if (typeof options.fallback !== 'function') {
            throw new VigilOptionError('fallback', 'a function', options.fallback);
          }
          fallback = options.fallback as (e: unknown) => unknown;
        }
      } catch (e) {
        root?.dispose();
        return Promise.reject(e);
      }
    }
    let p = run(new Call(fn as Protected<unknown>, root, timeoutMs, overallMs, retryOn));
    if (root !== undefined) {
      const r = root;
      p = p.then(
        (v) => {
          r.dispose();
          return v;
        },
        (e) => {
          r.dispose();
          throw e;
        },
      );
    }
    if (fallback !== undefined) {
      const fb = fallback;
      const r = root;
      p = p.then(undefined, (e) => {
        // The caller gave up: they want no value, so the fallback is not consulted.
        if (r?.aborted && e === r.reason) throw e;
        cfg.onFallback?.();
        return fb(e);
      });
    }
    return p as Promise<T>;
  }

  function wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R> | R): (...args: A) => Promise<R> {
    if (typeof fn !== 'function') throw new VigilOptionError('wrap(fn)', 'a function', fn);
    return (...args: A) => execute(() => fn(...args));
  }

  return { execute, wrap };
}

/** A timeout option resolved to ms (0 = none). */
export function ms(v: number | false | undefined, fallback: number | false): number {
  const x = v ?? fallback;
  return x === false ? 0 : x;
}
