#!/usr/bin/env node
// Where a server's CPU goes, by component, from V8's CPU profile under load:
//   node bench/tools/profile.mjs fastify-bare fastify-vigil-full
// Each variant (an id of suites/_tracing-server.mjs) runs pinned to CPU 0 with --cpu-prof, loaded by
// autocannon on CPU 1 (lib/load.mjs, 50 connections), traced ones exporting to the OTLP sink. Then
// the profile's self time is grouped by component (each Vigil package, OpenTelemetry, the
// framework, Node's http / streams / async context, GC, native) and printed as a share of the busy
// time and as µs per request. The profiler itself costs CPU, so read the shares; the µs column
// splits the CPU per request measured under the profiler, not the paired bench's figure.
// Env: PROFILE_SECONDS (10), PROFILE_INTERVAL_US (sampling interval, 200),
//      PROFILE_SERVERS=http-overhead for lib/variants.mjs ids, PROFILE_KEEP=1 keeps the profiles.
// Loopback only.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BENCH_DIR, envNumber, toolServers } from '../lib/common.mjs';

const SECONDS = envNumber('PROFILE_SECONDS', 10);
const INTERVAL = envNumber('PROFILE_INTERVAL_US', 200, { integer: true });
const { server: SERVER, variants } = toolServers('profile', 'PROFILE');

const dir = mkdtempSync(join(tmpdir(), 'vigil-profile-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  if (process.env.PROFILE_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  else console.log(`profiles kept in ${dir}`);
});

function start(args, opts) {
  const child = spawn('taskset', args, { stdio: ['pipe', 'pipe', 'inherit'], ...opts });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
const firstLine = (child) =>
  new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`exited (${code}) before it was ready`)));
  });

/** The component a profile node's self time belongs to. */
function component({ url, functionName: fn }) {
  const pkg = /packages\/(\w+)\/dist/.exec(url);
  if (pkg) return `vigil:${pkg[1]}`;
  if (url.includes('@opentelemetry')) return 'OpenTelemetry';
  if (url.includes('node_modules')) {
    const m = /node_modules\/(?:\.pnpm\/)?((?:@[^/]+\/)?[^/@]+)/.exec(url);
    return /^(fastify|find-my-way|avvio|@fastify|fast-|light-my|toad-cache|rfdc)/.test(m?.[1] ?? '')
      ? 'fastify (and its deps)'
      : `npm:${m?.[1]}`;
  }
  if (url.startsWith('node:')) {
    if (/_http_|http_common/.test(url)) return 'node:http';
    if (/stream|net/.test(url)) return 'node:net/streams';
    if (/async_hooks|async_local|async_context/.test(url)) return 'node:async context';
    if (/timers|task_queues/.test(url)) return 'node:timers/ticks';
    if (/fs/.test(url)) return 'node:fs';
    return 'node:other';
  }
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program): native, unattributed';
  if (url === '') return `native:${fn}`;
  return 'app (bench server)';
}

function account(profileDir) {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  const p = JSON.parse(readFileSync(join(profileDir, file), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const by = new Map();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    if (n.callFrame.functionName === '(idle)') continue;
    const c = component(n.callFrame);
    const t = p.timeDeltas[i] ?? 0;
    by.set(c, (by.get(c) ?? 0) + t);
    busy += t;
  }
  return { by, busy };
}

const SINK_JS = join(BENCH_DIR, 'suites', '_otlp-sink.mjs');
const sink = start(['-c', '1', process.execPath, SINK_JS], {});
const { port: sinkPort } = await firstLine(sink);

for (const id of variants) {
  const out = join(dir, id);
  const server = start(
    [
      '-c',
      '0',
      process.execPath,
      '--cpu-prof',
      `--cpu-prof-dir=${out}`,
      '--cpu-prof-interval',
      String(INTERVAL),
      SERVER,
      id,
    ],
    {
      cwd: BENCH_DIR,
      env: { ...process.env, SINK_URL: `http://127.0.0.1:${sinkPort}`, LOG_FILE: join(dir, `${id}.log`) },
    },
  );
  const { port, pid } = await firstLine(server);
  const load = start(
    [
      '-c',
      '1',
      process.execPath,
      join(BENCH_DIR, 'lib', 'load.mjs'),
      JSON.stringify({ port, pid, connections: 50, duration: SECONDS }),
    ],
    {},
  );
  const r = JSON.parse(
    await new Promise((resolve) => createInterface({ input: load.stdout }).once('line', resolve)),
  );
  const usPerReq = (r.cpuTicks * 10_000) / r.requests;
  server.stdin.end(); // the server exits when its stdin closes, writing the profile
  await new Promise((resolve) => server.once('exit', resolve));
  const { by, busy } = account(out);
  console.log(`\n${id}: ${r.requests} requests, ${usPerReq.toFixed(1)} CPU µs/request under the profiler`);
  for (const [c, t] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(
      `${((100 * t) / busy).toFixed(1).padStart(6)} %  ${((usPerReq * t) / busy).toFixed(2).padStart(6)} µs  ${c}`,
    );
  }
}
sink.stdin.end();
