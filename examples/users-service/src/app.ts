import {
  createExpressHealth,
  createExpressLoadShedding,
  createExpressMetrics,
  type ExpressHealth,
  postgresCheck,
} from '@vigil/express';
import { createLogger, type Logger } from '@vigil/logger';
import { createLoadShedderCheck } from '@vigil/resilience';
import express, { type ErrorRequestHandler, type Express, type Response } from 'express';
import { createSchema, openDatabase } from './db.js';
import { parseId, parsePage, parseUser } from './validate.js';

export const SERVICE = 'users-service';

export interface AppOptions {
  /** PostgreSQL URL (default: an embedded PGlite, see db.ts). */
  databaseUrl?: string | undefined;
  /** Directory of the embedded database (default: in memory). */
  pgliteDataDir?: string | undefined;
  /** The service's logger (default: `createLogger()`, JSON lines on stdout with trace ids). */
  logger?: Logger;
}

export interface App {
  app: Express;
  /** Probes: what graceful shutdown fails readiness on. */
  health: ExpressHealth;
  logger: Logger;
  /** Closes health, metrics and the database (pool, then embedded PGlite). */
  close(): Promise<void>;
}

const COLUMNS = 'id, name, email, created_at';
const UNIQUE_VIOLATION = '23505';

export async function createApp(options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger({ service: SERVICE });
  const metrics = createExpressMetrics({ logger, defaultLabels: { service: SERVICE } });
  const db = await openDatabase({
    url: options.databaseUrl,
    dataDir: options.pgliteDataDir,
    onError: (err) => logger.warn({ err }, 'idle database connection failed'),
  });
  const { pool } = db;
  metrics.instrumentPg(pool); // database_query_duration_seconds + a span for every query
  try {
    await createSchema(pool);
  } catch (err) {
    await db.close();
    throw err;
  }
  // Over its adaptive concurrency limit: 503 + Retry-After before any handler; readiness warns.
  const shedding = createExpressLoadShedding({ metrics });
  const health = createExpressHealth({
    metrics,
    checks: { postgres: postgresCheck(pool), shedding: createLoadShedderCheck(shedding.shedder) },
  });

  const app = express();
  app.use(shedding.middleware); // load shedding, first (shed requests are counted apart, not as traffic)
  app.use(metrics.middleware); // RED metrics, spans and one log line per request
  app.use(health.middleware); // /health /livez /ready /readyz /startup (never recorded as traffic)
  app.get('/metrics', metrics.handler);
  // Parsed per route (not app-wide) so a malformed body is still recorded under its route.
  // strict: false lets `null` or `"x"` through to validation, which names the real problem.
  const json = express.json({ limit: '16kb', strict: false });

  const bad = (res: Response, error: string) => res.status(400).json({ error });
  const notFound = (res: Response) => res.status(404).json({ error: 'user not found' });
  const duplicate = (res: Response) =>
    res.status(409).json({ error: 'a user with this email already exists' });

  app.post('/users', json, async (req, res) => {
    const input = parseUser(req.body, false);
    if (!input.ok) return bad(res, input.error);
    try {
      const { rows } = await pool.query(
        `INSERT INTO users (name, email) VALUES ($1, $2) RETURNING ${COLUMNS}`,
        [input.value.name, input.value.email],
      );
      res.status(201).location(`/users/${rows[0].id}`).json(rows[0]);
    } catch (err) {
      if (isUniqueViolation(err)) return duplicate(res);
      throw err;
    }
  });

  app.get('/users', async (req, res) => {
    const page = parsePage(req.query);
    if (!page.ok) return bad(res, page.error);
    const { limit, offset } = page.value;
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2`, [
      limit,
      offset,
    ]);
    res.json({ users: rows, limit, offset });
  });

  app.get('/users/:id', async (req, res) => {
    const id = parseId(req.params.id);
    if (!id.ok) return bad(res, id.error);
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id.value]);
    if (rows.length === 0) return notFound(res);
    res.json(rows[0]);
  });

  app.patch('/users/:id', json, async (req, res) => {
    const id = parseId(req.params.id);
    if (!id.ok) return bad(res, id.error);
    const input = parseUser(req.body, true);
    if (!input.ok) return bad(res, input.error);
    try {
      // COALESCE keeps the fields the request left out.
      const { rows } = await pool.query(
        `UPDATE users SET name = COALESCE($2, name), email = COALESCE($3, email)
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id.value, input.value.name ?? null, input.value.email ?? null],
      );
      if (rows.length === 0) return notFound(res);
      res.json(rows[0]);
    } catch (err) {
      if (isUniqueViolation(err)) return duplicate(res);
      throw err;
    }
  });

  app.delete('/users/:id', async (req, res) => {
    const id = parseId(req.params.id);
    if (!id.ok) return bad(res, id.error);
    const { rowCount } = await pool.query('DELETE FROM users WHERE id = $1', [id.value]);
    if (rowCount === 0) return notFound(res);
    res.status(204).end();
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
      await shedding.close();
      await health.close();
      await metrics.close();
      await db.close();
    },
  };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === UNIQUE_VIOLATION;
}

/** Body-parser errors become 4xx with a clear message; anything else is logged once and answers 500. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
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
