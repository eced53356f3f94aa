// (e) A service calling another through axios and plain fetch and querying MariaDB (mysql2) and
// Redis (ioredis) inside one span: one trace across both calls, a client span and a
// http_client_request_duration_seconds sample per call, a database span and a
// database_query_duration_seconds series per query. Real servers (MariaDB 127.0.0.1:3306, Redis
// 127.0.0.1:6379), packed tarballs, ESM.

import http from 'node:http';
import { createRequire } from 'node:module';
import { createMetrics } from '@vigil/metrics';
import { instrumentOutbound } from '@vigil/resilience';
import { startTracing, withSpan } from '@vigil/tracing';
import axios from 'axios';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

const require = createRequire(import.meta.url);
const { check, ok, runMain, watchdog } = require('./helpers.cjs');

watchdog(20_000, 'outbound app');

runMain(async () => {
  const spans = [];
  // A SpanExporter by shape: the spans stay in memory.
  const exporter = {
    export(batch, done) {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const tracing = startTracing({ serviceName: 'consumer', exporter, scheduledDelayMs: 1, logger: false });
  const metrics = createMetrics({ runtimeMetrics: false });
  const outbound = instrumentOutbound({ metrics });
  metrics.instrumentMysql2();
  metrics.instrumentIoredis();

  const seen = [];
  const downstream = http.createServer((req, res) => {
    seen.push(req.headers.traceparent);
    req.resume();
    res.end('{}');
  });
  await new Promise((resolve) => downstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${downstream.address().port}`;
  const db = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  try {
    const parent = await withSpan('handler', async (span) => {
      await axios.get(`${url}/axios`);
      await (await fetch(`${url}/fetch`)).text();
      await db.query('SELECT 1 AS one');
      await redis.get('vigil:consumer:key');
      return span;
    });
    await tracing.forceFlush();

    const clients = spans.filter((s) => s.kind === 2);
    check(
      clients.length === 4,
      `4 client spans (2 HTTP, 2 database), got ${clients.map((s) => s.name).join(', ')}`,
    );
    for (const s of clients) {
      check(s.spanContext().traceId === parent.traceId, `span ${s.name} is in the request's trace`);
      check(s.parentSpanContext?.spanId === parent.spanId, `span ${s.name} is a child of the handler span`);
    }
    check(seen.length === 2, `the downstream saw 2 requests, got ${seen.length}`);
    for (const [i, tp] of seen.entries()) {
      check(tp === `00-${parent.traceId}-${clients[i].spanContext().spanId}-01`, `traceparent ${i}: ${tp}`);
    }
    ok('axios and fetch: one trace, a client span each, traceparent for each');

    const body = (await metrics.scrape()).body;
    const target = `127.0.0.1:${downstream.address().port}`;
    check(
      body.includes(
        `http_client_request_duration_seconds_count{target="${target}",method="GET",status_code="200"} 2`,
      ),
      'http_client_request_duration_seconds counts both calls',
    );
    check(/database_query_duration_seconds_count\{[^}]*system="mysql"\} 1/.test(body), 'a mysql series');
    check(
      /database_query_duration_seconds_count\{table="unknown",operation="GET",outcome="success",system="redis"\} 1/.test(
        body,
      ),
      'a redis series labelled by command',
    );
    ok(
      `mysql2 and ioredis: ${clients
        .slice(2)
        .map((s) => s.name)
        .join(' and ')} spans and database_query_duration_seconds series`,
    );
  } finally {
    await redis.quit();
    await db.end();
    downstream.closeAllConnections();
    await new Promise((resolve) => downstream.close(resolve));
    await outbound.close();
    await metrics.close();
    await tracing.close();
  }
});
