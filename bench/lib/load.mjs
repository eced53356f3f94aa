#!/usr/bin/env node
// One autocannon run against one server, in its own process (the suite pins it to a core apart
// from the servers): `node bench/lib/load.mjs '<json>'` with
//   { port, pid, connections, duration, serverCpu }   (duration in seconds)
// Loads GET /users/<random int> on 127.0.0.1:<port>, and reads the server's CPU time from
// /proc/<pid>/stat right before the load starts and right after it ends, so the CPU window is the
// load window. Prints one JSON line with the result on stdout.
import autocannon from 'autocannon';
import { cpuLineTicks, procTicks } from './common.mjs';

const { port, pid, connections, duration, serverCpu = 0 } = JSON.parse(process.argv[2] ?? '{}');
if (!Number.isInteger(port) || !Number.isInteger(pid) || !(duration > 0) || !(connections > 0)) {
  console.error('usage: load.mjs \'{"port":N,"pid":N,"connections":N,"duration":S}\'');
  process.exit(2);
}

// Stop if the suite goes away (its end of our stdin closes).
process.stdin.on('end', () => process.exit(1));
process.stdin.on('close', () => process.exit(1));
process.stdin.resume();

const proc0 = procTicks(pid);
const core0 = cpuLineTicks(serverCpu);
const t0 = process.hrtime.bigint();
autocannon(
  {
    // Only ever loopback: the suite starts the servers on 127.0.0.1.
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          req.path = `/users/${Math.floor(Math.random() * 1_000_000)}`;
          return req;
        },
      },
    ],
  },
  (err, result) => {
    const proc1 = procTicks(pid);
    const ticks = proc1.user + proc1.system - proc0.user - proc0.system;
    const core1 = cpuLineTicks(serverCpu);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    if (err) {
      console.error('autocannon failed:', err);
      process.exit(1);
    }
    process.stdout.write(
      `${JSON.stringify({
        requests: result.requests.total,
        ok: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        p50: result.latency.p50,
        p99: result.latency.p99,
        wallS,
        cpuTicks: ticks,
        // the user-mode part (the rest is the kernel's: mostly the loopback TCP writes)
        userTicks: proc1.user - proc0.user,
        // everything else that ran on the server's CPU during the window (other servers' timers,
        // other people's work), and time the hypervisor took from that CPU
        foreignTicks: core1.busy - core0.busy - ticks,
        stealTicks: core1.steal - core0.steal,
      })}\n`,
    );
    process.exit(0);
  },
);
