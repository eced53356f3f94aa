import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createBulkhead, createHttpClient, isBulkheadRejectedError, isClosedError } from '../src/index.js';
import { sample, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('bulkhead', () => {
  it('runs maxConcurrent, queues maxQueue, rejects the rest and counts it', async () => {
    const registry = new Registry();
    const bulkhead = createBulkhead({ name: 'reports', maxConcurrent: 1, maxQueue: 1, registry });
    cleanup.push(() => bulkhead.close());
    const gate = deferred<string>();
    const started: string[] = [];
    const first = bulkhead.execute(() => {
      started.push('first');
      return gate.promise;
    });
    const second = bulkhead.execute(() => {
      started.push('second');
      return 'second';
    });
    expect(bulkhead.active).toBe(1);
    expect(bulkhead.queued).toBe(1);
    const third = await bulkhead.execute(() => 'third').catch((e: unknown) => e);
    expect(isBulkheadRejectedError(third)).toBe(true);
    expect(third).toMatchObject({
      code: 'VIGIL_BULKHEAD_FULL',
      policy: 'reports',
      maxConcurrent: 1,
      maxQueue: 1,
    });
    expect(await sample(registry, 'vigil_bulkhead_rejections_total', { policy: 'reports' })).toBe(1);
    expect(await sample(registry, 'vigil_bulkhead_active_calls', { policy: 'reports' })).toBe(1);
    expect(await sample(registry, 'vigil_bulkhead_queued_calls', { policy: 'reports' })).toBe(1);
    expect(started).toEqual(['first']);
    gate.resolve('first');
    expect(await first).toBe('first');
    expect(await second).toBe('second');
    expect(started).toEqual(['first', 'second']);
    expect(bulkhead.active).toBe(0);
  });

  it('an aborted queued call leaves the queue at once', async () => {
    const bulkhead = createBulkhead({ name: 'abortable', maxConcurrent: 1, maxQueue: 1 });
    cleanup.push(() => bulkhead.close());
    const gate = deferred();
    const running = bulkhead.execute(() => gate.promise);
    const ac = new AbortController();
    const queued = bulkhead.execute(() => 'never', { signal: ac.signal }).catch((e: unknown) => e);
    expect(bulkhead.queued).toBe(1);
    ac.abort(new Error('not needed any more'));
    expect(await queued).toMatchObject({ message: 'not needed any more' });
    expect(bulkhead.queued).toBe(0);
    // The freed place is usable.
    const next = bulkhead.execute(() => 'next');
    gate.resolve();
    await running;
    expect(await next).toBe('next');
  });

  it('close() rejects queued calls; running ones finish', async () => {
    const bulkhead = createBulkhead({ name: 'closing', maxConcurrent: 1, maxQueue: 5 });
    const gate = deferred<number>();
    const running = bulkhead.execute(() => gate.promise);
    const queued = bulkhead.execute(() => 2).catch((e: unknown) => e);
    await bulkhead.close();
    expect(isClosedError(await queued)).toBe(true);
    gate.resolve(1);
    expect(await running).toBe(1);
  });

  it('protects the HTTP client: requests beyond the queue never reach a hanging downstream', async () => {
    const downstream = await startDownstream();
    cleanup.push(() => downstream.close());
    downstream.set({ kind: 'hang' });
    const registry = new Registry();
    const client = createHttpClient({
      baseUrl: downstream.url,
      name: 'bh',
      registry,
      logger: false,
      retry: false,
      breaker: false,
      bulkhead: { maxConcurrent: 1, maxQueue: 1 },
    });
    cleanup.push(() => client.close());
    const ac = new AbortController();
    const arrived = downstream.nextRequest();
    const a = client.fetch('/a', { signal: ac.signal }).catch((e: unknown) => e);
    const b = client.fetch('/b', { signal: ac.signal }).catch((e: unknown) => e);
    await arrived;
    const c = await client.fetch('/c').catch((e: unknown) => e);
    expect(isBulkheadRejectedError(c)).toBe(true);
    expect(client.bulkhead).toMatchObject({ active: 1, queued: 1 });
    expect(downstream.requests.map((r) => r.url)).toEqual(['/a']);
    ac.abort();
    await Promise.all([a, b]);
    expect(await sample(registry, 'vigil_bulkhead_rejections_total', { policy: 'bh' })).toBe(1);
  });
});
