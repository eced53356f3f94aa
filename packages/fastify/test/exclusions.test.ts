import { isVigilOptionError } from '@vigil/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSamples, request, seriesOf } from '../../../test/helpers/http.js';
import { type FastifyMetricsOptions, vigilHealth, vigilMetrics } from '../src/index.js';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function start(opts: FastifyMetricsOptions = {}, probePaths = false) {
  const app = Fastify({ logger: false });
  apps.push(app);
  await app.register(vigilMetrics, { runtimeMetrics: false, ...opts });
  await app.register(
    vigilHealth,
    probePaths ? { paths: { liveness: ['/k8s/alive'], readiness: ['/k8s/ready'] } } : {},
  );
  app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));
  app.get('/static/app.js', async () => 'js');
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const routes = async () => {
    const text = (await app.vigil.metrics.scrape()).body as string;
    return { text, series: seriesOf(text, 'http_requests_total') };
  };
  return { port, routes };
}

describe('Vigil endpoints stay out of the RED metrics (Fastify)', () => {
  it('probes and scrapes are not recorded as routes', async () => {
    const h = await start();
    for (const path of ['/livez', '/readyz', '/health', '/ready', '/startup', '/metrics']) {
      expect((await request(h.port, 'GET', path)).status).toBe(200);
    }
    expect((await request(h.port, 'GET', '/users/1')).status).toBe(200);
    const { text, series } = await h.routes();
    expect(series).toEqual(['{route="/users/:id",method="GET",status_code="200"}']);
    expect(parseSamples(text).get('http_requests_in_flight')).toBe(0);
  });

  it('probes on custom paths, and a custom scrape path, are not recorded either', async () => {
    const h = await start({ endpoint: '/internal/metrics' }, true);
    for (const path of ['/k8s/alive', '/k8s/ready', '/internal/metrics']) {
      expect((await request(h.port, 'GET', path)).status).toBe(200);
    }
    expect((await request(h.port, 'GET', '/nope')).status).toBe(404);
    expect((await h.routes()).series).toEqual(['{route="__unmatched__",method="GET",status_code="404"}']);
  });

  it('includeVigilEndpoints records them like any other route', async () => {
    const h = await start({ includeVigilEndpoints: true });
    await request(h.port, 'GET', '/livez');
    expect((await h.routes()).series).toContain('{route="/livez",method="GET",status_code="200"}');
  });

  it('exclude takes exact paths, prefixes, RegExps and predicates', async () => {
    const h = await start({ exclude: ['/static/*', /^\/users\/9/, (p) => p === '/users/7'] });
    for (const path of ['/static/app.js', '/users/9', '/users/7', '/users/1'])
      await request(h.port, 'GET', path);
    const { text, series } = await h.routes();
    expect(series).toEqual(['{route="/users/:id",method="GET",status_code="200"}']);
    expect(
      parseSamples(text).get('http_requests_total{route="/users/:id",method="GET",status_code="200"}'),
    ).toBe(1);
  });

  it('rejects a bad rule at registration, naming it', async () => {
    const app = Fastify({ logger: false });
    apps.push(app);
    const err = await app
      .register(vigilMetrics, { exclude: ['no-slash'] })
      .ready()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isVigilOptionError(err)).toBe(true);
    expect((err as Error).message).toContain('"exclude[0]"');
  });
});
