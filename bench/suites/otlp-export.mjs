#!/usr/bin/env node
// CPU per exported span, by exporter: Vigil's OTLP/HTTP JSON (OpenTelemetry's JSON serializer since 2026-12-06; Vigil's own encoder before),
// Vigil's OTLP/HTTP protobuf (OpenTelemetry's protobuf serializer in Vigil's transport), and
// OpenTelemetry's own OTLP/HTTP JSON exporter (exporter-trace-otlp-http, what the lean NodeSDK set
// uses), each exporting batches of 512 server spans to the same sink on loopback.
//
// Method: each variant runs in its own process pinned to CPU 0 (one tracing instance per process),
// the sink on CPU 1; a worker (_otlp-export-worker.mjs) builds each batch outside the measured
// window and measures its own CPU (user + system) while the batch is exported: encoding, the HTTP
// request, the response. ROUNDS rounds with the order rotated; per round the median over BATCHES
// batches; the table gives the median over rounds. Bytes per span come from the sink's counters.
//
//   node bench/suites/otlp-export.mjs                      # 5 rounds x 30 batches
//   OTLP_BENCH_ROUNDS=3 OTLP_BENCH_BATCHES=20 node bench/suites/otlp-export.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import readline from 'node:readline';
import {
  BENCH_DIR,
  envNumber,
  fmt,
  fmtRatio,
  machineMarkdown,
  mdTable,
  median,
  ratio,
  writeResult,
} from '../lib/common.mjs';

const ROUNDS = envNumber('OTLP_BENCH_ROUNDS', 5, { integer: true });
const BATCHES = envNumber('OTLP_BENCH_BATCHES', 30, { integer: true });
const WORKER = join(BENCH_DIR, 'suites', '_otlp-export-worker.mjs');
const SINK = join(BENCH_DIR, 'suites', '_otlp-sink.mjs');

const VARIANTS = [
  ['otel-json', 'OpenTelemetry exporter-trace-otlp-http 0.223.0 (JSON)'],
  ['vigil-json', 'Vigil `http/json` (OpenTelemetry’s JSON serializer in Vigil’s transport)'],
  ['vigil-protobuf', 'Vigil `http/protobuf` (OpenTelemetry’s protobuf serializer)'],
];

function firstLine(child, what) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (l) => {
      rl.close();
      resolve(JSON.parse(l));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before answering`)));
  });
}

async function sinkStats(port) {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return res.json();
}

const sink = spawn('taskset', ['-c', '1', process.execPath, SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
const { port } = await firstLine(sink, 'sink');
const sinkUrl = `http://127.0.0.1:${port}`;
const results = Object.fromEntries(VARIANTS.map(([id]) => [id, { rounds: [], bytes: [] }]));
console.log(
  `otlp-export: ${VARIANTS.length} exporters, ${ROUNDS} round(s) × ${BATCHES} batches of 512 spans`,
);
try {
  for (let r = 0; r < ROUNDS; r++) {
    const order = VARIANTS.slice(r % VARIANTS.length).concat(VARIANTS.slice(0, r % VARIANTS.length));
    for (const [id] of order) {
      const s0 = await sinkStats(port);
      const w = spawn('taskset', ['-c', '0', process.execPath, WORKER, id, sinkUrl, String(BATCHES)], {
        cwd: BENCH_DIR,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const out = await firstLine(w, id);
      await once(w, 'exit');
      const s1 = await sinkStats(port);
      const spans = (BATCHES + 5) * 512;
      results[id].rounds.push(median(out.usPerSpan));
      results[id].bytes.push((s1.bytes - s0.bytes) / spans);
      console.log(`  round ${r + 1} ${id.padEnd(15)} ${median(out.usPerSpan).toFixed(2)} µs CPU/span`);
    }
  }
} finally {
  sink.kill();
}

const base = median(results['otel-json'].rounds);
const rows = VARIANTS.map(([id, label]) => {
  const us = median(results[id].rounds);
  return [
    label,
    fmt(us, 2),
    fmtRatio(ratio(us, base)),
    fmt(median(results[id].bytes), 0),
    results[id].rounds.map((x) => x.toFixed(2)).join(' / '),
  ];
});
writeResult(
  'otlp-export',
  `# OTLP/HTTP export cost per span

${machineMarkdown()}
- Run: ${ROUNDS} round(s) × ${BATCHES} batches of 512 server spans per exporter (after 5 warm-up batches)

## Method

Each exporter runs in its own process pinned to CPU 0 and exports to one sink process on CPU 1 (it
discards the body). Each batch is 512 spans shaped like Vigil's HTTP server spans (11 attributes),
built outside the measured window; **CPU µs/span** is the exporting process's CPU time (user +
system) while one batch is flushed (encoding, HTTP request, response) ÷ 512, median over the
batches of a round, then median over rounds (order rotated each round).

## Results

${mdTable(['exporter', 'CPU µs/span', 'vs OpenTelemetry JSON', 'bytes/span', 'per-round µs/span'], rows)}

At sampling ratio *r*, a service pays about *r* × this per request for exporting its server spans
(see \`tracing.md\` for the whole per-request cost).
`,
);
