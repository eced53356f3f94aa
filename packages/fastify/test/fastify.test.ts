import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { createMetrics } from '@vigil/metrics';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { many, parseSamples, randomPath, request, seriesOf } from '../../../test/helpers/http.js';
import { type FastifyMetricsOptions, vigilMetrics } from '../src/index.js';

const apps: FastifyInstance[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

interface Harness {
  app: FastifyInstance;
  port: number;
  hangEntered: Promise<void>;
  aborted: Promise<void>;
}

async function start(opts: FastifyMetricsOptions = {}): Promise<Harness> {
  const app = Fastify({ logger: false });
  app.addHttpMethod('PROPFIND');
  apps.push(app);
  await app.register(vigilMetrics, { runtimeMetrics: false, ...opts });
  let enter!: () => void;
  const hangEntered = new Promise<void>((r) => {
    enter = r;
  });
  let abort!: () => void;
  const aborted = new Promise<void>((r) => {
    abort = r;
  });
  // Added after Vigil's hook, so Vigil has recorded by the time this resolves.
  app.addHook('onRequestAbort', (_req, done) => {
    abort();
    done();
  });
  app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));
  app.get('/error', async () => {
    throw new Error('boom');
  });
  app.get('/teapot', async (_req, reply) => {
    reply.code(418);
    return 'short and stout';
  });
  app.get('/hang', async () => {
    enter();
    await aborted;
    return 'late';
  });
  app.route({
    method: ['GET', 'PATCH', 'PROPFIND'],
    url: '/any',
    handler: async (_req, reply) => reply.code(204).send(),
  });
  await app.register(
    async (v1) => {
      v1.get<{ Params: { id: string } }>('/items/:id', async (req) => ({ id: req.params.id }));
      await v1.register(
        async (orgs) => {
          orgs.get('/posts/:postId', async (req) => req.params);
        },
        { prefix: '/orgs/:orgId' },
      );
    },
    { prefix: '/api/v1' },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port, hangEntered, aborted };
}

async function scrape(h: Harness): Promise<string> {
  const r = await request(h.port, 'GET', '/metrics');
  expect(r.status).toBe(200);
  return r.body;
}

const count = (text: string, labels: string) => parseSamples(text).get(`http_requests_total{${labels}}`) ?? 0;

describe('@vigil/fastify metrics', () => {
  it('routeLabel overrides the label with a bounded value, keeps the template on undefined', async () => {
    const h = await start({
      routeLabel: (req, route) =>
        route === '/users/:id'
          ? req.headers['x-tier'] === 'gold'
            ? 'users:gold'
            : 'users:other'
          : undefined,
    });
    await request(h.port, 'GET', '/users/1', { 'x-tier': 'gold' });
    await request(h.port, 'GET', '/users/2');
    await request(h.port, 'GET', '/error');
    const text = (await request(h.port, 'GET', '/metrics')).body;
    expect(count(text, 'route="users:gold",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="users:other",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="/error",method="GET",status_code="500"')).toBe(1);
    expect(text).not.toContain('route="/users/:id"');
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

  it('labels requests with the route template, including prefixes of nested plugins', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/1');
    await request(h.port, 'GET', '/users/2?q=1');
    await request(h.port, 'GET', '/api/v1/items/42');
    await request(h.port, 'GET', '/api/v1/orgs/acme/posts/7');
    const text = await scrape(h);
    expect(count(text, 'route="/users/:id",method="GET",status_code="200"')).toBe(2);
    expect(count(text, 'route="/api/v1/items/:id",method="GET",status_code="200"')).toBe(1);
    expect(count(text, 'route="/api/v1/orgs/:orgId/posts/:postId",method="GET",status_code="200"')).toBe(1);
    expect(text).not.toMatch(/\/users\/1|acme|q=1/);
  });

  it('counts 404s under one fixed route and thrown errors as 500 (or the status set)', async () => {
    const h = await start();
    await request(h.port, 'GET', '/nope');
    await request(h.port, 'GET', '/error');
    await request(h.port, 'GET', '/teapot');
    const text = await scrape(h);
    expect(count(text, 'route="__unmatched__",method="GET",status_code="404"')).toBe(1);
    expect(count(text, 'route="/error",method="GET",status_code="500"')).toBe(1);
    expect(count(text, 'route="/teapot",method="GET",status_code="418"')).toBe(1);
  });

  it('records HEAD, and collapses non-standard methods to _OTHER', async () => {
    const h = await start();
    await request(h.port, 'HEAD', '/users/1');
    await request(h.port, 'PROPFIND', '/any');
    await request(h.port, 'PATCH', '/any');
    await request(h.port, 'MKCOL', '/any'); // no such route: 404
    const text = await scrape(h);
    expect(count(text, 'route="/users/:id",method="HEAD",status_code="200"')).toBe(1);
    expect(count(text, 'route="/any",method="_OTHER",status_code="204"')).toBe(1);
    expect(count(text, 'route="/any",method="PATCH",status_code="204"')).toBe(1);
    expect(count(text, 'route="__unmatched__",method="_OTHER",status_code="404"')).toBe(1);
  });

  it('records a request the client aborted as 499 and decrements in-flight', async () => {
    const h = await start();
    const socket = connect(h.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await h.hangEntered;
    expect(h.app.vigil.metrics.http.inFlight).toBe(1);
    socket.destroy();
    await h.aborted;
    expect(h.app.vigil.metrics.http.inFlight).toBe(0);
    const text = await scrape(h);
    expect(count(text, 'route="/hang",method="GET",status_code="499"')).toBe(1);
  });

  it('survives very long URLs without raw-path labels', async () => {
    const h = await start();
    expect((await request(h.port, 'GET', `/users/1?q=${'y'.repeat(7000)}`)).status).toBe(200);
    // Fastify refuses path parameters over maxParamLength with 414.
    expect((await request(h.port, 'GET', `/users/${'x'.repeat(6000)}`)).status).toBe(414);
    await request(h.port, 'GET', `/${'z'.repeat(7000)}`);
    const text = await scrape(h);
    expect(count(text, 'route="/users/:id",method="GET",status_code="200"')).toBe(1);
    // Fastify's router answers 414 (and 400 for bad URL encoding) before any hook runs, so no
    // plugin can count these; documented in the README. This pins that behaviour.
    expect(seriesOf(text, 'http_requests_total').some((s) => s.includes('status_code="414"'))).toBe(false);
    expect(text).not.toContain('yyyyyyyyyy');
    expect(text).not.toContain('xxxxxxxxxx');
    expect(text).not.toContain('zzzzzzzzzz');
  });

  it('keeps the series count constant under 20,000 requests to random unknown paths', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/1');
    await request(h.port, 'GET', randomPath());
    const before = seriesOf(await scrape(h), 'http_requests_total').length;
    await many(20_000, 32, () => request(h.port, 'GET', randomPath()));
    const text = await scrape(h);
    expect(seriesOf(text, 'http_requests_total').length).toBe(before);
    expect(count(text, 'route="__unmatched__",method="GET",status_code="404"')).toBe(20_001);
    expect(h.app.vigil.metrics.http.seriesCount).toBe(before);
  });

  it('does not record the scrape endpoint, and serves OpenMetrics and gzip on request', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/1');
    await scrape(h);
    const om = await request(h.port, 'GET', '/metrics', { accept: 'application/openmetrics-text' });
    expect(om.headers['content-type']).toContain('application/openmetrics-text');
    expect(om.body.trimEnd().endsWith('# EOF')).toBe(true);
    const gz = await request(h.port, 'GET', '/metrics', { 'accept-encoding': 'gzip, deflate' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(await scrape(h)).not.toContain('route="/metrics"');
  });

  it('is not encapsulated: routes registered in sibling plugins are recorded', async () => {
    const app = Fastify();
    apps.push(app);
    // Without fastify-plugin, these hooks would live in the plugin's own context and see nothing.
    await app.register(vigilMetrics, { runtimeMetrics: false });
    await app.register(async (sibling) => {
      sibling.get('/sibling', async () => 'ok');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    await request(port, 'GET', '/sibling');
    const text = (await request(port, 'GET', '/metrics')).body;
    expect(count(text, 'route="/sibling",method="GET",status_code="200"')).toBe(1);
  });

  it('records into a shared metrics handle and serves no endpoint when endpoint is false', async () => {
    const shared = createMetrics({ runtimeMetrics: false });
    const h = await start({ metrics: shared, endpoint: false });
    await request(h.port, 'GET', '/users/3');
    expect((await request(h.port, 'GET', '/metrics')).status).toBe(404);
    const text = (await shared.scrape()).body as string;
    expect(count(text, 'route="/users/:id",method="GET",status_code="200"')).toBe(1);
    await shared.close();
  });

  it('rejects invalid options at registration, naming the option', async () => {
    for (const [opts, name] of [
      [{ endpoint: 'metrics' }, 'endpoint'],
      [{ maxSeries: -1 }, 'maxSeries'],
      [{ excludeRoutes: [1] }, 'excludeRoutes'],
      [{ prefix: 'bad prefix' }, 'prefix'],
    ] as const) {
      const app = Fastify();
      apps.push(app);
      await expect(app.register(vigilMetrics, opts as never).ready()).rejects.toThrow(`"${name}"`);
    }
  });

  it('gives the same plugin through require() and import, and as default', async () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@vigil/fastify');
    const esm = await import('@vigil/fastify');
    expect(typeof cjs.vigilMetrics).toBe('function');
    expect(cjs.default).toBe(cjs.vigilMetrics);
    expect(esm.default).toBe(esm.vigilMetrics);
    expect(cjs.vigilMetrics[Symbol.for('fastify.display-name')]).toBe(
      esm.vigilMetrics[Symbol.for('fastify.display-name') as never],
    );
  });
});
