import { createMetrics } from '@vigil/metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createBreakerCheck,
  createBulkhead,
  createCircuitBreaker,
  createHttpClient,
  createPolicy,
  createRetry,
  createTimeout,
  isVigilOptionError,
} from '../src/index.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function optionOf(f: () => unknown): string {
  try {
    const h = f() as { close?: () => Promise<void> } | undefined;
    if (h && typeof h.close === 'function') cleanup.push(() => h.close!());
  } catch (e) {
    expect(isVigilOptionError(e)).toBe(true);
    const option = (e as { option: string }).option;
    expect((e as Error).message).toContain(`Invalid option "${option}"`);
    return option;
  }
  throw new Error('expected the factory to throw');
}

const base = 'http://127.0.0.1:1';

describe('invalid options throw at construction, naming the option', () => {
  const cases: [string, () => unknown, string][] = [
    ['breaker without name', () => createCircuitBreaker({} as never), 'name'],
    ['breaker with a spaced name', () => createCircuitBreaker({ name: 'users api' }), 'name'],
    [
      'breaker volumeThreshold',
      () => createCircuitBreaker({ name: 'a', volumeThreshold: -1 }),
      'volumeThreshold',
    ],
    [
      'breaker threshold > 99',
      () => createCircuitBreaker({ name: 'a', errorThresholdPercentage: 150 }),
      'errorThresholdPercentage',
    ],
    [
      'breaker resetTimeoutMs 0',
      () => createCircuitBreaker({ name: 'a', resetTimeoutMs: 0 }),
      'resetTimeoutMs',
    ],
    [
      'breaker timeoutMs string',
      () => createCircuitBreaker({ name: 'a', timeoutMs: '5s' as never }),
      'timeoutMs',
    ],
    [
      'breaker buckets not dividing',
      () => createCircuitBreaker({ name: 'a', rollingWindowBuckets: 3 }),
      'rollingWindowBuckets',
    ],
    ['breaker isFailure', () => createCircuitBreaker({ name: 'a', isFailure: 1 as never }), 'isFailure'],
    ['breaker logger', () => createCircuitBreaker({ name: 'a', logger: {} as never }), 'logger'],
    ['breaker registry', () => createCircuitBreaker({ name: 'a', registry: {} as never }), 'registry'],
    ['breaker unknown key', () => createCircuitBreaker({ name: 'a', timeout: 5 } as never), 'timeout'],
    ['retry maxAttempts 0', () => createRetry({ name: 'r', maxAttempts: 0 }), 'maxAttempts'],
    ['retry negative base', () => createRetry({ name: 'r', baseDelayMs: -1 }), 'baseDelayMs'],
    ['retry max < base', () => createRetry({ name: 'r', baseDelayMs: 500, maxDelayMs: 100 }), 'maxDelayMs'],
    ['retry budgetRatio', () => createRetry({ name: 'r', budgetRatio: -0.1 }), 'budgetRatio'],
    ['retry retryOn', () => createRetry({ name: 'r', retryOn: 'always' as never }), 'retryOn'],
    ['bulkhead maxConcurrent', () => createBulkhead({ name: 'b', maxConcurrent: 0 }), 'maxConcurrent'],
    ['bulkhead maxQueue', () => createBulkhead({ name: 'b', maxQueue: -1 }), 'maxQueue'],
    ['timeout missing', () => createTimeout({} as never), 'timeoutMs'],
    [
      'policy overall < attempt',
      () => createPolicy({ name: 'p', timeoutMs: 5000, overallTimeoutMs: 1000 }),
      'overallTimeoutMs',
    ],
    ['policy retry toggle', () => createPolicy({ name: 'p', retry: 'yes' as never }), 'retry'],
    [
      'policy nested breaker option',
      () => createPolicy({ name: 'p', breaker: { volumeThreshold: 'x' as never } }),
      'breaker.volumeThreshold',
    ],
    [
      'policy nested retry option',
      () => createPolicy({ name: 'p', retry: { maxAttempts: 0 } }),
      'retry.maxAttempts',
    ],
    [
      'policy nested unknown',
      () => createPolicy({ name: 'p', bulkhead: { limit: 3 } as never }),
      'bulkhead.limit',
    ],
    ['client without baseUrl', () => createHttpClient({} as never), 'baseUrl'],
    ['client ftp baseUrl', () => createHttpClient({ baseUrl: 'ftp://files' }), 'baseUrl'],
    ['client credentials in baseUrl', () => createHttpClient({ baseUrl: 'http://u:p@host' }), 'baseUrl'],
    [
      'client retryStatusCodes',
      () => createHttpClient({ baseUrl: base, retryStatusCodes: [99] }),
      'retryStatusCodes',
    ],
    ['client name', () => createHttpClient({ baseUrl: base, name: '' }), 'name'],
    ['client tracing', () => createHttpClient({ baseUrl: base, tracing: 'yes' as never }), 'tracing'],
    ['client fetch', () => createHttpClient({ baseUrl: base, fetch: 'undici' as never }), 'fetch'],
    ['check source', () => createBreakerCheck({}), 'breaker'],
    [
      'check whenOpen',
      () => createBreakerCheck({ name: 'x', state: 'closed' }, { whenOpen: 'pass' as never }),
      'whenOpen',
    ],
  ];
  it.each(cases)('%s', (_label, f, option) => {
    expect(optionOf(f)).toBe(option);
  });

  it('names must be unique per registry while open (they are label values), free again after close', async () => {
    const registry = new Registry();
    const a = createCircuitBreaker({ name: 'dup', registry, logger: false });
    expect(optionOf(() => createCircuitBreaker({ name: 'dup', registry, logger: false }))).toBe('name');
    // A failed construction leaves nothing behind: the policy's breaker is made, then its retry
    // clashes with an open retry of the same name, and the breaker is removed again.
    const retry = createRetry({ name: 'dup2', registry });
    expect(optionOf(() => createPolicy({ name: 'dup2', registry, logger: false, retry: true }))).toBe('name');
    const state = (await registry.getSingleMetric('vigil_circuit_breaker_state')?.get()) as {
      values: unknown[];
    };
    expect(JSON.stringify(state.values)).not.toContain('dup2');
    await retry.close();
    const other = createCircuitBreaker({ name: 'dup', logger: false }); // another registry: fine
    await other.close();
    await a.close();
    const b = createCircuitBreaker({ name: 'dup', registry, logger: false });
    await b.close();
  });

  it('registry and metrics must agree', async () => {
    const metrics = createMetrics({ runtimeMetrics: false });
    cleanup.push(() => metrics.close());
    expect(optionOf(() => createCircuitBreaker({ name: 'm', metrics, registry: new Registry() }))).toBe(
      'registry',
    );
    const ok = createCircuitBreaker({ name: 'm', metrics, registry: metrics.registry, logger: false });
    expect(ok.registry).toBe(metrics.registry);
    await ok.close();
  });

  it('per-call options are validated too (the call rejects)', async () => {
    const policy = createPolicy({ name: 'calls', logger: false });
    cleanup.push(() => policy.close());
    await expect(policy.execute(() => 1, { timeoutMs: -5 })).rejects.toMatchObject({ option: 'timeoutMs' });
    await expect(policy.execute(() => 1, { signal: 'stop' as never })).rejects.toMatchObject({
      option: 'signal',
    });
    await expect(policy.execute(() => 1, { retries: 2 } as never)).rejects.toMatchObject({
      option: 'execute(options).retries',
    });
    await expect(policy.execute('fn' as never)).rejects.toMatchObject({ option: 'execute(fn)' });
  });

  it('does not mutate the caller options object', () => {
    const options = Object.freeze({
      name: 'frozen',
      logger: false as const,
      breaker: Object.freeze({ volumeThreshold: 2 }),
    });
    const p = createPolicy(options);
    cleanup.push(() => p.close());
    expect(options).toEqual({ name: 'frozen', logger: false, breaker: { volumeThreshold: 2 } });
  });
});
