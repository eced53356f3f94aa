import {
  createExpressHealth,
  createExpressLoadShedding,
  createExpressMetrics,
  type ExpressHealth,
  postgresCheck,
} from '@vigil/express';
import { createLogger, type Logger } from '@vigil/logger';
import { createLoadShedderCheck } from '@vigil/resilience';
import express, { type Express } from 'express';
import pg from 'pg';
import { type ChainOptions, createChain } from './chain.js';

export interface App {
  app: Express;
  /** Probes: what graceful shutdown fails readiness on. */
  health: ExpressHealth;
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

/** The example service: the one-liners, then ordinary routes. */
export function createApp(options: AppOptions = {}): App {
  const app = express();
  const logger = options.logger ?? createLogger({ service: 'express-basic' });
  const metrics = createExpressMetrics({ logger, defaultLabels: { service: 'express-basic' } });
  // A connect timeout keeps a hung database from holding the readiness check's connection forever.
  const pool = options.databaseUrl
    ? new pg.Pool({ connectionString: options.databaseUrl, connectionTimeoutMillis: 2_000 })
    : undefined;
  // Over its adaptive concurrency limit the service answers 503 + Retry-After before anything else
  // runs; readiness warns (stays 200) meanwhile. Probes and /metrics are never shed.
  const shedding = createExpressLoadShedding({ metrics });
  const checks = {
    ...(pool ? { postgres: postgresCheck(pool) } : {}),
    shedding: createLoadShedderCheck(shedding.shedder),
  };
  const health = createExpressHealth({ metrics, checks });
  app.use(shedding.middleware); // one line: load shedding, first (shed requests are counted apart, not as traffic)
  app.use(metrics.middleware); // one line: RED metrics, spans and one log line per request
  app.use(health.middleware); // one line: /health /livez /ready /readyz /startup (never recorded as traffic)
  app.get('/metrics', metrics.handler);
  const chain = createChain(metrics, options.chain); // resilient outbound client for /chain

  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, name: `user ${req.params.id}` });
  });

  app.get('/slow', async (req, res) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 30_000);
    await new Promise((r) => setTimeout(r, ms));
    res.json({ waited: ms });
  });

  // Keeps the CPU busy for ms (at most 1000), then answers: overload the service and watch it shed.
  app.get('/cpu', (req, res) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 1_000);
    const end = performance.now() + ms;
    while (performance.now() < end) {}
    res.json({ busyMs: ms });
  });

  app.get('/error', () => {
    throw new Error('boom');
  });

  // Calls URL and answers with its status and body, so one trace crosses two services (try it with
  // this example and fastify-basic). A demo route: do not expose an open fetch proxy in production.
  app.get('/chain', async (req, res) => {
    const to = typeof req.query.to === 'string' ? req.query.to : '';
    if (!/^https?:\/\//.test(to)) {
      res.status(400).json({ error: 'query parameter "to" must be an http(s) URL' });
      return;
    }
    const upstream = await chain.get(new URL(to));
    res.status(upstream.status).type(upstream.contentType);
    res.send(upstream.body);
  });

  const v1 = express.Router();
  v1.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.use('/api/v1', v1);
  app.use(metrics.errorHandler); // last: thrown errors become exception events on the request's span

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
