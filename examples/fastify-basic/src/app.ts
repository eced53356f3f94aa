import { postgresCheck, vigilHealth, vigilLoadShedding, vigilMetrics } from '@vigil/fastify';
import { createLogger, type Logger } from '@vigil/logger';
import { fastifyLogging } from '@vigil/logger/fastify';
import { createMetrics } from '@vigil/metrics';
import { createLoadShedder, createLoadShedderCheck } from '@vigil/resilience';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { type ChainOptions, createChain } from './chain.js';

export interface AppOptions {
  /** PostgreSQL URL: when set, readiness checks the database (`SELECT 1`, 500 ms timeout). */
  databaseUrl?: string;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
  /** Timeouts of `/chain`'s outbound client (see chain.ts). */
  chain?: ChainOptions;
}

/** The example service: the one-liner, then ordinary routes. */
export async function createApp(options: AppOptions = {}): Promise<FastifyInstance> {
  // Fastify's own logger is Vigil's: one line per request, trace ids, secrets redacted.
  const app = Fastify({
    ...fastifyLogging({ logger: options.logger ?? createLogger({ service: 'fastify-basic' }) }),
  });
  // One metrics handle for the load shedder and the RED metrics. Over its adaptive concurrency limit
  // the service answers 503 + Retry-After from the first hook; probes and /metrics are never shed.
  const metrics = createMetrics({ defaultLabels: { service: 'fastify-basic' } });
  const shedder = createLoadShedder({ metrics });
  app.addHook('onClose', async () => {
    await shedder.close();
    await metrics.close();
  });
  await app.register(vigilLoadShedding, { shedder }); // first: shed requests are counted apart
  await app.register(vigilMetrics, { metrics }); // RED metrics + /metrics
  // A connect timeout keeps a hung database from holding the readiness check's connection forever.
  const pool = options.databaseUrl
    ? new pg.Pool({ connectionString: options.databaseUrl, connectionTimeoutMillis: 2_000 })
    : undefined;
  if (pool) app.addHook('onClose', async () => pool.end());
  // One line: /health /livez /ready /readyz /startup, metrics in the same registry as /metrics.
  // Readiness warns (stays 200) while shedding.
  const checks = {
    ...(pool ? { postgres: postgresCheck(pool) } : {}),
    shedding: createLoadShedderCheck(shedder),
  };
  await app.register(vigilHealth, { checks });

  app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({
    id: req.params.id,
    name: `user ${req.params.id}`,
  }));

  app.get<{ Querystring: { ms?: string } }>('/slow', async (req) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 30_000);
    await new Promise((r) => setTimeout(r, ms));
    return { waited: ms };
  });

  // Keeps the CPU busy for ms (at most 1000), then answers: overload the service and watch it shed.
  app.get<{ Querystring: { ms?: string } }>('/cpu', async (req) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 1_000);
    const end = performance.now() + ms;
    while (performance.now() < end) {}
    return { busyMs: ms };
  });

  app.get('/error', async () => {
    throw new Error('boom');
  });

  // Calls URL and answers with its status and body, so one trace crosses two services (try it with
  // this example and express-basic). A demo route: do not expose an open fetch proxy in production.
  const chain = createChain(app.vigil.metrics, options.chain); // resilient outbound client for /chain
  app.addHook('onClose', async () => chain.close());
  app.get<{ Querystring: { to?: string } }>('/chain', async (req, reply) => {
    const to = req.query.to ?? '';
    if (!/^https?:\/\//.test(to)) {
      return reply.code(400).send({ error: 'query parameter "to" must be an http(s) URL' });
    }
    const upstream = await chain.get(new URL(to));
    reply.code(upstream.status).type(upstream.contentType);
    return upstream.body;
  });

  await app.register(
    async (v1) => {
      v1.get<{ Params: { id: string } }>('/items/:id', async (req) => ({ id: req.params.id }));
    },
    { prefix: '/api/v1' },
  );

  return app;
}
