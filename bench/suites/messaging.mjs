#!/usr/bin/env node
// amqplib cost (issue 22): `metrics.instrumentAmqplib(channel)` against the bare channel, on the
// real RabbitMQ of the machine (127.0.0.1:5672, guest/guest).
//
// 1. Publish: `sendToQueue` of a 64-byte message on a plain channel, client CPU per publish,
//    bare and instrumented, interleaved per round (the broker's work is not in the figure; the
//    queue is purged between batches).
// 2. Consume: messages delivered to a consumer that acks each one, client CPU per message from the
//    first delivery to the last ack, bare and instrumented.
// Without `@vigil/tracing` started (no spans, no headers): the cost of the metrics alone.
//
//   node bench/suites/messaging.mjs
//   MQ_BENCH_ROUNDS=5 MQ_BENCH_MESSAGES=5000 node bench/suites/messaging.mjs
import { createMetrics } from '@vigil/metrics';
import amqp from 'amqplib';
import { envNumber, fmt, machineMarkdown, mdTable, median, writeResult } from '../lib/common.mjs';

const ROUNDS = envNumber('MQ_BENCH_ROUNDS', 10, { integer: true });
const MESSAGES = envNumber('MQ_BENCH_MESSAGES', 20_000, { integer: true });
const URL = process.env.MQ_BENCH_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const metrics = createMetrics({ runtimeMetrics: false });
const conn = await amqp.connect(URL);
const queue = `vigil.bench.${process.pid}`;
const admin = await conn.createChannel();
await admin.assertQueue(queue, { autoDelete: false, durable: false });
const body = Buffer.alloc(64, 'x');

/** CPU µs per publish of MESSAGES messages on a fresh channel (drain respected). */
async function publishBatch(instrumented) {
  const ch = await conn.createChannel();
  const off = instrumented ? metrics.instrumentAmqplib(ch) : undefined;
  const c0 = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) {
    if (!ch.sendToQueue(queue, body)) await new Promise((r) => ch.once('drain', r));
  }
  const c = process.cpuUsage(c0);
  off?.();
  await ch.close();
  await admin.purgeQueue(queue);
  return (c.user + c.system) / MESSAGES;
}

/** CPU µs per message consumed and acked, MESSAGES messages queued beforehand. */
async function consumeBatch(instrumented) {
  const pub = await conn.createConfirmChannel();
  for (let i = 0; i < MESSAGES; i++) {
    if (!pub.sendToQueue(queue, body)) await new Promise((r) => pub.once('drain', r));
  }
  await pub.waitForConfirms();
  await pub.close();
  const ch = await conn.createChannel();
  await ch.prefetch(500);
  const off = instrumented ? metrics.instrumentAmqplib(ch) : undefined;
  let c0;
  let n = 0;
  const done = new Promise((resolve) => {
    ch.consume(queue, (msg) => {
      if (msg === null) return;
      if (n === 0) c0 = process.cpuUsage();
      ch.ack(msg);
      if (++n === MESSAGES) resolve(process.cpuUsage(c0));
    });
  });
  const c = await done;
  off?.();
  await ch.close();
  return (c.user + c.system) / (MESSAGES - 1);
}

const results = {};
for (const [name, run] of [
  ['publish', publishBatch],
  ['consume', consumeBatch],
]) {
  results[name] = { bare: [], observed: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of round % 2 ? ['observed', 'bare'] : ['bare', 'observed']) {
      const us = await run(mode === 'observed');
      if (round > 0) results[name][mode].push(us);
    }
  }
}
await admin.deleteQueue(queue);
await conn.close();
await metrics.close();

const row = (label, r) => {
  const added = r.observed.map((x, i) => x - r.bare[i]);
  return [label, fmt(median(r.bare), 2), fmt(median(r.observed), 2), `**${fmt(median(added), 2)}**`];
};
writeResult(
  'messaging',
  [
    '# amqplib: CPU per message',
    '',
    machineMarkdown(),
    `- ${ROUNDS} rounds of ${MESSAGES} messages (64 bytes) per mode, bare and instrumented interleaved; real RabbitMQ on 127.0.0.1`,
    '',
    mdTable(
      [
        'operation',
        'bare µs CPU (median)',
        'instrumented',
        'added per message (median of per-round differences)',
      ],
      [
        row('`sendToQueue` on a plain channel (outcome `sent`)', results.publish),
        row('consume and `ack` (prefetch 500)', results.consume),
      ],
    ),
    '',
    'Without `@vigil/tracing` started (no spans, no trace headers): the metrics alone.',
  ].join('\n'),
);
