import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createMetrics } from '@vigil/metrics';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing, withSpan } from '../src/index.js';

// A mysql2 query and an ioredis command inside a span each become a database client span under it
// (real MariaDB 127.0.0.1:3306 and Redis 127.0.0.1:6379; not skipped anywhere).

let tracing: Tracing | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await tracing?.close();
  tracing = undefined;
});

describe('database spans from the mysql2, ioredis and node-redis channels', () => {
  it('one client span per query and command, parented by the active span', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false, dbQueryText: true });
    const metrics = createMetrics({ runtimeMetrics: false });
    closers.push(() => metrics.close());
    metrics.instrumentMysql2();
    metrics.instrumentIoredis();
    metrics.instrumentRedis();
    const conn = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
    closers.push(() => conn.end());
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    closers.push(() => redis.quit());
    await redis.connect();
    const nodeRedis = createClient({ url: 'redis://127.0.0.1:6379' });
    await nodeRedis.connect();
    closers.push(() => nodeRedis.quit());

    const parent = await withSpan('handler', async (span) => {
      await conn.query('SELECT 1 AS one');
      await redis.get('vigil:tracing:key');
      await conn.query('SELEKT nothing').catch(() => {});
      await nodeRedis.hGet('vigil:tracing:node-redis', 'field');
      return span.spanId;
    });
    await tracing.forceFlush();
    const db = exporter.getFinishedSpans().filter((s) => s.kind === 2);
    expect(db.map((s) => s.name)).toEqual(['SELECT', 'GET', 'mysql', 'HGET']);
    for (const s of db) expect(s.parentSpanContext?.spanId).toBe(parent);
    expect(db[0]?.attributes).toMatchObject({
      'db.system.name': 'mysql',
      'db.operation.name': 'SELECT',
      'db.namespace': 'test',
      'server.address': '127.0.0.1',
      'server.port': 3306,
      'db.query.text': 'SELECT 1 AS one',
    });
    expect(db[1]?.attributes).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': 'GET' });
    // The key never reaches the span.
    expect(JSON.stringify(db[1]?.attributes)).not.toContain('vigil:tracing:key');
    expect(db[2]?.status.code).toBe(2);
    expect(db[2]?.attributes['db.response.status_code']).toBe('ER_PARSE_ERROR');
    expect(db[3]?.attributes).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': 'HGET' });
    expect(JSON.stringify(db[3]?.attributes)).not.toContain('vigil:tracing');
  });
});
