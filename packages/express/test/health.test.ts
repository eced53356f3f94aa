import { once } from 'node:events';
import { Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isVigilOptionError } from '@vigil/metrics';
import type { Express } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { get as shared } from '../../../test/helpers/http.js';
import {
  createExpressHealth,
  createExpressMetrics,
  createHealth,
  createShutdown,
  type ExpressHealth,
  postgresCheck,
  SHUTDOWN_DEFAULTS,
} from '../src/index.js';
import { MAJORS, type Major } from './majors.js';

/** One request on its own connection unless an agent is given (like the kubelet's probes). */
const get = (port: number, path: string, headers = {}, o: Parameters<typeof shared>[3] = {}) =>
  shared(port, path, headers, { agent: false, ...o });

/** The `option` of the VigilOptionError thrown by fn, or what happened instead. */
function optionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isVigilOptionError(e) ? (e as { option: string }).option : `not a VigilOptionError: ${String(e)}`;
  }
  return 'no error';
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startOn(express: Major['express'], health: ExpressHealth, extra?: (app: Express) => void) {
  const app = express();
  extra?.(app);
  app.use(health.middleware);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () => health.close(),
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { app, server, port: (server.address() as AddressInfo).port };
}

describe.each(MAJORS)('createExpressHealth ($name)', ({ express }) => {
  const start = (health: ExpressHealth, extra?: (app: Express) => void) => startOn(express, health, extra);

  it('one line mounts the probes; other routes pass through', async () => {
    const health = createExpressHealth({ checks: { self: () => true } });
    const { port } = await start(health);
    for (const path of ['/health', '/livez', '/ready', '/readyz', '/startup']) {
      const r = await get(port, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toBe('application/health+json');
    }
    expect(JSON.parse((await get(port, '/ready')).body).checks.self[0].status).toBe('pass');
    expect((await get(port, '/ready', {}, { agent: false, method: 'HEAD' })).body).toBe('');
    expect(JSON.parse((await get(port, '/users/3')).body)).toEqual({ id: '3' });
  });

  it('is started at creation by default (autoStart), or waits for markStarted()', async () => {
    const manual = createExpressHealth({ autoStart: false });
    const { port } = await start(manual);
    expect((await get(port, '/startup')).status).toBe(503);
    expect((await get(port, '/ready')).status).toBe(503);
    manual.health.markStarted();
    expect((await get(port, '/startup')).status).toBe(200);
  });

  it('records vigil_health_* into the registry of createExpressMetrics()', async () => {
    const metrics = createExpressMetrics({ runtimeMetrics: false });
    cleanups.push(() => metrics.close());
    const health = createExpressHealth({ metrics, checks: { db: () => false } });
    const { port } = await start(health, (app) => {
      app.use(metrics.middleware);
      app.get('/metrics', metrics.handler);
    });
    expect((await get(port, '/ready')).status).toBe(503);
    const text = (await get(port, '/metrics')).body;
    expect(text).toContain('vigil_health_check_status{check="db"} 0');
    expect(text).toContain('vigil_health_status{probe="readiness"} 0');
  });

  it('serves an existing handle with its own paths and details, and does not close it', async () => {
    const core = createHealth({ autoStart: true, checks: { q: () => ({ status: 'warn', output: 'lag' }) } });
    cleanups.push(() => core.close());
    const health = createExpressHealth({ health: core, details: true, paths: { readiness: ['/-/ready'] } });
    const { port } = await start(health);
    expect(JSON.parse((await get(port, '/-/ready')).body).checks.q[0].output).toBe('lag');
    await health.close();
    expect(core.state).toBe('started');
  });

  it('validates its options', () => {
    expect(optionOf(() => createExpressHealth({ health: {} as never }))).toBe('health');
    expect(optionOf(() => createExpressHealth({ metrics: {} as never }))).toBe('metrics');
    expect(optionOf(() => createExpressHealth('x' as never))).toBe('options');
    expect(optionOf(() => createExpressHealth({ checkTimeoutMs: 0 }))).toBe('checkTimeoutMs');
  });

  it('re-exports the health checks and graceful shutdown', () => {
    expect(typeof postgresCheck).toBe('function');
    expect(typeof createShutdown).toBe('function');
    expect(SHUTDOWN_DEFAULTS.drainDelayMs).toBeGreaterThan(0);
  });
});

describe.each(MAJORS)('createExpressHealth + createShutdown on a real $name server', ({ express }) => {
  const start = (health: ExpressHealth) => startOn(express, health);

  it('readiness 503 and Connection: close during the drain, requests still 200, exit 0', async () => {
    const health = createExpressHealth({ checks: { self: () => true } });
    const { server, port } = await start(health);
    let open!: () => void;
    const drained = new Promise<void>((r) => {
      open = r;
    });
    const exit = vi.fn();
    const shutdown = createShutdown({
      servers: [server],
      health: health.health,
      signals: [],
      drainUntil: () => drained,
      exit,
      logger: false,
    });
    cleanups.push(() => shutdown.close());
    shutdown.addHook('health', () => health.close());

    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect((await get(port, '/users/1', {}, { agent })).headers.connection).toBe('keep-alive');
    const code = shutdown.trigger('test');
    const ready = await get(port, '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'fail', output: 'shutting down' });
    const user = await get(port, '/users/1', {}, { agent });
    expect(user.status).toBe(200);
    expect(user.headers.connection).toBe('close');
    expect((await get(port, '/health')).status).toBe(200);
    open();
    expect(await code).toBe(0);
    expect(exit).toHaveBeenCalledWith(0);
    expect(health.health.state).toBe('closed');
  });
});
