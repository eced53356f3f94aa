#!/usr/bin/env node
// One server of the tracing suite: `node _tracing-server.mjs <variant-id>` (see tracing.mjs).
// Env: SINK_URL (OTLP/HTTP base URL of the suite's sink), LOG_FILE (request log destination).
// GET /users/:id (the loaded route) and a router/prefix /api/v1/items/:id, like http-overhead.
// Prints {"port","pid"} when ready; exits when its stdin closes.
import { performance } from 'node:perf_hooks';
import { item, listenHttp, listenKoa, listenNest, plainHttpApp, user } from '../lib/apps.mjs';

const id = process.argv[2] ?? '';
const [framework, ...rest] = id.split('-');
const kind = rest.join('-');
const sink = process.env.SINK_URL;
const logFile = process.env.LOG_FILE;

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

// Vigil variants: vigil-metrics, vigil-trace-<ratio>, vigil-log, vigil-full.
const vigil = kind.startsWith('vigil');
const ratio = kind.startsWith('vigil-trace-')
  ? Number(kind.slice('vigil-trace-'.length))
  : kind === 'vigil-full'
    ? 0.1
    : undefined;
const withMetrics = kind.startsWith('vigil-metrics') || ratio !== undefined;
const withShedding = kind === 'vigil-shed' || kind.startsWith('vigil-metrics-shed');
const withLog = kind === 'vigil-log' || kind === 'vigil-full';

if (vigil && ratio !== undefined) {
  const { startTracing } = await import('@vigil/tracing');
  // Vigil's default protocol (http/protobuf since 2026-11-27; http/json before).
  startTracing({ sampleRatio: ratio, endpoint: sink });
}
const logger = withLog
  ? (await import('@vigil/logger')).createLogger({ service: 'bench', destination: logFile })
  : undefined;

// Reference: an AsyncLocalStorage.run per request and nothing else, what any context propagation
// (Vigil's or OpenTelemetry's context manager) costs on this Node.js version.
const als = kind === 'als' ? new (await import('node:async_hooks')).AsyncLocalStorage() : undefined;

// Load shedding with its limit pinned above any load: the cost of the limiter when not shedding.
const NEVER_SHED = { initialLimit: 100_000, minLimit: 100_000, maxLimit: 100_000 };

async function expressApp() {
  // The same app on Express 4 (installed as `express4`) and 5.
  const { default: express } = await import(framework === 'express4' ? 'express4' : 'express');
  const app = express();
  if (als) app.use((_req, _res, next) => als.run({}, next));
  if (withShedding) {
    const { createExpressLoadShedding } = await import('@vigil/express');
    app.use(createExpressLoadShedding(NEVER_SHED).middleware);
  }
  // Vigil's one middleware per app: metrics, spans and the request line from one observer.
  if (withMetrics) {
    const { createExpressMetrics } = await import('@vigil/express');
    const m = createExpressMetrics(logger ? { logger } : undefined);
    app.use(m.middleware);
    app.get('/metrics', m.handler);
  } else if (logger) {
    const { createExpressRequestLogger } = await import('@vigil/express');
    app.use(createExpressRequestLogger({ logger }).middleware);
  }
  if (kind === 'pino-http' || kind === 'otel-lean-pino-http') {
    const { default: pinoHttp } = await import('pino-http');
    const { default: pino } = await import('pino');
    app.use(pinoHttp({}, pino.destination(logFile)));
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
  let app;
  if (logger) {
    const { fastifyLogging } = await import('@vigil/logger/fastify');
    app = Fastify({ ...fastifyLogging({ logger }) });
  } else if (kind === 'pino') {
    // The research's (d): Fastify's built-in pino to a file, one onResponse line per request.
    const { default: pino } = await import('pino');
    app = Fastify({ loggerInstance: pino(pino.destination(logFile)), disableRequestLogging: true });
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
      done();
    });
  } else app = Fastify({ logger: false });
  if (als) app.addHook('onRequest', (_req, _reply, done) => als.run({}, done));
  if (withShedding) {
    const { vigilLoadShedding } = await import('@vigil/fastify');
    // An `exclude` of its own keeps the limiter's hook apart from vigilMetrics' (the 2hooks row).
    const own = kind === 'vigil-metrics-shed-2hooks' ? { exclude: ['/never'] } : {};
    await app.register(vigilLoadShedding, { ...NEVER_SHED, ...own });
  }
  if (withMetrics) {
    const { vigilMetrics } = await import('@vigil/fastify');
    await app.register(vigilMetrics);
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

// Koa and plain node:http: Vigil's one observer gives metrics, spans and (with a logger) the line.
async function koaApp() {
  const { default: Koa } = await import('koa');
  const { default: Router } = await import('@koa/router');
  const app = new Koa();
  const router = new Router();
  if (als) app.use((_ctx, next) => als.run({}, next));
  if (withMetrics) {
    const { createKoaMetrics } = await import('@vigil/koa');
    const m = createKoaMetrics(logger ? { logger } : undefined);
    app.use(m.middleware);
    router.get('/metrics', m.koaHandler);
  }
  return listenKoa(app, router, Router);
}

async function httpApp() {
  const { createServer } = await import('node:http');
  const http = plainHttpApp();
  const handle = http.handle;
  const server = createServer(als ? (req, res) => als.run({}, handle, req, res) : handle);
  if (withMetrics) {
    const { createHttpObserver } = await import('@vigil/metrics');
    http.observer = createHttpObserver(server, { route: http.route, ...(logger ? { logger } : {}) });
  }
  return listenHttp(server);
}

// NestJS 12 on its Express platform: Vigil's Express middleware on Nest's app, as the README shows.
async function nestApp() {
  return listenNest({
    setup: async (app) => {
      if (als) app.use((_req, _res, next) => als.run({}, next));
      if (withMetrics) {
        const { createExpressMetrics } = await import('@vigil/express');
        const m = createExpressMetrics(logger ? { logger } : undefined);
        app.use(m.middleware);
        app.getHttpAdapter().get('/metrics', m.handler);
      }
    },
  });
}

const APPS = {
  express: expressApp,
  express4: expressApp,
  fastify: fastifyApp,
  koa: koaApp,
  http: httpApp,
  nest: nestApp,
};

try {
  const t0 = performance.now();
  const port = await APPS[framework]();
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid, readyMs: performance.now() - t0 })}\n`);
} catch (err) {
  console.error(`server ${id} failed to start:`, err);
  process.exit(1);
}
