import { checkFunction, checkKnownKeys, checkObject, checkTimeout, VigilOptionError } from '@vigil/core';
import { attemptRunner, makeExecutor, overallRunner, Timers } from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import type { Executor } from './types.js';

export interface TimeoutOptions {
  /** Deadline (ms) of each call. Required. */
  timeoutMs: number;
  /** Monotonic clock in ms, for tests. Default `performance.now`. */
  now?: () => number;
}

export interface Timeout extends Executor {
  readonly timeoutMs: number;
  /** Later calls reject with `ClosedError`. Idempotent. */
  close(): Promise<void>;
}

/**
 * A timeout with real cancellation: when it expires the call rejects with `TimeoutError` at once
 * and `ctx.signal` aborts with that error as its reason, so `fetch` and friends stop their work
 * (a socket is released, not just forgotten).
 *
 * ```ts
 * const t = createTimeout({ timeoutMs: 2_000 });
 * const res = await t.execute(({ signal }) => fetch(url, { signal }));
 * ```
 */
export function createTimeout(options: TimeoutOptions): Timeout {
  const input = checkObject('options', options);
  checkKnownKeys('', input, ['timeoutMs', 'now']);
  const timeoutMs = checkTimeout('timeoutMs', input.timeoutMs);
  if (timeoutMs === undefined || timeoutMs === false) {
    throw new VigilOptionError('timeoutMs', 'an integer number of ms >= 1', input.timeoutMs);
  }
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  let closed: Promise<void> | undefined;
  const run = overallRunner(attemptRunner(new Timers('attempt', now), now), new Timers('overall', now), now);
  const { execute, wrap } = makeExecutor(run, {
    what: 'Timeout',
    timeoutMs,
    overallMs: 0,
    isClosed: () => closed !== undefined,
  });
  return {
    timeoutMs,
    execute,
    wrap,
    close() {
      closed ??= Promise.resolve();
      return closed;
    },
  };
}
