import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BreakerStateChange,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  createCircuitBreaker,
  createPolicy,
  isBreakerOpenError,
  TimeoutError,
} from '../src/index.js';
import { breakerEvents, recordingLogger, sample } from './helpers.js';

// The breaker's state machine, driven by a clock the test owns (`now`) and fake timers (the reset
// timeout): no test here waits for real time.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanup.length) await cleanup.pop()?.();
});

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  vi.useFakeTimers();
  const clock = { t: 1_000 };
  const registry = new Registry();
  const logger = recordingLogger();
  const breaker = createCircuitBreaker({
    name: 'dep',
    registry,
    logger,
    now: () => clock.t,
    timeoutMs: false,
    ...options,
  });
  cleanup.push(() => breaker.close());
  const changes: BreakerStateChange[] = [];
  breaker.onStateChange((c) => changes.push(c));
  /** A call that takes `ms` on the test's clock, then succeeds or fails. */
  const call = (ok: boolean, ms = 1) =>
    breaker
      .execute(() => {
        clock.t += ms;
        if (!ok) throw new Error('down');
        return 'ok';
      })
      .then(
        (v) => v,
        (e: unknown) => e,
      );
  return { breaker, registry, logger, clock, changes, call };
}

const opens = async (registry: Registry, reason: string) =>
  sample(registry, 'vigil_circuit_breaker_opens_total', { breaker: 'dep', reason });

describe('consecutive failures', () => {
  it('opens after consecutiveFailures in a row (default 5), below any volume threshold', async () => {
    const { breaker, registry, changes, call, logger } = setup();
    for (let i = 0; i < 4; i++) await call(false);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 4, calls: 4, failures: 4 });
    await call(false);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([expect.objectContaining({ from: 'closed', to: 'open', reason: 'consecutive' })]);
    expect(await opens(registry, 'consecutive')).toBe(1);
    expect(await opens(registry, 'error_rate')).toBe(0);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', obj: { reason: 'consecutive', state: 'open' } });
    expect(logger.lines[0]?.msg).toContain('opened (5 failures in a row)');
    const rejected = await call(true);
    expect(isBreakerOpenError(rejected)).toBe(true);
  });

  it('a success resets the run', async () => {
    const { breaker, call } = setup({ volumeThreshold: 100 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) await call(false);
      await call(true);
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 0, failures: 12, successes: 3 });
  });

  it('consecutiveFailures: 0 turns the trigger off', async () => {
    const { breaker, call } = setup({ consecutiveFailures: 0, volumeThreshold: 100 });
    for (let i = 0; i < 20; i++) await call(false);
    expect(breaker.state).toBe('closed');
  });
});

describe('failure rate', () => {
  it('time window: opens above errorThresholdPercentage once volumeThreshold calls are in it', async () => {
    const { breaker, registry, call, changes } = setup({
      consecutiveFailures: 0,
      volumeThreshold: 4,
      rollingWindowMs: 1000,
      rollingWindowBuckets: 10,
    });
    await call(true);
    await call(false);
    await call(false);
    expect(breaker.state).toBe('closed'); // 3 calls < volume 4
    await call(true); // 2 of 4 = 50 %: not above 50
    expect(breaker.state).toBe('closed');
    await call(false); // 3 of 5 = 60 %
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ to: 'open', reason: 'error_rate' });
    expect(await opens(registry, 'error_rate')).toBe(1);
  });

  it('time window: calls older than rollingWindowMs slide out', async () => {
    const { breaker, clock, call } = setup({
      consecutiveFailures: 0,
      volumeThreshold: 4,
      rollingWindowMs: 1000,
      rollingWindowBuckets: 10,
    });
    for (let i = 0; i < 3; i++) await call(false);
    clock.t += 1000; // the three failures leave the window
    expect(breaker.stats()).toMatchObject({ calls: 0, failures: 0 });
    await call(false);
    await call(true);
    await call(true);
    await call(true);
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 1 });
    expect(breaker.state).toBe('closed');
  });

  it('count window: the last rollingWindowCalls calls, however slowly they come', async () => {
    const { breaker, clock, call, changes } = setup({
      consecutiveFailures: 0,
      rollingWindowCalls: 6,
      volumeThreshold: 6,
    });
    // One call a minute, as a cron job would: a time window would never hold 6 calls.
    for (let i = 0; i < 5; i++) {
      await call(i % 2 === 1);
      clock.t += 60_000;
    }
    expect(breaker.state).toBe('closed');
    await call(false); // 4 failures of 6 calls = 67 %
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ reason: 'error_rate' });
  });

  it('count window: old calls leave it one by one', async () => {
    const { breaker, call } = setup({ consecutiveFailures: 0, rollingWindowCalls: 4, volumeThreshold: 4 });
    await call(false);
    await call(false);
    await call(true);
    await call(true); // 2 of 4: not above 50 %
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 2 });
    await call(true); // the first failure leaves: 1 of 4
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 1 });
    await call(false); // 1 of 4 (the second failure left, this one came in)
    await call(false); // 2 of 4
    expect(breaker.state).toBe('closed');
    await call(false); // 3 of 4
    expect(breaker.state).toBe('open');
  });
});

describe('slow calls', () => {
  it('calls slower than slowCallDurationMs open the breaker on their share, even when they succeed', async () => {
    const { breaker, registry, call, changes, logger } = setup({
      consecutiveFailures: 0,
      rollingWindowCalls: 5,
      volumeThreshold: 5,
      slowCallDurationMs: 100,
      slowCallThresholdPercentage: 50,
    });
    expect(await call(true, 20)).toBe('ok');
    expect(await call(true, 100)).toBe('ok'); // at the threshold: slow
    expect(await call(true, 250)).toBe('ok');
    expect(await call(true, 20)).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 0, slowCalls: 2 });
    expect(await call(true, 300)).toBe('ok'); // 3 of 5 slow = 60 %
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ to: 'open', reason: 'slow_rate' });
    expect(await opens(registry, 'slow_rate')).toBe(1);
    expect(await sample(registry, 'vigil_circuit_breaker_slow_calls_total', { breaker: 'dep' })).toBe(3);
    // Slow, not failed: the events say success.
    expect(await breakerEvents(registry, 'dep')).toMatchObject({ success: 5, failure: 0, open: 1 });
    expect(logger.lines.at(-1)?.msg).toContain('3 of the last 5 calls took 100 ms or more');
  });

  it('slowCallDurationMs: false turns slow calls off', async () => {
    const { breaker, registry, call } = setup({
      rollingWindowCalls: 2,
      volumeThreshold: 2,
      slowCallDurationMs: false,
    });
    for (let i = 0; i < 5; i++) await call(true, 60_000);
    expect(breaker.state).toBe('closed');
    expect(await sample(registry, 'vigil_circuit_breaker_slow_calls_total', { breaker: 'dep' })).toBe(0);
  });
});

describe('half-open', () => {
  async function openIt(b: ReturnType<typeof setup>) {
    for (let i = 0; i < 5; i++) await b.call(false);
    expect(b.breaker.state).toBe('open');
  }

  it('after resetTimeoutMs lets permittedCallsInHalfOpen trials through and rejects the rest', async () => {
    const b = setup({ resetTimeoutMs: 1000, permittedCallsInHalfOpen: 3, halfOpenSuccessPercentage: 60 });
    await openIt(b);
    vi.advanceTimersByTime(999);
    expect(b.breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.breaker.state).toBe('half_open');
    expect(b.logger.lines.at(-1)?.msg).toContain('letting 3 trial calls through');
    // Three trials in flight at once; a fourth call is rejected while they decide.
    const gates: (() => void)[] = [];
    const trial = () =>
      b.breaker.execute(
        () =>
          new Promise<string>((resolve) => {
            gates.push(() => resolve('trial'));
          }),
      );
    const trials = [trial(), trial(), trial()];
    const fourth = await b.breaker.execute(() => 'x').catch((e: unknown) => e);
    expect(fourth).toMatchObject({ code: 'VIGIL_BREAKER_OPEN', state: 'half_open' });
    // 60 % of 3 = 2 successes close it; the third trial's result no longer matters.
    gates[0]?.();
    await trials[0];
    expect(b.breaker.state).toBe('half_open');
    gates[1]?.();
    await trials[1];
    expect(b.breaker.state).toBe('closed');
    gates[2]?.();
    await trials[2];
    expect(b.breaker.stats()).toMatchObject({ calls: 0, consecutiveFailures: 0 });
    expect(b.changes.map((c) => c.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('opens again (trial_failed) as soon as the required successes are out of reach', async () => {
    const b = setup({ resetTimeoutMs: 1000, permittedCallsInHalfOpen: 4, halfOpenSuccessPercentage: 75 });
    await openIt(b);
    vi.advanceTimersByTime(1000);
    expect(await b.call(true)).toBe('ok');
    expect(await b.call(false)).toMatchObject({ message: 'down' });
    expect(b.breaker.state).toBe('half_open'); // 3 of 4 still possible
    await b.call(false); // no longer
    expect(b.breaker.state).toBe('open');
    expect(b.changes.at(-1)).toMatchObject({ from: 'half_open', to: 'open', reason: 'trial_failed' });
    expect(await opens(b.registry, 'trial_failed')).toBe(1);
    expect(await opens(b.registry, 'consecutive')).toBe(1);
    // The reset timeout starts again.
    vi.advanceTimersByTime(1000);
    expect(b.breaker.state).toBe('half_open');
  });

  it('a slow trial is no recovery', async () => {
    const b = setup({ resetTimeoutMs: 1000, slowCallDurationMs: 100 });
    await openIt(b);
    vi.advanceTimersByTime(1000);
    expect(await b.call(true, 150)).toBe('ok');
    expect(b.breaker.state).toBe('open');
    expect(b.changes.at(-1)).toMatchObject({ reason: 'trial_failed' });
  });

  it('a call admitted in an earlier state cannot move the breaker when it ends late', async () => {
    const b = setup({ resetTimeoutMs: 1000, permittedCallsInHalfOpen: 2 });
    const pending = () => {
      let finish!: () => void;
      const p = b.breaker.execute(
        () =>
          new Promise<string>((resolve) => {
            finish = () => resolve('late');
          }),
      );
      return { p, finish: () => finish() };
    };
    const fromClosed = pending();
    await openIt(b);
    vi.advanceTimersByTime(1000);
    // Half-open: one trial hangs, the other fails, which makes 2 of 2 out of reach: open again.
    const oldTrial = pending();
    await b.call(false);
    expect(b.breaker.state).toBe('open');
    vi.advanceTimersByTime(1000);
    expect(b.breaker.state).toBe('half_open');
    // Neither the call from the closed state nor the trial of the previous half-open state is a
    // trial of this one: their successes must not close it.
    fromClosed.finish();
    oldTrial.finish();
    expect(await fromClosed.p).toBe('late');
    expect(await oldTrial.p).toBe('late');
    expect(b.breaker.state).toBe('half_open');
    expect(await b.call(true)).toBe('ok'); // the first real trial: one of the two needed
    expect(b.breaker.state).toBe('half_open');
    expect(await b.call(true)).toBe('ok');
    expect(b.breaker.state).toBe('closed');
  });
});

describe('timeouts count at once', () => {
  it('a hung attempt counts as a timeout the moment it times out, and the next call is rejected', async () => {
    vi.useFakeTimers();
    const registry = new Registry();
    const breaker = createCircuitBreaker({
      name: 'hung',
      registry,
      logger: false,
      timeoutMs: 50,
      consecutiveFailures: 2,
    });
    cleanup.push(() => breaker.close());
    const hang = () => new Promise(() => {});
    for (let i = 0; i < 2; i++) {
      const p = breaker.execute(hang).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(50);
      expect(await p).toBeInstanceOf(TimeoutError);
    }
    expect(breaker.state).toBe('open');
    expect(breaker.stats()).toMatchObject({ timeouts: 2, failures: 2 });
    // Rejected without advancing any timer: nothing is waited for.
    const fast = await breaker.execute(hang).catch((e: unknown) => e);
    expect(isBreakerOpenError(fast)).toBe(true);
    expect(await breakerEvents(registry, 'hung')).toMatchObject({ timeout: 2, reject: 1 });
  });
});

describe('retries under the breaker', () => {
  it('after a timeout, retry only while the deadline leaves a whole attempt', async () => {
    vi.useFakeTimers();
    const policy = createPolicy({
      name: 'deadline',
      logger: false,
      now: () => Date.now(), // the fake clock, so deadlines and timers agree
      timeoutMs: 100,
      overallTimeoutMs: 250,
      retry: { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0 },
      breaker: { consecutiveFailures: 0, volumeThreshold: 100 },
    });
    cleanup.push(() => policy.close());
    let attempts = 0;
    const p = policy
      .execute(() => {
        attempts++;
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    // Two attempts time out (about 0-100 and 101-201 ms); 49 ms are then left, not a whole
    // attempt: the call ends with the attempt's timeout instead of a third attempt cut short.
    expect(await p).toMatchObject({ code: 'VIGIL_TIMEOUT', scope: 'attempt' });
    expect(attempts).toBe(2);
    expect(await sample(policy.registry, 'vigil_retry_exhausted_total', { policy: 'deadline' })).toBe(1);
  });

  it('a failed attempt that opens the breaker ends the call at once with BreakerOpenError, no backoff slept', async () => {
    vi.useFakeTimers();
    const policy = createPolicy({
      name: 'trip',
      logger: false,
      timeoutMs: false,
      retry: { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.5 },
      breaker: { consecutiveFailures: 2 },
    });
    cleanup.push(() => policy.close());
    const transient = () => Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    // Attempt 1 fails, backoff (5 s), attempt 2 fails and opens the breaker.
    const first = policy
      .execute(() => {
        throw transient();
      })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5_000);
    const err = await first;
    expect(isBreakerOpenError(err)).toBe(true);
    expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNRESET');
    expect(policy.breaker?.state).toBe('open');
    // One backoff only: the third attempt was never waited for.
    expect(await sample(policy.registry, 'vigil_retry_attempts_total', { policy: 'trip' })).toBe(1);
  });
});

describe('options', () => {
  const base = { name: 'opts', logger: false as const };
  it.each([
    [{ consecutiveFailures: -1 }, 'consecutiveFailures'],
    [{ slowCallDurationMs: 0 }, 'slowCallDurationMs'],
    [{ slowCallThresholdPercentage: 100 }, 'slowCallThresholdPercentage'],
    [{ rollingWindowCalls: 10, rollingWindowMs: 5000 }, 'rollingWindowCalls'],
    [{ rollingWindowCalls: 5, volumeThreshold: 6 }, 'volumeThreshold'],
    [{ permittedCallsInHalfOpen: 0 }, 'permittedCallsInHalfOpen'],
    [{ halfOpenSuccessPercentage: 0 }, 'halfOpenSuccessPercentage'],
  ])('rejects %o naming %s', (bad, option) => {
    expect(() => createCircuitBreaker({ ...base, ...bad } as never)).toThrow(`"${option}"`);
  });

  it('nested in a policy, the option is named with its prefix', () => {
    expect(() => createPolicy({ ...base, breaker: { rollingWindowCalls: 3, volumeThreshold: 4 } })).toThrow(
      '"breaker.volumeThreshold"',
    );
  });

  it('warns at construction when only concurrent callers could trip it', () => {
    const logger = recordingLogger();
    const b = createCircuitBreaker({
      name: 'quiet',
      logger,
      consecutiveFailures: 0,
      timeoutMs: 5000,
    }) as CircuitBreaker;
    cleanup.push(() => b.close());
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.msg).toContain('fits at most 2 timed-out calls in the 10000 ms window');
    const fine = createCircuitBreaker({ name: 'fine', logger: recordingLogger(), timeoutMs: 5000 });
    cleanup.push(() => fine.close());
  });
});
