import { once } from 'node:events';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createBulkhead,
  createCircuitBreaker,
  createHttpClient,
  createPolicy,
  createTimeout,
  isTimeoutError,
  TimeoutError,
} from '../src/index.js';
import { breakerEvents, sample, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const DURATION = 'http_client_request_duration_seconds';

/** The request's arrival at the server, or a clear failure if the call settled first. */
function arrival<T>(arrived: Promise<T>, result: Promise<unknown>): Promise<T> {
  return Promise.race([
    arrived,
    result.then(() => Promise.reject(new Error('the call settled before the request reached the server'))),
  ]);
}

describe('timeouts with real cancellation', () => {
  it('cuts a hanging downstream at the timeout and releases the socket', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    const registry = new Registry();
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'slow',
      registry,
      logger: false,
      timeoutMs: 200,
      retry: false,
    });
    cleanup.push(() => client.close());
    // Warm the keep-alive connection, so the hanging request reaches the server well within the
    // timeout even on a loaded machine.
    await (await client.fetch('/warm')).text();
    downstream.set({ kind: 'hang' });

    const arrived = downstream.nextRequest();
    const result = client.fetch('/hang').catch((e: unknown) => e);
    const req = await arrival(arrived, result);
    const socketClosed = once(req.socket, 'close');
    const err = await result;
    expect(isTimeoutError(err)).toBe(true);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'VIGIL_TIMEOUT', scope: 'attempt', timeoutMs: 200 });
    // The server sees the connection go away: the request was aborted, not just forgotten.
    await socketClosed;
    expect(
      await sample(
        registry,
        DURATION,
        { target: 'slow', method: 'GET', status_code: 'timeout' },
        `${DURATION}_count`,
      ),
    ).toBe(1);
    expect(await breakerEvents(registry, 'slow')).toMatchObject({ timeout: 1, failure: 0 });
  });

  it('json() keeps the timeout over the body: a stalled body is cut too', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'stall',
      logger: false,
      timeoutMs: 200,
      retry: false,
    });
    cleanup.push(() => client.close());
    await client.text('/warm');
    downstream.set({ kind: 'stall' });
    const arrived = downstream.nextRequest();
    const result = client.json('/stall').catch((e: unknown) => e);
    const socketClosed = once((await arrival(arrived, result)).socket, 'close');
    expect(isTimeoutError(await result)).toBe(true);
    await socketClosed;
  });

  it('the overall deadline bounds attempts and backoff, and every attempt socket is released', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    downstream.set({ kind: 'hang' });
    const closes: Promise<unknown>[] = [];
    downstream.events.on('request', (req) => closes.push(once(req.socket, 'close')));
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'deadline',
      logger: false,
      breaker: false,
      timeoutMs: 30,
      overallTimeoutMs: 100,
      retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 50, budgetMinRetries: 100 },
    });
    cleanup.push(() => client.close());
    const err = await client.fetch('/hang').catch((e: unknown) => e);
    expect(isTimeoutError(err)).toBe(true);
    // Bounded by the deadline, not by the 50 attempts (how many fit depends on the machine).
    expect(downstream.requests.length).toBeLessThan(50);
    await Promise.all(closes);
  });

  it('createTimeout aborts ctx.signal with the TimeoutError as reason', async () => {
    const timeout = createTimeout({ timeoutMs: 20 });
    let reason: unknown;
    const err = await timeout
      .execute(
        ({ signal }) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              reason = signal.reason;
              reject(signal.reason);
            });
          }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(reason).toBe(err);
    await timeout.close();
  });

  it('rejects at the deadline even when the function ignores the signal', async () => {
    const policy = createPolicy({ name: 'ignorant', timeoutMs: 20, breaker: false, logger: false });
    cleanup.push(() => policy.close());
    const never = new Promise(() => {});
    await expect(policy.execute(() => never)).rejects.toMatchObject({ code: 'VIGIL_TIMEOUT' });
  });

  it('under a breaker the attempt timeout is a TimeoutError and aborts ctx.signal with it', async () => {
    const registry = new Registry();
    const breaker = createCircuitBreaker({ name: 'attempt-timer', registry, timeoutMs: 20, logger: false });
    cleanup.push(() => breaker.close());
    let seen: unknown;
    const err = await breaker
      .execute(({ signal }) => {
        signal.addEventListener('abort', () => {
          seen = signal.reason;
        });
        return new Promise(() => {}); // ignores the signal otherwise
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'VIGIL_TIMEOUT', scope: 'attempt', timeoutMs: 20 });
    expect(seen).toBe(err);
    expect(await breakerEvents(registry, 'attempt-timer')).toMatchObject({ timeout: 1, failure: 0 });
  });

  it('a policy answers at the overall deadline but holds the bulkhead slot until the work ends', async () => {
    const policy = createPolicy({
      name: 'held',
      logger: false,
      timeoutMs: false,
      overallTimeoutMs: 20,
      bulkhead: { maxConcurrent: 1, maxQueue: 0 },
    });
    cleanup.push(() => policy.close());
    let release!: () => void;
    const work = new Promise<void>((r) => {
      release = r;
    });
    await expect(policy.execute(() => work)).rejects.toMatchObject({ scope: 'overall' });
    expect(policy.bulkhead?.active).toBe(1);
    await expect(policy.execute(() => 1)).rejects.toMatchObject({ code: 'VIGIL_BULKHEAD_FULL' });
    release();
    await work;
    await new Promise(setImmediate); // one turn of the loop: the attempt's settlement runs
    expect(policy.bulkhead?.active).toBe(0);
    await expect(policy.execute(() => 2)).resolves.toBe(2);
  });

  it('per-call overallTimeoutMs works on every handle', async () => {
    const bulkhead = createBulkhead({ name: 'overall-per-call' });
    cleanup.push(() => bulkhead.close());
    await expect(
      bulkhead.execute(() => new Promise(() => {}), { overallTimeoutMs: 20 }),
    ).rejects.toMatchObject({
      code: 'VIGIL_TIMEOUT',
      scope: 'overall',
    });
    expect(bulkhead.active).toBe(0);
  });

  it('per-call timeoutMs overrides the policy default; sync results and throws are handled', async () => {
    const policy = createPolicy({ name: 'per-call', timeoutMs: 60_000, breaker: false, logger: false });
    cleanup.push(() => policy.close());
    await expect(policy.execute(() => new Promise(() => {}), { timeoutMs: 10 })).rejects.toMatchObject({
      scope: 'attempt',
      timeoutMs: 10,
    });
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });
});
