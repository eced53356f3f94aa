import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

export interface Database {
  pool: pg.Pool;
  /** True when the database is the embedded PGlite (no DATABASE_URL). */
  embedded: boolean;
  /** Ends the pool, then stops the embedded database if there is one. Idempotent. */
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL. Unset: an embedded PGlite served on a loopback port, so `pg` works unchanged. */
  url?: string | undefined;
  /** Where the embedded database keeps its files (default: in memory, gone at exit). */
  dataDir?: string | undefined;
  /** Called when an idle pooled connection fails (the pool replaces it); without it pg would crash the process. */
  onError: (err: Error) => void;
}

// Bounds both connecting and waiting for a free pooled connection: a hung database or a burst
// fails requests after this long instead of piling them up (and readiness checks too).
const CONNECT_TIMEOUT_MS = 5_000;
// PGlite runs one query at a time; its socket server multiplexes connections onto it. Keep the pool
// below the server's connection limit: a connection over the limit is refused without a protocol error.
const EMBEDDED_POOL_MAX = 4;
const EMBEDDED_MAX_CONNECTIONS = 8;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    pool.on('error', options.onError);
    return { pool, embedded: false, close: once(() => pool.end()) };
  }
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: EMBEDDED_MAX_CONNECTIONS,
  });
  await server.start();
  const pool = new pg.Pool({
    connectionString: `postgres://postgres@${server.getServerConn()}/postgres`,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: EMBEDDED_POOL_MAX,
  });
  pool.on('error', options.onError);
  return {
    pool,
    embedded: true,
    close: once(async () => {
      await pool.end();
      await server.stop();
      await db.close();
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

/**
 * Tables are created in the connection's search_path (so a `?options=-c search_path=...` URL
 * isolates an instance). A real deployment would run migrations with a tool before rolling out;
 * `IF NOT EXISTS` keeps this start-up step safe to repeat.
 */
export async function createSchema(pool: pg.Pool): Promise<void> {
  // idempotency_key: the client's Idempotency-Key (a retried POST /orders returns the first order).
  // reservation_key: the key sent to catalog-service, so a retried reservation never takes stock twice.
  await pool.query(`
    CREATE TABLE IF NOT EXISTS orders (
      id              serial PRIMARY KEY,
      user_id         integer NOT NULL,
      product_id      integer NOT NULL,
      quantity        integer NOT NULL CHECK (quantity > 0),
      status          text NOT NULL,
      idempotency_key text UNIQUE,
      reservation_key text NOT NULL UNIQUE,
      created_at      timestamptz NOT NULL DEFAULT now()
    )`);
}
