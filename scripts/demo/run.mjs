#!/usr/bin/env node
// `pnpm demo`: the three example services (users, catalog, orders) as local processes, demo
// traffic against them, and Prometheus (with the shipped alert rules) when it is installed, with
// the generated dashboards served live from it (scripts/viewer: no Grafana needed).
// Ctrl-C stops everything gracefully: traffic, then each service (SIGTERM, Vigil's drain), then
// the dashboards and Prometheus; a second Ctrl-C kills everything at once. Needs `pnpm build`
// first (`pnpm demo` does).
//
// Env: DEMO_PORT_BASE (3001: users, +1 catalog, +2 orders), DEMO_PROMETHEUS_PORT (9090),
// DEMO_DASHBOARDS_PORT (3000, Grafana's usual port; any free port when it is taken),
// DEMO_DURATION_S (stop gracefully this many seconds after everything is up), DEMO_VERBOSE=1 (all
// log lines), DEMO_RATE and DEMO_CHAOS* (see traffic.mjs). DATABASE_URL / REDIS_URL / LOG_LEVEL /
// OTEL_* pass through to the services; without DATABASE_URL and REDIS_URL they use their embedded
// database and in-process cache.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startViewer } from '../viewer/server.mjs';
import { createFilter, forward, tagged } from './output.mjs';
import { buildConfig, findOnPath } from './prometheus.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const intEnv = (name, dflt) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`demo: ${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return v;
};
const BASE = intEnv('DEMO_PORT_BASE', 3001);
const PROM_PORT = intEnv('DEMO_PROMETHEUS_PORT', 9090);
const DASHBOARDS_PORT = intEnv('DEMO_DASHBOARDS_PORT', 3000);
const DURATION_S = intEnv('DEMO_DURATION_S', 0);
const VERBOSE = process.env.DEMO_VERBOSE === '1';
const READY_TIMEOUT_MS = 120_000; // the embedded database takes seconds to start, more on a busy machine
const SERVICE_STOP_TIMEOUT_MS = 30_000; // beyond Vigil's 25 s shutdown deadline
const HOST = '127.0.0.1';

const url = (port) => `http://${HOST}:${port}`;
const SERVICES = [
  { name: 'users-service', tag: 'users', port: BASE, env: {} },
  { name: 'catalog-service', tag: 'catalog', port: BASE + 1, env: { CHAOS_ENABLED: '1' } },
  {
    name: 'orders-service',
    tag: 'orders',
    port: BASE + 2,
    env: { USERS_URL: url(BASE), CATALOG_URL: url(BASE + 1) },
  },
];

const say = (text) => process.stdout.write(`${tagged('demo', text)}\n`);
const children = new Map(); // tag -> { child, exited: Promise<{code, signal}> }
let tmp;
let stopping = false;
let up = false; // every service answered /readyz
let viewer; // the live dashboards, once started

function start(tag, cmd, args, env, { critical = true } = {}) {
  // Own process group: a terminal Ctrl-C reaches only this script, which then stops the children
  // in order (a service getting SIGINT from the terminal and SIGTERM from us would take the second
  // signal as "exit now").
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  forward(child, tag, createFilter(VERBOSE)); // one filter per child: repeats are counted per source
  // 'close', not 'exit': the child's last lines (its shutdown log) are still in the pipe at exit.
  const exited = new Promise((resolve) =>
    child.once('close', (code, signal) => {
      resolve({ code, signal });
      if (!stopping && critical) {
        const hint = up ? '' : ' (see its output above; if a port is taken, set DEMO_PORT_BASE)';
        say(`${tag} exited unexpectedly (${signal ?? `code ${code}`})${hint}; stopping the demo`);
        void shutdown('a child exited', 1);
      } else if (!stopping) say(`${tag} exited (${signal ?? `code ${code}`})`);
    }),
  );
  child.once('error', (err) => say(`${tag}: ${err.message}`));
  const entry = { child, exited };
  children.set(tag, entry);
  return entry;
}

/** SIGTERM, then wait for the exit (SIGKILL after `timeoutMs`). */
async function stop(tag, timeoutMs) {
  const entry = children.get(tag);
  if (!entry) return { code: 0, signal: null };
  const { child, exited } = entry;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    say(`${tag} did not exit within ${timeoutMs / 1000} s: killing it`);
    child.kill('SIGKILL');
  }, timeoutMs);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

async function shutdown(reason, code = 0) {
  if (stopping) return;
  stopping = true;
  clearTimeout(durationTimer);
  say(
    `stopping (${reason}): traffic, then the services (graceful drain), then the dashboards and Prometheus`,
  );
  await stop('traffic', 5_000);
  const results = await Promise.all(
    SERVICES.map(async (s) => [s.name, await stop(s.tag, SERVICE_STOP_TIMEOUT_MS)]),
  );
  for (const [name, r] of results) say(`${name} exited ${r.signal ? `by ${r.signal}` : `with ${r.code}`}`);
  await viewer?.close();
  await stop('prometheus', 10_000);
  cleanup();
  // A service still starting has no SIGTERM handler yet: ended by the signal, that is clean too.
  const clean = results.every(([, r]) => r.code === 0 || (!up && r.signal === 'SIGTERM'));
  say(clean && code === 0 ? 'all stopped' : 'stopped, not cleanly');
  process.exit(clean ? code : 1);
}

function killAll() {
  say('second signal: killing everything now');
  for (const { child } of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
  cleanup();
  process.exit(130);
}

function cleanup() {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

let durationTimer;
// Ctrl-C in a terminal can arrive twice within milliseconds (from the terminal, and forwarded by
// pnpm or npm): only a signal well after the first one is a second Ctrl-C.
const REPEAT_GRACE_MS = 500;
let firstSignalAt = 0;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (!stopping) {
      firstSignalAt = Date.now();
      void shutdown(sig);
    } else if (firstSignalAt > 0 && Date.now() - firstSignalAt > REPEAT_GRACE_MS) killAll();
  });
}
// Last resort (an exception in this script): never leave services running behind.
process.on('exit', () => {
  for (const { child } of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
  cleanup();
});

/** Polls `GET <base>/<path>` until it answers 200 (or `until` resolves, or the deadline passes). */
async function waitFor(base, path, until, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let stopped = false;
  until.then(() => {
    stopped = true;
  });
  while (!stopped && !stopping && Date.now() < deadline) {
    try {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

// ---- services -----------------------------------------------------------------------------------
const missing = SERVICES.map((s) => join('examples', s.name, 'dist', 'server.js')).filter(
  (f) => !existsSync(join(ROOT, f)),
);
if (missing.length > 0) {
  console.error(`demo: ${missing.join(', ')} missing: run \`pnpm build\` first (\`pnpm demo\` does)`);
  process.exit(1);
}

const tracing = process.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined;
say(
  `starting ${SERVICES.map((s) => s.name).join(', ')} (database: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}, cache: ${process.env.REDIS_URL ? 'REDIS_URL' : 'in-process'}, tracing: ${tracing ? process.env.OTEL_EXPORTER_OTLP_ENDPOINT : 'off'})`,
);
for (const s of SERVICES) {
  const env = {
    ...process.env,
    PORT: String(s.port),
    HOST,
    SHUTDOWN_DRAIN_DELAY_MS: process.env.SHUTDOWN_DRAIN_DELAY_MS ?? '1000',
    ...s.env,
  };
  // Without a collector every export would fail; tracing is on only when an endpoint is given.
  if (!tracing) env.OTEL_SDK_DISABLED = 'true';
  start(s.tag, process.execPath, [join('examples', s.name, 'dist', 'server.js')], env);
}
const anyExit = Promise.race([...children.values()].map((c) => c.exited));
const ready = await Promise.all(
  SERVICES.map((s) => waitFor(url(s.port), '/readyz', anyExit, READY_TIMEOUT_MS)),
);
// Once shutdown() runs (a signal, a child exiting), start nothing more: it ends the process.
const halt = () => (stopping ? new Promise(() => {}) : undefined);
await halt();
if (!ready.every(Boolean)) {
  const late = SERVICES.filter((_, i) => !ready[i]).map((s) => s.name);
  say(`not ready within ${READY_TIMEOUT_MS / 1000} s: ${late.join(', ')} (see the lines above)`);
  await shutdown('start-up failed', 1);
}

up = true;

// ---- Prometheus ---------------------------------------------------------------------------------
let promUrl;
const prometheus = findOnPath('prometheus');
if (prometheus) {
  tmp = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
  const ports = Object.fromEntries(SERVICES.map((s) => [s.name, s.port]));
  const { text, source } = buildConfig({ root: ROOT, ports, prometheusPort: PROM_PORT });
  const configFile = join(tmp, 'prometheus.yml');
  writeFileSync(configFile, text);
  say(`starting Prometheus on ${url(PROM_PORT)} (config from ${source}: ${configFile})`);
  // Prometheus failing (port taken, bad rules) is not worth stopping the demo for.
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(tmp, 'data')}`,
    `--web.listen-address=${HOST}:${PROM_PORT}`,
  ];
  const prom = start('prometheus', prometheus, args, process.env, { critical: false });
  if (await waitFor(url(PROM_PORT), '/-/ready', prom.exited, 15_000)) promUrl = url(PROM_PORT);
  else say('Prometheus did not become ready; continuing without it');
  await halt();
}

// ---- dashboards ---------------------------------------------------------------------------------
// The generated Grafana dashboards, drawn live in the browser from this Prometheus.
if (promUrl) {
  const dashboardOptions = {
    prometheus: promUrl,
    dashboards: join(ROOT, 'dashboards'),
    host: HOST,
    refresh: '5s',
    // The demo has minutes of data, not hours: the breaker's open spells fill the screen.
    time: { from: 'now-15m', to: 'now' },
    title: 'Vigil demo dashboards',
  };
  try {
    viewer = await startViewer({ ...dashboardOptions, port: DASHBOARDS_PORT });
  } catch (e) {
    if (e.code !== 'EADDRINUSE') throw e;
    say(
      `dashboards: port ${DASHBOARDS_PORT} is taken, using a free one (set DEMO_DASHBOARDS_PORT to choose)`,
    );
    viewer = await startViewer({ ...dashboardOptions, port: 0 });
  }
  await halt();
}

// ---- traffic ------------------------------------------------------------------------------------
start('traffic', process.execPath, [join(HERE, 'traffic.mjs')], {
  ...process.env,
  USERS_URL: url(SERVICES[0].port),
  CATALOG_URL: url(SERVICES[1].port),
  ORDERS_URL: url(SERVICES[2].port),
});

const promql = [
  'sum by (service, route, status_code) (rate(http_requests_total[1m]))',
  'histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket[1m])))',
  'vigil_circuit_breaker_state',
  'sum by (target, status_code) (rate(http_client_request_duration_seconds_count[1m]))',
  'histogram_quantile(0.95, sum by (service, operation, le) (rate(database_query_duration_seconds_bucket[1m])))',
];
const graph = (q) => `${promUrl}/graph?g0.expr=${encodeURIComponent(q)}&g0.tab=0&g0.range_input=15m`;
const lines = [
  '',
  'Vigil demo is up (Ctrl-C stops it gracefully; a second Ctrl-C kills it)',
  ...SERVICES.map(
    (s) => `  ${s.name.padEnd(16)} ${url(s.port)}   ${url(s.port)}/metrics   ${url(s.port)}/readyz`,
  ),
  `  try: curl -s ${url(BASE + 2)}/orders | head -c 300; curl -s ${url(BASE + 2)}/readyz`,
  promUrl
    ? `  Prometheus       ${promUrl}   targets: ${promUrl}/targets   alerts: ${promUrl}/alerts`
    : prometheus
      ? '  Prometheus       failed to start (see the prom lines above)'
      : '  Prometheus       not installed: `apt-get install -y --no-install-recommends prometheus` (Debian/Ubuntu), `brew install prometheus` (macOS), then run the demo again',
  ...(viewer
    ? [
        `  Dashboards       ${viewer.url}/   (live, every 5 s; no Grafana needed)`,
        ...['overview', 'resilience'].flatMap((name) => {
          const d = viewer.list().find((x) => new RegExp(name, 'i').test(`${x.title} ${x.file}`));
          return d ? [`    ${d.title.padEnd(28)} ${viewer.dashboardUrl(d.uid)}`] : [];
        }),
      ]
    : ['  Dashboards       need Prometheus (above)']),
  '  PromQL:',
  ...promql.flatMap((q) => (promUrl ? [`    ${q}`, `      ${graph(q)}`] : [`    ${q}`])),
  '  traffic: one summary line every 10 s; catalog turns flaky for 15 s every 40 s (orders breaker opens, then closes:',
  '           watch it on the Resilience dashboard)',
  '',
];
for (const l of lines) say(l);

if (DURATION_S > 0) {
  durationTimer = setTimeout(() => shutdown(`DEMO_DURATION_S=${DURATION_S} elapsed`), DURATION_S * 1000);
}
