import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isVigilOptionError, REQUEST_LOG, type RequestLogWriter } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSamples, request, seriesOf } from '../../../test/helpers/http.js';
import { createExpressHealth, createExpressMetrics, type ExpressMetricsOptions } from '../src/index.js';
import { MAJORS, type Major } from './majors.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

interface Options {
  metrics?: ExpressMetricsOptions;
  /** Mount the probes before the metrics middleware (the order must not matter). */
  healthFirst?: boolean;
  /** Custom probe paths, mounted where Vigil cannot know them in advance. */
  probePaths?: boolean;
}

async function startOn(express: Major['express'], o: Options = {}) {
  const lines: Record<string, unknown>[] = [];
  // A logger as @vigil/logger's createLogger() makes it, reduced to the request line's fields.
  const writer: RequestLogWriter = {
    idHeader: 'x-request-id',
    requestId: () => 'id',
    child: () => undefined,
    write: (rec, route, status) =>
      void lines.push({ msg: 'request completed', route, path: rec.url.split('?')[0], status }),
  };
  const logger = { [REQUEST_LOG]: () => writer };
  const app = express();
  const metrics = createExpressMetrics({ runtimeMetrics: false, logger, ...o.metrics });
  const health = createExpressHealth({
    metrics,
    ...(o.probePaths ? { paths: { liveness: ['/k8s/alive'], readiness: ['/k8s/ready'] } } : {}),
  });
  if (o.healthFirst) app.use(health.middleware);
  app.use(metrics.middleware);
  if (!o.healthFirst) app.use(health.middleware);
  app.get('/metrics', metrics.handler);
  app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
  app.get('/static/app.js', (_req, res) => res.send('js'));
  app.get('/internal/ping', (_req, res) => res.send('pong'));
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await health.close();
    await metrics.close();
  });
  const port = (server.address() as AddressInfo).port;
  const routes = async () => {
    const text = (await metrics.scrape()).body as string;
    return { text, series: seriesOf(text, 'http_requests_total') };
  };
  return { port, metrics, lines, routes };
}

/** Lines of completed requests (the scrape's own request is never one). */
const requestLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('request '));

describe.each(MAJORS)(
  'Vigil endpoints stay out of the RED metrics, spans and request log ($name)',
  ({ express }) => {
    const start = (o?: Options) => startOn(express, o);

    for (const healthFirst of [false, true]) {
      it(`probes and scrapes are not recorded (health mounted ${healthFirst ? 'before' : 'after'} metrics)`, async () => {
        const h = await start({ healthFirst });
        for (const path of ['/livez', '/readyz', '/health', '/ready', '/startup', '/metrics']) {
          expect((await request(h.port, 'GET', path)).status).toBe(200);
        }
        expect((await request(h.port, 'GET', '/users/1')).status).toBe(200);
        const { text, series } = await h.routes();
        expect(series).toEqual(['{route="/users/:id",method="GET",status_code="200"}']);
        expect(parseSamples(text).get('http_requests_in_flight')).toBe(0);
        expect(requestLines(h.lines).map((l) => l.route)).toEqual(['/users/:id']);
      });
    }

    it('probes on custom paths are recognised when they answer', async () => {
      const h = await start({ probePaths: true });
      expect((await request(h.port, 'GET', '/k8s/alive')).status).toBe(200);
      expect((await request(h.port, 'GET', '/k8s/ready')).status).toBe(200);
      expect((await request(h.port, 'GET', '/nope')).status).toBe(404);
      const { series } = await h.routes();
      // `__unmatched__` means only "matched no route": the probes are not there.
      expect(series).toEqual(['{route="__unmatched__",method="GET",status_code="404"}']);
      expect(requestLines(h.lines).map((l) => l.path)).toEqual(['/nope']);
    });

    it('includeVigilEndpoints records them like any other request', async () => {
      const h = await start({ metrics: { includeVigilEndpoints: true } });
      await request(h.port, 'GET', '/livez');
      await request(h.port, 'GET', '/metrics');
      const { series } = await h.routes();
      expect(series).toContain('{route="/metrics",method="GET",status_code="200"}');
      expect(series).toContain('{route="__unmatched__",method="GET",status_code="200"}');
      expect(requestLines(h.lines).map((l) => l.path)).toEqual(['/livez', '/metrics']);
    });
  },
);

describe.each(MAJORS)('exclude ($name)', ({ express }) => {
  const start = (o?: Options) => startOn(express, o);

  it('takes exact paths, prefixes, RegExps and predicates', async () => {
    const h = await start({
      metrics: { exclude: ['/internal/ping', '/static/*', /^\/users\/9\d*$/, (p) => p === '/users/7'] },
    });
    for (const path of [
      '/internal/ping',
      '/static/app.js',
      '/users/9',
      '/users/99',
      '/users/7',
      '/users/1',
    ]) {
      expect((await request(h.port, 'GET', path)).status).toBe(200);
    }
    const { series, text } = await h.routes();
    expect(series).toEqual(['{route="/users/:id",method="GET",status_code="200"}']);
    expect(
      parseSamples(text).get('http_requests_total{route="/users/:id",method="GET",status_code="200"}'),
    ).toBe(1);
    expect(requestLines(h.lines).map((l) => l.path)).toEqual(['/users/1']);
  });

  it('a predicate that throws excludes nothing and breaks nothing', async () => {
    const h = await start({
      metrics: {
        exclude: [
          () => {
            throw new Error('bad predicate');
          },
        ],
      },
    });
    expect((await request(h.port, 'GET', '/users/1')).status).toBe(200);
    expect((await h.routes()).series).toEqual(['{route="/users/:id",method="GET",status_code="200"}']);
  });

  it('rejects a bad rule at construction, naming it', () => {
    for (const [exclude, option] of [
      ['/x', 'exclude'],
      [['x'], 'exclude[0]'],
      [['/ok', 42], 'exclude[1]'],
    ] as const) {
      let error: unknown;
      try {
        createExpressMetrics({ runtimeMetrics: false, exclude: exclude as never });
      } catch (e) {
        error = e;
      }
      expect(isVigilOptionError(error)).toBe(true);
      expect((error as Error).message).toContain(`"${option}"`);
    }
  });
});
