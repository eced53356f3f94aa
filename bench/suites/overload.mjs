#!/usr/bin/env node
// Overload: what a service does when offered more than it can serve. A Fastify 5 handler with a
// known service time (GET /work: OVERLOAD_SERVICE_MS of busy CPU, 5 by default) is driven at 1x,
// 2x and 4x its capacity by an open-loop generator in a separate process, with a liveness prober
// beside it, for: no protection, @fastify/under-pressure with its README's thresholds, Vigil's
// static guards, and Vigil's adaptive limit (defaults).
//
// Method: the capacity is measured first (closed loop, 4 requests back to back, on the unprotected
// server), then the unloaded latency (open loop at a quarter of the capacity). Each (variant, load)
// then gets a fresh server process pinned to CPU 0, the generator pinned to CPU 1: a warm-up at the
// load (OVERLOAD_WARMUP s, not counted: the adaptive limit converges there), then OVERLOAD_DURATION
// s measured. Requests are sent on schedule whatever the server answers and given up after 1 s.
// Goodput is the 200s per second within that second; admitted p50/p99 are over those 200s;
// liveness is GET /livez every 100 ms on a new connection with a 1 s timeout.
// Goal (issue 23): at 2x and 4x, goodput >= 90 % of capacity, admitted p99 <= 2x the unloaded p99,
// liveness 100 %, while no protection collapses.
//
//   node bench/suites/overload.mjs
//   OVERLOAD_VARIANTS=none,vigil-adaptive OVERLOAD_LEVELS=2,4 OVERLOAD_DURATION=5 node bench/suites/overload.mjs
// Also: express-none, express-vigil-adaptive (Express 5; not in the default set).
import { spawn } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { envNumber, fmt, machineMarkdown, mdTable, percentile, writeResult } from '../lib/common.mjs';

const here = new URL('.', import.meta.url).pathname;
const DURATION = envNumber('OVERLOAD_DURATION', 8);
const WARMUP = envNumber('OVERLOAD_WARMUP', 3);
const SERVICE_MS = envNumber('OVERLOAD_SERVICE_MS', 5);
const LEVELS = (process.env.OVERLOAD_LEVELS ?? '1,2,4').split(',').map(Number);
const VARIANTS = (process.env.OVERLOAD_VARIANTS ?? 'none,under-pressure,vigil-static,vigil-adaptive').split(
  ',',
);
const LABELS = {
  none: 'no protection (Fastify 5)',
  'under-pressure':
    '@fastify/under-pressure 9.2.0 (README thresholds: delay 1000 ms, heap 100 MB, RSS 100 MB, ELU 0.98)',
  'vigil-static': 'Vigil static guards (delay 100 ms, ELU 0.9, heap 0.9)',
  'vigil-adaptive': 'Vigil adaptive limit (defaults)',
  'express-none': 'no protection (Express 5)',
  'express-vigil-adaptive': 'Vigil adaptive limit (defaults), Express 5',
};

const children = new Set();
const killAll = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(1);
  });
}

function pinned(cpu, args, env = {}) {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production', OVERLOAD_SERVICE_MS: String(SERVICE_MS), ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function firstJson(child, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(timer);
      rl.close();
      resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

async function withServer(variant, fn) {
  const child = pinned(0, [`${here}_overload-server.mjs`, variant]);
  const { port } = await firstJson(child, `server ${variant}`, 20_000);
  try {
    return await fn(port);
  } finally {
    child.stdin.end();
    child.kill('SIGKILL');
  }
}

async function load(port, cfg) {
  const child = pinned(1, [`${here}_overload-load.mjs`, JSON.stringify({ port, ...cfg })]);
  const total = (cfg.warmupMs ?? 0) + (cfg.durationMs ?? 0);
  return firstJson(child, 'load', total + 30_000);
}

const ms = (x) => fmt(x, 1);
const startedAt = new Date();
const loadBefore = os.loadavg()[0];

console.log(`overload: service time ${SERVICE_MS} ms, levels ${LEVELS.join(', ')}x, ${VARIANTS.join(', ')}`);
const baseVariant = VARIANTS.every((v) => v.startsWith('express-')) ? 'express-none' : 'none';
const capacity = await withServer(baseVariant, async (port) => {
  const r = await load(port, { closed: 4, warmupMs: 2000, durationMs: 5000 });
  return r.ok / r.seconds;
});
console.log(`capacity: ${capacity.toFixed(0)} req/s`);
const unloaded = await withServer(baseVariant, async (port) => {
  const r = await load(port, { rate: capacity / 4, warmupMs: 2000, durationMs: 6000 });
  return { p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) };
});
console.log(`unloaded: p50 ${unloaded.p50.toFixed(1)} ms, p99 ${unloaded.p99.toFixed(1)} ms`);

const rows = [];
const results = [];
for (const level of LEVELS) {
  for (const variant of VARIANTS) {
    const rate = capacity * level;
    const r = await withServer(variant, (port) =>
      load(port, { rate, warmupMs: WARMUP * 1000, durationMs: DURATION * 1000, timeoutMs: 1000 }),
    );
    const goodput = r.ok / r.seconds;
    const p50 = percentile(r.latencies, 50);
    const p99 = percentile(r.latencies, 99);
    const probes = r.probe.ok + r.probe.failed;
    const live = probes ? (100 * r.probe.ok) / probes : Number.NaN;
    const res = { variant, level, rate, goodput, p50, p99, live, ...r };
    results.push(res);
    rows.push([
      LABELS[variant] ?? variant,
      `${level}x`,
      fmt(rate, 0),
      fmt(goodput, 0),
      `${fmt((100 * goodput) / capacity, 0)} %`,
      ms(p50),
      ms(p99),
      Number.isNaN(p99) ? 'n/a' : `${(p99 / unloaded.p99).toFixed(1)}x`,
      fmt(r.shed / r.seconds, 0),
      fmt((r.timeout + r.error + r.other) / r.seconds, 0),
      `${fmt(live, 1)} %`,
    ]);
    console.log(
      `${variant} ${level}x: goodput ${goodput.toFixed(0)}/s, p99 ${p99?.toFixed(1)} ms, shed ${(r.shed / r.seconds).toFixed(0)}/s, failed ${((r.timeout + r.error + r.other) / r.seconds).toFixed(0)}/s, liveness ${live.toFixed(1)} %, generator lag max ${r.maxLagMs.toFixed(0)} ms`,
    );
  }
}

const goal = (r) => {
  if (r.level < 2) return null;
  const g = r.goodput >= 0.9 * capacity;
  const l = r.p99 <= 2 * unloaded.p99;
  const v = r.live >= 100;
  return `${r.variant} at ${r.level}x: goodput ${g ? 'met' : 'NOT met'}, p99 ${l ? 'met' : 'NOT met'}, liveness ${v ? 'met' : 'NOT met'}`;
};

const md = `# Overload: goodput, admitted latency and liveness at 1x, 2x and 4x capacity

${machineMarkdown()}
- Started: ${startedAt.toISOString()}
- Handler: GET /work, ${SERVICE_MS} ms of busy CPU, then 200 (Fastify 5.12.8 unless the row says Express 5.3.0); server pinned to CPU 0, open-loop generator and liveness prober in another process on CPU 1.
- Capacity (closed loop, 4 in flight, unprotected server): **${fmt(capacity, 0)} req/s**. Unloaded (open loop at a quarter of it): p50 ${ms(unloaded.p50)} ms, **p99 ${ms(unloaded.p99)} ms**.
- Per row: a fresh server, ${WARMUP} s at the load (not counted), then ${DURATION} s measured. Requests are sent on schedule and given up after 1 s; liveness: GET /livez every 100 ms on a new connection, 1 s timeout.
- Machine load (1-minute load average, other processes included): ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end, on ${os.availableParallelism?.() ?? os.cpus().length} CPUs. Well above 0 means other work shared the CPUs: read the rows as indicative.

${mdTable(
  [
    'protection',
    'load',
    'offered req/s',
    'goodput req/s',
    'goodput / capacity',
    'admitted p50 ms',
    'admitted p99 ms',
    'p99 / unloaded p99',
    '503 shed /s',
    'timed out or failed /s',
    'liveness ok',
  ],
  rows,
)}

Goal at 2x and 4x (goodput >= 90 % of capacity, admitted p99 <= 2x unloaded p99, liveness 100 %):

${results
  .map(goal)
  .filter(Boolean)
  .map((x) => `- ${x}`)
  .join('\n')}
`;
writeResult(process.env.OVERLOAD_RESULT ?? 'overload', md);
killAll();
