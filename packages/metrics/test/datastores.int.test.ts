import { type DbQueryInfo, setTracingHook, type TracingHook } from '@vigil/core';
import { Redis } from 'ioredis';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples } from '../../../test/helpers/http.js';
import { createMetrics, type Metrics } from '../src/index.js';

// Real MariaDB (127.0.0.1:3306, root, no password, database `test`) and Redis (127.0.0.1:6379).
// Not skipped anywhere: the machines and CI run them.
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const table = `vigil_mysql_test_${process.pid}`;
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

let admin: mysqlPromise.Connection;
beforeAll(async () => {
  admin = await mysqlPromise.createConnection(MYSQL);
  await admin.query(
    `CREATE TABLE IF NOT EXISTS ${table} (id int primary key auto_increment, name text not null)`,
  );
});
afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.end();
});

function make(): Metrics {
  const m = createMetrics({ runtimeMetrics: false });
  cleanup.push(() => m.close());
  return m;
}

const count = async (m: Metrics, labels: Record<string, string>) => {
  const key = `database_query_duration_seconds_count{table="${labels.table}",operation="${labels.operation}",outcome="${labels.outcome}",system="${labels.system}"}`;
  return parseSamples((await m.scrape()).body as string).get(key) ?? 0;
};

/** A tracing hook that records the database spans it is asked for (the contract @vigil/tracing implements). */
function recordingHook() {
  const spans: { info: DbQueryInfo; error: unknown; ended: boolean }[] = [];
  const hook = {
    startDb(info: DbQueryInfo) {
      const s = { info, error: undefined as unknown, ended: false, exemplar: undefined };
      spans.push(s);
      return s;
    },
    endDb(t: unknown, error: unknown) {
      const s = t as (typeof spans)[number];
      s.error = error;
      s.ended = true;
    },
  } as unknown as TracingHook;
  setTracingHook(hook);
  cleanup.push(() => setTracingHook(undefined));
  return spans;
}

describe('mysql2 (real MariaDB)', () => {
  it('times pool and connection queries, execute, and failures, with operation and table from the SQL', async () => {
    const m = make();
    m.instrumentMysql2();
    const pool = mysqlPromise.createPool({ ...MYSQL, connectionLimit: 2 });
    cleanup.push(() => pool.end());
    await pool.query(`INSERT INTO ${table} (name) VALUES (?)`, ['ada']);
    await pool.execute(`SELECT id, name FROM ${table} WHERE name = ?`, ['ada']);
    const conn = await pool.getConnection();
    await conn.query(`SELECT * FROM ${table}`);
    conn.release();
    await expect(pool.query('SELECT * FROM vigil_no_such_table')).rejects.toMatchObject({
      code: 'ER_NO_SUCH_TABLE',
    });
    // The callback API too.
    const cb = mysql.createConnection(MYSQL);
    cleanup.push(() => new Promise((r) => cb.end(r)));
    await new Promise<void>((resolve, reject) =>
      cb.query(`UPDATE ${table} SET name = 'grace'`, (err) => (err ? reject(err) : resolve())),
    );

    expect(await count(m, { table, operation: 'INSERT', outcome: 'success', system: 'mysql' })).toBe(1);
    expect(await count(m, { table, operation: 'SELECT', outcome: 'success', system: 'mysql' })).toBe(2);
    expect(await count(m, { table, operation: 'UPDATE', outcome: 'success', system: 'mysql' })).toBe(1);
    expect(
      await count(m, {
        table: 'vigil_no_such_table',
        operation: 'SELECT',
        outcome: 'error',
        system: 'mysql',
      }),
    ).toBe(1);
    // No literal ever becomes a label.
    expect((await m.scrape()).body).not.toContain('ada');
  });

  it('starts a database span per query and marks failed ones', async () => {
    const m = make();
    m.instrumentMysql2();
    const spans = recordingHook();
    const conn = await mysqlPromise.createConnection(MYSQL);
    cleanup.push(() => conn.end());
    await conn.query(`SELECT name FROM ${table}`);
    await conn.query('SELEKT 1').catch(() => {});
    expect(spans).toHaveLength(2);
    expect(spans[0]?.info).toMatchObject({
      system: 'mysql',
      operation: 'SELECT',
      table,
      namespace: 'test',
      host: '127.0.0.1',
      port: 3306,
    });
    expect(spans[0]).toMatchObject({ ended: true, error: undefined });
    expect(spans[1]).toMatchObject({
      ended: true,
      error: expect.objectContaining({ code: 'ER_PARSE_ERROR' }),
    });
  });

  it('counts once however often it is called, and stops with the returned function', async () => {
    const m = make();
    const off = m.instrumentMysql2();
    expect(m.instrumentMysql2()).toBe(off);
    const conn = await mysqlPromise.createConnection(MYSQL);
    cleanup.push(() => conn.end());
    await conn.query(`DELETE FROM ${table} WHERE id < 0`);
    expect(await count(m, { table, operation: 'DELETE', outcome: 'success', system: 'mysql' })).toBe(1);
    off();
    await conn.query(`DELETE FROM ${table} WHERE id < 0`);
    expect(await count(m, { table, operation: 'DELETE', outcome: 'success', system: 'mysql' })).toBe(1);
  });
});

describe('ioredis (real Redis)', () => {
  const key = `vigil:test:${process.pid}`;

  it('times commands by command name, never by key, pipelines included, and failures', async () => {
    const m = make();
    m.instrumentIoredis();
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    cleanup.push(() => redis.quit());
    await redis.connect();
    await redis.set(key, 'v');
    await redis.get(key);
    await redis.get(`${key}:other`);
    await redis.pipeline().incr(`${key}:n`).del(`${key}:n`).exec();
    await expect(redis.hget(key, 'field')).rejects.toThrow(/WRONGTYPE/);
    await redis.del(key);
    const c = (operation: string, outcome = 'success') =>
      count(m, { table: 'unknown', operation, outcome, system: 'redis' });
    expect(await c('SET')).toBe(1);
    expect(await c('GET')).toBe(2);
    expect(await c('INCR')).toBe(1);
    expect(await c('DEL')).toBe(2);
    expect(await c('HGET', 'error')).toBe(1);
    expect((await m.scrape()).body).not.toContain(key);
  });

  it('starts a database span per command', async () => {
    const m = make();
    m.instrumentIoredis();
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, db: 2 });
    cleanup.push(() => redis.quit());
    await redis.connect();
    const spans = recordingHook();
    await redis.exists(key);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.info).toMatchObject({
      system: 'redis',
      operation: 'EXISTS',
      namespace: '2',
      host: '127.0.0.1',
      port: 6379,
    });
    expect(spans[0]?.info.text).toBeUndefined();
    expect(spans[0]?.ended).toBe(true);
  });

  it('bounds command names: custom commands past the limit share one label', async () => {
    const m = make();
    m.instrumentIoredis();
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    cleanup.push(() => redis.quit());
    await redis.connect();
    for (let i = 0; i < 300; i++) await redis.call(`vigilnosuch${i}`).catch(() => {});
    const body = (await m.scrape()).body as string;
    const ops = new Set(
      [...body.matchAll(/_count\{[^}]*operation="([^"]*)"[^}]*system="redis"/g)].map((x) => x[1]),
    );
    expect(ops.size).toBeLessThanOrEqual(257);
    expect(ops.has('_OTHER')).toBe(true);
  });
});

describe('node-redis (real Redis)', () => {
  const key = `vigil:test:node-redis:${process.pid}`;

  async function client(options: Parameters<typeof createClient>[0] = {}) {
    const c = createClient({ url: 'redis://127.0.0.1:6379', ...options });
    c.on('error', () => {});
    await c.connect();
    cleanup.push(() => (c.isOpen ? c.quit() : undefined));
    return c;
  }

  it('times commands by command name, never by key: pipelines per command, MULTI as one, failures', async () => {
    const m = make();
    m.instrumentRedis();
    const redis = await client();
    await redis.set(key, 'v');
    await redis.get(key);
    await redis.get(`${key}:other`);
    // A pipeline: each command once; a transaction: one MULTI call.
    await redis.multi().incr(`${key}:n`).del(`${key}:n`).execAsPipeline();
    await redis.multi().incr(`${key}:m`).del(`${key}:m`).exec();
    await expect(redis.hGet(key, 'field')).rejects.toThrow(/WRONGTYPE/);
    await redis.del(key);
    const c = (operation: string, outcome = 'success') =>
      count(m, { table: 'unknown', operation, outcome, system: 'redis' });
    expect(await c('SET')).toBe(1);
    expect(await c('GET')).toBe(2);
    expect(await c('INCR')).toBe(1);
    expect(await c('DEL')).toBe(2);
    expect(await c('MULTI')).toBe(1);
    expect(await c('HGET', 'error')).toBe(1);
    expect((await m.scrape()).body).not.toContain(key);
  });

  it('a command on a closed client is an error, not a crash', async () => {
    const m = make();
    m.instrumentRedis();
    const redis = await client();
    await redis.quit();
    await expect(redis.get(key)).rejects.toThrow(/closed/i);
    expect(await count(m, { table: 'unknown', operation: 'GET', outcome: 'error', system: 'redis' })).toBe(1);
  });

  it('starts a database span per command, with the database and server', async () => {
    const m = make();
    m.instrumentRedis();
    const redis = await client({ database: 2 });
    const spans = recordingHook();
    await redis.exists(key);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.info).toMatchObject({
      system: 'redis',
      operation: 'EXISTS',
      namespace: '2',
      host: '127.0.0.1',
      port: 6379,
    });
    expect(spans[0]?.info.text).toBeUndefined();
    expect(spans[0]?.ended).toBe(true);
  });

  it('bounds command names, counts once however often it is called, and stops with the returned function', async () => {
    const m = make();
    const off = m.instrumentRedis();
    expect(m.instrumentRedis()).toBe(off);
    const redis = await client();
    await redis.ping();
    for (let i = 0; i < 300; i++) await redis.sendCommand([`vigilnosuch${i}`]).catch(() => {});
    const body = (await m.scrape()).body as string;
    const ops = new Set(
      [...body.matchAll(/_count\{[^}]*operation="([^"]*)"[^}]*system="redis"/g)].map((x) => x[1]),
    );
    expect(ops.size).toBeLessThanOrEqual(257);
    expect(ops.has('_OTHER')).toBe(true);
    off();
    await redis.ping();
    expect(await count(m, { table: 'unknown', operation: 'PING', outcome: 'success', system: 'redis' })).toBe(
      1,
    );
  });
});
