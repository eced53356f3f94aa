import { createHash, randomUUID } from 'node:crypto';
import {
  createExpressHealth,
  createExpressLoadShedding,
  createExpressMetrics,
  type ExpressHealth,
  postgresCheck,
} from '@vigil/express';
import { createLogger, type Logger } from '@vigil/logger';
import { createBreakerCheck, createLoadShedderCheck } from '@vigil/resilience';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import { createSchema, openDatabase } from './db.js';
import { createDownstreams, DependencyError } from './downstream.js';
import { type OrderInput, parseId, parseIdempotencyKey, parseOrder, parsePage } from './validate.js';

export const SERVICE = 'orders-service';

export const APP_DEFAULTS = Object.freeze({
  usersUrl: 'http://127.0.0.1:3001',
  catalogUrl: 'http://127.0.0.1:3002',
  /** Shorter than Vigil's 30 s so the demo shows a breaker closing again; tune per dependency. */
  breakerResetTimeoutMs: 10_000,
});

export interface AppOptions {
  /** PostgreSQL URL (default: an embedded PGlite, see db.ts). */
  databaseUrl?: string | undefined;
  /** Directory of the embedded database (default: in memory). */
  pgliteDataDir?: string | undefined;
  /** Base URL of users-service (default http://127.0.0.1:3001). */
  usersUrl?: string | undefined;
  /** Base URL of catalog-service (default http://127.0.0.1:3002). */
  catalogUrl?: string | undefined;
  /** How long a downstream's breaker stays open before a trial call (default 10 000 ms). */
  breakerResetTimeoutMs?: number | undefined;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
}

export interface App {
  app: Express;
  /** Probes: what graceful shutdown fails readiness on. */
  health: ExpressHealth;
  logger: Logger;
  /** Closes the HTTP clients, health, metrics and the database (pool, then embedded PGlite). */
  close(): Promise<void>;
}

interface Order extends OrderInput {
  id: number;
  status: string;
  created_at: Date;
}

const COLUMNS = 'id, user_id, product_id, quantity, status, created_at';

export async function createApp(options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ service: SERVICE });
  const metrics = createExpressMetrics({ logger, defaultLabels: { service: SERVICE } });
  const downstream = createDownstreams({
    usersUrl: options.usersUrl ?? APP_DEFAULTS.usersUrl,
    catalogUrl: options.catalogUrl ?? APP_DEFAULTS.catalogUrl,
    metrics,
    logger,
    breakerResetTimeoutMs: options.breakerResetTimeoutMs ?? APP_DEFAULTS.breakerResetTimeoutMs,
  });
  const db = await openDatabase({
    url: options.databaseUrl,
    dataDir: options.pgliteDataDir,
    onError: (err) => logger.warn({ err }, 'idle database connection failed'),
  }).catch(async (err) => {
    await downstream.close();
    throw err;
  });
  const { pool } = db;
  metrics.instrumentPg(pool); // database_query_duration_seconds + a span for every query
  try {
    await createSchema(pool);
  } catch (err) {
    await Promise.all([db.close(), downstream.close()]);
    throw err;
  }
  // Readiness: PostgreSQL is critical. An open breaker only warns: one failing dependency should
  // degrade the orders that need it, not pull every replica out of the load balancer.
  // Over its adaptive concurrency limit: 503 + Retry-After before any handler; readiness warns.
  const shedding = createExpressLoadShedding({ metrics });
  const health = createExpressHealth({
    metrics,
    checks: {
      postgres: postgresCheck(pool),
      shedding: createLoadShedderCheck(shedding.shedder),
      'users-service': createBreakerCheck(downstream.users),
      'catalog-service': createBreakerCheck(downstream.catalog),
    },
  });

  const app = express();
  app.use(shedding.middleware); // load shedding, first (shed requests are counted apart, not as traffic)
  app.use(metrics.middleware); // RED metrics, spans and one log line per request
  app.use(health.middleware); // /health /livez /ready /readyz /startup (never recorded as traffic)
  app.get('/metrics', metrics.handler);
  // Parsed per route so a malformed body is recorded under its route; strict: false lets `null`
  // through to validation, which names the real problem.
  const json = express.json({ limit: '16kb', strict: false });

  const bad = (res: Response, error: string) => res.status(400).json({ error });

  app.post('/orders', json, async (req, res) => {
    const input = parseOrder(req.body);
    if (!input.ok) return bad(res, input.error);
    const key = parseIdempotencyKey(req.get('idempotency-key'));
    if (!key.ok) return bad(res, key.error);
    const order = input.value;

    const replay = async () => {
      if (key.value === undefined) return false;
      const { rows } = await pool.query<Order>(`SELECT ${COLUMNS} FROM orders WHERE idempotency_key = $1`, [
        key.value,
      ]);
      const first = rows[0];
      if (first === undefined) return false;
      if (
        first.user_id !== order.user_id ||
        first.product_id !== order.product_id ||
        first.quantity !== order.quantity
      ) {
        res.status(422).json({ error: 'Idempotency-Key was already used for a different order' });
      } else {
        res.status(201).set('idempotent-replayed', 'true').location(`/orders/${first.id}`).json(first);
      }
      return true;
    };
    if (await replay()) return;

    // Stop the user lookup if our caller goes away. The reservation is not cancelled: once sent,
    // finishing the order is better than leaving stock reserved for nothing.
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    if (!(await downstream.userExists(order.user_id, ac.signal)))
      return res.status(422).json({ error: 'unknown user' });

    // Same client key, same reservation key: a retried order never takes stock twice.
    const reservationKey = key.value
      ? `order-${createHash('sha256').update(key.value).digest('hex').slice(0, 32)}`
      : `order-${randomUUID()}`;
    const reserved = await downstream.reserve(order.product_id, order.quantity, reservationKey);
    if (reserved.kind === 'not_found') return res.status(422).json({ error: 'unknown product' });
    if (reserved.kind === 'insufficient') return res.status(409).json({ error: 'insufficient stock' });

    const { rows } = await pool.query<Order>(
      `INSERT INTO orders (user_id, product_id, quantity, status, idempotency_key, reservation_key)
       VALUES ($1, $2, $3, 'confirmed', $4, $5)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${COLUMNS}`,
      [order.user_id, order.product_id, order.quantity, key.value ?? null, reservationKey],
    );
    const created = rows[0];
    // No row: a concurrent request with the same key stored the order first.
    if (created === undefined) {
      if (await replay()) return;
      throw new Error('order vanished after an idempotency conflict');
    }
    res.status(201).location(`/orders/${created.id}`).json(created);
  });

  app.get('/orders', async (req, res) => {
    const page = parsePage(req.query);
    if (!page.ok) return bad(res, page.error);
    const { limit, offset } = page.value;
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM orders ORDER BY id LIMIT $1 OFFSET $2`, [
      limit,
      offset,
    ]);
    res.json({ orders: rows, limit, offset });
  });

  app.get('/orders/:id', async (req, res) => {
    const id = parseId(req.params.id);
    if (!id.ok) return bad(res, id.error);
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id.value]);
    if (rows.length === 0) return res.status(404).json({ error: 'order not found' });
    res.json(rows[0]);
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use(metrics.errorHandler); // a thrown error becomes an exception event on the request's span
  app.use(errorHandler(logger));

  return {
    app,
    health,
    logger,
    close: async () => {
      await downstream.close();
      await shedding.close();
      await health.close();
      await metrics.close();
      await db.close();
    },
  };
}

/**
 * A failed downstream answers 503 at once, naming it (the breaker and retries already ran);
 * body-parser errors become 4xx; anything else is logged once and answers 500.
 */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof DependencyError)
      return res.status(503).json({ error: err.message, dependency: err.dependency });
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.parse.failed') return res.status(400).json({ error: 'malformed JSON body' });
    if (type === 'entity.too.large') return res.status(413).json({ error: 'request body too large' });
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return res.status(status).json({ error: (err as Error).message });
    logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(500).json({ error: 'internal error' });
  };
}
