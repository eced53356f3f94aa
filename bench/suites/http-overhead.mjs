#!/usr/bin/env node
// HTTP instrumentation overhead: Vigil next to the bare frameworks and popular alternatives.
//
// Every server variant runs in its own process pinned to CPU 0 (`taskset -c 0`), all started at
// once on 127.0.0.1 ephemeral ports; the load (autocannon, -c 50, GET /users/<random int>) runs in a
// separate process pinned to CPU 1, one process per run. Each server gets a warm-up, then N
// interleaved rounds with the order rotated each round. Primary figure: the server's CPU time
// (utime+stime from /proc/<pid>/stat over the load window) per request served; beside it req/s
// and p99 latency. All as medians over rounds and as ratios to the bare server of the same
// framework. Writes bench/results/http-overhead.md.
//
// Env: BENCH_DURATION (s per round, default 10), BENCH_ROUNDS (3), BENCH_WARMUP (s, 3),
//      BENCH_CONNECTIONS (50), BENCH_VARIANTS (comma-separated ids or substrings; bare servers of
//      the selected frameworks are always included), BENCH_RESULT (the file under bench/results,
//      default http-overhead: a run of some variants writes its own, e.g. BENCH_RESULT=nest),
//      BENCH_PAIRS (0; N adds N concurrent bare/variant pairs per variant, the steadier figure on a
//      shared VM), BENCH_PAIR_DURATION (s, 3).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  allowedCpus,
  BENCH_DIR,
  clockTicks,
  envNumber,
  fmt,
  fmtRatio,
  machineInfo,
  machineMarkdown,
  mdTable,
  median,
  ratio,
  writeResult,
} from '../lib/common.mjs';
import { VARIANTS } from '../lib/variants.mjs';

const DURATION = envNumber('BENCH_DURATION', 10);
const ROUNDS = envNumber('BENCH_ROUNDS', 3, { integer: true });
const WARMUP = envNumber('BENCH_WARMUP', 3);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, { integer: true });
const PAIRS = envNumber('BENCH_PAIRS', 0, { integer: true });
const PAIR_DURATION = envNumber('BENCH_PAIR_DURATION', 3);
const SERVER_CPU = '0';
const LOAD_CPU = '1';
const SERVER_JS = join(BENCH_DIR, 'lib', 'server.mjs');
const LOAD_JS = join(BENCH_DIR, 'lib', 'load.mjs');
const STARTUP_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------------
// Child processes: tracked so that every one of them is killed on success, error or signal.
// Servers and load processes also exit by themselves when their stdin (our pipe) closes.

const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll(signal = 'SIGKILL') {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  }
}

process.on('exit', () => killAll('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nhttp-overhead: ${sig}, stopping servers`);
    killAll('SIGKILL');
    process.exit(130);
  });
}

function pinned(cpu, args, env) {
  return track(
    spawn('taskset', ['-c', cpu, process.execPath, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env,
    }),
  );
}

/** First stdout line of a child as JSON, or an error if it exits or takes too long. */
function firstJsonLine(child, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no output after ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code, sig) => {
      cleanup();
      reject(new Error(`${what}: exited with ${code ?? sig} before reporting`));
    };
    const onLine = (line) => {
      try {
        const v = JSON.parse(line);
        cleanup();
        resolve(v);
      } catch {
        // not ours (a library printing something): ignore, keep waiting
        console.error(`${what}: ${line}`);
      }
    };
    function cleanup() {
      clearTimeout(timer);
      rl.off('line', onLine);
      child.off('exit', onExit);
    }
    rl.on('line', onLine);
    child.once('exit', onExit);
  });
}

async function startServer(variant) {
  const child = pinned(SERVER_CPU, [SERVER_JS, variant.id], { ...process.env, NODE_ENV: 'production' });
  const { port, pid } = await firstJsonLine(child, `server ${variant.id}`, STARTUP_TIMEOUT_MS);
  return { variant, child, port, pid, cpus: allowedCpus(pid), runs: [] };
}

async function stopServer(s) {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

async function runLoad(server, duration) {
  const arg = JSON.stringify({
    port: server.port,
    pid: server.pid,
    connections: CONNECTIONS,
    duration,
    serverCpu: Number(SERVER_CPU),
  });
  const child = pinned(LOAD_CPU, [LOAD_JS, arg], process.env);
  const result = await firstJsonLine(child, `load on ${server.variant.id}`, (duration + 30) * 1000);
  child.stdin.end();
  return result;
}

async function get(server, path) {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** Every server answers the routes it should, before any measuring. */
async function sanityCheck(s) {
  const u = await get(s, '/users/7');
  const i = await get(s, '/api/v1/items/3');
  if (u.status !== 200 || JSON.parse(u.body).id !== 7 || i.status !== 200 || JSON.parse(i.body).id !== 3) {
    throw new Error(`server ${s.variant.id}: routes answered ${u.status} ${u.body} / ${i.status} ${i.body}`);
  }
  if (!s.variant.bare) {
    const m = await get(s, '/metrics');
    if (m.status !== 200) throw new Error(`server ${s.variant.id}: /metrics answered ${m.status}`);
  }
}

/** After the load, the instrumented servers must have recorded the loaded route. */
async function metricsAfter(s) {
  if (s.variant.bare || s.variant.routeNeedle === undefined) return { note: 'n/a' };
  const m = await get(s, '/metrics');
  const lines = m.body.split('\n').filter((l) => l.includes(s.variant.routeNeedle));
  const count = lines.find((l) => /_count\{/.test(l) && l.startsWith('http_request_duration_seconds'));
  return {
    ok: m.status === 200 && lines.length > 0,
    bytes: Buffer.byteLength(m.body),
    recorded: count ? Number(count.slice(count.lastIndexOf(' ') + 1)) : undefined,
  };
}

function selectedVariants() {
  const raw = process.env.BENCH_VARIANTS;
  if (!raw) return VARIANTS;
  const wanted = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = VARIANTS.filter((v) => wanted.some((w) => v.id === w || v.id.includes(w)));
  const frameworks = new Set(picked.map((v) => v.framework));
  const list = VARIANTS.filter((v) => picked.includes(v) || (v.bare && frameworks.has(v.framework)));
  if (list.length === 0)
    throw new Error(`BENCH_VARIANTS="${raw}" matches none of ${VARIANTS.map((v) => v.id)}`);
  return list;
}

function checkEnvironment() {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
  } catch {
    throw new Error('taskset (util-linux) is required to pin the servers and the load to separate CPUs');
  }
  const cores = machineInfo().cores;
  if (cores < 2) throw new Error(`need at least 2 CPUs (servers on CPU 0, load on CPU 1), found ${cores}`);
}

// ---------------------------------------------------------------------------------------------

function summarise(servers, hz) {
  for (const s of servers) {
    const measured = s.runs;
    s.cpuPerReq = measured.map((r) => (r.cpuTicks / hz / r.requests) * 1e6);
    s.rps = measured.map((r) => r.requests / r.wallS);
    s.p99 = measured.map((r) => r.p99);
    s.core = measured.map((r) => r.cpuTicks / hz / r.wallS);
    s.foreign = measured.map((r) => Math.max(0, r.foreignTicks) / hz / r.wallS);
    s.steal = measured.map((r) => Math.max(0, r.stealTicks) / hz / r.wallS);
    s.med = {
      cpuPerReq: median(s.cpuPerReq),
      rps: median(s.rps),
      p99: median(s.p99),
      core: median(s.core),
      foreign: median(s.foreign),
      steal: median(s.steal),
    };
    s.failures = measured.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  }
  for (const s of servers) {
    const bare = servers.find((b) => b.variant.bare && b.variant.framework === s.variant.framework);
    s.vs = {
      cpuPerReq: ratio(s.med.cpuPerReq, bare.med.cpuPerReq),
      deltaCpu: s.med.cpuPerReq - bare.med.cpuPerReq,
      rps: ratio(s.med.rps, bare.med.rps),
      p99: ratio(s.med.p99, bare.med.p99),
    };
  }
}

function targetCell(s, r = s.vs.cpuPerReq) {
  const t = s.variant.target;
  if (t === undefined) return '';
  if (Number.isNaN(r)) return `≤ ${t.toFixed(2)}x: n/a`;
  return r <= t
    ? `≤ ${t.toFixed(2)}x: **met**`
    : `≤ ${t.toFixed(2)}x: **missed** by ${((r / t - 1) * 100).toFixed(1)} %`;
}

function report(servers, hz, startedAt) {
  const m = machineInfo();
  const headers = [
    'variant',
    'default metrics',
    'CPU µs/req',
    'CPU/req vs bare',
    'Δ µs/req',
    'target',
    'req/s',
    'req/s vs bare',
    'p99 ms',
    'p99 vs bare',
    'server core use',
    `other use of CPU ${SERVER_CPU}`,
    'per-round CPU µs/req',
  ];
  const rows = servers.map((s) => [
    s.variant.bare ? `**${s.variant.label}**` : s.variant.vigil ? `**${s.variant.label}**` : s.variant.label,
    s.variant.defaultMetrics ? 'yes' : 'no',
    fmt(s.med.cpuPerReq, 1),
    s.variant.bare ? '1.00x' : `**${fmtRatio(s.vs.cpuPerReq)}**`,
    s.variant.bare ? '' : `${s.vs.deltaCpu >= 0 ? '+' : ''}${fmt(s.vs.deltaCpu, 1)}`,
    targetCell(s),
    fmt(s.med.rps, 0),
    s.variant.bare ? '1.00x' : fmtRatio(s.vs.rps),
    fmt(s.med.p99, 0),
    s.variant.bare ? '1.00x' : fmtRatio(s.vs.p99),
    `${Math.round(s.med.core * 100)} %`,
    `${Math.round(s.med.foreign * 100)} %${s.med.steal >= 0.01 ? ` (+${Math.round(s.med.steal * 100)} % steal)` : ''}`,
    s.cpuPerReq.map((x) => fmt(x, 1)).join(' / '),
  ]);

  const configs = servers.map((s) => `- **${s.variant.label}**: ${s.variant.config}.`).join('\n');
  const notes = [];
  // Below 85 % of its core, a server was not saturated: either the load generator could not keep
  // up (CPU 0 otherwise idle) or the core was shared with other work (CPU 0 otherwise busy).
  const underused = servers.filter((s) => s.med.core < 0.85);
  const generatorBound = underused.filter((s) => s.med.core + s.med.foreign + s.med.steal < 0.85);
  const contended = underused.filter((s) => !generatorBound.includes(s));
  if (generatorBound.length > 0) {
    notes.push(
      `- Server core use below 85 % with CPU ${SERVER_CPU} otherwise idle for ${generatorBound.map((s) => s.variant.id).join(', ')}: ` +
        'the single autocannon process on CPU 1 is the bottleneck there, so req/s and p99 of those rows ' +
        'measure the load generator more than the server. Read the CPU µs/req column for them.',
    );
  }
  if (contended.length > 0) {
    notes.push(
      `- Server core use below 85 % because CPU ${SERVER_CPU} was shared with other work for ${contended.map((s) => s.variant.id).join(', ')}: ` +
        'req/s and p99 of those rows are not comparable; CPU µs/req holds up better but is noisier too.',
    );
  }
  const busy = servers.filter((s) => s.med.foreign > 0.1 || s.med.steal > 0.05);
  if (busy.length > 0) {
    notes.push(
      `- Something else used CPU ${SERVER_CPU} (more than 10 % of it, or hypervisor steal above 5 %) while ` +
        `${busy.map((s) => s.variant.id).join(', ')} were measured: the machine was not quiet, so those ` +
        'figures are noisier than usual. Re-run on an idle machine before drawing conclusions.',
    );
  }
  const failed = servers.filter((s) => s.failures > 0);
  if (failed.length > 0) {
    notes.push(
      `- Non-2xx responses, errors or timeouts during measured runs: ${failed
        .map((s) => `${s.variant.id} ${s.failures}`)
        .join(', ')}. Those rows are suspect.`,
    );
  }
  const unrecorded = servers.filter((s) => !s.variant.bare && !s.after?.ok);
  if (unrecorded.length > 0) {
    notes.push(
      `- /metrics did not show the loaded route after the run for: ${unrecorded
        .map((s) => s.variant.id)
        .join(', ')} (instrumentation not active?).`,
    );
  } else {
    notes.push(
      "- After the run, every instrumented server's `/metrics` showed the loaded route " +
        `(${servers
          .filter((s) => !s.variant.bare)
          .map((s) => `${s.variant.id} ${fmt((s.after.bytes ?? 0) / 1024, 1)} KB`)
          .join(', ')}).`,
    );
  }
  notes.push(
    `- Pinning as seen in /proc/<pid>/status: servers on CPU ${[...new Set(servers.map((s) => s.cpus))].join(', ')}, load on CPU ${LOAD_CPU}.`,
  );
  const short = DURATION < 10 || ROUNDS < 3;

  return `# HTTP instrumentation overhead

${machineMarkdown(m)}
- Run: ${ROUNDS} round(s) × ${DURATION} s per server, ${WARMUP} s warm-up per server, ${CONNECTIONS} connections; started ${startedAt}, took ${fmt((Date.now() - Date.parse(startedAt)) / 60_000, 1)} min${short ? ' (**short run: noisy, indicative only**)' : ''}
- Clock ticks: ${hz}/s (\`getconf CLK_TCK\`)

## Method

Each variant is a separate Node.js process (\`NODE_ENV=production\`) pinned with \`taskset -c ${SERVER_CPU}\`, all started at once and listening on 127.0.0.1 ephemeral ports. The load is autocannon 9.0.0 in a separate process pinned with \`taskset -c ${LOAD_CPU}\` (a fresh one per run): \`-c ${CONNECTIONS}\`, \`GET /users/<random int>\` on every request (\`requests[].setupRequest\`). Each server gets one warm-up run, then ${ROUNDS} interleaved rounds, the order rotated by one each round.

- **CPU µs/req** (the primary figure): the server's utime+stime from \`/proc/<pid>/stat\`, read right before and right after the load, divided by the requests served in that window. It does not depend on how fast the load generator is.
- **req/s**: requests served ÷ wall time of the run. **p99 ms**: autocannon's latency p99.
- Figures are medians over the rounds; **vs bare** is that median divided by the median of the bare server of the same framework; **Δ µs/req** is the difference in CPU µs/req. **Target** applies to Vigil's CPU/req ratio.
- **other use of CPU ${SERVER_CPU}**: busy time of CPU ${SERVER_CPU} (\`/proc/stat\`) during the run not spent by the measured server, as a share of the core: the idle servers' timers account for a few %; much more means something else ran there and the row is noisy.
- **default metrics**: whether the variant, as configured, also runs prom-client's default Node.js collectors (per-second cost, included in the CPU figure because a user of that library pays it too).
- Every server serves \`GET /users/:id\` (\`{id, name}\`) and has a router/prefix \`/api/v1\` with \`/items/:id\` (present, not loaded).

## Results

${mdTable(headers, rows)}
${pairedTable(servers)}
${notes.join('\n')}

## Configurations

${configs}

## Reading it

Express is CPU-bound on CPU 0, so its req/s ratios are meaningful; Fastify is fast enough that one autocannon process usually cannot saturate it, so for Fastify use CPU µs/req. Expect about ±5 % (Express) and ±10 % (Fastify CPU/req) between full runs on a 2-vCPU VM; short runs and a busy machine are noisier. See bench/README.md.
`;
}

/** The paired table: median and range of each variant's concurrent pair ratios. */
function pairedTable(servers) {
  const paired = servers.filter((s) => s.pairs?.length);
  if (paired.length === 0) return '';
  return `
## Paired ratios (${PAIRS} concurrent bare/variant pairs × ${PAIR_DURATION} s each)

Each pair loads the variant and the bare server of its framework at the same time (both on CPU ${SERVER_CPU}, one load process each on CPU ${LOAD_CPU}), so whatever the machine does during those seconds hits both alike; each server gets about half the core, and its CPU per request is measured over the same window. One pair before the counted ones is not counted. On a shared or noisy VM this is the figure to quote: the sequential rounds above drift with the machine's speed between runs.

${mdTable(
  ['variant', 'CPU/req vs bare (median of pairs)', 'range', 'target', 'pair ratios'],
  paired.map((s) => {
    const m = median(s.pairs);
    return [
      s.variant.vigil ? `**${s.variant.label}**` : s.variant.label,
      `**${fmtRatio(m)}**`,
      `${fmtRatio(Math.min(...s.pairs))} – ${fmtRatio(Math.max(...s.pairs))}`,
      targetCell(s, m),
      s.pairs.map((x) => x.toFixed(2)).join(' '),
    ];
  }),
)}
`;
}

/** Concurrent pairs: each variant loaded at the same time as its framework's bare server. */
async function runPairs(servers, hz) {
  const us = (r) => (r.cpuTicks / hz / r.requests) * 1e6;
  console.log(`paired (concurrent): ${PAIRS} pair(s) × ${PAIR_DURATION} s per variant`);
  for (const s of servers) {
    if (s.variant.bare) continue;
    const bare = servers.find((b) => b.variant.bare && b.variant.framework === s.variant.framework);
    await Promise.all([runLoad(bare, PAIR_DURATION), runLoad(s, PAIR_DURATION)]);
    s.pairs = [];
    for (let i = 0; i < PAIRS; i++) {
      const [rb, rv] = await Promise.all([runLoad(bare, PAIR_DURATION), runLoad(s, PAIR_DURATION)]);
      s.pairs.push(us(rv) / us(rb));
    }
    console.log(
      `  ${s.variant.id.padEnd(20)} paired ${fmtRatio(median(s.pairs))} (${s.pairs.map((x) => x.toFixed(2)).join(' ')})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  checkEnvironment();
  const hz = clockTicks();
  const startedAt = new Date().toISOString();
  const variants = selectedVariants();
  console.log(
    `http-overhead: ${variants.length} servers, ${ROUNDS} round(s) × ${DURATION} s, warm-up ${WARMUP} s, -c ${CONNECTIONS}`,
  );

  const servers = await Promise.all(variants.map(startServer));
  try {
    for (const s of servers) await sanityCheck(s);

    for (const s of servers) {
      process.stdout.write(`warm-up ${s.variant.id} … `);
      const r = await runLoad(s, WARMUP);
      console.log(`${fmt(r.requests / r.wallS, 0)} req/s`);
    }

    for (let round = 0; round < ROUNDS; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      console.log(`round ${round + 1}/${ROUNDS}`);
      for (const s of order) {
        const r = await runLoad(s, DURATION);
        s.runs.push(r);
        const us = (r.cpuTicks / hz / r.requests) * 1e6;
        console.log(
          `  ${s.variant.id.padEnd(20)} ${fmt(r.requests / r.wallS, 0).padStart(8)} req/s  ${fmt(us, 1).padStart(7)} CPU µs/req  p99 ${r.p99} ms  other on CPU ${SERVER_CPU}: ${Math.round((Math.max(0, r.foreignTicks) / hz / r.wallS) * 100)} %`,
        );
      }
    }

    if (PAIRS > 0) await runPairs(servers, hz);
    for (const s of servers) s.after = await metricsAfter(s);
  } finally {
    await Promise.all(servers.map(stopServer));
  }

  summarise(servers, hz);
  writeResult(process.env.BENCH_RESULT || 'http-overhead', report(servers, hz, startedAt));
}

main().catch((err) => {
  console.error('http-overhead failed:', err);
  killAll('SIGKILL');
  process.exit(1);
});
