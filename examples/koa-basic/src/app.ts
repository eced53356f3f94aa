import Router from '@koa/router';
import {
  createKoaHealth,
  createKoaLoadShedding,
  createKoaMetrics,
  type KoaHealth,
  postgresCheck,
} from '@vigil/koa';
import { createLogger, type Logger } from '@vigil/logger';
import { createLoadShedderCheck } from '@vigil/resilience';
import Koa from 'koa';
import pg from 'pg';
import { type ChainOptions, createChain } from './chain.js';

export interface App {
  app: Koa;
  /** Probes: what graceful shutdown fails readiness on. */
  health: KoaHealth;
  close(): Promise<void>;
}

export interface AppOptions {
  /** PostgreSQL URL: when set, readiness checks the database (`SELECT 1`, 500 ms timeout). */
  databaseUrl?: string;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
  /** Timeouts of `/chain`'s outbound client (see chain.ts). */
  chain?: ChainOptions;
}

const clamp = (raw: unknown, max: number) => Math.min(Math.max(Number(raw) || 0, 0), max);

/** The example service: the one-liners, then ordinary routes. */
export function createApp(options: AppOptions = {}): App {
  const app = new Koa();
  const logger = options.logger ?? createLogger({ service: 'koa-basic' });
  const metrics = createKoaMetrics({ logger, defaultLabels: { service: 'koa-basic' } });
  // A connect timeout keeps a hung database from holding the readiness check's connection forever.
  const pool = options.databaseUrl
    ? new pg.Pool({ connectionString: options.databaseUrl, connectionTimeoutMillis: 2_000 })
    : undefined;
  // Over its adaptive concurrency limit the service answers 503 + Retry-After before anything else
  // runs; readiness warns (stays 200) meanwhile. Probes and /metrics are never shed.
  const shedding = createKoaLoadShedding({ metrics });
  const checks = {
    ...(pool ? { postgres: postgresCheck(pool) } : {}),
    shedding: createLoadShedderCheck(shedding.shedder),
  };
  const health = createKoaHealth({ metrics, checks });
  app.use(shedding.middleware); // one line: load shedding, first (shed requests are counted apart, not as traffic)
  app.use(metrics.middleware); // one line: RED metrics, spans and one log line per request
  app.use(health.middleware); // one line: /health /livez /ready /readyz /startup (never recorded as traffic)
  const chain = createChain(metrics, options.chain); // resilient outbound client for /chain

  const router = new Router();
  router.get('/metrics', metrics.koaHandler);
  router.get('/users/:id', (ctx) => {
    ctx.body = { id: ctx.params.id, name: `user ${ctx.params.id}` };
  });
  router.get('/slow', async (ctx) => {
    const waited = clamp(ctx.query.ms, 30_000);
    await new Promise((r) => setTimeout(r, waited));
    ctx.body = { waited };
  });
  // Keeps the CPU busy for ms (at most 1000), then answers.
  router.get('/cpu', (ctx) => {
    const busyMs = clamp(ctx.query.ms, 1_000);
    const end = performance.now() + busyMs;
    while (performance.now() < end) {}
    ctx.body = { busyMs };
  });
  // Koa answers 500; the error goes on the request's span and line.
  router.get('/error', () => {
    throw new Error('boom');
  });
  // Calls URL and answers with its status and body, so one trace crosses two services (try it with
  // express-basic). A demo route: do not expose an open fetch proxy in production.
  router.get('/chain', async (ctx) => {
    const to = typeof ctx.query.to === 'string' ? ctx.query.to : '';
    if (!/^https?:\/\//.test(to)) {
      ctx.status = 400;
      ctx.body = { error: 'query parameter "to" must be an http(s) URL' };
      return;
    }
    const upstream = await chain.get(new URL(to));
    ctx.status = upstream.status;
    ctx.type = upstream.contentType;
    ctx.body = upstream.body;
  });
  const v1 = new Router({ prefix: '/api/v1' });
  v1.get('/items/:id', (ctx) => {
    ctx.body = { id: ctx.params.id }; // recorded as route="/api/v1/items/:id"
  });
  app.use(router.routes()).use(v1.routes());
  // Koa logs unhandled errors to stderr by default; the request line already carries them.
  app.silent = true;

  return {
    app,
    health,
    close: async () => {
      await chain.close();
      await shedding.close();
      await health.close();
      await metrics.close();
      await pool?.end();
    },
  };
}
