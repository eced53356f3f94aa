import { postgresCheck, redisCheck, vigilHealth, vigilLoadShedding, vigilMetrics } from '@vigil/fastify';
import { createLogger, type Logger } from '@vigil/logger';
import { fastifyLogging } from '@vigil/logger/fastify';
import { createMetrics } from '@vigil/metrics';
import { createLoadShedder, createLoadShedderCheck } from '@vigil/resilience';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { type Cache, createMemoryCache, createRedisCache } from './cache.js';
import { registerChaos } from './chaos.js';
import { createSchema, openDatabase } from './db.js';
import { reserve } from './reserve.js';
import {
  formatSchemaErrors,
  parseId,
  parseIdempotencyKey,
  parsePage,
  productBody,
  reserveBody,
} from './validate.js';

export const SERVICE = 'catalog-service';

export const APP_DEFAULTS = Object.freeze({
  cachePrefix: 'catalog:',
  cacheTtlSeconds: 60,
});

export interface AppOptions {
  /** PostgreSQL URL (default: an embedded PGlite, see db.ts). */
  databaseUrl?: string | undefined;
  /** Directory of the embedded database (default: in memory). */
  pgliteDataDir?: string | undefined;
  /** Redis URL of the product cache (default: an in-process cache per replica). */
  redisUrl?: string | undefined;
  /** Prefix of every cache key (default `catalog:`), so services can share one Redis. */
  cachePrefix?: string | undefined;
  /** Lifetime of a cached product (default 60 s): the most a missed invalidation can serve stale stock. */
  cacheTtlSeconds?: number | undefined;
  /** Register the demo-only `PUT /admin/chaos` fault injection (never in production). */
  chaosEnabled?: boolean | undefined;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
}

interface Product {
  id: number;
  sku: string;
  name: string;
  price_cents: number;
  stock: number;
}

const COLUMNS = 'id, sku, name, price_cents, stock';
const UNIQUE_VIOLATION = '23505';

/** The service as a Fastify instance (not listening); `app.close()` releases everything. */
export async function createApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const ttl = options.cacheTtlSeconds ?? APP_DEFAULTS.cacheTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new Error(`Invalid option "cacheTtlSeconds": expected a positive integer, got ${ttl}`);
  const logger = options.logger ?? createLogger({ service: SERVICE });
  // Fastify's own logger is Vigil's: one line per request, trace ids, secrets redacted.
  const app = Fastify({
    ...fastifyLogging({ logger }),
    bodyLimit: 16 * 1024,
    // Strict types for bodies ("5" is not an integer) and errors that name the field.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    schemaErrorFormatter: formatSchemaErrors,
  });
  try {
    await setUp(app, options, logger, ttl);
  } catch (err) {
    await app.close();
    throw err;
  }
  return app;
}

async function setUp(app: FastifyInstance, options: AppOptions, logger: Logger, ttl: number): Promise<void> {
  // One metrics handle for the load shedder and the RED metrics. Over its adaptive concurrency limit
  // the service answers 503 + Retry-After from the first hook; readiness warns meanwhile.
  const metrics = createMetrics({ defaultLabels: { service: SERVICE } });
  const shedder = createLoadShedder({ metrics });
  app.addHook('onClose', async () => {
    await shedder.close();
    await metrics.close();
  });
  await app.register(vigilLoadShedding, { shedder }); // first: shed requests are counted apart
  await app.register(vigilMetrics, { metrics }); // RED metrics + /metrics

  const db = await openDatabase({
    url: options.databaseUrl,
    dataDir: options.pgliteDataDir,
    onError: (err) => logger.warn({ err }, 'idle database connection failed'),
  });
  app.addHook('onClose', () => db.close());
  const { pool } = db;
  app.vigil.metrics.instrumentPg(pool); // database_query_duration_seconds + a span for every query
  await createSchema(pool);

  const prefix = options.cachePrefix ?? APP_DEFAULTS.cachePrefix;
  const cache: Cache = options.redisUrl
    ? await createRedisCache(options.redisUrl, { prefix, ttlSeconds: ttl, logger })
    : createMemoryCache({ ttlSeconds: ttl });
  app.addHook('onClose', () => cache.close());

  // Readiness: PostgreSQL is critical. Redis only warns: without it reads go to PostgreSQL, so
  // taking every replica out of the load balancer would turn a slower service into no service.
  await app.register(vigilHealth, {
    checks: {
      postgres: postgresCheck(pool),
      shedding: createLoadShedderCheck(shedder),
      ...('client' in cache ? { redis: redisCheck(cache.client as never, { critical: false }) } : {}),
    },
  });

  if (options.chaosEnabled) registerChaos(app);

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err.validation) return reply.code(400).send({ error: err.message });
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return reply.code(400).send({ error: 'malformed JSON body' });
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  const cacheKey = (id: number) => `product:${id}`;

  app.post<{ Body: Omit<Product, 'id'> }>(
    '/products',
    { schema: { body: productBody } },
    async (req, reply) => {
      const { sku, name, price_cents, stock } = req.body;
      try {
        const { rows } = await pool.query<Product>(
          `INSERT INTO products (sku, name, price_cents, stock) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
          [sku, name.trim(), price_cents, stock],
        );
        const product = rows[0] as Product;
        return reply.code(201).header('location', `/products/${product.id}`).send(product);
      } catch (err) {
        if ((err as { code?: unknown }).code === UNIQUE_VIOLATION)
          return reply.code(409).send({ error: 'a product with this sku already exists' });
        throw err;
      }
    },
  );

  app.get<{ Querystring: Record<string, string> }>('/products', async (req, reply) => {
    const page = parsePage(req.query);
    if (!page.ok) return reply.code(400).send({ error: page.error });
    const { limit, offset } = page.value;
    const { rows } = await pool.query<Product>(
      `SELECT ${COLUMNS} FROM products ORDER BY id LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    return { products: rows, limit, offset };
  });

  // Read-through cache: `x-cache: hit` came from the cache, `miss` from PostgreSQL (then cached).
  app.get<{ Params: { id: string } }>('/products/:id', async (req, reply) => {
    const id = parseId(req.params.id);
    if (!id.ok) return reply.code(400).send({ error: id.error });
    const cached = await cache.get(cacheKey(id.value));
    if (cached !== undefined) return reply.header('x-cache', 'hit').type('application/json').send(cached);
    const { rows } = await pool.query<Product>(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id.value]);
    const product = rows[0];
    if (product === undefined) return reply.code(404).send({ error: 'product not found' });
    const body = JSON.stringify(product);
    await cache.set(cacheKey(id.value), body);
    return reply.header('x-cache', 'miss').type('application/json').send(body);
  });

  app.post<{ Params: { id: string }; Body: { quantity: number } }>(
    '/products/:id/reserve',
    { schema: { body: reserveBody } },
    async (req, reply) => {
      const id = parseId(req.params.id);
      if (!id.ok) return reply.code(400).send({ error: id.error });
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      if (!key.ok) return reply.code(400).send({ error: key.error });
      const r = await reserve(pool, id.value, req.body.quantity, key.value);
      switch (r.kind) {
        case 'not_found':
          return reply.code(404).send({ error: 'product not found' });
        case 'insufficient':
          return reply.code(409).send({ error: 'insufficient stock' });
        case 'key_reused':
          return reply.code(422).send({ error: 'Idempotency-Key was already used for a different request' });
        case 'reserved':
          // Invalidate after the commit; a replay changed nothing, so there is nothing to invalidate.
          if (!r.replayed) await cache.del(cacheKey(id.value));
          if (r.replayed) reply.header('idempotent-replayed', 'true');
          return { product_id: r.product_id, quantity: r.quantity, stock: r.stock };
      }
    },
  );
}
