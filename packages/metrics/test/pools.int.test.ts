import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSamples } from '../../../test/helpers/http.js';
import { createMetrics, type Metrics } from '../src/index.js';

// Pool gauges read from real pools: PostgreSQL 127.0.0.1:5432 (db `test`) and MariaDB
// 127.0.0.1:3306 (root, db `test`). Not skipped anywhere: the machines and CI run both.
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function make(): Metrics {
  const m = createMetrics({ runtimeMetrics: false });
  cleanup.push(() => m.close());
  return m;
}

async function gauges(m: Metrics, pool: string, system: string) {
  const s = parseSamples((await m.scrape()).body as string);
  return {
    idle: s.get(`database_pool_connections{pool="${pool}",system="${system}",state="idle"}`),
    used: s.get(`database_pool_connections{pool="${pool}",system="${system}",state="used"}`),
    waiting: s.get(`database_pool_waiting_requests{pool="${pool}",system="${system}"}`),
  };
}

describe('instrumentPool', () => {
  it('pg.Pool: used, idle and waiting while every connection is taken', async () => {
    const m = make();
    const pool = new pg.Pool({ ...PG, max: 2 });
    cleanup.push(() => pool.end());
    m.instrumentPool(pool, { name: 'primary' });
    expect(await gauges(m, 'primary', 'postgresql')).toEqual({ idle: 0, used: 0, waiting: 0 });
    const a = await pool.connect();
    const b = await pool.connect();
    const third = pool.connect(); // waits: the pool is exhausted
    expect(await gauges(m, 'primary', 'postgresql')).toEqual({ idle: 0, used: 2, waiting: 1 });
    a.release();
    const c = await third;
    b.release();
    expect(await gauges(m, 'primary', 'postgresql')).toEqual({ idle: 1, used: 1, waiting: 0 });
    c.release();
  });

  it('mysql2 pools, promise and callback API; two pools of one name are summed; undo removes the series', async () => {
    const m = make();
    const p1 = mysqlPromise.createPool({ ...MYSQL, connectionLimit: 1 });
    cleanup.push(() => p1.end());
    const p2 = mysql.createPool({ ...MYSQL, connectionLimit: 3 });
    cleanup.push(() => new Promise((r) => p2.end(r)));
    const off1 = m.instrumentPool(p1);
    m.instrumentPool(p2);
    const conn = await p1.getConnection();
    const waiting = p1.query('SELECT 1'); // queued behind the held connection
    await new Promise<void>((resolve, reject) =>
      p2.query('SELECT 1', (err) => (err ? reject(err) : resolve())),
    );
    expect(await gauges(m, 'default', 'mysql')).toEqual({ idle: 1, used: 1, waiting: 1 });
    conn.release();
    await waiting;
    expect(await gauges(m, 'default', 'mysql')).toEqual({ idle: 2, used: 0, waiting: 0 });
    off1();
    expect(await gauges(m, 'default', 'mysql')).toEqual({ idle: 1, used: 0, waiting: 0 });
  });

  it('the series go when the last pool is undone; bad input names the option', async () => {
    const m = make();
    const pool = new pg.Pool({ ...PG, max: 1 });
    cleanup.push(() => pool.end());
    const off = m.instrumentPool(pool);
    expect((await gauges(m, 'default', 'postgresql')).idle).toBe(0);
    off();
    off();
    expect(await gauges(m, 'default', 'postgresql')).toEqual({
      idle: undefined,
      used: undefined,
      waiting: undefined,
    });
    expect(() => m.instrumentPool({})).toThrow(/instrumentPool\(pool\)/);
    expect(() => m.instrumentPool(pool, { name: 'has space' })).toThrow(/"name"/);
    expect(() => m.instrumentPool(pool, { size: 1 } as never)).toThrow(/size/);
  });
});
