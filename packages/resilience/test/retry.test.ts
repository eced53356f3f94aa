import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createHttpClient,
  createRetry,
  isHttpStatusError,
  isRetryableError,
  type RetryEvent,
  TimeoutError,
} from '../src/index.js';
import { sample, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanup.length) await cleanup.pop()?.();
});

const transient = () => Object.assign(new Error('reset'), { code: 'ECONNRESET' });

describe('retry backoff', () => {
  it('backs off exponentially with full jitter (fake timers)', async () => {
    vi.useFakeTimers();
    const randoms = [0.5, 0.25, 0.9999, 0];
    const retry = createRetry({
      name: 'jitter',
      maxAttempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 300,
      budgetMinRetries: 100,
      random: () => randoms.shift() ?? 0,
    });
    cleanup.push(() => retry.close());
    const events: RetryEvent[] = [];
    retry.onRetry((e) => events.push(e));
    let calls = 0;
    const p = retry.execute(() => {
      calls++;
      throw transient();
    });
    const settled = expect(p).rejects.toMatchObject({ code: 'ECONNRESET' });
    await vi.runAllTimersAsync();
    await settled;
    expect(calls).toBe(5);
    // Caps: 100, 200, min(400, 300), min(800, 300); delay = floor(random * (cap + 1)).
    expect(events.map((e) => e.delayMs)).toEqual([50, 50, 300, 0]);
    expect(events.map((e) => e.attempt)).toEqual([2, 3, 4, 5]);
    expect(await sample(retry.registry, 'vigil_retry_attempts_total', { policy: 'jitter' })).toBe(4);
    expect(await sample(retry.registry, 'vigil_retry_exhausted_total', { policy: 'jitter' })).toBe(1);
  });

  it('draws a different delay per retry (jitter with the real random source)', async () => {
    vi.useFakeTimers();
    const retry = createRetry({
      name: 'real-jitter',
      maxAttempts: 30,
      baseDelayMs: 1000,
      maxDelayMs: 1000,
      budgetMinRetries: 100,
    });
    cleanup.push(() => retry.close());
    const delays: number[] = [];
    retry.onRetry((e) => delays.push(e.delayMs));
    const p = retry.execute(() => Promise.reject(transient())).catch(() => {});
    await vi.runAllTimersAsync();
    await p;
    expect(delays).toHaveLength(29);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
    for (const d of delays) expect(d).toBeLessThanOrEqual(1000);
    expect(new Set(delays).size).toBeGreaterThan(5);
  });

  it('honours Retry-After up to maxRetryAfterMs', async () => {
    vi.useFakeTimers();
    const retry = createRetry({ name: 'ra', baseDelayMs: 10, maxRetryAfterMs: 5000, random: () => 0 });
    cleanup.push(() => retry.close());
    const delays: number[] = [];
    retry.onRetry((e) => delays.push(e.delayMs));
    const soon = Object.assign(new Error('busy'), { retryable: true, retryAfterMs: 3000 });
    let n = 0;
    const p = retry.execute(() => (n++ === 0 ? Promise.reject(soon) : 'ok'));
    await vi.runAllTimersAsync();
    expect(await p).toBe('ok');
    expect(delays).toEqual([3000]);

    const tooLong = Object.assign(new Error('later'), { retryable: true, retryAfterMs: 60_000 });
    await expect(retry.execute(() => Promise.reject(tooLong))).rejects.toBe(tooLong);
    expect(await sample(retry.registry, 'vigil_retry_exhausted_total', { policy: 'ra' })).toBe(1);
  });

  it('retries only transient errors by default', async () => {
    expect(isRetryableError(transient())).toBe(true);
    expect(isRetryableError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe(true);
    expect(isRetryableError(new TimeoutError('attempt', 10))).toBe(true);
    expect(isRetryableError(new TimeoutError('overall', 10))).toBe(false);
    expect(isRetryableError(new Error('bug'))).toBe(false);
    expect(isRetryableError(new DOMException('aborted', 'AbortError'))).toBe(false);
    const retry = createRetry({ name: 'safe', baseDelayMs: 0 });
    cleanup.push(() => retry.close());
    let calls = 0;
    await expect(
      retry.execute(() => {
        calls++;
        throw new Error('validation failed');
      }),
    ).rejects.toThrow('validation failed');
    expect(calls).toBe(1);
  });
});

describe('retry against a real downstream', () => {
  async function setup(retry: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    const registry = new Registry();
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'orders',
      registry,
      logger: false,
      breaker: false,
      retry: { baseDelayMs: 0, maxDelayMs: 0, ...retry },
      ...extra,
    });
    cleanup.push(() => client.close());
    return { downstream, registry, client };
  }

  it('fetch() retries 503s and returns the first good response', async () => {
    const { downstream, client } = await setup({});
    downstream.script({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const res = await client.fetch('/orders/7');
    expect(res.status).toBe(200);
    expect(downstream.requests).toHaveLength(3);
  });

  it('fetch() returns the last error response, body readable, when attempts run out', async () => {
    const { downstream, client, registry } = await setup({});
    downstream.set({ kind: 'status', status: 502, body: 'bad gateway' });
    const res = await client.fetch('/orders/7');
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('bad gateway');
    expect(downstream.requests).toHaveLength(3);
    expect(await sample(registry, 'vigil_retry_exhausted_total', { policy: 'orders' })).toBe(1);
  });

  it('stops retrying at the budget (a share of recent calls)', async () => {
    const { downstream, client, registry } = await setup({ budgetRatio: 0.5, budgetMinRetries: 0 });
    for (let i = 0; i < 4; i++) await client.fetch('/ok');
    // 5 calls in the window allow 2.5 retries, 6 allow 3, 7 allow 3.5.
    downstream.set({ kind: 'status', status: 503 });
    await client.fetch('/a'); // 3 attempts: 2 retries, then out of attempts
    await client.fetch('/b'); // 1 retry (3 <= 3), the next is refused by the budget
    await client.fetch('/c'); // refused at once (4 > 3.5)
    expect(downstream.requests).toHaveLength(4 + 3 + 2 + 1);
    expect(await sample(registry, 'vigil_retry_attempts_total', { policy: 'orders' })).toBe(3);
    expect(await sample(registry, 'vigil_retry_budget_rejected_total', { policy: 'orders' })).toBe(2);
    expect(await sample(registry, 'vigil_retry_exhausted_total', { policy: 'orders' })).toBe(1);
  });

  it('retries only idempotent requests by default', async () => {
    const { downstream, client } = await setup({});
    downstream.set({ kind: 'status', status: 503 });
    await client.fetch('/pay', { method: 'POST', body: '{}' });
    expect(downstream.requests).toHaveLength(1);
    await client.fetch('/pay', { method: 'POST', body: '{}', headers: { 'Idempotency-Key': 'k1' } });
    expect(downstream.requests).toHaveLength(4);
    await client.fetch('/pay', { method: 'PATCH', body: '{}', idempotent: true });
    expect(downstream.requests).toHaveLength(7);
    await client.fetch('/pay/1', { method: 'PUT', body: '{}' });
    expect(downstream.requests).toHaveLength(10);
    await client.fetch('/pay/1', { method: 'GET', idempotent: false });
    expect(downstream.requests).toHaveLength(11);
  });

  it('does not retry 4xx, and json() throws HttpStatusError with the start of the body', async () => {
    const { downstream, client } = await setup({});
    downstream.set({ kind: 'status', status: 404, body: 'x'.repeat(5000) });
    const err = await client.json('/nope').catch((e: unknown) => e);
    expect(isHttpStatusError(err)).toBe(true);
    expect(err).toMatchObject({ status: 404, method: 'GET', target: 'orders' });
    expect((err as { body: string }).body).toHaveLength(2048);
    expect(downstream.requests).toHaveLength(1);
  });

  it('reads Retry-After from the response (and stops when aborted during the wait)', async () => {
    // No overall deadline: with the default 30 s, a 90 s wait is not even attempted (next test).
    const { downstream, client } = await setup({ maxRetryAfterMs: 120_000 }, { overallTimeoutMs: false });
    downstream.set({ kind: 'status', status: 429, headers: { 'retry-after': '90' } });
    const ac = new AbortController();
    const seen: RetryEvent[] = [];
    client.onRetry((e) => {
      seen.push(e);
      ac.abort(new Error('caller gave up'));
    });
    await expect(client.fetch('/slow-down', { signal: ac.signal })).rejects.toThrow('caller gave up');
    expect(seen[0]?.delayMs).toBe(90_000);
    expect(downstream.requests).toHaveLength(1);
  });

  it('does not sleep past the overall deadline: the response is returned instead', async () => {
    const { downstream, client, registry } = await setup({ maxRetryAfterMs: 120_000 });
    downstream.set({ kind: 'status', status: 503, headers: { 'retry-after': '90' } });
    expect((await client.fetch('/later')).status).toBe(503);
    expect(downstream.requests).toHaveLength(1);
    expect(await sample(registry, 'vigil_retry_exhausted_total', { policy: 'orders' })).toBe(1);
  });

  it('retries a POST when the connection was refused (the request never left)', async () => {
    const gone = await startDownstream();
    const url = gone.url;
    await gone.close();
    const client = createHttpClient({
      baseUrl: url,
      name: 'gone',
      logger: false,
      breaker: false,
      retry: { baseDelayMs: 0 },
    });
    cleanup.push(() => client.close());
    const events: RetryEvent[] = [];
    client.onRetry((e) => events.push(e));
    await expect(client.fetch('/x', { method: 'POST', body: 'a' })).rejects.toThrow('fetch failed');
    expect(events).toHaveLength(2);
    expect(
      await sample(
        client.registry,
        'http_client_request_duration_seconds',
        { target: 'gone', method: 'POST', status_code: 'error' },
        'http_client_request_duration_seconds_count',
      ),
    ).toBe(3);
  });
});
