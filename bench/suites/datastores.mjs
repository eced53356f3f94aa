#!/usr/bin/env node
// Database adapter cost (issue 22): `metrics.instrumentMysql2()`, `metrics.instrumentIoredis()` and
// `metrics.instrumentRedis()` (node-redis) against the bare driver call.
//
// 1. The observation alone: the drivers' own tracing helpers per call, nobody subscribed vs Vigil
//    subscribed (ioredis `traceCommand`, node-redis `trace`, mysql2 `traceCallback`; the drivers build their context and
//    publish only while someone subscribes) around a call that settles at once, in
//    CPU-timed slices alternating per round. This is the row for the target (<= 2 µs per query).
// 2. End to end: real Redis GETs and MariaDB `SELECT 1`s (127.0.0.1), client CPU per call, bare
//    and instrumented, interleaved per round. A call costs tens of µs; on a shared machine the
//    difference is within the noise.
//
//   node bench/suites/datastores.mjs
//   DB_BENCH_ROUNDS=5 DB_BENCH_CALLS=2000 node bench/suites/datastores.mjs
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createMetrics } from '@vigil/metrics';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { createClient } from 'redis';
import { envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('DB_BENCH_ROUNDS', 10, { integer: true });
const CALLS = envNumber('DB_BENCH_CALLS', 4000, { integer: true });
const SLICE = envNumber('DB_BENCH_MICRO_SLICE', 50_000, { integer: true });
const CONCURRENCY = 16;

const metrics = createMetrics({ runtimeMetrics: false });
const instrument = {
  redis: () => metrics.instrumentIoredis(),
  'node-redis': () => metrics.instrumentRedis(),
  mysql: () => metrics.instrumentMysql2(),
};

// --- 1. the observation alone ---
// The drivers' own tracing helpers, as they call them per command and query: without subscribers
// they call straight through (the bare driver), with Vigil subscribed they build their context and
// publish (what subscribing costs, the drivers' part included).
const require = createRequire(import.meta.url);
const { traceCommand, sanitizeArgs } = require('ioredis/built/tracing');
const mysqlTracing = require(join(dirname(require.resolve('mysql2')), 'lib', 'tracing.js'));
// node-redis publishes from @redis/client's tracing module (a dependency of `redis`).
const requireFromRedis = createRequire(require.resolve('redis'));
const nodeRedisTracing = requireFromRedis(
  join(dirname(requireFromRedis.resolve('@redis/client')), 'lib', 'client', 'tracing.js'),
);
const sql = 'SELECT id, name FROM users WHERE id = ?';
const resolved = Promise.resolve('v');
const noop = () => {};
const redisContext = () => ({
  command: 'get',
  args: sanitizeArgs('get', ['vigil:bench:key']),
  database: 0,
  serverAddress: '127.0.0.1',
  serverPort: 6379,
});
const nodeRedisContext = () => ({
  command: 'GET',
  args: nodeRedisTracing.sanitizeArgs(['GET', 'vigil:bench:key']),
  database: 0,
  clientId: 'bench',
  serverAddress: '127.0.0.1',
  serverPort: 6379,
});
const mysqlContext = () => ({
  query: sql,
  values: [1],
  database: 'test',
  ...mysqlTracing.getServerContext({ host: '127.0.0.1', port: 3306 }),
});

async function microSlice(kind) {
  const c0 = process.cpuUsage();
  if (kind === 'redis') {
    for (let i = 0; i < SLICE; i++) await traceCommand(() => resolved, redisContext);
  } else if (kind === 'node-redis') {
    const channel = nodeRedisTracing.CHANNELS.TRACE_COMMAND;
    for (let i = 0; i < SLICE; i++) await nodeRedisTracing.trace(channel, () => resolved, nodeRedisContext);
  } else {
    for (let i = 0; i < SLICE; i++) {
      mysqlTracing.traceCallback(
        mysqlTracing.queryChannel,
        (cb) => cb(null, []),
        0,
        mysqlContext,
        null,
        noop,
      );
    }
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / SLICE;
}

const micro = {};
for (const kind of ['redis', 'node-redis', 'mysql']) {
  micro[kind] = { bare: [], observed: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of round % 2 ? ['observed', 'bare'] : ['bare', 'observed']) {
      const off = mode === 'observed' ? instrument[kind]() : undefined;
      const us = await microSlice(kind);
      off?.();
      if (round > 0) micro[kind][mode].push(us);
    }
  }
}

// --- 2. end to end ---
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
await redis.connect();
await redis.set('vigil:bench:key', 'value');
const nodeRedis = createClient({ url: 'redis://127.0.0.1:6379' });
await nodeRedis.connect();
const pool = mysql.createPool({
  host: '127.0.0.1',
  user: 'root',
  database: 'test',
  connectionLimit: CONCURRENCY,
});
const send = {
  redis: () => redis.get('vigil:bench:key'),
  'node-redis': () => nodeRedis.get('vigil:bench:key'),
  mysql: () => pool.query('SELECT 1 AS one'),
};
async function batch(kind) {
  let next = 0;
  const worker = async () => {
    while (next++ < CALLS) await send[kind]();
  };
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / CALLS;
}
const e2e = {};
for (const kind of ['redis', 'node-redis', 'mysql']) {
  e2e[kind] = { bare: [], observed: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of round % 2 ? ['observed', 'bare'] : ['bare', 'observed']) {
      const off = mode === 'observed' ? instrument[kind]() : undefined;
      const us = await batch(kind);
      off?.();
      if (round > 0) e2e[kind][mode].push(us);
    }
  }
}
await redis.del('vigil:bench:key');
await redis.quit();
await nodeRedis.quit();
await pool.end();
await metrics.close();

const row = (label, r) => {
  const added = r.observed.map((x, i) => x - r.bare[i]);
  return [label, fmt(median(r.bare), 2), fmt(median(r.observed), 2), `**${fmt(median(added), 2)}**`];
};
const headers = [
  'driver call',
  'bare µs CPU (median)',
  'instrumented',
  'added per call (median of per-round differences)',
];
writeResult(
  'datastores',
  [
    '# Database adapters: CPU per query',
    '',
    machineMarkdown(),
    `- ${ROUNDS} rounds; observation alone: ${SLICE} calls per slice; end to end: ${CALLS} calls per batch, ${CONCURRENCY} in flight`,
    '',
    "The observation alone (the driver's TracingChannel call around an operation that settles at once, without and with Vigil subscribed):",
    '',
    mdTable(headers, [
      row('ioredis command (`traceCommand`: context with redacted args, `tracePromise`)', micro.redis),
      row('node-redis command (`trace`: context with sanitized args, `tracePromise`)', micro['node-redis']),
      row("mysql2 query (`traceCallback`; Vigil's SQL summary cached)", micro.mysql),
    ]),
    '',
    'End to end (real Redis and MariaDB on 127.0.0.1, client process CPU):',
    '',
    mdTable(headers, [
      row('ioredis `GET`', e2e.redis),
      row('node-redis `GET`', e2e['node-redis']),
      row('mysql2 pool `SELECT 1`', e2e.mysql),
    ]),
    '',
    'Target (issue 22): ≤ 2 µs CPU per query over the bare driver call. Without `@vigil/tracing` started (no spans).',
  ].join('\n'),
);
