import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient, createLoadShedder, type RetryEvent } from '@vigil/resilience';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createExpressHealth,
  createExpressLoadShedding,
  createExpressMetrics,
  type ExpressLoadSheddingOptions,
} from '../src/index.js';
import { MAJORS, type Major } from './majors.js';

// Load shedding on a real Express 5 server: a request over the limit gets 503 with Retry-After
// before any handler runs; probes, /metrics and priority requests are never shed; a finished or
// aborted request frees its place; Vigil's resilient client waits as long as Retry-After says.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A deferred: the held handler answers when `open()` is called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { opened, open };
}

async function startOn(express: Major['express'], options: ExpressLoadSheddingOptions = {}) {
  const metrics = createExpressMetrics({ runtimeMetrics: false });
  const shedder = createLoadShedder({
    metrics: metrics.metrics,
    initialLimit: 1,
    minLimit: 1,
    maxLimit: 1,
    ...options,
  });
  const shedding = createExpressLoadShedding({ shedder, isPriority: (req) => req.get('x-priority') === '1' });
  const health = createExpressHealth({ metrics });
  const app = express();
  app.use(health.middleware);
  app.use(shedding.middleware);
  app.use(metrics.middleware);
  app.get('/metrics', metrics.handler);
  let handled = 0;
  let hold = gate();
  app.get('/work', async (_req, res) => {
    handled++;
    await hold.opened;
    res.send('done');
  });
  app.get('/quick', (_req, res) => {
    handled++;
    res.send('quick');
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    hold.open();
    server.closeAllConnections();
    server.close();
    await shedder.close();
    await health.close();
    await metrics.close();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    shedder,
    handled: () => handled,
    release() {
      hold.open();
      hold = gate();
    },
  };
}

describe.each(MAJORS)('Express load shedding ($name)', ({ express }) => {
  const start = (options?: ExpressLoadSheddingOptions) => startOn(express, options);

  it('sheds over the limit with 503 and Retry-After before any handler; probes, /metrics and priority pass', async () => {
    const s = await start({ retryAfterSeconds: 2 });
    const held = fetch(`${s.url}/work`);
    // Wait until the held request is in its handler.
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    const shed = await fetch(`${s.url}/quick`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(await shed.json()).toEqual({ error: 'overloaded', reason: 'concurrency' });
    expect(s.handled()).toBe(1); // the handler of /quick never ran
    for (const probe of ['/livez', '/readyz', '/health', '/metrics']) {
      expect((await fetch(`${s.url}${probe}`)).status, probe).toBe(200);
    }
    const vip = await fetch(`${s.url}/quick`, { headers: { 'x-priority': '1' } });
    expect(vip.status).toBe(200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toContain('vigil_load_shed_requests_total{reason="concurrency"} 1');
    // Shed requests are not RED traffic: only the admitted ones are.
    expect(text).not.toContain('status_code="503"');
    s.release();
    expect((await held).status).toBe(200);
    // The place is free again once that request's turn has ended.
    await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
  });

  it('a request whose client went away frees its place', async () => {
    const s = await start();
    const ac = new AbortController();
    const held = fetch(`${s.url}/work`, { signal: ac.signal }).catch(() => 'aborted');
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    expect(s.shedder.inFlight).toBe(1);
    ac.abort();
    expect(await held).toBe('aborted');
    while (s.shedder.inFlight > 0) await new Promise((r) => setImmediate(r));
    expect((await fetch(`${s.url}/quick`)).status).toBe(200);
    s.release();
  });

  it("Vigil's HTTP client honours the shedder's Retry-After and then succeeds", async () => {
    const s = await start({ retryAfterSeconds: 1 });
    const held = fetch(`${s.url}/work`);
    while (s.handled() === 0) await new Promise((r) => setImmediate(r));
    const client = createHttpClient({ baseUrl: s.url, name: 'shed-target', logger: false, breaker: false });
    cleanups.push(() => client.close());
    const retries: RetryEvent[] = [];
    client.onRetry((e) => {
      retries.push(e);
      s.release(); // the server has room again by the time the retry comes
    });
    const res = await client.fetch('/quick');
    expect(res.status).toBe(200);
    expect(retries).toHaveLength(1);
    const [retry] = retries as [RetryEvent];
    expect(retry.delayMs).toBeGreaterThanOrEqual(1000);
    expect(retry.error).toMatchObject({ status: 503 });
    expect((await held).status).toBe(200);
  });

  it('validates its options', () => {
    expect(() => createExpressLoadShedding({ exclude: 'x' as never })).toThrow('"exclude"');
    expect(() => createExpressLoadShedding({ isPriority: 1 as never })).toThrow('"isPriority"');
    const shedder = createLoadShedder();
    cleanups.push(() => shedder.close());
    expect(() => createExpressLoadShedding({ shedder, minLimit: 2 })).toThrow('"minLimit"');
  });
});
