import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealth, redisCheck } from '../src/index.js';
import { closedPort, IN_CI, reachable } from './helpers/net.js';

// Real Redis at 127.0.0.1:6379. Under CI=true the tests run whatever happens.
const available = IN_CI || (await reachable(6379));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.skipIf(!available)('redisCheck (real Redis; skipped when it is not running locally)', () => {
  it('passes when PING answers PONG', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    cleanups.push(async () => void redis.disconnect());
    const health = createHealth({ autoStart: true, checks: { redis: redisCheck(redis) } });
    cleanups.push(() => health.close());
    const r = await health.readiness();
    expect(r.statusCode).toBe(200);
    expect(r.body.checks?.redis?.[0]).toMatchObject({ status: 'pass', componentType: 'datastore' });
  });
});

describe('redisCheck against an unreachable Redis (no Redis needed)', () => {
  it('fails readiness, as a non-critical check only warns', async () => {
    const redis = new Redis({
      host: '127.0.0.1',
      port: await closedPort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    cleanups.push(async () => void redis.disconnect());
    const critical = createHealth({ autoStart: true, checks: { redis: redisCheck(redis) } });
    const optional = createHealth({
      autoStart: true,
      checks: { redis: redisCheck(redis, { critical: false }) },
    });
    cleanups.push(
      () => critical.close(),
      () => optional.close(),
    );
    expect((await critical.readiness()).statusCode).toBe(503);
    const warn = await optional.readiness();
    expect(warn.statusCode).toBe(200);
    expect(warn.body.status).toBe('warn');
  });

  it('takes any client with ping() and rejects anything else at construction', async () => {
    const health = createHealth({ autoStart: true, checks: { r: redisCheck({ ping: async () => 'PONG' }) } });
    cleanups.push(() => health.close());
    expect((await health.readiness()).statusCode).toBe(200);
    expect(() => redisCheck({} as never)).toThrow(/redisCheck\(client\)/);
  });
});
