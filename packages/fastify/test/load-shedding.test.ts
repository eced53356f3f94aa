import { createMetrics } from '@vigil/metrics';
import { createLoadShedder } from '@vigil/resilience';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { vigilHealth, vigilLoadShedding, vigilMetrics } from '../src/index.js';

// Load shedding on a real Fastify 5 server (listening on an ephemeral port): over the limit, 503
// with Retry-After from the first onRequest hook, before the handler; probes, /metrics and
// priority requests are never shed; a finished or aborted request frees its place.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Order = 'limiter-first' | 'metrics-first';

/** The onRequest hooks Fastify runs for `path` (from `printRoutes`, which names each hook). */
function onRequestHooks(app: FastifyInstance, path: string): string {
  const lines = app.printRoutes({ includeHooks: true, commonPrefix: false }).split('\n');
  const at = lines.findIndex((l) => l.includes(`${path} (GET)`));
  return lines.slice(at + 1).find((l) => l.includes('(onRequest)')) ?? '';
}

async function start(order: Order = 'limiter-first', exclude?: string[]) {
  const metrics = createMetrics({ runtimeMetrics: false });
  const shedder = createLoadShedder({
    metrics,
    initialLimit: 1,
    minLimit: 1,
    maxLimit: 1,
    retryAfterSeconds: 2,
  });
  const app: FastifyInstance = Fastify({ logger: false });
  const limiter = {
    shedder,
    exclude,
    isPriority: (req: { headers: Record<string, unknown> }) => req.headers['x-priority'] === '1',
  };
  if (order === 'metrics-first') await app.register(vigilMetrics, { metrics });
  await app.register(vigilLoadShedding, limiter);
  if (order === 'limiter-first') await app.register(vigilMetrics, { metrics });
  await app.register(vigilHealth);
  let handled = 0;
  let open!: () => void;
  let opened = new Promise<void>((r) => {
    open = r;
  });
  app.get('/work', async () => {
    handled++;
    await opened;
    return 'done';
  });
  app.get('/quick', async () => {
    handled++;
    return 'quick';
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    open();
    await app.close();
    await shedder.close();
    await metrics.close();
  });
  return {
    url,
    app,
    shedder,
    handled: () => handled,
    release() {
      open();
      opened = new Promise<void>((r) => {
        open = r;
      });
    },
  };
}

describe('Fastify load shedding', () => {
  it('sheds over the limit with 503 and Retry-After before the handler; probes, /metrics and priority pass', async () => {
    const s = await start();
    const held = fetch(`${s.url}/work`);
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    const shed = await fetch(`${s.url}/quick`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(await shed.json()).toEqual({ error: 'overloaded', reason: 'concurrency' });
    expect(s.handled()).toBe(1);
    for (const probe of ['/livez', '/readyz', '/health', '/metrics']) {
      expect((await fetch(`${s.url}${probe}`)).status, probe).toBe(200);
    }
    expect((await fetch(`${s.url}/quick`, { headers: { 'x-priority': '1' } })).status).toBe(200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toContain('vigil_load_shed_requests_total{reason="concurrency"} 1');
    expect(text).not.toContain('status_code="503"'); // registered first: shed requests are not RED traffic
    s.release();
    expect((await held).status).toBe(200);
    while (s.shedder.inFlight > 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
  });

  it('registered before vigilMetrics with the same exclusions, one onRequest hook admits and observes', async () => {
    const s = await start();
    expect(onRequestHooks(s.app, '/quick')).toContain('["vigilAdmit()"]');
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{route="\/quick",method="GET",status_code="200"\} 1/);
    expect(s.shedder.inFlight).toBe(0);
  });

  it('with exclusions of its own it keeps its own hook: an excluded path is never shed and still recorded', async () => {
    const s = await start('limiter-first', ['/quick']);
    expect(onRequestHooks(s.app, '/quick')).toContain('["vigilAdmit()","vigilObserve()"]');
    const held = fetch(`${s.url}/work`);
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
    expect((await fetch(`${s.url}/work`)).status).toBe(503);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{route="\/quick",method="GET",status_code="200"\} 1/);
    expect(text).not.toContain('status_code="503"');
    s.release();
    expect((await held).status).toBe(200);
  });

  it('registered after vigilMetrics, a shed request is RED traffic (503 on its route)', async () => {
    const s = await start('metrics-first');
    expect(onRequestHooks(s.app, '/quick')).toContain('["vigilObserve()","vigilAdmit()"]');
    const held = fetch(`${s.url}/work`);
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(503);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{route="\/quick",method="GET",status_code="503"\} 1/);
    expect(text).toContain('vigil_load_shed_requests_total{reason="concurrency"} 1');
    s.release();
    expect((await held).status).toBe(200);
  });

  it('a request whose client went away frees its place', async () => {
    const s = await start();
    const ac = new AbortController();
    const held = fetch(`${s.url}/work`, { signal: ac.signal }).catch(() => 'aborted');
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    ac.abort();
    expect(await held).toBe('aborted');
    while (s.shedder.inFlight > 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
    s.release();
  });

  it('validates its options', async () => {
    const app = Fastify({ logger: false });
    cleanups.push(() => app.close());
    await expect(app.register(vigilLoadShedding, { exclude: 'x' as never })).rejects.toThrow('"exclude"');
  });
});
