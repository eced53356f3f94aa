#!/usr/bin/env node
// Outbound request observation (issue 22): client CPU per request of plain `http.request` and
// plain `fetch()` against a keep-alive server in another process, bare and with
// `instrumentOutbound()` (metrics only, and metrics + tracing outside / inside a sampled trace).
//
// Method: the client process alone is measured (process.cpuUsage around a batch of REQUESTS
// requests, CONCURRENCY in flight, keep-alive); variants interleave, ROUNDS rounds, the order
// rotated each round; the table shows the median and minimum µs per request over the rounds and
// the added µs against the bare client of the same round. Target: <= 3 µs added over bare
// `http.request` (metrics, no active trace).
//
//   node bench/suites/outbound.mjs                                   # 10 rounds x 2,000 requests per variant
//   OUTBOUND_BENCH_ROUNDS=3 OUTBOUND_BENCH_REQUESTS=5000 node bench/suites/outbound.mjs
import { fork } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { context, trace } from '@opentelemetry/api';
import { createMetrics } from '@vigil/metrics';
import { instrumentOutbound } from '@vigil/resilience';
import { startTracing } from '@vigil/tracing';
import { envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('OUTBOUND_BENCH_ROUNDS', 10, { integer: true });
const REQUESTS = envNumber('OUTBOUND_BENCH_REQUESTS', 2_000, { integer: true });
const CONCURRENCY = envNumber('OUTBOUND_BENCH_CONCURRENCY', 16, { integer: true });

const server = fork(new URL('./_outbound-server.mjs', import.meta.url), [], { stdio: 'inherit' });
const port = await new Promise((resolve) => server.once('message', resolve));
const url = `http://127.0.0.1:${port}/users/1`;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

const viaHttp = () =>
  new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
const viaFetch = async () => {
  const res = await fetch(url);
  await res.arrayBuffer();
};

async function batch(send, n) {
  let next = 0;
  const worker = async () => {
    while (next++ < n) await send();
  };
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n; // µs per request
}

const metrics = createMetrics({ runtimeMetrics: false });
const tracing = startTracing({
  serviceName: 'outbound-bench',
  exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} },
  logger: false,
});
const tracer = trace.getTracer('bench');
let hook = '';

// Each variant: setup returns the teardown; `wrap` runs a request (inside a span or not).
const variants = [
  { id: 'http-bare', client: 'http', label: '`http.get`, bare', setup: () => async () => {} },
  {
    id: 'http-metrics',
    client: 'http',
    label: '`http.get` + `instrumentOutbound({ metrics, tracing: false })`',
    setup: () => {
      const o = instrumentOutbound({ metrics, tracing: false });
      hook = o.httpHook;
      return () => o.close();
    },
  },
  {
    id: 'http-tracing',
    client: 'http',
    label: '`http.get` + `instrumentOutbound({ metrics })`, tracing started, no active trace',
    setup: () => {
      const o = instrumentOutbound({ metrics });
      return () => o.close();
    },
  },
  { id: 'fetch-bare', client: 'fetch', label: '`fetch`, bare', setup: () => async () => {} },
  {
    id: 'fetch-metrics',
    client: 'fetch',
    label: '`fetch` + `instrumentOutbound({ metrics, tracing: false })`',
    setup: () => {
      const o = instrumentOutbound({ metrics, tracing: false });
      return () => o.close();
    },
  },
  {
    id: 'http-span-bare',
    client: 'http',
    inSpan: true,
    label: '`http.get` inside a sampled span, bare (tracing started, no outbound instrumentation)',
    setup: () => async () => {},
  },
  {
    id: 'http-span',
    client: 'http',
    inSpan: true,
    label: '`http.get` inside a sampled span + `instrumentOutbound({ metrics })` (client span, traceparent)',
    setup: () => {
      const o = instrumentOutbound({ metrics });
      return () => o.close();
    },
  },
];

// OUTBOUND_BENCH_VARIANTS=http keeps the variants whose id contains one of the given words.
const only = (process.env.OUTBOUND_BENCH_VARIANTS ?? '').split(',').filter(Boolean);
if (only.length > 0)
  variants.splice(0, variants.length, ...variants.filter((v) => only.some((w) => v.id.includes(w))));
const results = new Map(variants.map((v) => [v.id, []]));

// The observation's own cost, without the network's noise: `http.get` through an agent that never
// connects (the request is built, its head rendered and buffered) plus the response-headers event
// Node publishes, bare and observed, in CPU-timed slices alternating per round.
const MICRO_SLICE = envNumber('OUTBOUND_BENCH_MICRO_SLICE', 20_000, { integer: true });
class NullAgent extends http.Agent {
  addRequest() {}
}
const nullAgent = new NullAgent();
const responseChannel = diagnostics.channel('http.client.response.finish');
const fakeResponse = { statusCode: 200 };
function microSlice() {
  const c0 = process.cpuUsage();
  for (let i = 0; i < MICRO_SLICE; i++) {
    const request = http.get({ host: '127.0.0.1', port: 8080, path: '/users/1', agent: nullAgent });
    if (responseChannel.hasSubscribers) responseChannel.publish({ request, response: fakeResponse });
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / MICRO_SLICE;
}
const micro = { bare: [], observed: [] };
for (let round = 0; round <= ROUNDS; round++) {
  for (const mode of round % 2 ? ['observed', 'bare'] : ['bare', 'observed']) {
    const o = mode === 'observed' ? instrumentOutbound({ metrics, tracing: false }) : undefined;
    const us = microSlice();
    await o?.close();
    if (round > 0) micro[mode].push(us);
  }
}
const microAdded = micro.observed.map((x, i) => x - micro.bare[i]);
const parent = tracer.startSpan('bench-parent');
const inParent = (fn) => context.with(trace.setSpan(context.active(), parent), fn);
for (let round = 0; round <= ROUNDS; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length]);
  for (const v of order) {
    const teardown = v.setup();
    const send = v.client === 'http' ? viaHttp : viaFetch;
    const run = () => batch(send, round === 0 ? Math.min(REQUESTS, 2000) : REQUESTS);
    const us = v.inSpan ? await inParent(run) : await run();
    await teardown();
    if (round > 0) results.get(v.id).push(us); // round 0 warms up
  }
}
parent.end();
await tracing.close();
await metrics.close();
agent.destroy();
server.kill();

const base = { http: 'http-bare', fetch: 'fetch-bare' };
const rows = variants.map((v) => {
  const xs = results.get(v.id);
  const baseline = (v.inSpan ? results.get('http-span-bare') : results.get(base[v.client])) ?? [];
  const added = xs.map((x, i) => x - (baseline[i] ?? Number.NaN));
  return [
    v.label,
    fmt(median(xs), 2),
    fmt(Math.min(...xs), 2),
    v.id.endsWith('bare') ? '—' : fmt(median(added), 2),
  ];
});

writeResult(
  'outbound',
  [
    '# Outbound request observation: client CPU per request',
    '',
    machineMarkdown(),
    `- ${ROUNDS} rounds × ${REQUESTS} requests per variant, ${CONCURRENCY} in flight, keep-alive, server in another process; node:http observed through: \`${hook}\``,
    '',
    mdTable(
      ['variant', 'µs CPU / request (median)', 'min', 'added vs bare (median of per-round differences)'],
      rows,
    ),
    '',
    `Observation alone (\`http.get\` through an agent that never connects, plus the response event; ${MICRO_SLICE} requests per slice, ${ROUNDS} slices each, CPU time):`,
    '',
    mdTable(
      ['variant', 'µs CPU / request (median)', 'min'],
      [
        [
          'bare `http.get` (request built, head rendered)',
          fmt(median(micro.bare), 2),
          fmt(Math.min(...micro.bare), 2),
        ],
        [
          'observed: `instrumentOutbound({ metrics, tracing: false })`',
          fmt(median(micro.observed), 2),
          fmt(Math.min(...micro.observed), 2),
        ],
        ['**added per request** (median of per-round differences)', `**${fmt(median(microAdded), 2)}**`, ''],
      ],
    ),
    '',
    'Target (issue 22): ≤ 3 µs added over bare `http.request` (metrics, no active trace). Rows inside a sampled span include the client span itself (created, ended, handed to a no-op exporter) — the cost of tracing the call, not of observing it.',
  ].join('\n'),
);
