import { once } from 'node:events';
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHealth } from '@vigil/health';
import { createHttpObserver } from '@vigil/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { get, parseSamples, seriesOf } from '../../../test/helpers/http.js';
import { createShutdown } from '../src/index.js';

// A plain node:http service with every Vigil concern and no framework: createHttpObserver for
// metrics, the probes' node:http handler in front of the app's, and graceful shutdown.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a plain node:http service', () => {
  it('probes answer and stay out of the metrics; the drain fails readiness and closes connections', async () => {
    let observer!: ReturnType<typeof createHttpObserver>;
    let health!: ReturnType<typeof createHealth>;
    const app = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/metrics') return void observer.handler(req, res);
      if (req.url?.startsWith('/users/')) return void res.end('{"id":"1"}');
      res.statusCode = 404;
      res.end();
    };
    const server = createServer((req, res) => health.handler(req, res, () => app(req, res)));
    observer = createHttpObserver(server, {
      runtimeMetrics: false,
      route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
    });
    health = createHealth({ metrics: observer, checks: { self: () => true }, autoStart: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    cleanups.push(
      () => observer.close(),
      () => health.close(),
      () => {
        if (server.listening) server.close();
        server.closeAllConnections();
      },
    );

    for (const probe of ['/livez', '/readyz', '/startup']) {
      expect((await get(port, probe)).status, probe).toBe(200);
    }
    expect((await get(port, '/users/1')).status).toBe(200);
    const text = (await get(port, '/metrics')).body;
    expect(
      parseSamples(text).get('http_requests_total{route="/users/:id",method="GET",status_code="200"}'),
    ).toBe(1);
    // The probes (and the scrape) are not traffic.
    expect(seriesOf(text, 'http_requests_total')).toEqual([
      '{route="/users/:id",method="GET",status_code="200"}',
    ]);
    expect(text).toContain('vigil_health_check_status');

    let open!: () => void;
    const drained = new Promise<void>((r) => {
      open = r;
    });
    const exit = vi.fn();
    const shutdown = createShutdown({
      servers: [server],
      health,
      signals: [],
      drainUntil: () => drained,
      exit,
      logger: false,
    });
    cleanups.push(() => shutdown.close());
    shutdown.addHook('metrics', () => observer.close());
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect((await get(port, '/users/2', {}, { agent })).headers.connection).toBe('keep-alive');
    const code = shutdown.trigger('test');
    expect((await get(port, '/readyz')).status).toBe(503);
    const during = await get(port, '/users/3', {}, { agent });
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    open();
    expect(await code).toBe(0);
    expect(exit).toHaveBeenCalledWith(0);
    // The hook closed the observer: the server has its own handler back.
    expect(server.listeners('request')).toHaveLength(1);
  });
});
