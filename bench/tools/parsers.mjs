#!/usr/bin/env node
// Time of each parser of untrusted input on adversarial 1 MB inputs, and on 256 KB of the same
// input: catastrophic regex backtracking or a quadratic scan shows as seconds, or as a 1 MB time
// far above 4x the 256 KB one. The property tests (`*.property.test.ts`) check what comes out; this
// checks how long it takes, which tests never assert.
//   node bench/tools/parsers.mjs            (after `pnpm build`; prints a Markdown table)
// Every parser gets inputs made of the units its grammar reacts to (quotes, separators, digits).
// Each cell: the median of 7 samples of the time per call, a sample being 50 calls (1 for OTEL_*).
import { performance } from 'node:perf_hooks';
import { getTracingHook } from '@vigil/core';
import { createLogger } from '@vigil/logger';
import { fastifyLogging } from '@vigil/logger/fastify';
import { acceptsOpenMetrics, parseSql } from '@vigil/metrics';
import { parseRetryAfter } from '@vigil/resilience';
import { getTracing, startTracing } from '@vigil/tracing';
import { fmt, machineMarkdown, mdTable, median } from '../lib/common.mjs';

const MB = 1 << 20;
const huge = (unit, n) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

const genReqId = fastifyLogging({ logger: createLogger({ level: 'silent' }) }).genReqId;
startTracing({
  logger: false,
  fetchSpans: false,
  exporter: { export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} },
});
const hook = getTracingHook();

/** The env parsers run inside startTracing: set every variable, start, close. */
async function otelEnv(text) {
  await getTracing()?.close();
  const names = [
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_RESOURCE_ATTRIBUTES',
    'OTEL_PROPAGATORS',
    'OTEL_TRACES_SAMPLER_ARG',
    'OTEL_BSP_MAX_QUEUE_SIZE',
  ];
  for (const n of names) process.env[n] = text;
  try {
    startTracing({ logger: false, fetchSpans: false });
  } finally {
    for (const n of names) delete process.env[n];
    await getTracing()?.close();
  }
}

const parsers = {
  'parseSql (metrics)': {
    units: ['(', "'", '/*', '$$', 'WITH a AS (', ' ', 'a'],
    run: (t) => parseSql(`SELECT * FROM ${t}`),
  },
  'acceptsOpenMetrics (metrics)': {
    units: [',', ';', ';q=', 'application/openmetrics-text;q=0,', ' '],
    run: (t) => acceptsOpenMetrics(t),
  },
  'parseRetryAfter (resilience)': { units: ['1', ' ', 'Sun, ', 'a'], run: (t) => parseRetryAfter(t) },
  'x-request-id (logger)': {
    units: ['a', 'a ', '-'],
    run: (t) => genReqId({ headers: { 'x-request-id': t } }),
  },
  'traceparent/tracestate (tracing)': {
    units: ['0', '-', '00-', 'a=b,', ' '],
    run: (t) => {
      const req = {
        headers: { traceparent: t, tracestate: t },
        method: 'GET',
        url: '/',
        socket: null,
        httpVersion: '1.1',
      };
      hook.endServer(hook.startServer(req), '/', 200);
    },
  },
  'OTEL_* variables (tracing)': { units: [',', '=', 'a=b,', '%', ' '], run: otelEnv, reps: 1 },
};

/** Median over 7 samples of the time per call (ms), each sample `reps` calls. */
async function time(fn, text, reps) {
  const xs = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const out = fn(text);
      if (out instanceof Promise) await out;
    }
    xs.push((performance.now() - t0) / reps);
  }
  return median(xs);
}

const rows = [];
for (const [name, p] of Object.entries(parsers)) {
  for (const unit of p.units) {
    // Built before the clock starts, as one flat string (as text decoded from a socket is): the
    // parser's time, not V8's (a concatenation is a rope that slicing flattens on every call).
    const input = (n) => Buffer.from((p.prefix ?? '') + huge(unit, n)).toString();
    const reps = p.reps ?? 50;
    const small = await time(p.run, input(MB / 4), reps);
    const big = await time(p.run, input(MB), reps);
    rows.push([name, JSON.stringify(unit), fmt(small, 3), fmt(big, 3), fmt(big / Math.max(small, 0.001), 1)]);
  }
}
await getTracing()?.close();
console.log(machineMarkdown());
console.log();
console.log(mdTable(['parser', 'input made of', '256 KB (ms)', '1 MB (ms)', '1 MB / 256 KB'], rows));
