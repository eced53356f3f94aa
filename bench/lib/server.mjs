#!/usr/bin/env node
// One benchmark server: `node bench/lib/server.mjs <variant-id>` (see variants.mjs).
//
// Listens on 127.0.0.1, an ephemeral port, and prints one JSON line `{"port":…,"pid":…}` on stdout
// when ready. Routes: GET /users/:id (the loaded route, tiny JSON) and GET /api/v1/items/:id
// (mounted under a router/prefix, present but not loaded), plus /metrics where the library has one.
// Exits when its stdin closes, so it never outlives the suite that started it, even if that suite
// is killed with SIGKILL.
import { performance } from 'node:perf_hooks';
import { item, listenHttp, listenKoa, listenNest, plainHttpApp, recordOnFinish, user } from './apps.mjs';
import { variantById } from './variants.mjs';

const variant = variantById(process.argv[2] ?? '');

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

/** prom-client's default buckets are the same 11 bounds as Vigil's HTTP_DURATION_BUCKETS. */
async function minimalInstruments() {
  const { Counter, Histogram, Registry } = await import('prom-client');
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status_code'];
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to serve an HTTP request.',
    labelNames,
    registers: [registry],
  });
  const counter = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served.',
    labelNames,
    registers: [registry],
  });
  return { registry, histogram, counter };
}

async function expressApp() {
  // The same app on Express 4 (installed as `express4`) and 5; the variants are the same too.
  const { default: express } = await import(variant.framework === 'express4' ? 'express4' : 'express');
  const app = express();
  switch (variant.id.replace(/^express4-/, 'express-')) {
    case 'express-bare':
      break;
    case 'express-vigil': {
      const { createExpressMetrics } = await import('@vigil/express');
      const m = createExpressMetrics();
      app.use(m.middleware);
      app.get('/metrics', m.handler);
      break;
    }
    case 'express-prom-bundle': {
      const { default: promBundle } = await import('express-prom-bundle');
      app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
      break;
    }
    case 'express-promster': {
      const { createMiddleware, getContentType, getSummary } = await import('@promster/express');
      app.use(createMiddleware({ app }));
      app.get('/metrics', async (_req, res) => {
        res.setHeader('content-type', getContentType());
        res.end(await getSummary());
      });
      break;
    }
    case 'express-minimal': {
      const { registry, histogram, counter } = await minimalInstruments();
      app.use((req, res, next) => {
        recordOnFinish(req, res, histogram, counter);
        next();
      });
      app.get('/metrics', async (_req, res) => {
        res.setHeader('content-type', registry.contentType);
        res.end(await registry.metrics());
      });
      break;
    }
    default:
      throw new Error(`not an express variant: ${variant.id}`);
  }
  app.get('/users/:id', (req, res) => {
    res.json(user(req.params.id));
  });
  const api = express.Router();
  api.get('/items/:id', (req, res) => {
    res.json(item(req.params.id));
  });
  app.use('/api/v1', api);

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
  });
  return server.address().port;
}

async function fastifyApp() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  switch (variant.id) {
    case 'fastify-bare':
      break;
    case 'fastify-vigil': {
      const { vigilMetrics } = await import('@vigil/fastify');
      await app.register(vigilMetrics);
      break;
    }
    case 'fastify-metrics': {
      // CommonJS with `exports.default`: Node's ESM interop puts the plugin at `.default.default`.
      const mod = await import('fastify-metrics');
      const fastifyMetrics = mod.default?.default ?? mod.default;
      await app.register(fastifyMetrics, { endpoint: '/metrics' });
      break;
    }
    case 'fastify-promster': {
      const { plugin, getContentType, getSummary } = await import('@promster/fastify');
      await app.register(plugin);
      app.get('/metrics', async (_req, reply) => {
        reply.type(getContentType());
        return getSummary();
      });
      break;
    }
    case 'fastify-minimal': {
      const { registry, histogram, counter } = await minimalInstruments();
      app.addHook('onResponse', (req, reply, done) => {
        const labels = {
          method: req.method,
          route: req.routeOptions.url ?? '#unmatched',
          status_code: reply.statusCode,
        };
        histogram.observe(labels, reply.elapsedTime / 1000);
        counter.inc(labels);
        done();
      });
      app.get('/metrics', async (_req, reply) => {
        reply.type(registry.contentType);
        return registry.metrics();
      });
      break;
    }
    default:
      throw new Error(`not a fastify variant: ${variant.id}`);
  }
  app.get('/users/:id', async (req) => user(req.params.id));
  await app.register(
    async (api) => {
      api.get('/items/:id', async (req) => item(req.params.id));
    },
    { prefix: '/api/v1' },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app.server.address().port;
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const { default: Router } = await import('@koa/router');
  const app = new Koa();
  const router = new Router();
  // `/metrics` is a route of the router, as the README mounts it (a middleware testing `ctx.path`
  // on every request would cost the loaded route a URL parse and an async frame).
  switch (variant.id) {
    case 'koa-bare':
      break;
    case 'koa-vigil': {
      const { createKoaMetrics } = await import('@vigil/koa');
      const m = createKoaMetrics();
      app.use(m.middleware);
      router.get('/metrics', m.koaHandler);
      break;
    }
    case 'koa-noop':
      app.use((_ctx, next) => next());
      router.get('/metrics', (ctx) => {
        ctx.body = '';
      });
      break;
    case 'koa-vigil-noruntime': {
      const { createKoaMetrics } = await import('@vigil/koa');
      const m = createKoaMetrics({ runtimeMetrics: false });
      app.use(m.middleware);
      router.get('/metrics', m.koaHandler);
      break;
    }
    case 'koa-minimal': {
      const { registry, histogram, counter } = await minimalInstruments();
      app.use(async (ctx, next) => {
        const start = performance.now();
        try {
          await next();
        } finally {
          const labels = {
            method: ctx.method,
            route: ctx._matchedRoute ?? '#unmatched',
            status_code: ctx.status,
          };
          histogram.observe(labels, (performance.now() - start) / 1000);
          counter.inc(labels);
        }
      });
      router.get('/metrics', async (ctx) => {
        ctx.type = registry.contentType;
        ctx.body = await registry.metrics();
      });
      break;
    }
    default:
      throw new Error(`not a koa variant: ${variant.id}`);
  }
  return listenKoa(app, router, Router);
}

/** A plain node:http server (lib/apps.mjs). */
async function httpApp() {
  const { createServer } = await import('node:http');
  const http = plainHttpApp();
  const server = createServer(http.handle);
  switch (variant.id) {
    case 'http-bare':
      break;
    case 'http-vigil': {
      const { createHttpObserver } = await import('@vigil/metrics');
      http.observer = createHttpObserver(server, { route: http.route });
      break;
    }
    default:
      throw new Error(`not a node:http variant: ${variant.id}`);
  }
  return listenHttp(server);
}

/** NestJS 12 on its Express platform (lib/apps.mjs), with the variant's instrumentation. */
async function nestApp() {
  if (variant.id === 'nest-willsoto') return listenNest({ willsoto: true });
  if (variant.id === 'nest-bare') return listenNest();
  if (variant.id !== 'nest-vigil') throw new Error(`not a nest variant: ${variant.id}`);
  const { createExpressMetrics } = await import('@vigil/express');
  const m = createExpressMetrics();
  return listenNest({
    setup: (app) => {
      app.use(m.middleware);
      app.getHttpAdapter().get('/metrics', m.handler);
    },
  });
}

try {
  const port =
    variant.framework === 'fastify'
      ? await fastifyApp()
      : variant.framework === 'http'
        ? await httpApp()
        : variant.framework === 'koa'
          ? await koaApp()
          : variant.framework === 'nest'
            ? await nestApp()
            : await expressApp();
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`);
} catch (err) {
  console.error(`server ${variant.id} failed to start:`, err);
  process.exit(1);
}
