import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isVigilOptionError } from '@vigil/metrics';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { get as shared } from '../../../test/helpers/http.js';
import {
  createHealth,
  type Health,
  postgresCheck,
  type Shutdown,
  vigilHealth,
  vigilMetrics,
  vigilShutdown,
} from '../src/index.js';

/** One request on its own connection unless an agent is given (like the kubelet's probes). */
const get = (port: number, path: string, headers = {}, o: Parameters<typeof shared>[3] = {}) =>
  shared(port, path, headers, { agent: false, ...o });

const apps: FastifyInstance[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const app of apps.splice(0)) await app.close();
});

function makeApp(): FastifyInstance {
  const app = Fastify({ logger: false });
  apps.push(app);
  app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));
  return app;
}

describe('vigilHealth plugin', () => {
  it('one line registers the probes and decorates fastify.vigil.health, started on ready', async () => {
    const app = makeApp();
    await app.register(vigilHealth, { checks: { self: () => true } });
    const health = app.vigil.health as Health;
    expect(health.state).toBe('starting');
    await app.ready();
    expect(health.state).toBe('started');
    for (const url of ['/health', '/livez', '/ready', '/readyz', '/startup']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/health\+json/);
      expect(r.headers['cache-control']).toContain('no-store');
    }
    const head = await app.inject({ method: 'HEAD', url: '/ready' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    health.beginShutdown();
    const r = await app.inject({ url: '/ready' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ status: 'fail', output: 'shutting down' });
  });

  it('after vigilMetrics, shares its registry and its fastify.vigil object', async () => {
    const app = makeApp();
    await app.register(vigilMetrics, { runtimeMetrics: false });
    await app.register(vigilHealth, {
      checks: { db: () => false, cache: { check: () => true, critical: false } },
    });
    expect(app.vigil.metrics).toBeDefined();
    expect(app.vigil.health?.registry).toBe(app.vigil.metrics.registry);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toContain('vigil_health_check_status{check="db"} 0');
    expect(text).toContain('vigil_health_check_status{check="cache"} 1');
  });

  it('autoStart: false waits for markStarted(); details and paths are options; closes with the app', async () => {
    const app = makeApp();
    await app.register(vigilHealth, {
      autoStart: false,
      details: true,
      paths: { readiness: ['/-/ready'] },
      checks: { db: () => Promise.reject(new Error('connect ETIMEDOUT 10.1.2.3:5432')) },
    });
    await app.ready();
    expect((await app.inject({ url: '/startup' })).statusCode).toBe(503);
    app.vigil.health?.markStarted();
    const r = await app.inject({ url: '/-/ready' });
    expect(r.json().checks.db[0].output).toBe('connect ETIMEDOUT 10.1.2.3:5432');
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(404);
    const health = app.vigil.health as Health;
    await app.close();
    expect(health.state).toBe('closed');
  });

  it('serves an existing handle and leaves it open on close', async () => {
    const core = createHealth({ autoStart: true });
    cleanups.push(() => core.close());
    const app = makeApp();
    await app.register(vigilHealth, { health: core });
    expect(app.vigil.health).toBe(core);
    await app.close();
    expect(core.state).toBe('started');
  });

  it('validates options before registering anything, ignoring Fastify register keys', async () => {
    const bad = makeApp();
    const err = await bad.register(vigilHealth, { checkTimeoutMs: -1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilOptionError(err)).toBe(true);
    expect((err as { option: string }).option).toBe('checkTimeoutMs');
    const ok = makeApp();
    await ok.register(vigilHealth, { logLevel: 'warn' } as never);
    await ok.ready();
    expect((await ok.inject({ url: '/ready' })).statusCode).toBe(200);
  });

  it('types fastify.vigil.health and .shutdown by declaration merging', () => {
    expectTypeOf<FastifyInstance['vigil']['health']>().toEqualTypeOf<Health | undefined>();
    expectTypeOf<FastifyInstance['vigil']['shutdown']>().toEqualTypeOf<Shutdown | undefined>();
    expect(typeof postgresCheck).toBe('function');
  });

  it('import and require give the same plugins, each also as .default', async () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@vigil/fastify');
    const esm = await import('@vigil/fastify');
    for (const name of ['vigilHealth', 'vigilShutdown'] as const) {
      expect(typeof cjs[name]).toBe('function');
      expect(cjs[name].default).toBe(cjs[name]);
      expect((esm[name] as { default: unknown }).default).toBe(esm[name]);
      expect(cjs[name][Symbol.for('fastify.display-name')]).toBe(
        (esm[name] as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')],
      );
    }
  });
});

describe('vigilShutdown plugin', () => {
  it('decorates fastify.vigil.shutdown, links the health handle and removes its handlers on app.close()', async () => {
    const before = process.listenerCount('SIGUSR2');
    const app = makeApp();
    await app.register(vigilHealth);
    await app.register(vigilShutdown, { signals: ['SIGUSR2'], logger: false });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    expect(app.vigil.shutdown?.state).toBe('running');
    await app.close();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  it('refuses a servers option: the instance is the server', async () => {
    const app = makeApp();
    const err = await app.register(vigilShutdown, { servers: [] } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { option?: string }).option).toBe('servers');
  });

  it('on a real server: readiness 503 and Connection: close during the drain, 200s, then app.close(), exit 0', async () => {
    const app = makeApp();
    const onClose = vi.fn();
    app.addHook('onClose', async () => onClose());
    let open!: () => void;
    const drained = new Promise<void>((r) => {
      open = r;
    });
    const exit = vi.fn();
    await app.register(vigilHealth, { checks: { self: () => true } });
    await app.register(vigilShutdown, { signals: [], drainUntil: () => drained, exit, logger: false });
    const hook = vi.fn();
    app.vigil.shutdown?.addHook('db', hook);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;

    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    expect((await get(port, '/users/1', {}, { agent })).headers.connection).toBe('keep-alive');
    const code = (app.vigil.shutdown as Shutdown).trigger('test');
    const ready = await get(port, '/ready');
    expect(ready.status).toBe(503);
    const user = await get(port, '/users/2', {}, { agent });
    expect(user.status).toBe(200); // not Fastify's own 503 for requests during close()
    expect(user.headers.connection).toBe('close');
    expect(onClose).not.toHaveBeenCalled();
    open();
    expect(await code).toBe(0);
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(hook).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
    expect(app.server.listening).toBe(false);
    apps.splice(apps.indexOf(app), 1); // already closed by the shutdown
  });
});
