import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { createLoadShedder } from '@vigil/resilience';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createKoaHealth,
  createKoaLoadShedding,
  createKoaMetrics,
  type KoaLoadSheddingOptions,
} from '../src/index.js';

// Load shedding on real Koa 2 and 3 servers: a request over the limit gets 503 with Retry-After
// before any later middleware runs; probes, /metrics and priority requests are never shed; an
// admitted request keeps its route template in the metrics; an aborted one frees its place.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function deferred() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { opened, open };
}

describe.each([
  ['Koa 3', Koa3],
  ['Koa 2', Koa2],
] as const)('Koa load shedding on %s', (_name, Koa) => {
  async function start(options: KoaLoadSheddingOptions = {}) {
    const metrics = createKoaMetrics({ runtimeMetrics: false });
    const shedder = createLoadShedder({ metrics, initialLimit: 1, minLimit: 1, maxLimit: 1, ...options });
    const shedding = createKoaLoadShedding({
      shedder,
      isPriority: (ctx) => ctx.req.headers['x-priority'] === '1',
    });
    const health = createKoaHealth({ metrics });
    const app = new (Koa as typeof Koa3)();
    app.use(health.middleware);
    app.use(shedding.middleware);
    app.use(metrics.middleware);
    let handled = 0;
    let hold = deferred();
    const router = new Router();
    router.get('/metrics', metrics.koaHandler);
    router.get('/work/:id', async (ctx) => {
      handled++;
      await hold.opened;
      ctx.body = 'done';
    });
    router.get('/quick', (ctx) => {
      handled++;
      ctx.body = 'quick';
    });
    app.use(router.routes());
    const server: Server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      hold.open();
      server.closeAllConnections();
      server.close();
      await shedding.close();
      await shedder.close();
      await health.close();
      await metrics.close();
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      shedder,
      handled: () => handled,
      release() {
        hold.open();
        hold = deferred();
      },
    };
  }

  it('sheds over the limit with 503 and Retry-After before any later middleware; probes, /metrics and priority pass', async () => {
    const s = await start({ retryAfterSeconds: 2 });
    const held = fetch(`${s.url}/work/7`);
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    const shed = await fetch(`${s.url}/quick`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(await shed.json()).toEqual({ error: 'overloaded', reason: 'concurrency' });
    expect(s.handled()).toBe(1); // the route of /quick never ran
    for (const probe of ['/livez', '/readyz', '/health', '/metrics']) {
      expect((await fetch(`${s.url}${probe}`)).status, probe).toBe(200);
    }
    expect((await fetch(`${s.url}/quick`, { headers: { 'x-priority': '1' } })).status).toBe(200);
    s.release();
    expect((await held).status).toBe(200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toContain('vigil_load_shed_requests_total{reason="concurrency"} 1');
    // The admitted request keeps its template (the shedding middleware and the metrics one share
    // the request's record); shed requests are not RED traffic.
    expect(text).toContain('http_requests_total{route="/work/:id",method="GET",status_code="200"} 1');
    expect(text).not.toContain('status_code="503"');
  });

  it('a request whose client went away frees its place', async () => {
    const s = await start();
    const ac = new AbortController();
    const held = fetch(`${s.url}/work/1`, { signal: ac.signal }).catch(() => 'aborted');
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    expect(s.shedder.inFlight).toBe(1);
    ac.abort();
    expect(await held).toBe('aborted');
    while (s.shedder.inFlight > 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
    s.release();
  });

  it('validates its options', () => {
    expect(() => createKoaLoadShedding({ exclude: 'x' as never })).toThrow('"exclude"');
    expect(() => createKoaLoadShedding({ isPriority: 1 as never })).toThrow('"isPriority"');
    const shedder = createLoadShedder();
    cleanups.push(() => shedder.close());
    expect(() => createKoaLoadShedding({ shedder, minLimit: 2 })).toThrow('"minLimit"');
  });
});
