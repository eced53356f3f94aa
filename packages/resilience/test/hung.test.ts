import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BreakerStateChange,
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
  isBreakerOpenError,
  isTimeoutError,
} from '../src/index.js';
import { type TcpTargetMode as Mode, sample, startTcpTarget as startTarget } from './helpers.js';

// A real TCP target that accepts connections and never answers (a hung dependency), or answers
// slowly, or answers at once; the resilient client in front of it, called one request at a time
// (a quiet service, a cron job) and many at a time.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(mode: Mode, options: Partial<HttpClientOptions>) {
  const target = await startTarget(mode);
  cleanup.push(() => target.close());
  const registry = new Registry();
  const client = createHttpClient({ baseUrl: target.url, name: 'dep', registry, logger: false, ...options });
  cleanup.push(() => client.close());
  const changes: BreakerStateChange[] = [];
  client.breaker?.onStateChange((c) => changes.push(c));
  return { target, registry, client, changes };
}

function nextChange(client: HttpClient, to: string): Promise<BreakerStateChange> {
  return new Promise((resolve) => {
    const off = client.breaker?.onStateChange((c) => {
      if (c.to !== to) return;
      off?.();
      resolve(c);
    });
  });
}

/** Attempts the client made (each one is observed in its duration histogram, whatever its end). */
async function attempts(registry: Registry): Promise<number> {
  const m = registry.getSingleMetric('http_client_request_duration_seconds');
  const data = (await m?.get()) as { values: { value: number; metricName?: string }[] } | undefined;
  let n = 0;
  for (const v of data?.values ?? []) if (v.metricName?.endsWith('_count')) n += v.value;
  return n;
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok' as const,
    (e: unknown) => e,
  );

describe('a hung dependency (accepts, never answers)', () => {
  it('a sequential caller gets breaker-open errors within 10 calls, without reaching the target, and recovers', async () => {
    // The shape scaled down: per-attempt timeout 50 ms, three attempts, and a time window
    // (100 ms) that cannot hold volumeThreshold (10) of them: only consecutive failures can trip.
    const { target, registry, client, changes } = await setup(
      { kind: 'hang' },
      { timeoutMs: 50, breaker: { rollingWindowMs: 100, resetTimeoutMs: 300 } },
    );
    const results: unknown[] = [];
    let firstOpen = -1;
    for (let i = 0; i < 10; i++) {
      const r = await outcome(client.fetch('/items/1'));
      results.push(r);
      if (firstOpen < 0 && isBreakerOpenError(r)) firstOpen = i;
    }
    expect(firstOpen, JSON.stringify(results.map(String))).toBeGreaterThanOrEqual(0);
    expect(firstOpen).toBeLessThan(10);
    // Before the breaker opened every call timed out (three attempts, then two).
    for (const r of results.slice(0, firstOpen)) expect(isTimeoutError(r)).toBe(true);
    // The call that opened it ends with the breaker error, its timeout as the cause; every later
    // call is rejected without an attempt (nothing sent to the target).
    const tripping = results[firstOpen] as { cause?: unknown; state?: string };
    expect(isTimeoutError(tripping.cause)).toBe(true);
    expect(changes[0]).toMatchObject({ to: 'open', reason: 'consecutive' });
    expect(await attempts(registry)).toBe(5); // 3 + 2 timed-out attempts: consecutiveFailures (5)
    // (How many of them reached the target before timing out depends on how busy the machine is.)
    const seen = target.requests;
    expect(seen).toBeLessThanOrEqual(5);
    for (const r of results.slice(firstOpen + 1)) expect(r).toMatchObject({ code: 'VIGIL_BREAKER_OPEN' });
    expect(
      await sample(registry, 'vigil_circuit_breaker_opens_total', { breaker: 'dep', reason: 'consecutive' }),
    ).toBe(1);

    // The target comes back: after resetTimeoutMs the breaker lets a trial through, and it closes.
    target.set({ kind: 'answer' });
    await nextChange(client, 'half_open');
    const res = await client.fetch('/items/1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(client.breaker?.state).toBe('closed');
    expect(changes.map((c) => c.to)).toEqual(['open', 'half_open', 'closed']);
    expect(await attempts(registry)).toBe(6); // the trial: the only attempt since it opened
  });

  it('concurrent callers open it together; the next wave is rejected at once', async () => {
    const { client, changes } = await setup(
      { kind: 'hang' },
      { timeoutMs: 50, retry: false, breaker: { resetTimeoutMs: 60_000 } },
    );
    const wave = () => Promise.all(Array.from({ length: 20 }, () => outcome(client.fetch('/items/1'))));
    const first = await wave();
    expect(first.filter((r) => !isTimeoutError(r)).map(String)).toEqual([]);
    expect(client.breaker?.state).toBe('open');
    expect(changes).toHaveLength(1); // the 15 timeouts after the 5th did not count twice
    // Rejected by the breaker: the client never started an attempt (so nothing was sent).
    const second = await wave();
    expect(second.filter((r) => !isBreakerOpenError(r)).map(String)).toEqual([]);
  });
});

describe('a slow dependency that still succeeds', () => {
  it('a sequential caller: slow calls in a count window open it (slow_rate), though every call succeeded', async () => {
    // Answers after 60 ms; 20 ms counts as slow. No failure anywhere.
    const { target, registry, client, changes } = await setup(
      { kind: 'answer', delayMs: 60 },
      {
        timeoutMs: 5_000,
        breaker: {
          slowCallDurationMs: 20,
          slowCallThresholdPercentage: 50,
          rollingWindowCalls: 4,
          volumeThreshold: 4,
          resetTimeoutMs: 60_000,
        },
      },
    );
    for (let i = 0; i < 4; i++) expect((await client.fetch('/slow')).status).toBe(200);
    expect(client.breaker?.state).toBe('open');
    expect(changes[0]).toMatchObject({ to: 'open', reason: 'slow_rate' });
    const rejected = await outcome(client.fetch('/slow'));
    expect(isBreakerOpenError(rejected)).toBe(true);
    expect(target.requests).toBe(4);
    expect(await sample(registry, 'vigil_circuit_breaker_slow_calls_total', { breaker: 'dep' })).toBe(4);
    expect(
      await sample(registry, 'vigil_circuit_breaker_events_total', { breaker: 'dep', event: 'success' }),
    ).toBe(4);
  });

  it('concurrent callers: the slow share in the time window opens it', async () => {
    const { client, changes } = await setup(
      { kind: 'answer', delayMs: 60 },
      { timeoutMs: 5_000, retry: false, breaker: { slowCallDurationMs: 20, resetTimeoutMs: 60_000 } },
    );
    const results = await Promise.all(Array.from({ length: 12 }, () => outcome(client.fetch('/slow'))));
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(client.breaker?.state).toBe('open');
    expect(changes[0]).toMatchObject({ reason: 'slow_rate' });
  });
});
