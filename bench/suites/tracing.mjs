#!/usr/bin/env node
// Tracing and request-logging overhead: Vigil's tracing (sampling 0, 0.1, 1.0), Vigil's request
// logging alone, the full stack (metrics + tracing 0.1 + request logs to a file), next to
// OpenTelemetry's auto-instrumentations register, the lean NodeSDK set (same sampling, 0.1) and
// pino-http, on Express and Fastify. Same method as http-overhead (and as
// shared/research/perf-tracing.md): every server in its own process pinned to CPU 0, autocannon in
// a separate process on CPU 1, server CPU µs per request as medians over interleaved rounds, ratios
// to the bare server of the same framework. Traced servers export to one OTLP/HTTP sink process
// (CPU 1). Then start-up time: spawn to the first 200, for bare, Vigil's full stack and the auto
// register. Writes bench/results/tracing.md.
//
// Env: BENCH_RESULT (the results file name, tracing; e.g. load-shedding-cost with BENCH_VARIANTS=shed),
//      BENCH_DURATION (s, 10), BENCH_ROUNDS (3), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (50),
//      BENCH_VARIANTS (comma-separated ids or substrings; bare servers always included; the
//      Express 4, Koa, node:http and Nest rows only when named, e.g. BENCH_VARIANTS=express4-,koa-,http-,nest-),
//      BENCH_STARTUP_REPS (5; 0 skips the start-up part),
//      BENCH_PAIRS (0; N adds the paired measurement: N alternating bare/variant runs per variant),
//      BENCH_PAIR_DURATION (s, 3),
//      BENCH_PAIR_PROCESSES (1; N spreads each variant's pairs over N sets of bare and variant
//      processes, the first the servers already running, the others fresh: a process keeps whatever
//      layout its heap, code and V8's caches took at start for its whole life, and two processes of
//      the same server differ by a few per cent, so a ratio from one pair of processes carries that
//      process's luck; N > 1 averages it out),
//      BENCH_PAIR_MODE (alternate: bare then variant, or the reverse, one after the other;
//      concurrent: bare and variant loaded at the same time, sharing the server CPU, so a slow
//      phase of the machine hits both alike — the steadier of the two on a noisy VM),
//      BENCH_SINK_CPU (load: the OTLP sink shares the load generator's CPU, as in
//      shared/research/perf-tracing.md; server: it shares the servers' CPU, where it takes nothing
//      from the load generator and its own CPU is still not counted against the server),
//      BENCH_FREEZE_IDLE (1: servers not under load are stopped with SIGSTOP meanwhile; 0: left
//      running, as before 2026-11-26).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  allowedCpus,
  BENCH_DIR,
  clockTicks,
  envNumber,
  fmt,
  fmtRatio,
  machineMarkdown,
  mdTable,
  median,
  ratio,
  writeResult,
} from '../lib/common.mjs';

const DURATION = envNumber('BENCH_DURATION', 10);
const ROUNDS = envNumber('BENCH_ROUNDS', 3, { integer: true });
const WARMUP = envNumber('BENCH_WARMUP', 3);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, { integer: true });
const STARTUP_REPS =
  process.env.BENCH_STARTUP_REPS === '0' ? 0 : envNumber('BENCH_STARTUP_REPS', 5, { integer: true });
const PAIRS = process.env.BENCH_PAIRS ? envNumber('BENCH_PAIRS', 0, { integer: true }) : 0;
const PAIR_DURATION = envNumber('BENCH_PAIR_DURATION', 3);
const PAIR_PROCESSES = envNumber('BENCH_PAIR_PROCESSES', 1, { integer: true });
const PAIR_MODE = process.env.BENCH_PAIR_MODE ?? 'alternate';
if (PAIR_MODE !== 'alternate' && PAIR_MODE !== 'concurrent') {
  console.error(`BENCH_PAIR_MODE: "alternate" or "concurrent", not ${JSON.stringify(PAIR_MODE)}`);
  process.exit(2);
}
const SERVER_CPU = '0';
const LOAD_CPU = '1';
const SINK_AT = process.env.BENCH_SINK_CPU ?? 'load';
if (SINK_AT !== 'load' && SINK_AT !== 'server') {
  console.error(`BENCH_SINK_CPU: "load" or "server", not ${JSON.stringify(SINK_AT)}`);
  process.exit(2);
}
const SINK_CPU = SINK_AT === 'server' ? SERVER_CPU : LOAD_CPU;
const SERVER_JS = join(BENCH_DIR, 'suites', '_tracing-server.mjs');
const SINK_JS = join(BENCH_DIR, 'suites', '_otlp-sink.mjs');
const LEAN_CJS = join(BENCH_DIR, 'suites', '_otel-lean.cjs');
const LOAD_JS = join(BENCH_DIR, 'lib', 'load.mjs');
const LOG_DIR = mkdtempSync(join(tmpdir(), 'vigil-bench-logs-'));

const OTEL_ENV = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_LOG_LEVEL: 'warn' };
const auto = (r) => ({
  args: ['--require', '@opentelemetry/auto-instrumentations-node/register'],
  env: { ...OTEL_ENV, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(r) },
});
const lean = (fw) => ({
  args: ['--require', LEAN_CJS],
  env: { ...OTEL_ENV, OTEL_TRACES_SAMPLER_ARG: '0.1', LEAN_FW: fw },
});

/** Targets from the issue (CPU/req vs bare). */
const VARIANTS = [];
for (const fw of ['express', 'fastify']) {
  const v = (kind, label, extra = {}) =>
    VARIANTS.push({ id: `${fw}-${kind}`, framework: fw, kind, label, args: [], env: {}, ...extra });
  v('bare', `${fw} bare`, { bare: true });
  // A/A control: the same bare server again, measured like any variant. Its ratio is the method's
  // own error on this machine (ideally 1.00): read every other ratio against it.
  v('bare-control', `${fw} bare again (control: the method's own error, ideally 1.00)`);
  v('vigil-metrics', 'Vigil metrics only (reference)', { vigil: true });
  v('vigil-trace-0', 'Vigil metrics + tracing, sampling 0', {
    vigil: true,
    target: fw === 'express' ? 1.1 : undefined,
  });
  v('vigil-trace-0.1', 'Vigil metrics + tracing, sampling 0.1', {
    vigil: true,
    target: fw === 'express' ? 1.25 : undefined,
  });
  v('vigil-trace-1', 'Vigil metrics + tracing, sampling 1.0', { vigil: true });
  v('vigil-log', 'Vigil request log → file (no tracing)', {
    vigil: true,
    target: fw === 'express' ? 1.15 : undefined,
  });
  v('vigil-full', 'Vigil full stack: metrics + tracing 0.1 + request log → file', {
    vigil: true,
    target: fw === 'express' ? 1.5 : 1.8,
  });
  v('als', 'AsyncLocalStorage.run per request, nothing else (the floor of context propagation)');
  v('otel-auto-0.1', 'OTel auto-instrumentations register 0.81.2, sampling 0.1', auto(0.1));
  v('otel-auto-0', 'OTel auto-instrumentations register 0.81.2, sampling 0', auto(0));
  v(
    'otel-lean-0.1',
    `OTel lean NodeSDK (http${fw === 'express' ? ' + express' : ''}), sampling 0.1`,
    lean(fw),
  );
  // Load shedding alone, its limit pinned above any load so nothing is shed: what admission, the
  // end-of-turn release and the control loop cost per request (issue 23: <= 1.03x).
  v('vigil-shed', 'Vigil load shedding alone (limit never reached: nothing shed)', {
    vigil: true,
    target: 1.03,
  });
  // The same with Vigil's metrics, paired against metrics alone: what the limiter adds to a server
  // that already has Vigil's request observer (issue 23's "vs the same server without the limiter").
  v('vigil-metrics-shed', 'Vigil metrics + load shedding (nothing shed), against metrics alone', {
    vigil: true,
    base: 'vigil-metrics',
    target: 1.03,
  });
  // Fastify: the same with the limiter's own `onRequest` hook (an `exclude` of its own stops
  // vigilMetrics from taking its hook over): what sharing one hook saves.
  if (fw === 'fastify') {
    v(
      'vigil-metrics-shed-2hooks',
      'Vigil metrics + load shedding in two hooks (nothing shed), against metrics alone',
      {
        vigil: true,
        base: 'vigil-metrics',
      },
    );
  }
  if (fw === 'express') {
    v('pino-http', 'pino-http 11.0.0 → file (defaults)');
    v('otel-lean-pino-http', "OTel lean 0.1 + pino-http → file (the issue's 3.0x)", lean(fw));
  } else v('pino', "Fastify's built-in pino → file, one onResponse line");
}

// Express 4, Koa 3, plain node:http and NestJS 12 on Express (issue 21): the rows that compare
// with Express 5's. With these the request line comes from the metrics observer (`logger` option),
// so there is no log-only row; `vigil-full` is metrics + tracing at 0.1 + the line, as on Express 5.
for (const fw of ['express4', 'koa', 'http', 'nest']) {
  const v = (kind, label, extra = {}) =>
    VARIANTS.push({
      id: `${fw}-${kind}`,
      framework: fw,
      kind,
      label,
      args: [],
      env: {},
      optIn: true,
      ...extra,
    });
  v('bare', `${fw} bare`, { bare: true });
  v('vigil-metrics', 'Vigil metrics only (reference)', { vigil: true });
  v('vigil-trace-0', 'Vigil metrics + tracing, sampling 0', { vigil: true, target: 1.1 });
  v('vigil-trace-0.1', 'Vigil metrics + tracing, sampling 0.1', { vigil: true, target: 1.25 });
  v('vigil-full', 'Vigil full stack: metrics + tracing 0.1 + request log → file', {
    vigil: true,
    target: 1.5,
  });
  v('als', 'AsyncLocalStorage.run per request, nothing else (the floor of context propagation)');
}
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', () => {
  killAll();
  rmSync(LOG_DIR, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function pinned(cpu, args, env) {
  return track(
    spawn('taskset', ['-c', cpu, process.execPath, ...args], {
      cwd: BENCH_DIR,
      stdio: ['pipe', 'pipe', 'inherit'],
      env,
      // Own process group: a group with a stopped (frozen) member is sent SIGHUP when it becomes
      // orphaned, which killed every server when the shell that started the suite exited.
      detached: true,
    }),
  );
}

function firstJsonLine(child, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => done(new Error(`${what}: no output after ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code, sig) => done(new Error(`${what}: exited with ${code ?? sig} before reporting`));
    const onLine = (line) => {
      try {
        done(undefined, JSON.parse(line));
      } catch {
        console.error(`${what}: ${line}`);
      }
    };
    function done(err, v) {
      clearTimeout(timer);
      rl.off('line', onLine);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(v);
    }
    rl.on('line', onLine);
    child.once('exit', onExit);
  });
}

function serverEnv(v, sinkUrl) {
  return {
    ...process.env,
    NODE_ENV: 'production',
    SINK_URL: sinkUrl,
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    LOG_FILE: join(LOG_DIR, `${v.id}.log`),
    ...v.env,
  };
}

async function startServer(v, sinkUrl) {
  const child = pinned(SERVER_CPU, [...v.args, SERVER_JS, v.id], serverEnv(v, sinkUrl));
  const { port, pid } = await firstJsonLine(child, `server ${v.id}`, 30_000);
  return { variant: v, child, port, pid, cpus: allowedCpus(pid), runs: [] };
}

/**
 * Servers not under load are stopped (SIGSTOP) and continued (SIGCONT) when their turn comes: an
 * idle Node.js server still wakes up on its timers (prom-client's event-loop monitor every 10 ms,
 * batch timers), and two dozen of them on the server CPU took 3–6 % of it during every measurement,
 * polluting the measured processes' caches (measured: ten idle processes with a 10 ms timer on the
 * server CPU moved Fastify's traced ratios by +0.03 to +0.14). `BENCH_FREEZE_IDLE=0` turns it off.
 */
const FREEZE_IDLE = process.env.BENCH_FREEZE_IDLE !== '0';
const frozen = new Set();
let allServers = [];
function signal(s, sig) {
  try {
    process.kill(s.pid, sig);
  } catch (err) {
    // A server that has exited is reported by its own exit handling, not here.
    if (err.code !== 'ESRCH') throw err;
  }
}
function onlyRunning(...active) {
  if (!FREEZE_IDLE) return;
  for (const s of allServers) {
    const run = active.includes(s);
    if (run && frozen.has(s)) {
      signal(s, 'SIGCONT');
      frozen.delete(s);
    } else if (!run && !frozen.has(s) && s.child.exitCode === null) {
      signal(s, 'SIGSTOP');
      frozen.add(s);
    }
  }
}

async function runLoad(server, duration) {
  const arg = JSON.stringify({
    port: server.port,
    pid: server.pid,
    connections: CONNECTIONS,
    duration,
    serverCpu: 0,
  });
  const child = pinned(LOAD_CPU, [LOAD_JS, arg], process.env);
  const result = await firstJsonLine(child, `load on ${server.variant.id}`, (duration + 30) * 1000);
  child.stdin.end();
  // The limiter's variants measure its cost when nothing is shed: a 503 makes the figure meaningless.
  if (server.variant.kind.includes('shed') && result.non2xx > 0) {
    throw new Error(`${server.variant.id} answered ${result.non2xx} requests with non-2xx: it shed load`);
  }
  served.set(server.variant.id, (served.get(server.variant.id) ?? 0) + result.requests);
  return result;
}

/** Requests each variant answered over the whole run (warm-ups and pairs too): its log file's. */
const served = new Map();

async function stopServers(...list) {
  for (const s of list) {
    const exited = once(s.child, 'exit');
    s.child.kill('SIGTERM');
    await exited;
  }
}

async function get(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** The server a variant is compared with: its `base` variant of the same framework, else bare. */
function baseOf(servers, s) {
  const { framework, base } = s.variant;
  return servers.find(
    (b) => b.variant.framework === framework && (base ? b.variant.kind === base : b.variant.bare),
  );
}

function selected() {
  const raw = process.env.BENCH_VARIANTS;
  if (!raw) return VARIANTS.filter((v) => !v.optIn);
  const wanted = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = VARIANTS.filter((v) => wanted.some((w) => v.id === w || v.id.includes(w)));
  const fws = new Set(picked.map((v) => v.framework));
  const bases = new Set(picked.filter((v) => v.base).map((v) => `${v.framework}-${v.base}`));
  return VARIANTS.filter((v) => picked.includes(v) || bases.has(v.id) || (v.bare && fws.has(v.framework)));
}

/** ms from spawn to the first 200 on /users/1 (polled every 5 ms), one fresh process per sample. */
async function startupMs(v, sinkUrl) {
  const t0 = process.hrtime.bigint();
  const child = pinned(SERVER_CPU, [...v.args, SERVER_JS, v.id], serverEnv(v, sinkUrl));
  const { port } = await firstJsonLine(child, `startup ${v.id}`, 30_000);
  for (;;) {
    try {
      if ((await get(port, '/users/1')).status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
  return ms;
}

async function main() {
  const hz = clockTicks();
  const startedAt = new Date().toISOString();
  const sinkChild = pinned(SINK_CPU, [SINK_JS], process.env);
  const { port: sinkPort } = await firstJsonLine(sinkChild, 'sink', 10_000);
  const sinkUrl = `http://127.0.0.1:${sinkPort}`;
  const variants = selected();
  console.log(
    `tracing: ${variants.length} servers, ${ROUNDS} round(s) × ${DURATION} s, warm-up ${WARMUP} s, -c ${CONNECTIONS}`,
  );
  const servers = [];
  for (const v of variants) servers.push(await startServer(v, sinkUrl));
  allServers = servers;
  try {
    for (const s of servers) {
      const u = await get(s.port, '/users/7');
      if (u.status !== 200 || JSON.parse(u.body).id !== 7)
        throw new Error(`server ${s.variant.id}: ${u.status} ${u.body}`);
    }
    for (const s of servers) {
      onlyRunning(s);
      const r = await runLoad(s, WARMUP);
      console.log(`warm-up ${s.variant.id.padEnd(28)} ${fmt(r.requests / r.wallS, 0)} req/s`);
    }
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`round ${round + 1}/${ROUNDS}`);
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const s of order) {
        onlyRunning(s);
        const sink0 = JSON.parse((await get(sinkPort, '/stats')).body);
        const r = await runLoad(s, DURATION);
        const sink1 = JSON.parse((await get(sinkPort, '/stats')).body);
        r.otlpBytes = sink1.bytes - sink0.bytes;
        s.runs.push(r);
        const us = (r.cpuTicks / hz / r.requests) * 1e6;
        console.log(
          `  ${s.variant.id.padEnd(28)} ${fmt(r.requests / r.wallS, 0).padStart(8)} req/s ${fmt(us, 1).padStart(7)} CPU µs/req`,
        );
      }
    }
    // Paired: each variant right after (or before) its bare server, alternating, short runs. The
    // machine's speed drifts over minutes on a shared VM; a ratio within a pair sees (almost) the
    // same machine, and the median of many pairs is far steadier than a ratio of two medians.
    if (PAIRS > 0) {
      console.log(`paired (${PAIR_MODE}): ${PAIRS} pair(s) × ${PAIR_DURATION} s per variant`);
      const us = (r) => (r.cpuTicks / hz / r.requests) * 1e6;
      for (const s of servers) {
        if (s.variant.bare) continue;
        const bare0 = baseOf(servers, s);
        s.pairs = [];
        s.pairSets = [];
        for (let set = 0; set < PAIR_PROCESSES; set++) {
          // The first set pairs the servers measured above; each further set a fresh bare process
          // and a fresh variant process, loaded first as long as the first ones were before their
          // pairs (warm-up and rounds). With only the warm-up, the fresh sets came out 0.03–0.3
          // higher than the first on every Vigil row and the bare-vs-bare control (V8 still
          // optimising, the heap still growing), a bias rather than luck.
          let bare = bare0;
          let v = s;
          if (set > 0) {
            onlyRunning();
            [bare, v] = [await startServer(bare0.variant, sinkUrl), await startServer(s.variant, sinkUrl)];
            const history = 2 * (WARMUP + ROUNDS * DURATION); // concurrent: half the CPU each
            await Promise.all([runLoad(bare, history), runLoad(v, history)]);
          }
          onlyRunning(bare, v);
          // One pair first, not counted: a variant that sat idle while others were measured runs its
          // first seconds slower (seen: the first pair 1.2–1.9x the others, for every variant; with a
          // 1 s warm-up pair, still the first one or two counted pairs).
          await Promise.all([runLoad(bare, PAIR_DURATION), runLoad(v, PAIR_DURATION)]);
          const n = Math.floor((PAIRS + PAIR_PROCESSES - 1 - set) / PAIR_PROCESSES);
          const these = [];
          for (let i = 0; i < n; i++) {
            if (PAIR_MODE === 'concurrent') {
              const [rb, rv] = await Promise.all([runLoad(bare, PAIR_DURATION), runLoad(v, PAIR_DURATION)]);
              these.push(us(rv) / us(rb));
              continue;
            }
            const first = i % 2 === 0 ? bare : v;
            const a = await runLoad(first, PAIR_DURATION);
            const b = await runLoad(first === bare ? v : bare, PAIR_DURATION);
            const [rb, rv] = first === bare ? [a, b] : [b, a];
            these.push(us(rv) / us(rb));
          }
          s.pairs.push(...these);
          s.pairSets.push(median(these));
          if (set > 0) await stopServers(bare, v);
        }
        console.log(
          `  ${s.variant.id.padEnd(28)} paired ${fmtRatio(median(s.pairs))} (${s.pairs.map((x) => x.toFixed(2)).join(' ')})${PAIR_PROCESSES > 1 ? `; per process set ${s.pairSets.map((x) => x.toFixed(2)).join(' ')}` : ''}`,
        );
      }
    }
  } finally {
    onlyRunning(...servers);
    for (const s of servers) {
      s.logBytes = (() => {
        try {
          return statSync(join(LOG_DIR, `${s.variant.id}.log`)).size;
        } catch {
          return 0;
        }
      })();
      s.child.kill('SIGTERM');
    }
  }

  // Start-up time.
  const startup = [];
  if (STARTUP_REPS > 0) {
    const ids = new Set(variants.map((v) => v.id));
    const pick = VARIANTS.filter(
      (v) =>
        ids.has(v.id) &&
        (v.bare || v.kind === 'vigil-full' || v.kind === 'otel-auto-0.1' || v.kind === 'otel-lean-0.1'),
    );
    const samples = new Map(pick.map((v) => [v.id, []]));
    for (let i = 0; i < STARTUP_REPS; i++)
      for (const v of pick) samples.get(v.id).push(await startupMs(v, sinkUrl));
    for (const v of pick) startup.push({ v, ms: median(samples.get(v.id)), all: samples.get(v.id) });
  }
  sinkChild.stdin.end();

  // Summary.
  for (const s of servers) {
    s.cpu = s.runs.map((r) => (r.cpuTicks / hz / r.requests) * 1e6);
    s.rps = s.runs.map((r) => r.requests / r.wallS);
    s.med = { cpu: median(s.cpu), rps: median(s.rps), p99: median(s.runs.map((r) => r.p99)) };
    s.failures = s.runs.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
    s.otlpPerReq = median(s.runs.map((r) => r.otlpBytes / r.requests));
    s.foreign = median(s.runs.map((r) => Math.max(0, r.foreignTicks) / hz / r.wallS));
  }
  const rows = [];
  for (const s of servers) {
    const bare = servers.find((b) => b.variant.bare && b.variant.framework === s.variant.framework);
    const base = baseOf(servers, s);
    const metricsOnly = servers.find(
      (b) => b.variant.kind === 'vigil-metrics' && b.variant.framework === s.variant.framework,
    );
    const r = ratio(s.med.cpu, bare.med.cpu);
    const t = s.variant.target;
    const rt = ratio(s.med.cpu, base.med.cpu);
    rows.push([
      s.variant.bare || s.variant.vigil ? `**${s.variant.id}**` : s.variant.id,
      s.variant.label,
      fmt(s.med.cpu, 1),
      s.variant.bare ? '1.00x' : `**${fmtRatio(r)}**`,
      s.variant.bare ? '' : `${s.med.cpu - bare.med.cpu >= 0 ? '+' : ''}${fmt(s.med.cpu - bare.med.cpu, 1)}`,
      s.variant.kind.startsWith('vigil-trace') || s.variant.kind === 'vigil-full'
        ? fmtRatio(ratio(s.med.cpu, metricsOnly?.med.cpu))
        : '',
      t === undefined
        ? ''
        : `${s.variant.base ? `vs ${base.variant.id} ${fmtRatio(rt)}, ` : ''}${rt <= t ? `≤ ${t.toFixed(2)}x: **met**` : `≤ ${t.toFixed(2)}x: **missed**`}`,
      fmt(s.med.rps, 0),
      fmt(s.med.p99, 0),
      fmt(s.otlpPerReq, 0),
      s.logBytes ? fmt(s.logBytes / (served.get(s.variant.id) ?? 1), 0) : '',
      `${Math.round(s.foreign * 100)} %`,
      s.cpu.map((x) => fmt(x, 1)).join(' / '),
    ]);
  }
  const notes = [];
  const failed = servers.filter((s) => s.failures > 0);
  if (failed.length)
    notes.push(
      `- Non-2xx/errors/timeouts: ${failed.map((s) => `${s.variant.id} ${s.failures}`).join(', ')}.`,
    );
  const busy = servers.filter((s) => s.foreign > 0.1);
  if (busy.length)
    notes.push(
      `- Something else used CPU ${SERVER_CPU} during: ${busy.map((s) => s.variant.id).join(', ')} (noisy rows).`,
    );
  notes.push(
    `- Pinning: servers on CPU ${[...new Set(servers.map((s) => s.cpus))].join(', ')}, load on CPU ${LOAD_CPU}, OTLP sink on CPU ${SINK_CPU} (\`BENCH_SINK_CPU=${SINK_AT}\`)${FREEZE_IDLE ? '; servers not under load stopped (SIGSTOP) while others are measured' : '; idle servers left running (`BENCH_FREEZE_IDLE=0`)'}.`,
  );
  const short = DURATION < 10 || ROUNDS < 3;
  const paired = servers.filter((s) => s.pairs?.length);
  const pairedTable = paired.length
    ? `## Paired ratios (${PAIRS} ${PAIR_MODE === 'concurrent' ? 'concurrent' : 'alternating'} bare/variant pairs × ${PAIR_DURATION} s each${PAIR_PROCESSES > 1 ? `, over ${PAIR_PROCESSES} sets of processes` : ''})\n\n${PAIR_MODE === 'concurrent' ? 'Each pair loads the bare server and the variant at the same time (both on the server CPU, two load processes on the other), so whatever the machine does during those seconds hits both alike; each process gets about half the CPU, and its CPU per request is measured over the same window.' : "Each pair's ratio compares the variant with its bare server measured seconds apart, so a slow phase of the machine hits both."} The steadier figure on a shared VM. Median and range of the pair ratios${PAIR_PROCESSES > 1 ? `; the pairs of each variant are spread over ${PAIR_PROCESSES} sets of processes (the first set the servers above, then fresh bare and variant processes each time), since a process keeps its start-up luck (heap and code layout, V8's caches) for life: **per process set** gives each set's median` : ''}.${paired.some((s) => s.variant.kind === 'bare-control') ? " **bare-control** is a second bare server measured like a variant: its distance from 1.00x is the method's own error in this run." : ''}\n\n${mdTable(
        [
          'variant',
          'CPU/req vs bare (median of pairs)',
          'range',
          ...(PAIR_PROCESSES > 1 ? ['per process set'] : []),
          'target',
        ],
        paired.map((s) => {
          const m = median(s.pairs);
          const t = s.variant.target;
          return [
            s.variant.base
              ? `${s.variant.id} (paired with ${s.variant.framework}-${s.variant.base}, not bare)`
              : s.variant.id,
            `**${fmtRatio(m)}**`,
            `${fmtRatio(Math.min(...s.pairs))} – ${fmtRatio(Math.max(...s.pairs))}`,
            ...(PAIR_PROCESSES > 1 ? [s.pairSets.map((x) => fmtRatio(x)).join(' / ')] : []),
            t === undefined ? '' : m <= t ? `≤ ${t.toFixed(2)}x: **met**` : `≤ ${t.toFixed(2)}x: **missed**`,
          ];
        }),
      )}\n`
    : '';
  const startupTable = startup.length
    ? `## Start-up (spawn → first 200 on GET /users/1, median of ${STARTUP_REPS})\n\n${mdTable(
        ['variant', 'median ms', 'vs bare', 'samples ms'],
        startup.map(({ v, ms, all }) => {
          const bare = startup.find((x) => x.v.bare && x.v.framework === v.framework);
          return [v.id, fmt(ms, 0), fmtRatio(ratio(ms, bare?.ms)), all.map((x) => fmt(x, 0)).join(' / ')];
        }),
      )}\n\nTarget: start-up with tracing within 1.5x of bare.\n`
    : '';

  writeResult(
    process.env.BENCH_RESULT ?? 'tracing',
    `# Tracing and request-logging overhead

${machineMarkdown()}
- Run: ${ROUNDS} round(s) × ${DURATION} s per server, ${WARMUP} s warm-up, ${CONNECTIONS} connections; started ${startedAt}${short ? ' (**short run: noisy, indicative only**)' : ''}

## Method

Same as \`http-overhead\` and shared/research/perf-tracing.md: one Node.js process per variant pinned to CPU ${SERVER_CPU}, all started at once; autocannon (\`-c ${CONNECTIONS}\`, \`GET /users/<random int>\`) in its own process on CPU ${LOAD_CPU}; warm-up, then interleaved rounds with the order rotated. **CPU µs/req** = server utime+stime over the load window ÷ requests (median over rounds); **vs bare** against the bare server of the same framework. Traced servers export OTLP/HTTP to one sink process on CPU ${SINK_CPU} (it discards the body). OpenTelemetry variants run with \`OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none\`. Request logs go to files (each logger's file destination: Vigil's buffered writes, pino's defaults for pino-http and Fastify).

- Vigil's tracing is created by the metrics middleware (it is the same per-request pass), so every Vigil tracing row includes Vigil's metrics; **vs metrics** isolates what tracing adds on top.
- Vigil exports \`http/protobuf\` (its default since 2026-11-27; runs before exported \`http/json\`, which \`otlp-export.md\` measured at twice the CPU per exported span); the lean set exports JSON (exporter-trace-otlp-http); the auto register exports protobuf.

## Results

${mdTable(
  [
    'variant',
    'what',
    'CPU µs/req',
    'CPU/req vs bare',
    'Δ µs/req',
    'vs metrics',
    'target',
    'req/s',
    'p99 ms',
    'OTLP B/req',
    'log B/req',
    `other use of CPU ${SERVER_CPU}`,
    'per-round CPU µs/req',
  ],
  rows,
)}

${notes.join('\n')}

${pairedTable}
${startupTable}
## Reading it

Fastify's bare CPU/req is small (13–40 µs on the machines seen here, against 80–220 µs for Express), so the same absolute cost is a much larger ratio there than on Express: compare **Δ µs/req**. Expect ±5 % (Express) and ±10–20 % (Fastify) between runs on a quiet 2-vCPU VM, more on a shared machine (see the "other use" column); on a noisy one, quote the paired table.
`,
  );
}

main().catch((err) => {
  console.error('tracing bench failed:', err);
  killAll();
  process.exit(1);
});
