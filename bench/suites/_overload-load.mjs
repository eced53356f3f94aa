#!/usr/bin/env node
// The overload suite's load generator, in its own process: `node _overload-load.mjs '<json>'` with
// { port, rate, warmupMs, durationMs, timeoutMs, probeEveryMs, closed? }.
//
// Open loop: GET /work at `rate` requests per second whatever the server answers (a request is
// sent on schedule on a free keep-alive connection or a new one), each given up after `timeoutMs`
// (a client that waits no longer). Only requests scheduled in the measured window, after the
// warm-up, count. Meanwhile a liveness prober sends GET /livez every `probeEveryMs` on a new
// connection, with the kubelet's default 1 s timeout. `closed: N` instead runs N requests back to
// back (closed loop), to measure capacity. Prints one JSON line with the results.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const { port, rate = 100, warmupMs = 2000, durationMs = 8000, timeoutMs = 1000, probeEveryMs = 100 } = cfg;
const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });

function get(path, timeout, useAgent, done) {
  const t0 = performance.now();
  let finished = false;
  const finish = (status) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done(status, performance.now() - t0);
  };
  const req = http.request({ host: '127.0.0.1', port, path, agent: useAgent ? agent : false }, (res) => {
    res.resume();
    res.on('end', () => finish(res.statusCode ?? 0));
    res.on('error', () => finish(0));
  });
  const timer = setTimeout(() => {
    finish(-1); // timed out: the client gave up
    req.destroy();
  }, timeout);
  req.on('error', () => finish(0));
  req.end();
}

if (cfg.closed) {
  // Capacity: N requests back to back, measured after the warm-up.
  const start = performance.now();
  let ok = 0;
  let stop = false;
  const lat = [];
  const loop = () => {
    if (stop) return;
    get('/work', 10_000, true, (status, ms) => {
      const t = performance.now() - start;
      if (status === 200 && t > warmupMs) {
        ok++;
        lat.push(ms);
      }
      loop();
    });
  };
  for (let i = 0; i < cfg.closed; i++) loop();
  setTimeout(() => {
    stop = true;
    process.stdout.write(`${JSON.stringify({ ok, seconds: durationMs / 1000, latencies: lat })}\n`);
    process.exit(0);
  }, warmupMs + durationMs);
} else {
  const counts = { ok: 0, shed: 0, timeout: 0, error: 0, other: 0 };
  const latencies = [];
  const probe = { ok: 0, failed: 0 };
  let sent = 0;
  let maxLagMs = 0;
  const start = performance.now();
  const end = warmupMs + durationMs;
  const interval = 1000 / rate;
  const sender = setInterval(() => {
    const elapsed = performance.now() - start;
    const due = Math.min(Math.floor(elapsed / interval), Math.floor(end / interval));
    while (sent < due) {
      const scheduled = sent * interval;
      if (elapsed - scheduled > maxLagMs) maxLagMs = elapsed - scheduled;
      const counted = scheduled >= warmupMs;
      sent++;
      get('/work', timeoutMs, true, (status, ms) => {
        if (!counted) return;
        if (status === 200) {
          counts.ok++;
          latencies.push(ms);
        } else if (status === 503) counts.shed++;
        else if (status === -1) counts.timeout++;
        else if (status === 0) counts.error++;
        else counts.other++;
      });
    }
  }, 1);
  const prober = setInterval(() => {
    if (performance.now() - start < warmupMs) return;
    get('/livez', 1000, false, (status) => {
      if (status === 200) probe.ok++;
      else probe.failed++;
    });
  }, probeEveryMs);
  setTimeout(() => {
    clearInterval(sender);
    clearInterval(prober);
    // Let the last requests reach their timeout.
    setTimeout(() => {
      process.stdout.write(
        `${JSON.stringify({ ...counts, seconds: durationMs / 1000, latencies, probe, maxLagMs })}\n`,
      );
      process.exit(0);
    }, timeoutMs + 200);
  }, end);
}
