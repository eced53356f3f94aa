import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import Router from '@koa/router';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createLogger } from '@vigil/logger';
import { startTracing } from '@vigil/tracing';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, describe, expect, it } from 'vitest';
import { many, parseSamples, randomPath, request, seriesOf } from '../../../test/helpers/http.js';
import {
  createKoaHealth,
  createKoaMetrics,
  createShutdown,
  isVigilOptionError,
  type KoaMetrics,
  type KoaMetricsOptions,
} from '../src/index.js';

interface Harness {
  port: number;
  metrics: KoaMetrics;
  server: Server;
  lines: Record<string, unknown>[];
  hangEntered: Promise<void>;
  hangClosed: Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const count = (text: string, labels: string) => parseSamples(text).get(`http_requests_total{${labels}}`) ?? 0;

// Koa 2 and 3 take the same adapter; every case runs against both majors.
describe.each([
  ['Koa 3', Koa3],
  ['Koa 2', Koa2],
] as const)('@vigil/koa on %s', (_name, Koa) => {
  async function start(opts: KoaMetricsOptions & { ready?: () => boolean } = {}): Promise<Harness> {
    const { ready, ...metricOpts } = opts;
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      service: 'koa-test',
      destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
    });
    const app = new (Koa as typeof Koa3)();
    const metrics = createKoaMetrics({ runtimeMetrics: false, logger, ...metricOpts });
    const health = createKoaHealth({
      metrics,
      cacheMs: 0,
      checks: { dependency: async () => ready === undefined || ready() },
    });
    app.use(metrics.middleware);
    app.use(health.middleware);

    let hangEntered!: () => void;
    let hangClosed!: () => void;
    const entered = new Promise<void>((r) => {
      hangEntered = r;
    });
    const closed = new Promise<void>((r) => {
      hangClosed = r;
    });

    const router = new Router();
    router.get('/metrics', metrics.koaHandler);
    router.get('/users/:id', (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    router.get('/error', () => {
      throw new Error('boom');
    });
    router.get('/teapot', (ctx) => ctx.throw(418, 'teapot'));
    router.get('/hang', async (ctx) => {
      ctx.res.on('close', hangClosed);
      hangEntered();
      await new Promise(() => {});
    });
    router.get(/^\/regex\/\d+$/, (ctx) => {
      ctx.body = 'regex';
    });
    const orders = new Router();
    orders.get('/orders/:orderId', (ctx) => {
      ctx.body = ctx.params;
    });
    const tenants = new Router({ prefix: '/tenants/:tenantId' });
    tenants.use(orders.routes());
    const v1 = new Router({ prefix: '/api/v1' });
    v1.get('/items/:id', (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    app.use(router.routes());
    app.use(tenants.routes());
    app.use(v1.routes());

    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await health.close();
      await metrics.close();
      await logger.close();
    });
    return {
      port: (server.address() as AddressInfo).port,
      metrics,
      server,
      lines,
      hangEntered: entered,
      hangClosed: closed,
    };
  }

  async function scrape(h: Harness): Promise<string> {
    const r = await request(h.port, 'GET', '/metrics');
    expect(r.status).toBe(200);
    return r.body;
  }

  it('labels requests with the router template, prefixes and nested routers included, never values', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/1');
    await request(h.port, 'GET', '/users/2?x=1');
    await request(h.port, 'GET', '/api/v1/items/42');
    await request(h.port, 'GET', '/tenants/acme/orders/7');
    await request(h.port, 'GET', '/tenants/other/orders/8');
    await request(h.port, 'GET', '/regex/123');
    await request(h.port, 'GET', '/regex/456');
    const text = await scrape(h);
    expect(count(text, 'route="/users/:id",method="GET",status_code="200"')).toBe(2);
    expect(count(text, 'route="/api/v1/items/:id",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="/tenants/:tenantId/orders/:orderId",method="GET",status_code="200"')).toBe(2);
    expect(seriesOf(text, 'http_requests_total').filter((s) => s.includes('regex'))).toHaveLength(1);
    expect(text).not.toMatch(/\/users\/1|acme|\?x=|regex\/123/);
  });

  it('routeLabel overrides the label; undefined or a throw keeps the template', async () => {
    const h = await start({
      routeLabel: (req, route) => {
        if (route === '/error') throw new Error('no tier table');
        return route === '/users/:id'
          ? req.headers['x-tier'] === 'gold'
            ? 'users:gold'
            : 'users:other'
          : undefined;
      },
    });
    await request(h.port, 'GET', '/users/1', { 'x-tier': 'gold' });
    await request(h.port, 'GET', '/users/2');
    await request(h.port, 'GET', '/error');
    await request(h.port, 'GET', '/api/v1/items/3');
    const text = await scrape(h);
    expect(count(text, 'route="users:gold",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="users:other",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="/error",method="GET",status_code="500"')).toBe(1);
    expect(count(text, 'route="/api/v1/items/:id",method="GET",status_code="200"')).toBe(1);
  });

  it('httpLabels adds a declared, bounded label from the request', async () => {
    const h = await start({
      httpLabels: {
        tier: { values: ['free', 'gold'], from: (req) => req.headers['x-tier'] as string | undefined },
      },
    });
    await request(h.port, 'GET', '/users/1', { 'x-tier': 'gold' });
    await request(h.port, 'GET', '/users/2', { 'x-tier': 'tenant-4711' });
    await request(h.port, 'GET', '/error', { 'x-tier': 'free' });
    const text = (await request(h.port, 'GET', '/metrics')).body;
    expect(count(text, 'route="/users/:id",method="GET",status_code="200",tier="gold"')).toBe(1);
    expect(count(text, 'route="/users/:id",method="GET",status_code="200",tier="_OTHER"')).toBe(1);
    expect(count(text, 'route="/error",method="GET",status_code="500",tier="free"')).toBe(1);
    expect(text).not.toContain('tenant-4711');
  });

  it('counts 404s as __unmatched__, thrown errors as 500, ctx.throw(418) as 418', async () => {
    const h = await start();
    await request(h.port, 'GET', '/nope');
    await request(h.port, 'GET', '/error');
    await request(h.port, 'GET', '/teapot');
    const text = await scrape(h);
    expect(count(text, 'route="__unmatched__",method="GET",status_code="404"')).toBe(1);
    expect(count(text, 'route="/error",method="GET",status_code="500"')).toBe(1);
    expect(count(text, 'route="/teapot",method="GET",status_code="418"')).toBe(1);
  });

  it('records a request the client aborted as 499 under its template, in-flight back to 0', async () => {
    const h = await start();
    const socket = connect(h.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await h.hangEntered;
    expect(h.metrics.http.inFlight).toBe(1);
    socket.destroy();
    await h.hangClosed;
    expect(h.metrics.http.inFlight).toBe(0);
    expect(count(await scrape(h), 'route="/hang",method="GET",status_code="499"')).toBe(1);
  });

  it('keeps the series count constant under random unknown paths', async () => {
    const h = await start();
    await many(2000, 16, () => request(h.port, 'GET', randomPath()));
    const before = seriesOf(await scrape(h), 'http_requests_total').length;
    await many(2000, 16, () => request(h.port, 'GET', randomPath()));
    const text = await scrape(h);
    expect(seriesOf(text, 'http_requests_total').length).toBe(before);
    expect(count(text, 'route="__unmatched__",method="GET",status_code="404"')).toBe(4000);
  });

  it('answers probes (readiness follows the checks) and keeps probes and /metrics out of the RED metrics', async () => {
    let ready = true;
    const h = await start({ ready: () => ready });
    expect((await request(h.port, 'GET', '/livez')).status).toBe(200);
    expect((await request(h.port, 'GET', '/readyz')).status).toBe(200);
    ready = false;
    const r = await request(h.port, 'GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.headers['content-type']).toBe('application/health+json');
    await request(h.port, 'GET', '/users/1');
    const text = await scrape(h);
    expect(text).not.toMatch(/route="\/(livez|readyz|metrics)"/);
    expect(text).not.toMatch(/route="__unmatched__",method="GET",status_code="(200|503)"/);
    expect(text).toContain('vigil_health_');
  });

  it('writes one request line per request, with the template and the error of a 500', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/9', { 'x-request-id': 'req-1' });
    await request(h.port, 'GET', '/error');
    await request(h.port, 'GET', '/livez');
    const reqLines = h.lines.filter((l) => l.msg === 'request completed');
    expect(reqLines).toHaveLength(2);
    expect(reqLines[0]).toMatchObject({ route: '/users/:id', status_code: 200, request_id: 'req-1' });
    expect(reqLines[1]).toMatchObject({ route: '/error', status_code: 500, level: 'error' });
    expect((reqLines[1]?.err as { message?: string } | undefined)?.message).toBe('boom');
  });

  it('starts one server span per request named by the template, with the error recorded', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false });
    closers.push(() => tracing.close());
    const h = await start();
    await request(h.port, 'GET', '/users/5', {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    await request(h.port, 'GET', '/error');
    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.kind === 1);
    const users = spans.find((s) => s.attributes['http.route'] === '/users/:id');
    expect(users?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(users?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    const err = spans.find((s) => s.attributes['http.route'] === '/error');
    expect(err?.status.code).toBe(2);
    expect(err?.events.map((e) => e.name)).toContain('exception');
    expect(spans).toHaveLength(2);
  });
});

describe('@vigil/koa options and shutdown', () => {
  it('rejects invalid options at construction, naming the option', () => {
    const cases: [unknown, string][] = [
      ['nope', 'options'],
      [{ metrics: {} }, 'metrics'],
      [{ routeLabel: 'x' }, 'routeLabel'],
      [{ exclude: 'x' }, 'exclude'],
      [{ maxSeries: -1 }, 'maxSeries'],
    ];
    for (const [opts, option] of cases) {
      let caught: unknown;
      try {
        createKoaMetrics(opts as KoaMetricsOptions);
      } catch (e) {
        caught = e;
      }
      expect(isVigilOptionError(caught), JSON.stringify(opts)).toBe(true);
      expect((caught as { option: string }).option).toBe(option);
    }
    expect(() => createKoaHealth({ metrics: {} as never })).toThrow(/metrics/);
  });

  it('drains through @vigil/shutdown: readiness 503 while draining, the in-flight request completes', async () => {
    const app = new Koa3();
    const health = createKoaHealth();
    let release!: () => void;
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    app.use(health.middleware);
    app.use(async (ctx) => {
      entered();
      await new Promise<void>((r) => {
        release = r;
      });
      ctx.body = 'done';
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const exits: number[] = [];
    let endDrain!: () => void;
    const drained = new Promise<void>((r) => {
      endDrain = r;
    });
    const shutdown = createShutdown({
      servers: [server],
      health,
      signals: [],
      exit: (code) => void exits.push(code),
      logger: false,
      drainUntil: () => drained,
    });
    const slow = request(port, 'GET', '/work', {}, { agent: false });
    await inHandler;
    const done = shutdown.trigger('test');
    expect((await request(port, 'GET', '/readyz', {}, { agent: false })).status).toBe(503);
    endDrain();
    release();
    expect((await slow).body).toBe('done');
    expect(await done).toBe(0);
    expect(exits).toEqual([0]);
    await health.close();
  });
});
