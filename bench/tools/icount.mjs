#!/usr/bin/env node
// Instructions per request under valgrind's callgrind, for servers of the tracing suite:
//   node bench/tools/icount.mjs fastify-bare fastify-vigil-metrics fastify-als fastify-vigil-trace-0
// Each variant (an id of suites/_tracing-server.mjs) runs under callgrind on its own. It gets W
// requests of warm-up; then the counters are zeroed, N requests are sent, and the counters are
// dumped. It prints instructions per request for the main thread and for all threads (V8's GC and
// compiler helpers included). Counts do not depend on the machine's load, so they compare code, not
// timing. On Express they do not predict CPU time: see bench/README.md.
// Env: ICOUNT_REQUESTS (N, 8000), ICOUNT_WARMUP (W, 4000), ICOUNT_CONNECTIONS (4),
//      ICOUNT_NODE_ARGS (extra node flags, space-separated), ICOUNT_SERVERS=http-overhead for the
//      http-overhead suite's variants (lib/variants.mjs) instead. Needs valgrind (apt-get install valgrind).
// Loopback only; about a minute per variant with the defaults.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, envNumber, toolServers } from '../lib/common.mjs';

const N = envNumber('ICOUNT_REQUESTS', 8000, { integer: true });
const W = envNumber('ICOUNT_WARMUP', 4000, { integer: true });
const C = envNumber('ICOUNT_CONNECTIONS', 4, { integer: true });
const NODE_ARGS = (process.env.ICOUNT_NODE_ARGS ?? '').split(' ').filter(Boolean);
const { server: SERVER, variants } = toolServers('icount', 'ICOUNT');
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('icount: valgrind not found (apt-get install valgrind)');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: C });
const get = (port, path) =>
  new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
async function load(port, n) {
  let sent = 0;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (sent < n) {
        sent++;
        await get(port, `/users/${Math.floor(Math.random() * 1_000_000)}`);
      }
    }),
  );
}
/** The child's {"port",...} line (other output, such as --trace-* flags, may come first). */
function readyLine(child, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^\{"port".*$/m.exec(buf);
      if (m) resolve(JSON.parse(m[0]));
    });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

const children = new Set();
const dir = mkdtempSync(join(tmpdir(), 'vigil-icount-'));
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const sink = spawn(process.execPath, [join(BENCH_DIR, 'suites', '_otlp-sink.mjs')], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
children.add(sink);
const sinkUrl = `http://127.0.0.1:${(await readyLine(sink, 'sink')).port}`;
const rows = [];
try {
  for (const v of variants) {
    const out = join(dir, v);
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        '--smc-check=all-non-file', // V8 writes and rewrites its machine code
        '--separate-threads=yes',
        `--callgrind-out-file=${out}.%p`,
        process.execPath,
        ...NODE_ARGS,
        SERVER,
        v,
      ],
      {
        cwd: join(BENCH_DIR, 'suites'),
        stdio: ['pipe', 'pipe', 'ignore'],
        env: {
          ...process.env,
          SINK_URL: sinkUrl,
          OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
          LOG_FILE: join(dir, `${v}.log`),
        },
      },
    );
    children.add(child);
    const { port, pid } = await readyLine(child, v);
    await load(port, W);
    execFileSync('callgrind_control', ['--zero', String(pid)], { stdio: 'ignore' });
    await load(port, N);
    execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'ignore' });
    // The dump is <out>.<pid>.1-<thread>; thread 01 is the main thread.
    let all = 0;
    let main = 0;
    for (const f of readdirSync(dir)) {
      const m = new RegExp(`^${v}\\.${pid}\\.1-(\\d+)$`).exec(f);
      if (!m) continue;
      const totals = /^(?:totals|summary):\s+(\d+)/m.exec(readFileSync(join(dir, f), 'utf8'));
      if (!totals) continue;
      all += Number(totals[1]);
      if (m[1] === '01') main = Number(totals[1]);
    }
    child.stdin.end();
    await new Promise((r) => child.on('exit', r));
    children.delete(child);
    rows.push({ v, main: main / N, all: all / N });
    console.log(
      `${v}\tmain thread ${(main / N / 1000).toFixed(1)}k\tall threads ${(all / N / 1000).toFixed(1)}k instructions/request`,
    );
  }
} finally {
  sink.stdin.end();
  agent.destroy();
}
const bare = new Map(rows.filter((r) => r.v.endsWith('-bare')).map((r) => [r.v.split('-')[0], r]));
if (bare.size > 0) {
  console.log('\n| variant | main thread | all threads | all vs bare |\n| --- | --- | --- | --- |');
  for (const r of rows) {
    const b = bare.get(r.v.split('-')[0]);
    const vs = b ? `${(r.all / b.all).toFixed(2)}x` : '';
    console.log(`| ${r.v} | ${(r.main / 1000).toFixed(1)}k | ${(r.all / 1000).toFixed(1)}k | ${vs} |`);
  }
}
