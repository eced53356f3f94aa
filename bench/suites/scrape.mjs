#!/usr/bin/env node
// /metrics serialisation time: Vigil's `scrape()` next to prom-client's `registry.metrics()`.
//
// For N distinct HTTP label sets (N = 1,000, Vigil's default cap, then 5,000 and 10,000):
//  - Vigil: `createMetrics({ runtimeMetrics: false, maxSeries: N })`, N requests recorded through
//    `m.http.start()` / `m.http.end('GET', '/r' + i, 200, t)`, then `await m.scrape()`;
//  - prom-client alone: a Histogram with the same 11 buckets plus a Counter (labels method, route,
//    status_code) in their own Registry, the same N label sets, then `await registry.metrics()`.
// Both are timed in the same process, alternating which goes first, after warm-up calls. The first
// (cold) call is reported separately: Vigil builds its per-series label strings then.
// Writes bench/results/scrape.md.
//
// Env: BENCH_SCRAPE_RUNS (timed runs per size, default 20), BENCH_SCRAPE_WARMUP (3),
//      BENCH_SCRAPE_SIZES (comma-separated, default 1000,5000,10000).
import { performance } from 'node:perf_hooks';
import { HTTP_DURATION_BUCKETS } from '@vigil/catalog';
import { createMetrics } from '@vigil/metrics';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  envNumber,
  fmt,
  fmtRatio,
  machineMarkdown,
  mdTable,
  median,
  percentile,
  ratio,
  writeResult,
} from '../lib/common.mjs';

const RUNS = envNumber('BENCH_SCRAPE_RUNS', 20, { integer: true });
const WARMUP = envNumber('BENCH_SCRAPE_WARMUP', 3, { integer: true });
const SIZES = (process.env.BENCH_SCRAPE_SIZES ?? '1000,5000,10000').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`Invalid BENCH_SCRAPE_SIZES entry "${s}"`);
  return n;
});

/** Request durations spread over the buckets, the same sequence for both sides. */
function duration(i) {
  return ((i * 7919) % 1000) / 2000; // 0 .. 0.4995 s
}

function vigilSide(n) {
  const m = createMetrics({ runtimeMetrics: false, maxSeries: n });
  for (let i = 0; i < n; i++) {
    // A fake start time so the recorded duration follows duration(i), as on the prom-client side.
    const t = m.http.start() - duration(i) * 1000;
    m.http.end('GET', `/r${i}`, 200, t);
  }
  if (m.http.seriesCount !== n) throw new Error(`Vigil holds ${m.http.seriesCount} series, expected ${n}`);
  return {
    name: 'Vigil',
    scrape: async () => String((await m.scrape()).body),
    close: () => m.close(),
  };
}

function promSide(n) {
  const registry = new Registry();
  const labelNames = ['method', 'route', 'status_code'];
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to serve an HTTP request.',
    labelNames,
    buckets: [...HTTP_DURATION_BUCKETS],
    registers: [registry],
  });
  const counter = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served.',
    labelNames,
    registers: [registry],
  });
  for (let i = 0; i < n; i++) {
    const labels = { method: 'GET', route: `/r${i}`, status_code: '200' };
    histogram.observe(labels, duration(i));
    counter.inc(labels);
  }
  return { name: 'prom-client', scrape: () => registry.metrics(), close: async () => registry.clear() };
}

async function timeOnce(side) {
  const t0 = performance.now();
  const text = await side.scrape();
  return { ms: performance.now() - t0, text };
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

async function measure(n) {
  const sides = [vigilSide(n), promSide(n)];
  const stats = sides.map((s) => ({ side: s, times: [], cold: 0, bytes: 0, lines: 0 }));
  for (const st of stats) {
    const { ms, text } = await timeOnce(st.side);
    st.cold = ms;
    st.bytes = Buffer.byteLength(text);
    st.lines = countLines(text);
    const samples = text
      .split('\n')
      .filter((l) => l.startsWith('http_request_duration_seconds_count')).length;
    if (samples !== n)
      throw new Error(`${st.side.name}: ${samples} histogram series in the output, expected ${n}`);
  }
  for (let i = 0; i < WARMUP; i++) for (const st of stats) await timeOnce(st.side);
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? stats : [...stats].reverse();
    for (const st of order) st.times.push((await timeOnce(st.side)).ms);
  }
  for (const st of stats) await st.side.close();
  return stats.map((st) => ({
    name: st.side.name,
    n,
    cold: st.cold,
    median: median(st.times),
    p95: percentile(st.times, 95),
    min: Math.min(...st.times),
    bytes: st.bytes,
    lines: st.lines,
  }));
}

async function main() {
  console.log(`scrape: sizes ${SIZES.join(', ')}; ${WARMUP} warm-up + ${RUNS} timed runs each`);
  const results = [];
  for (const n of SIZES) {
    const [v, p] = await measure(n);
    results.push({ n, v, p });
    console.log(
      `  ${String(n).padStart(6)} series: Vigil ${fmt(v.median, 2)} ms, prom-client ${fmt(p.median, 2)} ms (median)`,
    );
  }

  const headers = [
    'series',
    'library',
    'median ms',
    'p95 ms',
    'min ms',
    'first (cold) ms',
    'bytes',
    'lines',
    'median Vigil / prom-client',
  ];
  const rows = [];
  for (const { n, v, p } of results) {
    for (const r of [v, p]) {
      rows.push([
        fmt(n, 0),
        r === v ? '**Vigil**' : 'prom-client',
        fmt(r.median, 2),
        fmt(r.p95, 2),
        fmt(r.min, 2),
        fmt(r.cold, 2),
        `${fmt(r.bytes, 0)} (${fmt(r.bytes / 1024 / 1024, 2)} MB)`,
        fmt(r.lines, 0),
        r === v ? `**${fmtRatio(ratio(v.median, p.median))}**` : '',
      ]);
    }
  }
  const md = `# /metrics serialisation time

${machineMarkdown()}
- Runs: ${WARMUP} warm-up + ${RUNS} timed scrapes per library and size${RUNS < 20 ? ' (**short run**)' : ''}

## Method

One process. For N distinct label sets (\`route\` = \`/r0\` … \`/r<N-1>\`, \`method\` = GET, \`status_code\` = 200):

- **Vigil**: \`createMetrics({ runtimeMetrics: false, maxSeries: N })\`, then per label set \`const t = m.http.start(); m.http.end('GET', '/r' + i, 200, t)\` (with \`t\` moved back so both libraries record the same durations, spread over 0–0.5 s); timed: \`await m.scrape()\` (Prometheus text, no gzip). Vigil's registry also holds its other families (an empty DB histogram, the in-flight gauge, the overflow counter), so its output has a few more header lines.
- **prom-client** 15.1.3 alone: a Histogram with the same 11 buckets plus a Counter, labels method / route / status_code, in a private Registry; timed: \`await registry.metrics()\`.

Both sides write one histogram series (11 buckets + \`+Inf\` + \`_sum\` + \`_count\`) and one counter sample per label set: 15 lines per label set. Timed with \`performance.now()\` around the awaited call; after the first (cold) call and ${WARMUP} warm-up calls, the two libraries alternate which goes first. The first call is shown separately because Vigil builds and caches each series' label strings then. p95 is nearest-rank over the ${RUNS} runs. Serialisation is synchronous in both: the time is event-loop blocking time for a real scrape.

## Results

${mdTable(headers, rows)}

The default \`maxSeries\` of 1,000 is the first row pair: label sets beyond the cap are folded into overflow series, so a default Vigil scrape stays at about the 1,000-series cost whatever the traffic.
`;
  writeResult('scrape', md);
}

main().catch((err) => {
  console.error('scrape failed:', err);
  process.exit(1);
});
