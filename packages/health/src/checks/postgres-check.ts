import { checkString, VigilOptionError } from '@vigil/core';
import type { CheckContext, CheckOptions, HealthCheck } from '../types.js';
import { noLiveness, splitOptions } from './options.js';

/** The part of a `pg.PoolClient` the check uses. */
export interface PgPoolClientLike {
  query(text: string): Promise<unknown>;
  release(err?: Error | boolean): void;
}

/** The part of a `pg.Pool` the check uses. */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
}

export interface PostgresCheckOptions extends CheckOptions {
  /** Query to run. Default `SELECT 1`. */
  query?: string;
}

/**
 * PostgreSQL readiness through your `pg` Pool: take a connection, run `SELECT 1`, give it back.
 *
 * When the run times out during the query, the connection is destroyed (released with an error),
 * which ends the hung query. While connecting, the attempt is left to the pool (pg cannot cancel
 * it) and later runs wait on it: set the pool's `connectionTimeoutMillis` (for example 2000), or
 * the check stays failed until the attempt ends.
 */
export function postgresCheck(pool: PgPoolLike, options?: PostgresCheckOptions): HealthCheck {
  if (typeof pool !== 'object' || pool === null || typeof (pool as PgPoolLike).connect !== 'function') {
    throw new VigilOptionError('postgresCheck(pool)', 'a pg Pool', pool);
  }
  const { scheduling, rest } = splitOptions('postgresCheck', options, ['query']);
  noLiveness('postgresCheck', scheduling);
  const query = checkString('postgresCheck(options).query', rest.query) ?? 'SELECT 1';
  return {
    ...scheduling,
    dependency: true,
    componentType: 'datastore',
    async check({ signal }: CheckContext) {
      // The call stays pending until the pool's connection attempt ends, even after the run timed
      // out: the runner then makes later probes wait on it instead of opening one more connection
      // per probe to a database that does not answer.
      const client = await pool.connect();
      if (signal.aborted) {
        client.release();
        throw signal.reason;
      }
      let released = false;
      const destroy = () => {
        if (released) return;
        released = true;
        // Releasing with an error destroys the connection, which rejects the pending query.
        client.release(new Error('health check timed out'));
      };
      signal.addEventListener('abort', destroy, { once: true });
      try {
        await client.query(query);
      } finally {
        signal.removeEventListener('abort', destroy);
        if (!released) {
          released = true;
          client.release();
        }
      }
    },
  };
}
