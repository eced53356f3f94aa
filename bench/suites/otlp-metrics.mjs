#!/usr/bin/env node
// CPU per metrics export over OTLP/HTTP: Vigil's `startOtlpMetrics` (the registry as /metrics
// holds it, converted and sent by the upstream OTLP exporter) next to the OpenTelemetry metrics SDK
// doing the same job (a Histogram with the same N label sets, a PeriodicExportingMetricReader
// flushed to the same exporter class), and Vigil's Prometheus scrape of the same registry.
//
// N distinct HTTP label sets (1,000: Vigil's default cap). Each export posts to a sink in its own
// process (suites/_otlp-sink.mjs), so its CPU is not counted. CPU = this process's user+system
// time around one export (process.cpuUsage), median over runs after warm-up.
// Writes bench/results/otlp-metrics.md.
//
// Env: BENCH_OTLP_METRICS_RUNS (default 30), BENCH_OTLP_METRICS_SERIES (default 1000).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { HTTP_DURATION_BUCKETS } from '@vigil/catalog';
import { createMetrics } from '@vigil/metrics';
import { startOtlpMetrics } from '@vigil/metrics/otlp';
import {
  envNumber,
  fmt,
  fmtRatio,
  machineMarkdown,
  mdTable,
  median,
  ratio,
  writeResult,
} from '../lib/common.mjs';

const RUNS = envNumber('BENCH_OTLP_METRICS_RUNS', 30, { integer: true });
const N = envNumber('BENCH_OTLP_METRICS_SERIES', 1000, { integer: true });
const WARMUP = 3;
const here = dirname(fileURLToPath(import.meta.url));

const sink = spawn(process.execPath, [join(here, '_otlp-sink.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => {
  sink.stdout.once('data', (d) => resolve(JSON.parse(String(d)).port));
});
const url = `http://127.0.0.1:${port}/v1/metrics`;
const stats = async () => (await fetch(`http://127.0.0.1:${port}/stats`)).json();

const duration = (i) => ((i * 7919) % 1000) / 2000;

// Vigil: one metrics handle, N series through the HTTP recorder.
const m = createMetrics({ runtimeMetrics: false, maxSeries: N });
for (let i = 0; i < N; i++) m.http.end('GET', `/r${i}`, 200, m.http.start() - duration(i) * 1000);
const otlp = startOtlpMetrics(m, { url, intervalMs: 3_600_000 });
const otlpSemconv = startOtlpMetrics(m, { url, intervalMs: 3_600_000, semconv: true });

// OpenTelemetry SDK: the same series as an OTel Histogram (and the counter Vigil derives).
const reader = new PeriodicExportingMetricReader({
  exporter: new OTLPMetricExporter({ url }),
  exportIntervalMillis: 3_600_000,
});
const provider = new MeterProvider({ readers: [reader] });
const meter = provider.getMeter('bench');
const hist = meter.createHistogram('http.server.request.duration', {
  unit: 's',
  advice: { explicitBucketBoundaries: [...HTTP_DURATION_BUCKETS] },
});
for (let i = 0; i < N; i++) {
  hist.record(duration(i), {
    'http.route': `/r${i}`,
    'http.request.method': 'GET',
    'http.response.status_code': 200,
  });
}

async function cpuOf(fn) {
  const s = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(s);
  return (d.user + d.system) / 1000; // ms
}

const sides = [
  { name: 'Vigil startOtlpMetrics (Prometheus names)', run: () => otlp.flush() },
  { name: 'Vigil startOtlpMetrics (semconv: true)', run: () => otlpSemconv.flush() },
  { name: 'OpenTelemetry SDK MeterProvider + same exporter', run: () => reader.forceFlush() },
  { name: 'Vigil /metrics scrape (Prometheus text, for scale)', run: () => m.scrape() },
];
const samples = sides.map(() => []);
for (let r = 0; r < WARMUP + RUNS; r++) {
  for (let k = 0; k < sides.length; k++) {
    const i = (k + r) % sides.length; // rotate the order
    const ms = await cpuOf(sides[i].run);
    if (r >= WARMUP) samples[i].push(ms);
  }
}
const before = await stats();
await otlp.flush();
const afterOne = await stats();
await reader.forceFlush();
const afterSdk = await stats();
const vigilBytes = afterOne.bytes - before.bytes;
const sdkBytes = afterSdk.bytes - afterOne.bytes;

const base = median(samples[2]);
const rows = sides.map((s, i) => [
  s.name,
  fmt(median(samples[i]), 2),
  i === 3 ? '' : fmtRatio(ratio(median(samples[i]), base)),
  i === 0 ? String(vigilBytes) : i === 2 ? String(sdkBytes) : '',
]);
if (otlp.failed + otlpSemconv.failed > 0) throw new Error('an export failed: the figures are not comparable');

await Promise.all([otlp.close(), otlpSemconv.close(), provider.shutdown(), m.close()]);
sink.stdin.end();

writeResult(
  'otlp-metrics',
  `# OTLP metrics export: CPU per export\n\n${machineMarkdown()}\n- ${N} HTTP label sets (histogram with ${HTTP_DURATION_BUCKETS.length} buckets; Vigil also holds its request counter), ${RUNS} timed exports per side after ${WARMUP} warm-up, order rotated; sink in its own process.\n- Command: \`node bench/suites/otlp-metrics.mjs\`\n\n${mdTable(
    ['side', 'CPU ms per export (median)', 'vs OTel SDK', 'request bytes (JSON)'],
    rows,
  )}\n\nVigil converts the registry's series at export time; the SDK keeps its own aggregation per series. Same exporter (JSON over HTTP) on both OTLP sides.\n`,
);
process.exit(0);
