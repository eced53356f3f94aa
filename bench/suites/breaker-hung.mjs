#!/usr/bin/env node
// A sequential caller of express-basic's `/chain` against a dependency that accepts connections and
// never answers (issue 23's measurement, as shipped: per-attempt timeout 5 s, 3 attempts, breaker
// defaults). Reports each call's status and duration, then lets the dependency answer again and
// reports how long `/chain` takes to succeed (the breaker's resetTimeoutMs, 30 s by default).
//
// The example runs as a real process (its built dist/server.js, tracing off); the hung target and
// the caller run here. About 60 s with the defaults.
//
//   node bench/suites/breaker-hung.mjs
//   HUNG_CALLS=10 CHAIN_TIMEOUT_MS=5000 CHAIN_BREAKER_RESET_MS=30000 node bench/suites/breaker-hung.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BENCH_DIR, envNumber, fmt, machineMarkdown, mdTable, writeResult } from '../lib/common.mjs';

const CALLS = envNumber('HUNG_CALLS', 10, { integer: true });
const TIMEOUT_MS = process.env.CHAIN_TIMEOUT_MS;
const RESET_MS = process.env.CHAIN_BREAKER_RESET_MS;

// The dependency: reads requests; answers only once `answering` is set.
let answering = false;
let requests = 0;
const sockets = new Set();
const target = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  let buf = '';
  socket.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
      buf = buf.slice(end + 4);
      requests++;
      if (answering)
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok');
    }
  });
});
target.listen(0, '127.0.0.1');
await once(target, 'listening');
const targetUrl = `http://127.0.0.1:${target.address().port}/items/1`;

const script = join(BENCH_DIR, '..', 'examples', 'express-basic', 'dist', 'server.js');
if (!existsSync(script)) throw new Error(`${script} is missing: run \`pnpm build\` first`);
const child = spawn(process.execPath, [script], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    OTEL_SDK_DISABLED: 'true',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    LOG_LEVEL: 'warn',
    ...(TIMEOUT_MS ? { CHAIN_TIMEOUT_MS: TIMEOUT_MS } : {}),
    ...(RESET_MS ? { CHAIN_BREAKER_RESET_MS: RESET_MS } : {}),
  },
  stdio: ['pipe', 'pipe', 'pipe'],
});
const stop = () => {
  if (child.exitCode === null) child.kill('SIGKILL');
};
process.on('exit', stop);
let out = '';
const port = await new Promise((resolve, reject) => {
  child.stdout.on('data', (b) => {
    out += b;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  child.stderr.on('data', (b) => {
    out += b;
  });
  child.once('exit', (code) => reject(new Error(`express-basic exited with ${code}:\n${out}`)));
});
const chainUrl = `http://127.0.0.1:${port}/chain?to=${encodeURIComponent(targetUrl)}`;

async function chain() {
  const t0 = performance.now();
  const res = await fetch(chainUrl);
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, body };
}

const rows = [];
for (let i = 1; i <= CALLS; i++) {
  const before = requests;
  const r = await chain();
  const reached = requests - before;
  const answer =
    r.status === 503 && r.body.includes('circuit open')
      ? reached === 0
        ? 'breaker open, rejected at once'
        : 'breaker open (opened by this call)'
      : r.status === 500
        ? 'error: every attempt timed out'
        : `status ${r.status}`;
  rows.push([i, r.status, fmt(r.ms, 1), reached, answer]);
  process.stdout.write(`call ${i}: ${r.status} in ${r.ms.toFixed(1)} ms\n`);
}
const fast = rows.filter((r) => r[4] === 'breaker open, rejected at once');

// The dependency answers again: poll /chain every 100 ms until it succeeds.
answering = true;
const back = performance.now();
let polls = 0;
let recovered = Number.NaN;
for (;;) {
  polls++;
  const r = await chain();
  if (r.status === 200) {
    recovered = performance.now() - back;
    break;
  }
  if (performance.now() - back > 120_000) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const fastMs = fast.map((r) => Number(String(r[2]).replace(/,/g, '')));
const md = `# Breaker against a hung dependency: express-basic \`/chain\`, one call at a time

${machineMarkdown()}
- Example: express-basic as built (\`/chain\` through \`createHttpClient\`, per-attempt timeout ${TIMEOUT_MS ?? '5000'} ms, 3 attempts, overall deadline 30 s, breaker defaults${RESET_MS ? `, resetTimeoutMs ${RESET_MS}` : ' (resetTimeoutMs 30000)'}); the target accepts connections and never answers.
- Shared machine: other processes may run; the durations of the fast calls are loopback round trips.

${mdTable(['call', 'status', 'ms', 'requests reaching the target', 'answer'], rows)}

- Rejected at once by the open breaker (503, no request reaching the target): ${fast.length} of ${CALLS} calls, from call ${fast.length ? fast[0][0] : 'n/a'} on; slowest of them ${fastMs.length ? fmt(Math.max(...fastMs), 1) : 'n/a'} ms.
- After the target answered again: \`/chain\` answered 200 after ${fmt(recovered / 1000, 1)} s (${polls} polls, every 100 ms).
`;
writeResult('breaker-hung', md);
stop();
for (const s of sockets) s.destroy();
target.close();
