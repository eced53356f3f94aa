import { once } from 'node:events';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCircuitBreaker, createHttpClient, createPolicy, createRetry } from '../src/index.js';
import { breakerEvents, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanup.length) await cleanup.pop()?.();
});

describe('AbortSignal', () => {
  it('abort during the backoff ends the retry loop at once', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    downstream.set({ kind: 'status', status: 503 });
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'backoff',
      logger: false,
      breaker: false,
      // A one-minute backoff (no overall deadline to refuse it): the test only finishes
      // because abort cuts it.
      overallTimeoutMs: false,
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.999 },
    });
    cleanup.push(() => client.close());
    const ac = new AbortController();
    client.onRetry(() => ac.abort());
    const err = await client.fetch('/x', { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(downstream.requests).toHaveLength(1);
  });

  it('abort during an attempt cancels the request (socket released) and no retry follows', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    downstream.set({ kind: 'hang' });
    const registry = new Registry();
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'inflight',
      registry,
      logger: false,
      retry: { baseDelayMs: 0 },
    });
    cleanup.push(() => client.close());
    const ac = new AbortController();
    const arrived = downstream.nextRequest();
    const result = client.fetch('/x', { signal: ac.signal }).catch((e: unknown) => e);
    const req = await arrived;
    const closed = once(req.socket, 'close');
    ac.abort(new Error('client went away'));
    expect(await result).toMatchObject({ message: 'client went away' });
    await closed;
    expect(downstream.requests).toHaveLength(1);
    // The caller gave up: not the downstream's fault.
    expect(await breakerEvents(registry, 'inflight')).toMatchObject({ ignored: 1, failure: 0 });
  });

  it('leaves no timer behind (fake timers)', async () => {
    vi.useFakeTimers();
    const retry = createRetry({ name: 'timers', baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.5 });
    cleanup.push(() => retry.close());
    const ac = new AbortController();
    retry.onRetry(() => queueMicrotask(() => ac.abort()));
    const p = retry.execute(() => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNRESET' })), {
      signal: ac.signal,
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted signal rejects without calling the function', async () => {
    const policy = createPolicy({ name: 'pre-aborted', logger: false });
    cleanup.push(() => policy.close());
    const fn = vi.fn(() => 1);
    await expect(policy.execute(fn, { signal: AbortSignal.abort(new Error('too late')) })).rejects.toThrow(
      'too late',
    );
    expect(fn).not.toHaveBeenCalled();
  });

  it('a caller abort during a half-open trial keeps the breaker cautious (opens again)', async () => {
    const breaker = createCircuitBreaker({
      name: 'trial',
      volumeThreshold: 1,
      resetTimeoutMs: 10,
      logger: false,
    });
    cleanup.push(() => breaker.close());
    const halfOpen = new Promise<void>((resolve) =>
      breaker.onStateChange((c) => {
        if (c.to === 'half_open') resolve();
      }),
    );
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await halfOpen;
    const reopened = new Promise<void>((resolve) =>
      breaker.onStateChange((c) => {
        if (c.to === 'open') resolve();
      }),
    );
    const ac = new AbortController();
    // The trial honours its signal: the caller's abort ends it, and that proves nothing.
    const trial = breaker
      .execute(
        ({ signal }) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
        { signal: ac.signal },
      )
      .catch((e: unknown) => e);
    ac.abort();
    expect(await trial).toMatchObject({ name: 'AbortError' });
    await reopened;
    expect(breaker.state).toBe('open');
  });
});
