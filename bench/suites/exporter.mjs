#!/usr/bin/env node
// Which OTLP trace exporter @vigil/tracing should ship (issue 22): Vigil's own OTLP/HTTP transport
// against OpenTelemetry's exporter-trace-otlp-http / -proto 0.223.0 behind the same batch processor.
// Three figures, each in fresh processes (suites/_exporter-worker.mjs):
//
// 1. CPU per exported span: batches of 512 server spans flushed to a sink on loopback, the worker
//    pinned to CPU 0 and the sink (_otlp-sink.mjs) to CPU 1, order rotated per round; the
//    serializers alone in a loop over the same 512 spans.
// 2. Start-up: wall time to import @vigil/tracing (and the upstream exporter) and start tracing.
// 3. Exit time with a hung collector (accepts, never answers): from the last span ended to the
//    process exit, with the flush at exit on (shutdownTimeoutMs 2000) and the event loop left to
//    run empty.
//
//   node bench/suites/exporter.mjs
//   EXPORTER_BENCH_ROUNDS=3 EXPORTER_BENCH_BATCHES=20 node bench/suites/exporter.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { join } from 'node:path';
import readline from 'node:readline';
import { BENCH_DIR, envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('EXPORTER_BENCH_ROUNDS', 5, { integer: true });
const BATCHES = envNumber('EXPORTER_BENCH_BATCHES', 30, { integer: true });
const STARTS = envNumber('EXPORTER_BENCH_STARTS', 10, { integer: true });
const WORKER = join(BENCH_DIR, 'suites', '_exporter-worker.mjs');
const SINK = join(BENCH_DIR, 'suites', '_otlp-sink.mjs');
/** Vigil's former JSON encoder (retired), compiled from this file when it exists. */
const OLD_ENCODER = process.env.EXPORTER_BENCH_OLD_ENCODER;

const EXPORTERS = [
  ['vigil-protobuf', 'Vigil transport, `http/protobuf` (OpenTelemetry’s protobuf serializer)'],
  ['vigil-protobuf-gzip', 'Vigil transport, `http/protobuf` + gzip'],
  ['vigil-json', 'Vigil transport, `http/json`'],
  ['otel-http-protobuf', 'OpenTelemetry exporter-trace-otlp-proto 0.223.0'],
  ['otel-http-json', 'OpenTelemetry exporter-trace-otlp-http 0.223.0 (JSON)'],
];
const SERIALIZERS = [
  ['otel-protobuf', 'OpenTelemetry `ProtobufTraceSerializer`'],
  ['otel-json', 'OpenTelemetry `JsonTraceSerializer`'],
  ...(OLD_ENCODER ? [['vigil-json-encoder', 'Vigil’s own JSON encoder (retired)']] : []),
];
const EXIT_VARIANTS = [
  ['vigil-protobuf', 'Vigil transport (`http/protobuf`)'],
  ['otel-http-protobuf', 'exporter-trace-otlp-proto behind Vigil’s batch processor'],
  ['otel-http-json', 'exporter-trace-otlp-http behind Vigil’s batch processor'],
  [
    'otel-bsp',
    'OpenTelemetry BatchSpanProcessor + exporter-trace-otlp-http, `provider.shutdown()` on beforeExit',
  ],
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

function worker(args, cpu = '0') {
  return spawn('taskset', ['-c', cpu, process.execPath, WORKER, ...args], {
    cwd: BENCH_DIR,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function run(args) {
  const w = worker(args);
  const out = await firstLine(w, args.join(' '));
  await once(w, 'exit');
  return out;
}

const rotate = (xs, r) => xs.slice(r % xs.length).concat(xs.slice(0, r % xs.length));

// 1. CPU per exported span
const sink = spawn('taskset', ['-c', '1', process.execPath, SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
const { port } = await firstLine(sink, 'sink');
const sinkUrl = `http://127.0.0.1:${port}`;
const cpu = Object.fromEntries(EXPORTERS.map(([id]) => [id, []]));
const bytes = Object.fromEntries(EXPORTERS.map(([id]) => [id, []]));
const ser = Object.fromEntries(SERIALIZERS.map(([id]) => [id, []]));
const sinkStats = async () => (await fetch(`${sinkUrl}/`)).json();
console.log(`exporter: ${EXPORTERS.length} exporters, ${ROUNDS} round(s) × ${BATCHES} batches of 512 spans`);
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [id] of rotate(EXPORTERS, r)) {
      const s0 = await sinkStats();
      const out = await run(['cpu', id, sinkUrl, String(BATCHES)]);
      const s1 = await sinkStats();
      cpu[id].push(median(out.usPerSpan));
      bytes[id].push((s1.bytes - s0.bytes) / ((BATCHES + 5) * 512));
      console.log(`  round ${r + 1} ${id.padEnd(20)} ${median(out.usPerSpan).toFixed(2)} µs CPU/span`);
    }
    for (const [id] of rotate(SERIALIZERS, r)) {
      const out = await run(['serialize', id, String(BATCHES), ...(OLD_ENCODER ? [OLD_ENCODER] : [])]);
      ser[id].push(median(out.usPerSpan));
      console.log(
        `  round ${r + 1} serializer ${id.padEnd(20)} ${median(out.usPerSpan).toFixed(2)} µs CPU/span`,
      );
    }
  }
} finally {
  sink.kill();
}

// 2. Start-up
const STARTUP = [
  ['vigil-protobuf', 'Vigil transport'],
  ['otel-http-protobuf', 'exporter-trace-otlp-proto as `exporter`'],
  ['otel-http-json', 'exporter-trace-otlp-http as `exporter`'],
];
const startup = Object.fromEntries(STARTUP.map(([id]) => [id, []]));
for (let i = 0; i < STARTS; i++) {
  for (const [id] of rotate(STARTUP, i)) startup[id].push((await run(['startup', id])).ms);
}
console.log('  start-up done');

// 3. Exit time with a hung collector
const hung = new Set();
const collector = http.createServer((req, res) => {
  req.resume();
  hung.add(res); // never answered
});
await new Promise((r) => collector.listen(0, '127.0.0.1', r));
const hungUrl = `http://127.0.0.1:${collector.address().port}`;
const exits = Object.fromEntries(EXIT_VARIANTS.map(([id]) => [id, []]));
const EXIT_RUNS = 3;
for (let i = 0; i < EXIT_RUNS; i++) {
  for (const [id] of EXIT_VARIANTS) {
    const w = worker(['exit', id, hungUrl]);
    const exited = once(w, 'exit');
    await firstLine(w, id);
    const t0 = performance.now();
    await exited;
    exits[id].push(performance.now() - t0);
    console.log(`  exit ${id.padEnd(20)} ${(performance.now() - t0).toFixed(0)} ms`);
  }
}
for (const res of hung) res.destroy();
collector.close();

const protoBase = median(cpu['vigil-protobuf']);
const cpuRows = EXPORTERS.map(([id, label]) => [
  label,
  fmt(median(cpu[id]), 2),
  `${fmt(median(cpu[id]) / protoBase, 2)}x`,
  fmt(median(bytes[id]), 0),
  cpu[id].map((x) => x.toFixed(2)).join(' / '),
]);
const serRows = SERIALIZERS.map(([id, label]) => [
  label,
  fmt(median(ser[id]), 2),
  ser[id].map((x) => x.toFixed(2)).join(' / '),
]);
const startRows = STARTUP.map(([id, label]) => [
  label,
  fmt(median(startup[id]), 1),
  `${fmt(Math.min(...startup[id]), 1)}–${fmt(Math.max(...startup[id]), 1)}`,
]);
const exitRows = EXIT_VARIANTS.map(([id, label]) => [
  label,
  fmt(median(exits[id]), 0),
  exits[id].map((x) => x.toFixed(0)).join(' / '),
]);

writeResult(
  'exporter',
  `# OTLP trace exporter: Vigil's transport or OpenTelemetry's

${machineMarkdown()}
- Run: ${ROUNDS} round(s) × ${BATCHES} batches of 512 server spans per exporter (after 5 warm-up batches); ${STARTS} start-ups and ${EXIT_RUNS} exits per variant

## CPU per exported span

Each exporter runs in its own process pinned to CPU 0, behind Vigil's batch processor (the
upstream exporters are passed as \`exporter\`), exporting to one sink process on CPU 1 that
discards the body. **CPU µs/span** is the exporting process's CPU time (user + system) while one
batch of 512 is flushed (encoding, HTTP request, response) ÷ 512: median over the batches of a
round, then over rounds (order rotated each round).

${mdTable(['exporter', 'CPU µs/span', 'vs Vigil protobuf', 'bytes/span', 'per-round µs/span'], cpuRows)}

Serializers alone (one process each, a loop over the same 512 spans, CPU per span):

${mdTable(['serializer', 'CPU µs/span', 'per-round µs/span'], serRows)}

## Start-up

Wall time from the first \`import\` to \`startTracing()\` returning, in a fresh process (pinned to
CPU 0), median of ${STARTS}:

${mdTable(['exporter', 'ms (median)', 'range'], startRows)}

## Exit with a hung collector

The collector accepts every request and never answers. The process starts tracing with the flush
at exit on and \`shutdownTimeoutMs: 2000\` (default export timeout 10 s), ends 50 spans and leaves
the event loop to run empty; the figure is the time from its last span to its exit.

${mdTable(['pipeline', 'ms to exit (median)', 'runs'], exitRows)}
`,
);
process.exit(0);
