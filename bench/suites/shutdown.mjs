#!/usr/bin/env node
// Load proof of Vigil's graceful shutdown (a benchmark, not a test): requests lost when SIGTERM
// arrives under keep-alive load, on Express and on Fastify, in two variants:
//   continuous - the client keeps sending until the server is gone;
//   lb         - the client stops sending new requests once /ready fails (as a load balancer
//                removing the endpoint would), keeping its idle keep-alive connections open.
//
// Method (the one of shared/research/shutdown-anchors.md, so the numbers sit beside the anchors'):
// the server (bench/suites/_shutdown-server.mjs, Vigil through the framework adapters, default
// options) runs pinned to CPU 0; this process (client, poller, orchestrator) pins itself to CPU 1.
// 50 raw HTTP/1.1 keep-alive connections on 127.0.0.1, no pipelining, GET /work?ms=50, each sending
// its next request as soon as the previous response arrives; a `Connection: close` response makes
// it close and reconnect; ECONNREFUSED waits 50 ms before retrying (so that count is rate x time,
// not a loss). A poller opens a new connection every 100 ms for GET /ready (1 s timeout). SIGTERM
// 3 s after the load starts; the run ends when the server exits (SIGKILL at 30 s).
//
// accepted->failed: request bytes were written on an established connection and no 2xx came back
// (non-2xx, ECONNRESET, EPIPE, EOF, timeout). ECONNREFUSED is never accepted: counted apart.
//
// Env: SHUTDOWN_REPS (default 3), SHUTDOWN_DRAIN_DELAY_MS (server's drainDelayMs; default: Vigil's
// default, 5000), SHUTDOWN_CONNECTIONS (50), SHUTDOWN_FRAMEWORKS (express,fastify),
// SHUTDOWN_VARIANTS (continuous,lb), SHUTDOWN_CONTROL (1; 0 skips the bare-Fastify control run),
// SHUTDOWN_STALL_MS (0; a stress: the server blocks its event loop this long every 250 ms),
// SHUTDOWN_DEBUG_DIR (unset; a directory to write each run's server log into).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { envNumber, machineMarkdown, mdTable, writeResult } from '../lib/common.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER_JS = join(HERE, '_shutdown-server.mjs');
const REPS = envNumber('SHUTDOWN_REPS', 3, { integer: true });
const CONNECTIONS = envNumber('SHUTDOWN_CONNECTIONS', 50, { integer: true });
const DRAIN_DELAY_MS = process.env.SHUTDOWN_DRAIN_DELAY_MS
  ? envNumber('SHUTDOWN_DRAIN_DELAY_MS', 5000, { integer: true })
  : undefined;
const EFFECTIVE_DRAIN_MS = DRAIN_DELAY_MS ?? 5000; // Vigil's SHUTDOWN_DEFAULTS.drainDelayMs
const STALL_MS = process.env.SHUTDOWN_STALL_MS ? envNumber('SHUTDOWN_STALL_MS', 0, { integer: true }) : 0;
const FRAMEWORKS = (process.env.SHUTDOWN_FRAMEWORKS ?? 'express,fastify').split(',').filter(Boolean);
const VARIANTS = (process.env.SHUTDOWN_VARIANTS ?? 'continuous,lb').split(',').filter(Boolean);
// One control run per rep (continuous only; in the LB variant bare Fastify never exits): the
// anchors' config (e), bare `app.close()`, which shows that this client counts losses.
const CONTROL = process.env.SHUTDOWN_CONTROL !== '0';
const SIGTERM_AFTER_MS = 3000;
const KILL_AFTER_MS = 30_000;
const POLL_EVERY_MS = 100;
const POLL_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 15_000;
const REFUSED_BACKOFF_MS = 50;

const REQUEST = Buffer.from('GET /work?ms=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
const PROBE = Buffer.from('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// Read before pinning: the CPU count reported is the affinity of this process.
const MACHINE = machineMarkdown();
try {
  execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
} catch {
  console.error('taskset not available: client not pinned');
}

const children = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  });
}

/** Parse one HTTP/1.1 response with Content-Length from the front of buf, or null if incomplete. */
function parseResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const total = end + 4 + (cl ? Number(cl[1]) : 0);
  if (buf.length < total) return null;
  return { status, close: /\r\nconnection:\s*close/i.test(head), rest: buf.subarray(total) };
}

function connect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const c = { socket, buf: Buffer.alloc(0), pending: null, closed: false, used: 0, errorCode: undefined };
    let connected = false;
    const fail = (kind) => {
      const p = c.pending;
      if (!p) return;
      c.pending = null;
      clearTimeout(p.timer);
      p.resolve({ error: kind, reused: p.reused, gotBytes: p.gotBytes });
    };
    socket.once('connect', () => {
      connected = true;
      resolve(c);
    });
    socket.on('error', (e) => {
      c.errorCode = e.code ?? 'ERROR';
      if (!connected) resolve({ refused: e.code === 'ECONNREFUSED', error: e.code ?? 'ERROR' });
      else fail(c.errorCode);
    });
    socket.on('data', (d) => {
      if (c.pending) c.pending.gotBytes = true;
      c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
      const r = parseResponse(c.buf);
      if (!r || !c.pending) return;
      c.buf = r.rest;
      const p = c.pending;
      c.pending = null;
      clearTimeout(p.timer);
      p.resolve({ status: r.status, close: r.close, reused: p.reused, gotBytes: true });
    });
    socket.on('close', () => {
      c.closed = true;
      fail(c.errorCode ?? 'EOF');
    });
    c.fail = fail;
  });
}

function send(c, stats) {
  return new Promise((resolve) => {
    const p = { resolve, reused: c.used > 0, gotBytes: false, timer: undefined };
    p.timer = setTimeout(() => {
      c.fail('TIMEOUT');
      c.socket.destroy();
    }, REQUEST_TIMEOUT_MS);
    c.pending = p;
    c.used++;
    stats.sent++;
    stats.inflight.add(p);
    c.socket.write(REQUEST);
  }).then((r) => r);
}

async function probe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      resolve('TIMEOUT');
    }, POLL_TIMEOUT_MS);
    s.once('connect', () => s.write(PROBE));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResponse(buf);
      if (r) {
        clearTimeout(timer);
        s.destroy();
        resolve(r.status);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      resolve(e.code ?? 'ERROR');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve('EOF');
    });
  });
}

async function startServer(framework) {
  const env = { ...process.env, FRAMEWORK: framework };
  if (DRAIN_DELAY_MS !== undefined) env.DRAIN_DELAY_MS = String(DRAIN_DELAY_MS);
  if (STALL_MS > 0 && framework !== 'fastify-bare') env.STALL_MS = String(STALL_MS);
  const child = spawn('taskset', ['-c', '0', process.execPath, SERVER_JS], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(d));
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, at: now() });
    });
  });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => JSON.parse(l)),
    exited.then(() => {
      throw new Error(`server exited early: ${Buffer.concat(stderr).toString()}`);
    }),
  ]);
  return { child, port: first.port, exited, stderr };
}

async function run(framework, variant) {
  const { child, port, exited, stderr } = await startServer(framework);
  const stats = {
    sent: 0,
    ok: 0,
    non2xx: 0,
    ECONNRESET: 0,
    EPIPE: 0,
    EOF: 0,
    TIMEOUT: 0,
    other: 0,
    refused: 0,
    acceptedFailed: 0,
    kinds: new Map(),
    inflight: new Set(),
    inflightAtSigterm: 0,
    inflightAtSigtermFailed: 0,
    preSigtermProbeFailures: 0,
  };
  let sigtermAt;
  let flip;
  let stopSending = false;
  let done = false;
  let atSigterm = new Set();

  const worker = async () => {
    let c = null;
    while (!done && !stopSending) {
      if (!c || c.closed) {
        const r = await connect(port);
        if (r.refused) {
          stats.refused++;
          await sleep(REFUSED_BACKOFF_MS);
          continue;
        }
        if (r.error) {
          // Connect failed other than by refusal (never seen on loopback): not accepted.
          stats.other++;
          await sleep(REFUSED_BACKOFF_MS);
          continue;
        }
        c = r;
      }
      if (done || stopSending) break;
      const p = send(c, stats);
      const pending = c.pending;
      const r = await p;
      stats.inflight.delete(pending);
      const wasAtSigterm = atSigterm.has(pending);
      if (r.status !== undefined && r.status >= 200 && r.status < 300) {
        stats.ok++;
      } else {
        stats.acceptedFailed++;
        if (wasAtSigterm) stats.inflightAtSigtermFailed++;
        const kind = r.status !== undefined ? `non2xx:${r.status}` : r.error;
        if (r.status !== undefined) stats.non2xx++;
        else if (kind in stats) stats[kind]++;
        else stats.other++;
        const key = `${kind}|${r.reused ? 'reused' : 'newconn'}|${r.gotBytes ? 'gotbytes' : 'nobytes'}`;
        stats.kinds.set(key, (stats.kinds.get(key) ?? 0) + 1);
      }
      if (r.close || r.error) {
        c.socket.destroy();
        c = null;
      }
    }
    // LB variant: idle keep-alive connections stay open, as an LB's upstream pool keeps them.
  };

  const poller = async () => {
    while (!done) {
      const sentAt = now();
      const status = await probe(port);
      if (done) break;
      if (sigtermAt === undefined) {
        if (status !== 200) stats.preSigtermProbeFailures++;
      } else if (flip === undefined && sentAt >= sigtermAt && status !== 200) {
        flip = { ms: sentAt - sigtermAt, how: String(status) };
        if (variant === 'lb') stopSending = true;
      }
      const wait = POLL_EVERY_MS - (now() - sentAt);
      if (wait > 0) await sleep(wait);
    }
  };

  const loadStart = now();
  const workers = Array.from({ length: CONNECTIONS }, worker);
  const polling = poller();
  await sleep(SIGTERM_AFTER_MS - (now() - loadStart));
  atSigterm = new Set(stats.inflight);
  stats.inflightAtSigterm = atSigterm.size;
  sigtermAt = now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  const exit = await exited;
  clearTimeout(killer);
  done = true;
  stopSending = true;
  await Promise.all([...workers, polling]);
  // The server's shutdown log (JSON lines): how the settle step ended, for the detail table.
  const logLines = Buffer.concat(stderr)
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    });
  const stopped = logLines.find((l) => typeof l.settleMs === 'number');
  if (process.env.SHUTDOWN_DEBUG_DIR) {
    const { writeFileSync } = await import('node:fs');
    const file = join(process.env.SHUTDOWN_DEBUG_DIR, `${framework}-${variant}-${Date.now()}.log`);
    writeFileSync(
      file,
      `sigterm at ${new Date(performance.timeOrigin + sigtermAt).toISOString()}\n${Buffer.concat(stderr)}`,
    );
  }
  return {
    framework,
    variant,
    ...stats,
    kinds: [...stats.kinds].map(([k, n]) => `\`${k}\` ${n}`).join(', ') || 'none',
    flipMs: flip ? Math.round(flip.ms) : undefined,
    flipHow: flip?.how,
    exitMs: Math.round(exit.at - sigtermAt),
    exit: exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`,
    exitCode: exit.code,
    settle: stopped
      ? `${stopped.settleMs} ms, ${stopped.quiet ? 'quiet' : 'max reached'}, ${stopped.reconnectsAwaited ?? 0} reconnects awaited`
      : 'n/a',
  };
}

const results = [];
const controls = [];
for (let rep = 1; rep <= REPS; rep++) {
  for (const variant of VARIANTS) {
    for (const framework of FRAMEWORKS) {
      process.stdout.write(`rep ${rep}: ${framework} ${variant} ... `);
      const r = await run(framework, variant);
      r.rep = rep;
      results.push(r);
      console.log(
        `accepted->failed ${r.acceptedFailed}, refused ${r.refused}, flip ${r.flipMs} ms, exit ${r.exitMs} ms (${r.exit})`,
      );
    }
  }
  if (CONTROL && VARIANTS.includes('continuous')) {
    process.stdout.write(`rep ${rep}: control fastify-bare continuous ... `);
    const r = await run('fastify-bare', 'continuous');
    r.rep = rep;
    controls.push(r);
    console.log(
      `accepted->failed ${r.acceptedFailed}, refused ${r.refused}, exit ${r.exitMs} ms (${r.exit})`,
    );
  }
}

const meets = (r) => r.acceptedFailed === 0 && r.exitCode === 0 && r.exitMs <= EFFECTIVE_DRAIN_MS + 1000;
const group = (fw, v) => results.filter((r) => r.framework === fw && r.variant === v);
const per = (rs, f) => rs.map(f).join(' / ');

const summary = [];
for (const fw of FRAMEWORKS) {
  for (const v of VARIANTS) {
    const rs = group(fw, v);
    summary.push([
      `Vigil + ${fw}`,
      v,
      per(rs, (r) => r.acceptedFailed),
      per(rs, (r) => r.refused),
      per(rs, (r) => `${r.inflightAtSigtermFailed}/${r.inflightAtSigterm}`),
      per(rs, (r) => `${r.flipMs ?? 'n/a'} (${r.flipHow ?? '-'})`),
      per(rs, (r) => r.exitMs),
      [...new Set(rs.map((r) => r.exit))].join(', '),
      rs.every(meets) ? 'yes' : 'no',
    ]);
  }
}

const detail = [...results, ...controls].map((r) => [
  r.rep,
  `${r.framework === 'fastify-bare' ? 'control: bare fastify app.close()' : r.framework} ${r.variant}`,
  r.sent,
  r.ok,
  r.non2xx,
  r.ECONNRESET,
  r.EPIPE,
  r.EOF,
  r.TIMEOUT,
  r.refused,
  `**${r.acceptedFailed}**`,
  `${r.inflightAtSigtermFailed}/${r.inflightAtSigterm}`,
  r.flipMs ?? 'n/a',
  r.exitMs,
  r.exit,
  r.preSigtermProbeFailures,
  r.settle,
  r.kinds,
]);

// The anchors, as measured with the same method on the same kind of machine
// (shared/research/shutdown-anchors.md, 2026-11-26, 3 reps; ranges over reps, timings from
// uncontended reps). Not re-run here.
const ANCHORS = [
  [
    '(a) express + server.close()',
    '50-66, never exits',
    '1-16',
    '6.1-7.0 s (LB); never (continuous)',
    '0 / SIGKILL',
  ],
  ['(b) terminus defaults', '50-54', '0-1', '32-61 ms', 'signal SIGTERM (143)'],
  ["(b') terminus + beforeShutdown 5 s", '50-54', '0-1', '5.0-5.5 s', 'signal SIGTERM (143)'],
  ['(c) lightship (local, delay 0) + http-terminator', '39-52', '0-7', '63-154 ms', '0'],
  ["(c') lightship (k8s, delay 5 s) + http-terminator", '39-72', '0', '5.0-6.8 s', '0'],
  ['(d) fastify + close-with-grace', '50', '0-1', '36-57 ms; LB 10.0 s (timeout)', '0 / 1 in LB'],
  ['(e) fastify app.close()', '50', '0-30', '34 ms; LB never (SIGKILL@30 s)', '0 / SIGKILL'],
  ['(f) express + stoppable', '50-52', '0-13', '51-383 ms', '0'],
];

const md = `# Graceful shutdown under load (load proof)

SIGTERM under keep-alive load: requests lost, readiness flip, exit time and code, for Vigil's
\`@vigil/shutdown\` + \`@vigil/health\` mounted through the Express and Fastify adapters with default
options${DRAIN_DELAY_MS !== undefined ? ` except \`drainDelayMs: ${DRAIN_DELAY_MS}\`` : ` (drain delay ${EFFECTIVE_DRAIN_MS} ms)`}${STALL_MS > 0 ? `, **stress: the server blocks its event loop ${STALL_MS} ms every 250 ms**` : ''}.
Generated by \`pnpm bench -- shutdown\` (bench/suites/shutdown.mjs); a benchmark, not a test.

${MACHINE}
- Server pinned to CPU 0, client + poller + orchestrator to CPU 1; ${CONNECTIONS} keep-alive connections on
  127.0.0.1, GET /work?ms=50, no pipelining; poller: new connection per GET /ready every ${POLL_EVERY_MS} ms
  (${POLL_TIMEOUT_MS} ms timeout); SIGTERM ${SIGTERM_AFTER_MS / 1000} s after the load starts; ${REPS} reps, interleaved.
- **continuous**: the client keeps sending until the server is gone. **lb**: once a /ready probe sent after
  SIGTERM fails, the client sends no new request (in-flight ones finish) and keeps its idle
  connections open.
- **accepted→failed**: request written on an established connection, no 2xx back (non-2xx, ECONNRESET,
  EPIPE, EOF, timeout). ECONNREFUSED is never accepted; it is counted apart (a rate × time, with a 50 ms
  back-off).
- Target: 0 accepted→failed in both variants, exit code 0 within drain delay + 1 s
  (≤ ${EFFECTIVE_DRAIN_MS + 1000} ms after SIGTERM).

## Summary (per rep: rep 1 / rep 2 / …)

${mdTable(
  [
    'service',
    'variant',
    'accepted→failed',
    'ECONNREFUSED (not accepted)',
    'in-flight@SIGTERM failed',
    'ready flip ms (how)',
    'exit ms after SIGTERM',
    'exit',
    'meets target',
  ],
  summary,
)}

## Beside the anchors

Same method, measured on this kind of machine for shared/research/shutdown-anchors.md (3 reps; not re-run
by this suite). Vigil's rows are the ranges of the table above.

${mdTable(
  [
    'library config',
    'accepted→failed, continuous',
    'accepted→failed, LB variant',
    'exit after SIGTERM',
    'exit',
  ],
  [
    ...FRAMEWORKS.map((fw) => {
      const c = group(fw, 'continuous');
      const l = group(fw, 'lb');
      const range = (rs, f) => {
        if (rs.length === 0) return 'not run';
        const xs = rs.map(f);
        const lo = Math.min(...xs);
        const hi = Math.max(...xs);
        return lo === hi ? String(lo) : `${lo}-${hi}`;
      };
      return [
        `**Vigil + ${fw}** (drain delay ${EFFECTIVE_DRAIN_MS / 1000} s)`,
        `**${range(c, (r) => r.acceptedFailed)}**`,
        `**${range(l, (r) => r.acceptedFailed)}**`,
        `${range([...c, ...l], (r) => (r.exitMs / 1000).toFixed(2))} s`,
        [...new Set([...c, ...l].map((r) => r.exit))].join(', '),
      ];
    }),
    ...(controls.length
      ? [
          [
            `control, re-run here: bare fastify app.close() = anchor (e)`,
            controls.map((r) => r.acceptedFailed).join(' / '),
            'not run (never exits)',
            controls.map((r) => `${r.exitMs} ms`).join(' / '),
            [...new Set(controls.map((r) => r.exit))].join(', '),
          ],
        ]
      : []),
    ...ANCHORS,
  ],
)}

## Every run

${mdTable(
  [
    'rep',
    'run',
    'sent',
    '2xx',
    'non-2xx',
    'ECONNRESET',
    'EPIPE',
    'EOF',
    'timeout',
    'ECONNREFUSED',
    'accepted→failed',
    'in-flight@SIGTERM failed',
    'ready flip ms',
    'exit ms',
    'exit',
    'pre-SIGTERM /ready failures',
    'settle (server log)',
    'failure kinds (outcome|connection|bytes)',
  ],
  detail,
)}
`;

// The stall stress is a separate experiment: keep the default load proof's file intact.
writeResult(STALL_MS > 0 ? 'shutdown-stall' : 'shutdown', md);
