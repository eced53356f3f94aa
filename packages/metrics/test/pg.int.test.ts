import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../../../test/helpers/env.js';
import { parseSamples } from '../../../test/helpers/http.js';
import { createMetrics, type Metrics } from '../src/index.js';

// Real PostgreSQL (127.0.0.1:5432, database `test`). Not skipped anywhere: the machines and CI run it.
const table = `vigil_pg_test_${process.pid}`;
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE TABLE IF NOT EXISTS ${table} (id serial primary key, name text not null)`);
});

afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
});

const count = async (m: Metrics, table: string, op: string, outcome: string) =>
  parseSamples((await m.scrape()).body as string).get(
    `database_query_duration_seconds_count{table="${table}",operation="${op}",outcome="${outcome}",system="postgresql"}`,
  ) ?? 0;

describe('pg instrumentation (real PostgreSQL)', () => {
  it('times pool.query, pooled clients and failing queries, with operation and table from the SQL', async () => {
    const m = createMetrics({ runtimeMetrics: false });
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    m.instrumentPg(pool);
    try {
      await pool.query(`INSERT INTO ${table} (name) VALUES ($1)`, ['ada']);
      const r = await pool.query(`SELECT id, name FROM ${table} WHERE name = $1`, ['ada']);
      expect(r.rows[0].name).toBe('ada');
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query({
          text: `UPDATE ${table} SET name = $1 WHERE name = $2`,
          values: ['grace', 'ada'],
        });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await expect(pool.query(`SELECT * FROM ${table}_missing`)).rejects.toThrow(/does not exist/);
      await expect(pool.query(`INSERT INTO ${table} (name) VALUES (NULL)`)).rejects.toThrow(/null value/);
      // Callback style.
      await new Promise<void>((resolve, reject) =>
        pool.query(`DELETE FROM ${table} WHERE name = 'nobody'`, (err) => (err ? reject(err) : resolve())),
      );

      expect(await count(m, table, 'INSERT', 'success')).toBe(1);
      expect(await count(m, table, 'SELECT', 'success')).toBe(1);
      expect(await count(m, table, 'UPDATE', 'success')).toBe(1);
      expect(await count(m, 'unknown', 'BEGIN', 'success')).toBe(1);
      expect(await count(m, 'unknown', 'COMMIT', 'success')).toBe(1);
      expect(await count(m, `${table}_missing`, 'SELECT', 'error')).toBe(1);
      expect(await count(m, table, 'INSERT', 'error')).toBe(1);
      expect(await count(m, table, 'DELETE', 'success')).toBe(1);
      // Raw SQL and its values never become labels.
      expect((await m.scrape()).body).not.toMatch(/ada|grace|VALUES|\$1/);
    } finally {
      await pool.end();
      await m.close();
    }
  });

  it('times a single Client, and the returned function removes the instrumentation', async () => {
    const m = createMetrics({ runtimeMetrics: false });
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const off = m.instrumentPg(client);
      await client.query(`SELECT count(*) FROM ${table}`);
      expect(await count(m, table, 'SELECT', 'success')).toBe(1);
      off();
      await client.query(`SELECT count(*) FROM ${table}`);
      expect(await count(m, table, 'SELECT', 'success')).toBe(1);
    } finally {
      await client.end();
      await m.close();
    }
  });

  it('rejects something that is not a pg client', () => {
    const m = createMetrics({ runtimeMetrics: false });
    expect(() => m.instrumentPg({} as never)).toThrow(/instrumentPg\(target\)/);
    void m.close();
  });
});
