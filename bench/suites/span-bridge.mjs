#!/usr/bin/env node
// Span-to-metrics bridge cost (issue 22): CPU per span that `createSpanMetricsBridge()` adds to an
// OpenTelemetry tracer provider, for the client spans it turns into metrics.
//
// A BasicTracerProvider (sdk-trace-base 2.12) without processors, and the same with the bridge;
// each slice starts and ends SLICE spans with the attributes an instrumentation sets (Knex's on a
// database span, undici's on an HTTP client span), in CPU-timed slices alternating per round. The
// span's own cost is in both columns; the difference is the bridge's.
//
//   node bench/suites/span-bridge.mjs
//   BRIDGE_BENCH_ROUNDS=5 BRIDGE_BENCH_SLICE=20000 node bench/suites/span-bridge.mjs
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createMetrics, createSpanMetricsBridge } from '@vigil/metrics';
import { envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('BRIDGE_BENCH_ROUNDS', 10, { integer: true });
const SLICE = envNumber('BRIDGE_BENCH_SLICE', 50_000, { integer: true });

const metrics = createMetrics({ runtimeMetrics: false });
const bridge = createSpanMetricsBridge({ metrics });
const providers = {
  bare: new BasicTracerProvider(),
  bridged: new BasicTracerProvider({ spanProcessors: [bridge] }),
};
// A sampled parent, as inside a traced request.
const parent = trace.setSpan(ROOT_CONTEXT, providers.bare.getTracer('parent').startSpan('request'));

const kinds = {
  db: {
    name: 'select test.users',
    attributes: {
      'db.system.name': 'postgresql',
      'db.collection.name': 'users',
      'db.operation.name': 'select',
      'db.namespace': 'test',
      'server.address': '127.0.0.1',
      'server.port': 5432,
    },
  },
  http: {
    name: 'GET',
    attributes: {
      'http.request.method': 'GET',
      'server.address': 'api.internal',
      'server.port': 8443,
      'url.full': 'https://api.internal:8443/users',
      'http.response.status_code': 200,
    },
  },
};

function slice(tracer, k) {
  const opts = { kind: SpanKind.CLIENT, attributes: k.attributes };
  const c0 = process.cpuUsage();
  for (let i = 0; i < SLICE; i++) tracer.startSpan(k.name, opts, parent).end();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / SLICE;
}

const results = {};
for (const [kind, k] of Object.entries(kinds)) {
  results[kind] = { bare: [], bridged: [] };
  const tracers = {
    bare: providers.bare.getTracer('@opentelemetry/instrumentation-x'),
    bridged: providers.bridged.getTracer('@opentelemetry/instrumentation-x'),
  };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of round % 2 ? ['bridged', 'bare'] : ['bare', 'bridged']) {
      const us = slice(tracers[mode], k);
      if (round > 0) results[kind][mode].push(us);
    }
  }
}
// The series exist: the bridge recorded what it was given.
const text = (await metrics.scrape()).body.toString();
if (!/database_query_duration_seconds_count\{[^}]*system="postgresql"[^}]*\} [1-9]/.test(text)) {
  throw new Error('the bridge recorded no database series');
}
await metrics.close();

const row = (label, r) => {
  const added = r.bridged.map((x, i) => x - r.bare[i]);
  return [label, fmt(median(r.bare), 2), fmt(median(r.bridged), 2), `**${fmt(median(added), 2)}**`];
};
writeResult(
  'span-bridge',
  [
    '# Span-to-metrics bridge: CPU per span',
    '',
    machineMarkdown(),
    `- ${ROUNDS} rounds of ${SLICE} spans per slice, bare and bridged alternating`,
    '',
    mdTable(
      [
        'client span (start, attributes, end)',
        'provider without processors, µs CPU (median)',
        'with the bridge',
        'added per span (median of per-round differences)',
      ],
      [
        row(
          'database span, Knex attributes (`db.system.name`, `db.operation.name`, `db.collection.name`)',
          results.db,
        ),
        row(
          'HTTP client span (`http.request.method`, `server.address`, `server.port`, status)',
          results.http,
        ),
      ],
    ),
    '',
    'The bridge reads the attributes, bounds the labels and observes one histogram series (with the span as exemplar). A sampled parent; no exporter in either column.',
  ].join('\n'),
);
