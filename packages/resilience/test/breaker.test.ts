import { createMetrics } from '@vigil/metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BreakerStateChange,
  createBreakerCheck,
  createCircuitBreaker,
  createHttpClient,
  type HttpClient,
  isBreakerOpenError,
} from '../src/index.js';
import { breakerEvents, recordingLogger, sample, startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(opts: { volumeThreshold?: number; resetTimeoutMs?: number } = {}) {
  const downstream = await startDownstream();
  cleanup.push(() => downstream.close());
  const registry = new Registry();
  const logger = recordingLogger();
  const client = createHttpClient({
    baseUrl: downstream.url,
    name: 'users',
    registry,
    logger,
    retry: false,
    breaker: { volumeThreshold: opts.volumeThreshold ?? 3, resetTimeoutMs: opts.resetTimeoutMs ?? 25 },
  });
  cleanup.push(() => client.close());
  return { downstream, registry, client, logger };
}

/** The next state change of the client's breaker. */
function nextChange(client: HttpClient): Promise<BreakerStateChange> {
  return new Promise((resolve) => {
    const off = client.breaker?.onStateChange((c) => {
      off?.();
      resolve(c);
    });
  });
}

const state = (registry: Registry) => sample(registry, 'vigil_circuit_breaker_state', { breaker: 'users' });

describe('circuit breaker against a real downstream', () => {
  it('opens after the configured failures, rejects fast, goes half-open, closes on success', async () => {
    const { downstream, registry, client, logger } = await setup({ volumeThreshold: 3 });
    const check = createBreakerCheck(client);

    // Closed and healthy.
    expect(await state(registry)).toBe(0);
    expect((await check.check()).status).toBe('pass');

    // The downstream fails: 500s count against it. Below the volume threshold (3 calls in the
    // window) it stays closed; the third failure (3/3 > 50 %) opens it.
    downstream.set({ kind: 'status', status: 500 });
    const opened = nextChange(client);
    for (let i = 0; i < 2; i++) expect((await client.fetch('/users/1')).status).toBe(500);
    expect(client.breaker?.state).toBe('closed');
    expect(await breakerEvents(registry, 'users')).toMatchObject({ failure: 2, open: 0 });
    expect((await client.fetch('/users/1')).status).toBe(500);
    expect(await opened).toMatchObject({ breaker: 'users', from: 'closed', to: 'open' });
    expect(client.breaker?.state).toBe('open');
    expect(await state(registry)).toBe(2);
    expect(await breakerEvents(registry, 'users')).toMatchObject({
      success: 0,
      failure: 3,
      open: 1,
      reject: 0,
    });
    expect(await check.check()).toMatchObject({ status: 'warn', observedValue: 'open' });
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logger.lines[0]?.obj).toMatchObject({ breaker: 'users', state: 'open', previousState: 'closed' });

    // Open: calls are rejected without reaching the downstream. Register for the half-open
    // transition first: the reset timeout is tiny and the event is what we wait for.
    const halfOpen = nextChange(client);
    const seen = downstream.requests.length;
    const err = await client.fetch('/users/1').catch((e: unknown) => e);
    expect(isBreakerOpenError(err)).toBe(true);
    expect(downstream.requests.length).toBe(seen);
    expect((await breakerEvents(registry, 'users')).reject).toBeGreaterThanOrEqual(1);

    // After the reset timeout: half-open, gauge 1.
    expect(await halfOpen).toMatchObject({ from: 'open', to: 'half_open' });
    expect(await state(registry)).toBe(1);
    expect((await breakerEvents(registry, 'users')).half_open).toBe(1);

    // The downstream recovered: the trial call succeeds and the breaker closes.
    downstream.set({ kind: 'ok' });
    const closed = nextChange(client);
    expect((await client.fetch('/users/1')).status).toBe(200);
    expect(await closed).toMatchObject({ from: 'half_open', to: 'closed' });
    expect(await state(registry)).toBe(0);
    expect(await breakerEvents(registry, 'users')).toMatchObject({ open: 1, half_open: 1, close: 1 });
    expect((await check.check()).status).toBe('pass');
    // One line per state change.
    expect(logger.lines.map((l) => l.obj.state)).toEqual(['open', 'half_open', 'closed']);

    // Durations were recorded per outcome.
    const name = 'vigil_circuit_breaker_call_duration_seconds';
    expect(await sample(registry, name, { breaker: 'users', outcome: 'failure' }, `${name}_count`)).toBe(3);
    expect(await sample(registry, name, { breaker: 'users', outcome: 'success' }, `${name}_count`)).toBe(1);
  });

  it('a failed trial call opens the breaker again', async () => {
    const { downstream, registry, client } = await setup({ volumeThreshold: 1 });
    downstream.set({ kind: 'status', status: 503 });
    const opened = nextChange(client);
    await client.fetch('/x');
    await opened;
    await nextChange(client); // half-open
    const reopened = nextChange(client);
    expect((await client.fetch('/x')).status).toBe(503);
    expect(await reopened).toMatchObject({ from: 'half_open', to: 'open' });
    expect(await breakerEvents(registry, 'users')).toMatchObject({ open: 2, half_open: 1, close: 0 });
  });

  it('4xx responses are not failures (ignored) and never open the breaker', async () => {
    const { downstream, registry, client } = await setup({ volumeThreshold: 1 });
    downstream.set({ kind: 'status', status: 404 });
    for (let i = 0; i < 5; i++) expect((await client.fetch('/missing')).status).toBe(404);
    expect(client.breaker?.state).toBe('closed');
    expect(await breakerEvents(registry, 'users')).toMatchObject({ success: 5, failure: 0 });
  });

  it('a breaker on any async function: state, events and wrap()', async () => {
    const metrics = createMetrics({ runtimeMetrics: false });
    cleanup.push(() => metrics.close());
    const breaker = createCircuitBreaker({
      name: 'pricing',
      metrics,
      volumeThreshold: 2,
      resetTimeoutMs: 60_000,
      logger: false,
    });
    cleanup.push(() => breaker.close());
    let fail = true;
    const price = breaker.wrap(async (sku: string) => {
      if (fail) throw new Error(`no price for ${sku}`);
      return 42;
    });
    await expect(price('a')).rejects.toThrow('no price for a');
    await expect(price('b')).rejects.toThrow('no price for b');
    expect(breaker.state).toBe('open');
    fail = false;
    const rejected = await price('c').catch((e: unknown) => e);
    expect(isBreakerOpenError(rejected)).toBe(true);
    expect(rejected).toMatchObject({ code: 'VIGIL_BREAKER_OPEN', breaker: 'pricing', state: 'open' });
    // Same registry as the metrics handle, served by its scrape.
    const { body } = await metrics.scrape();
    expect(String(body)).toContain('vigil_circuit_breaker_state{breaker="pricing"} 2');
    expect(breaker.stats()).toMatchObject({ state: 'open', failures: 2 });
  });

  it('fallback replaces a rejection and is counted', async () => {
    const registry = new Registry();
    const breaker = createCircuitBreaker({ name: 'fb', registry, volumeThreshold: 1, logger: false });
    cleanup.push(() => breaker.close());
    await expect(
      breaker.execute(() => Promise.reject(new Error('down')), { fallback: () => 'cached' }),
    ).resolves.toBe('cached');
    // Open now: the fallback also covers the rejection.
    await expect(
      breaker.execute(() => 'live', { fallback: (e) => (isBreakerOpenError(e) ? 'stale' : 'x') }),
    ).resolves.toBe('stale');
    expect(await breakerEvents(registry, 'fb')).toMatchObject({ failure: 1, reject: 1, fallback: 2 });
  });

  it('close() is idempotent, removes the series and later calls reject', async () => {
    const registry = new Registry();
    const breaker = createCircuitBreaker({ name: 'c', registry, logger: false });
    expect(registry.getSingleMetric('vigil_circuit_breaker_state')).toBeDefined();
    await Promise.all([breaker.close(), breaker.close()]);
    expect(registry.getSingleMetric('vigil_circuit_breaker_state')).toBeUndefined();
    await expect(breaker.execute(() => 1)).rejects.toMatchObject({ code: 'VIGIL_CLOSED' });
    // The name is free again in that registry, and one per test never throws.
    const again = createCircuitBreaker({ name: 'c', registry, logger: false });
    await again.close();
  });

  it('onStateChange returns an unsubscribe function', async () => {
    const breaker = createCircuitBreaker({ name: 'u', volumeThreshold: 1, logger: false });
    cleanup.push(() => breaker.close());
    const seen: string[] = [];
    const off = breaker.onStateChange((c) => seen.push(c.to));
    off();
    await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(seen).toEqual([]);
  });

  it('the default logger writes one console.warn line per state change', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const breaker = createCircuitBreaker({ name: 'loud', volumeThreshold: 1 });
      cleanup.push(() => breaker.close());
      await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain('circuit breaker "loud" opened');
    } finally {
      warn.mockRestore();
    }
  });
});

describe('readiness check', () => {
  it('has the health-check shape and follows the options', async () => {
    const breaker = createCircuitBreaker({ name: 'ready', volumeThreshold: 1, logger: false });
    cleanup.push(() => breaker.close());
    const warnCheck = createBreakerCheck(breaker);
    const failCheck = createBreakerCheck(breaker, { name: 'ready-strict', whenOpen: 'fail' });
    expect(warnCheck).toMatchObject({ name: 'breaker:ready', critical: false });
    expect(typeof warnCheck.check).toBe('function');
    expect(await warnCheck.check()).toMatchObject({ status: 'pass', observedValue: 'closed' });
    const opened = new Promise((resolve) => breaker.onStateChange(resolve));
    await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    await opened;
    expect(await warnCheck.check()).toMatchObject({ status: 'warn', observedValue: 'open' });
    expect(await failCheck.check()).toMatchObject({ status: 'fail', observedValue: 'open' });
    expect((await failCheck.check()).output).toContain('open');
  });
});
