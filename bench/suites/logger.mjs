#!/usr/bin/env node
// What one log line costs through @vigil/logger's createLogger() (pino, Vigil's redaction, its
// formatters) next to pino configured the same way without redaction, and what each destination
// costs per line (Vigil's writers against pino's sonic-boom), all in one process.
//
// Method: CPU time (process.cpuUsage, user + system) of slices of LOGGER_BENCH_SLICE lines per
// task, the task order rotated each round, LOGGER_BENCH_ROUNDS rounds; the figure is the median
// per line. CPU time, not wall time: being descheduled by other processes does not count, which
// keeps ratios steady on a shared machine. Lines go to a stream that discards them, except in the
// destination rows (a file in the OS temp dir, and /dev/null).
// Targets (issue 19): redaction <= 1 µs per typical line, <= 5 µs for a line with an Error.
//
//   node bench/suites/logger.mjs                                  # 15 rounds x 20,000 lines
//   LOGGER_BENCH_ROUNDS=3 LOGGER_BENCH_SLICE=5000 node bench/suites/logger.mjs   # smoke run
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@vigil/logger';
import pino from 'pino';
import { envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('LOGGER_BENCH_ROUNDS', 15, { integer: true });
const SLICE = envNumber('LOGGER_BENCH_SLICE', 20_000, { integer: true });
const TARGETS = { typical: 1_000, error: 5_000 };

const discard = { write() {} };
const service = 'bench';
/** pino as createLogger() sets it up (string level, pid + service), without Vigil's redaction. */
const pinoLike = (dest) =>
  pino({ base: { pid: process.pid, service }, formatters: { level: (label) => ({ level: label }) } }, dest);
const vigil = (destination) => createLogger({ service, destination, traceContext: false });

// A typical application line: a few fields and a small nested object.
const typical = { orderId: 4242, customer: { id: 'c-981', tier: 'gold' }, items: 3, total: 99.5 };
// A line with request headers, one of them a credential.
const headers = {
  req: {
    method: 'GET',
    url: '/orders/4242',
    headers: {
      host: 'orders.internal:8080',
      'user-agent': 'curl/8.5.0',
      accept: 'application/json',
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl',
      'x-request-id': '5f0c7a4e-0d6a-4a53-9f2b-0b2f4c6f1a11',
    },
  },
};
// An HTTP client error as axios makes them: enumerable config (with the Authorization header), a
// request object and a cause.
function axiosLikeError() {
  const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:443'), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '10.0.0.7',
    port: 443,
  });
  const err = new Error('Request failed', { cause });
  Object.assign(err, {
    name: 'AxiosError',
    code: 'ECONNREFUSED',
    config: {
      method: 'get',
      url: 'https://payments.internal/v1/charges?limit=10',
      timeout: 5000,
      headers: { Accept: 'application/json', Authorization: 'Bearer sk_live_abcdef0123456789' },
    },
    request: { method: 'GET', path: '/v1/charges?limit=10', host: 'payments.internal' },
  });
  return err;
}
const err = axiosLikeError();

const dir = mkdtempSync(join(tmpdir(), 'vigil-logger-bench-'));
const devNull = openSync('/dev/null', 'w');

const lines = [
  ['typical line (4 fields, one nested object)', 'typical', (l) => l.info(typical, 'order placed')],
  ['line with request headers (authorization among them)', 'headers', (l) => l.info(headers, 'calling')],
  [
    '`log.error({ err })`, an axios-like Error (config, request, cause)',
    'error',
    (l) => l.error({ err }, 'call failed'),
  ],
];
const tasks = [];
for (const [label, key, fn] of lines) {
  const p = pinoLike(discard);
  const v = vigil(discard);
  tasks.push([`pino, no redaction: ${label}`, `pino-${key}`, () => fn(p)]);
  tasks.push([`Vigil createLogger(): ${label}`, `vigil-${key}`, () => fn(v)]);
}
// Destinations, per typical line (serialisation included).
const fileVigil = vigil(join(dir, 'vigil.log'));
const sonic = [
  pino.destination({ dest: join(dir, 'sonic-sync.log'), sync: true, minLength: 4096 }),
  pino.destination({ dest: join(dir, 'sonic-async.log'), sync: false }),
  pino.destination({ dest: devNull, sync: false }),
];
const fileSonicSync = pinoLike(sonic[0]);
const fileSonicAsync = pinoLike(sonic[1]);
const fdVigil = vigil(devNull);
const fdSonic = pinoLike(sonic[2]);
const dests = [
  [
    'file path: Vigil (createLogger destination: path)',
    'file-vigil',
    () => fileVigil.info(typical, 'order placed'),
  ],
  [
    'file path: sonic-boom sync, 4 KB blocks',
    'file-sonic-sync',
    () => fileSonicSync.info(typical, 'order placed'),
  ],
  [
    'file path: sonic-boom async (pino.destination)',
    'file-sonic-async',
    () => fileSonicAsync.info(typical, 'order placed'),
  ],
  [
    'fd (/dev/null): Vigil (createLogger destination: fd)',
    'fd-vigil',
    () => fdVigil.info(typical, 'order placed'),
  ],
  [
    'fd (/dev/null): sonic-boom async (pino default for stdout)',
    'fd-sonic',
    () => fdSonic.info(typical, 'order placed'),
  ],
];
const all = [...tasks, ...dests];

const samples = new Map(all.map(([, key]) => [key, []]));
const drain = () => new Promise((r) => setImmediate(r)); // lets async writers complete between slices
for (const [, , run] of all) for (let n = 0; n < SLICE / 4; n++) run(); // warm-up
await drain();
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < all.length; i++) {
    const [, key, run] = all[(i + round) % all.length];
    const before = process.cpuUsage();
    for (let n = 0; n < SLICE; n++) run();
    const used = process.cpuUsage(before);
    samples.get(key).push(((used.user + used.system) * 1000) / SLICE);
    await drain();
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS}\n`);
}
// Ended before exit: pino flushes a sonic-boom still writing at exit synchronously, and waits.
await Promise.all(
  sonic.map(
    (d) =>
      new Promise((r) => {
        d.once('close', r);
        d.end();
      }),
  ),
);

const ns = Object.fromEntries([...samples].map(([k, xs]) => [k, median(xs)]));
const lineRows = lines.map(([label, key]) => {
  const added = ns[`vigil-${key}`] - ns[`pino-${key}`];
  const target = key === 'error' ? TARGETS.error : TARGETS.typical;
  return [
    label,
    fmt(ns[`pino-${key}`], 0),
    fmt(ns[`vigil-${key}`], 0),
    fmt(added, 0),
    `${(ns[`vigil-${key}`] / ns[`pino-${key}`]).toFixed(2)}x`,
    `${fmt(target, 0)} (${added <= target ? 'met' : 'NOT met'})`,
  ];
});
const destRows = dests.map(([label, key]) => [
  label,
  fmt(ns[key], 0),
  `${(ns[key] / ns['file-vigil']).toFixed(2)}x`,
]);
const spread = [...samples].map(
  ([k, xs]) => `${k} ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`,
);

writeResult(
  'logger',
  `# Logger: cost per line

${machineMarkdown()}

Method: CPU time of ${ROUNDS} rounds × ${SLICE.toLocaleString('en-US')} lines per task, task order
rotated each round, median ns per line. One process; lines go to a discarding stream unless the row
names a destination. \`node bench/suites/logger.mjs\`.

## Redaction and serialisation

"pino" is pino set up like \`createLogger()\` (string level, \`pid\`, \`service\`) without Vigil's
redaction; the difference is what Vigil adds per line (the redaction walk over what pino will
serialise, string scrubbing, its formatters).

${mdTable(['line', 'pino ns/line', 'Vigil ns/line', 'Vigil adds ns/line', 'ratio', 'target ns'], lineRows)}

## Destinations (typical line, serialisation included)

${mdTable(['destination', 'ns/line', 'vs Vigil file'], destRows)}

Per-round range (ns/line): ${spread.join('; ')}.
`,
);

await fileVigil.close?.();
await fdVigil.close?.();
closeSync(devNull);
rmSync(dir, { recursive: true, force: true });
