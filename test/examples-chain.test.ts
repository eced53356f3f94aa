import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpTarget, type TcpTarget } from '../packages/resilience/test/helpers.js';
import { parseSamples, request } from './helpers/http.js';
import { waitFor } from './helpers/services.js';
import { type Running, startService } from './helpers/spawn.js';

// The basic examples' `/chain` against a dependency that accepts connections and never answers,
// called one request at a time: the breaker opens within a few calls, later calls get a 503 at
// once without reaching the target, and `/chain` works again once the target answers.
// CHAIN_TIMEOUT_MS / CHAIN_BREAKER_RESET_MS shrink the example's 5 s / 30 s to keep this short.
const EXAMPLES = ['express-basic', 'fastify-basic', 'nest-basic', 'koa-basic'] as const;

describe.each(EXAMPLES)('%s /chain against a hung dependency', (name) => {
  let svc: Running;
  let target: TcpTarget;
  beforeAll(async () => {
    target = await startTcpTarget({ kind: 'hang' });
    svc = await startService(join(import.meta.dirname, '..', 'examples', name, 'dist', 'server.js'), {
      OTEL_SDK_DISABLED: 'true',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      CHAIN_TIMEOUT_MS: '100',
      CHAIN_BREAKER_RESET_MS: '1000',
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await target?.close();
  });

  const chain = () => request(svc.port, 'GET', `/chain?to=${encodeURIComponent(`${target.url}/items/1`)}`);
  const breakerState = async () => {
    const s = parseSamples((await request(svc.port, 'GET', '/metrics')).body);
    for (const [k, v] of s) if (k.startsWith('vigil_circuit_breaker_state{')) return v;
    return undefined;
  };

  it('fails fast with a breaker-open 503 within 10 calls and recovers once the target answers', async () => {
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await chain();
      statuses.push(r.status);
      bodies.push(r.body);
    }
    // The first calls time out (three attempts, then two: five timeouts in a row open it) and
    // answer 500; from then on every call is the breaker's 503.
    const first503 = statuses.indexOf(503);
    expect(first503, JSON.stringify(statuses)).toBeGreaterThan(0);
    expect(first503).toBeLessThan(10);
    expect(statuses.slice(first503)).toEqual(statuses.slice(first503).map(() => 503));
    expect(bodies[first503]).toContain('circuit open');
    expect(await breakerState()).toBe(2);
    // Open: no attempt is made (the client's attempt count stays at the five that timed out).
    const attempts = async () => {
      let n = 0;
      for (const [k, v] of parseSamples((await request(svc.port, 'GET', '/metrics')).body)) {
        if (k.startsWith('http_client_request_duration_seconds_count{')) n += v;
      }
      return n;
    };
    expect(await attempts()).toBe(5);
    expect((await chain()).status).toBe(503);
    expect(await attempts()).toBe(5);

    // The target answers again: after the reset timeout the trial call goes through and closes it.
    target.set({ kind: 'answer' });
    const others: number[] = [];
    await waitFor(
      '/chain to answer 200',
      async () => {
        const { status } = await chain();
        if (status !== 200) others.push(status);
        return status === 200;
      },
      30_000,
      50,
    );
    expect(new Set(others)).toEqual(new Set(others.length ? [503] : []));
    expect(await breakerState()).toBe(0);
    expect(await attempts()).toBe(6); // the trial call
  });
});
