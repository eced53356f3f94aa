import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealth, type Health, postgresCheck } from '../src/index.js';
import { blackHole, closedPort, get, IN_CI, listen, reachable } from './helpers/net.js';

// Real PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`). Under CI=true the tests run
// whatever happens, so a missing database fails them instead of skipping them.
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const available = IN_CI || (await reachable(PG.port));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(health: Health) {
  const s = await listen((req, res) => health.handler(req, res));
  cleanups.push(
    () => health.close(),
    () => s.close(),
  );
  return s;
}

describe.skipIf(!available)('postgresCheck (real PostgreSQL; skipped when it is not running locally)', () => {
  it('passes against a live database and gives the connection back', async () => {
    const pool = new pg.Pool({ ...PG, max: 2 });
    cleanups.push(() => pool.end());
    const health = createHealth({ autoStart: true, checks: { postgres: postgresCheck(pool) } });
    const { url } = await serve(health);
    for (let i = 0; i < 5; i++) {
      const r = await get(`${url}/ready`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).checks.postgres[0]).toMatchObject({
        status: 'pass',
        componentType: 'datastore',
      });
    }
    expect(pool.totalCount).toBeLessThanOrEqual(2);
    expect(pool.idleCount).toBe(pool.totalCount); // every connection released
  });

  it('runs a custom query and fails with the error (details only) when it is wrong', async () => {
    const pool = new pg.Pool({ ...PG, max: 1 });
    cleanups.push(() => pool.end());
    const health = createHealth({
      autoStart: true,
      checks: { postgres: postgresCheck(pool, { query: 'SELECT * FROM no_such_table_vigil' }) },
    });
    cleanups.push(() => health.close());
    const r = await health.readiness({ details: true });
    expect(r.statusCode).toBe(503);
    expect(r.body.checks?.postgres?.[0]?.output).toMatch(/no_such_table_vigil/);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  it('a query that hangs is cut at the timeout and its connection destroyed', async () => {
    const pool = new pg.Pool({ ...PG, max: 1 });
    cleanups.push(() => pool.end());
    const health = createHealth({
      autoStart: true,
      checkTimeoutMs: 200,
      checks: { postgres: postgresCheck(pool, { query: 'SELECT pg_sleep(30)' }) },
    });
    cleanups.push(() => health.close());
    const r = await health.readiness();
    expect(r.statusCode).toBe(503);
    expect(r.body.checks?.postgres?.[0]).toMatchObject({ status: 'fail', output: 'timeout' });
    // The destroyed connection left the pool: the next check gets a fresh one and is not stuck
    // behind the sleeping query.
    const ok = createHealth({ autoStart: true, checks: { postgres: postgresCheck(pool) } });
    cleanups.push(() => ok.close());
    expect((await ok.readiness()).statusCode).toBe(200);
  });
});

describe('postgresCheck against an unreachable database (no PostgreSQL needed)', () => {
  it('liveness stays 200 while PostgreSQL hangs, and readiness turns 503 at the check timeout', async () => {
    const hole = await blackHole(); // accepts TCP connections and never answers
    const pool = new pg.Pool({ ...PG, port: hole.port, max: 2 });
    // Cleanups run in reverse: the black hole closes first, which ends the pending connection.
    cleanups.push(
      () => pool.end().catch(() => {}),
      () => hole.close(),
    );
    const health = createHealth({ autoStart: true, checks: { postgres: postgresCheck(pool) } });
    const { url } = await serve(health);

    const order: string[] = [];
    const ready = get(`${url}/ready`).then((r) => {
      order.push('ready');
      return r;
    });
    const live = get(`${url}/health`).then((r) => {
      order.push('live');
      return r;
    });
    const [readyAnswer, liveAnswer] = await Promise.all([ready, live]);

    expect(liveAnswer.status).toBe(200);
    expect(JSON.parse(liveAnswer.body)).toEqual({ status: 'pass' });
    // Liveness did not wait for the hung database.
    expect(order).toEqual(['live', 'ready']);
    expect(readyAnswer.status).toBe(503);
    expect(JSON.parse(readyAnswer.body).checks.postgres[0]).toMatchObject({
      status: 'fail',
      output: 'timeout',
    });
    expect(hole.accepted()).toBe(1);

    // Later probes wait on the same hung connection attempt: no pile-up of connections.
    const again = await get(`${url}/readyz`);
    expect(again.status).toBe(503);
    expect(hole.accepted()).toBe(1);
    expect((await get(`${url}/livez`)).status).toBe(200);
  });

  it('readiness fails with error when the port refuses connections', async () => {
    const pool = new pg.Pool({ ...PG, port: await closedPort() });
    cleanups.push(() => pool.end());
    const health = createHealth({ autoStart: true, checks: { postgres: postgresCheck(pool) } });
    cleanups.push(() => health.close());
    const r = await health.readiness();
    expect(r.statusCode).toBe(503);
    expect(r.body.checks?.postgres?.[0]).toMatchObject({ status: 'fail', output: 'error' });
  });
});
