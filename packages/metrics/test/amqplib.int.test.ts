import { once } from 'node:events';
import { type MessageInfo, setTracingHook, type TracingHook } from '@vigil/core';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSamples } from '../../../test/helpers/http.js';
import { createMetrics, type Metrics } from '../src/index.js';

// Real RabbitMQ (127.0.0.1:5672, guest/guest), not skipped anywhere: the machines and CI run it.
const URL = 'amqp://guest:guest@127.0.0.1:5672';
let n = 0;
const name = (what: string) => `vigil.test.${process.pid}.${what}.${++n}`;

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

function make(): Metrics {
  const m = createMetrics({ runtimeMetrics: false });
  cleanup.push(() => m.close());
  return m;
}

async function connect(): Promise<ChannelModel> {
  const conn = await amqp.connect(URL);
  conn.on('error', () => {});
  cleanup.push(() => conn.close().catch(() => {}));
  return conn;
}

/** A queue deleted after the test (on a channel of the test's own). */
async function queue(conn: ChannelModel, q = name('q')): Promise<string> {
  const admin = await conn.createChannel();
  await admin.assertQueue(q, { autoDelete: false });
  cleanup.push(async () => {
    const ch = await conn.createChannel().catch(() => undefined);
    await ch?.deleteQueue(q).catch(() => {});
    await ch?.close().catch(() => {});
  });
  await admin.close();
  return q;
}

const sample = async (m: Metrics, metric: string, labels: Record<string, string>) => {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return parseSamples((await m.scrape()).body as string).get(`${metric}{${l}}`);
};
const publishedCount = (m: Metrics, destination: string, outcome: string) =>
  sample(m, 'messaging_published_total', { destination, system: 'rabbitmq', outcome });
const processedCount = (m: Metrics, destination: string, outcome: string) =>
  sample(m, 'messaging_process_duration_seconds_count', { destination, system: 'rabbitmq', outcome });

/** Consumes `count` messages with `handle`, resolving once each has been handled. */
function consumeN(
  ch: Channel,
  q: string,
  count: number,
  handle: (msg: ConsumeMessage, i: number) => unknown,
  options?: { noAck?: boolean },
): Promise<void> {
  return new Promise((resolve, reject) => {
    let i = 0;
    ch.consume(
      q,
      (msg) => {
        if (msg === null) return;
        const at = i++;
        const r = handle(msg, at);
        const done = () => {
          if (at === count - 1) resolve();
        };
        if (r instanceof Promise) r.then(done, done);
        else done();
        return r;
      },
      options,
    ).catch(reject);
  });
}

describe('instrumentAmqplib (real RabbitMQ)', () => {
  it('counts publishes and times consumers by queue and outcome: ack, nack, reject, a failing handler', async () => {
    const m = make();
    const conn = await connect();
    m.instrumentAmqplib(conn);
    const q = await queue(conn);
    const exchange = name('x');
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'fanout', { autoDelete: true });
    await ch.bindQueue(q, exchange, '');
    ch.sendToQueue(q, Buffer.from('a'));
    ch.sendToQueue(q, Buffer.from('b'));
    ch.publish(exchange, '', Buffer.from('c'));
    ch.publish(exchange, '', Buffer.from('d'));

    await consumeN(ch, q, 4, (msg, i) => {
      if (i === 0) ch.ack(msg);
      else if (i === 1) ch.nack(msg, false, false);
      else if (i === 2) ch.reject(msg, false);
      else return Promise.reject(new Error('handler failed'));
      return undefined;
    });
    // The failing handler's message is unacknowledged: settled by its rejection, then acked late.
    expect(await publishedCount(m, q, 'sent')).toBe(2);
    expect(await publishedCount(m, exchange, 'sent')).toBe(2);
    expect(await processedCount(m, q, 'ack')).toBe(1);
    expect(await processedCount(m, q, 'nack')).toBe(2);
    await expect.poll(() => processedCount(m, q, 'error')).toBe(1);
    await ch.close();
  });

  it('ackAll and allUpTo settle every message they cover; a closed channel fails the rest', async () => {
    const m = make();
    const conn = await connect();
    m.instrumentAmqplib(conn);
    const q = await queue(conn);
    const ch = await conn.createChannel();
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    const msgs: ConsumeMessage[] = [];
    await consumeN(ch, q, 5, (msg) => msgs.push(msg));
    ch.ack(msgs[1] as ConsumeMessage, true); // the first two
    ch.nack(msgs[2] as ConsumeMessage, false, false);
    expect(await processedCount(m, q, 'ack')).toBe(2);
    expect(await processedCount(m, q, 'nack')).toBe(1);
    // Two left unacknowledged: the channel's close returns them to the queue, counted as errors.
    await ch.close();
    expect(await processedCount(m, q, 'error')).toBe(2);

    const ch2 = await conn.createChannel();
    const again: ConsumeMessage[] = [];
    await consumeN(ch2, q, 2, (msg) => again.push(msg));
    ch2.ackAll();
    expect(await processedCount(m, q, 'ack')).toBe(4);
    await ch2.close();
  });

  it('without acknowledgements (noAck) a message is done when its handler returns', async () => {
    const m = make();
    const conn = await connect();
    const ch = await conn.createChannel();
    m.instrumentAmqplib(ch);
    const q = await queue(conn);
    ch.sendToQueue(q, Buffer.from('x'));
    ch.sendToQueue(q, Buffer.from('y'));
    await consumeN(ch, q, 2, (_msg, i) => (i === 0 ? undefined : Promise.reject(new Error('no'))), {
      noAck: true,
    });
    expect(await processedCount(m, q, 'ack')).toBe(1);
    await expect.poll(() => processedCount(m, q, 'error')).toBe(1);
    await ch.close();
  });

  it('confirm channels: ack from the broker, and an error when the channel closes before confirming', async () => {
    const m = make();
    const conn = await connect();
    m.instrumentAmqplib(conn);
    const q = await queue(conn);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => {});
    const seen: unknown[] = [];
    await new Promise<void>((resolve) =>
      ch.sendToQueue(q, Buffer.from('1'), {}, (err) => {
        seen.push(err);
        resolve();
      }),
    );
    ch.sendToQueue(q, Buffer.from('2')); // no callback of the caller's
    await ch.waitForConfirms();
    expect(seen).toEqual([null]);
    expect(await publishedCount(m, q, 'ack')).toBe(2);

    // Publishing to a missing exchange makes the broker close the channel: the message is lost.
    const missing = name('missing');
    const failed = new Promise((resolve) => ch.publish(missing, '', Buffer.from('3'), {}, resolve));
    expect(await failed).toBeInstanceOf(Error);
    expect(await publishedCount(m, missing, 'error')).toBe(1);
    // On the closed channel the publish throws, as amqplib does, and is counted.
    expect(() => ch.sendToQueue(q, Buffer.from('4'))).toThrow(/closed/i);
    expect(await publishedCount(m, q, 'error')).toBe(1);
  });

  it('bounds destinations: server-named queues are one value, past maxDestinations __overflow__', async () => {
    const m = make();
    const conn = await connect();
    m.instrumentAmqplib(conn, { maxDestinations: 2 });
    const ch = await conn.createChannel();
    const { queue: temp } = await ch.assertQueue('', { exclusive: true });
    expect(temp).toMatch(/^amq\.gen-/);
    ch.sendToQueue(temp, Buffer.from('r'));
    const names = [name('a'), name('b'), name('c'), name('d')];
    for (const q of names) ch.sendToQueue(q, Buffer.from('x')); // unroutable: dropped by the broker
    expect(await publishedCount(m, '(temporary)', 'sent')).toBe(1);
    expect(await publishedCount(m, names[0] as string, 'sent')).toBe(1);
    expect(await publishedCount(m, names[1] as string, 'sent')).toBe(1);
    expect(await publishedCount(m, '__overflow__', 'sent')).toBe(2);
    expect((await m.scrape()).body).not.toContain(temp);
    await ch.close();
  });

  it('past the series cap a publish keeps its system and outcome', async () => {
    const m = createMetrics({ runtimeMetrics: false, maxSeries: 2 });
    cleanup.push(() => m.close());
    const conn = await connect();
    m.instrumentAmqplib(conn);
    const ch = await conn.createChannel();
    for (const q of [name('a'), name('b'), name('c')]) ch.sendToQueue(q, Buffer.from('x'));
    expect(await publishedCount(m, '__overflow__', 'sent')).toBe(1);
    await ch.close();
  });

  it('carries the trace context in the headers, never in the caller’s options, and runs the handler in the consumer span', async () => {
    const sends: { info: MessageInfo; ended?: string }[] = [];
    const processes: { info: MessageInfo; headers: unknown; ran: boolean; ended?: string }[] = [];
    let inSpan: (typeof processes)[number] | undefined;
    const hook = {
      startSend(info: MessageInfo, headers: Record<string, unknown>) {
        headers.traceparent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
        const s = { info, exemplar: undefined };
        sends.push(s);
        return s;
      },
      startProcess(info: MessageInfo, headers: unknown) {
        const s = { info, headers, ran: false, exemplar: undefined };
        processes.push(s);
        return s;
      },
      runMessage<T>(t: unknown, fn: () => T): T {
        inSpan = t as (typeof processes)[number];
        try {
          return fn();
        } finally {
          inSpan = undefined;
        }
      },
      endMessage(t: unknown, _error: unknown, outcome: string) {
        (t as { ended?: string }).ended = outcome;
      },
    } as unknown as TracingHook;
    setTracingHook(hook);
    cleanup.push(() => setTracingHook(undefined));

    const m = make();
    const conn = await connect();
    m.instrumentAmqplib(conn);
    const q = await queue(conn);
    const ch = await conn.createChannel();
    const options = { messageId: 'm-1', headers: { tenant: 'a' } };
    ch.sendToQueue(q, Buffer.from('hello'), options);
    expect(options).toEqual({ messageId: 'm-1', headers: { tenant: 'a' } });
    await consumeN(ch, q, 1, (msg) => {
      processes[0]!.ran = inSpan === processes[0];
      ch.ack(msg);
    });
    expect(sends[0]).toMatchObject({
      info: { system: 'rabbitmq', destination: '', routingKey: q, messageId: 'm-1', bodySize: 5 },
      ended: 'sent',
    });
    expect(processes[0]).toMatchObject({
      info: { system: 'rabbitmq', destination: q, messageId: 'm-1', bodySize: 5 },
      headers: { tenant: 'a', traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` },
      ran: true,
      ended: 'ack',
    });
    await ch.close();
  });

  it('reports queue depth from the broker on its own channel; a missing queue has no series and closes nothing of the app', async () => {
    const m = make();
    const conn = await connect();
    const q = await queue(conn);
    const app = await conn.createChannel();
    for (let i = 0; i < 3; i++) app.sendToQueue(q, Buffer.from(String(i)));
    const missing = name('missing');
    m.instrumentAmqplib(conn, { queues: [q, missing], queuePollIntervalMs: 1 });
    const depth = (d: string) =>
      sample(m, 'messaging_queue_messages', { destination: d, system: 'rabbitmq' });
    await expect.poll(() => depth(q)).toBe(3);
    expect(await depth(missing)).toBeUndefined();
    // The application's channel is still usable.
    await app.checkQueue(q);
    await app.close();
  });

  it('a closed connection: no crash, the depth series goes away, nothing keeps the process alive', async () => {
    const m = make();
    const conn = await amqp.connect(URL);
    const q = await queue(conn);
    const off = m.instrumentAmqplib(conn, { queues: [q], queuePollIntervalMs: 1 });
    const depth = () => sample(m, 'messaging_queue_messages', { destination: q, system: 'rabbitmq' });
    await expect.poll(() => depth()).toBe(0);
    const closed = once(conn, 'close');
    await conn.close();
    await closed;
    await expect.poll(() => depth()).toBeUndefined();
    await expect(conn.createChannel()).rejects.toThrow(/closed/i);
    off();
  });

  it('undo restores the channel and connection methods and stops counting', async () => {
    const m = make();
    const conn = await connect();
    const createChannel = conn.createChannel;
    const off = m.instrumentAmqplib(conn);
    expect(conn.createChannel).not.toBe(createChannel);
    const q = await queue(conn);
    const ch = await conn.createChannel();
    ch.sendToQueue(q, Buffer.from('1'));
    expect(() => m.instrumentAmqplib(ch)).toThrow(/not instrumented yet/);
    off();
    off();
    expect(conn.createChannel).toBe(createChannel);
    expect(Object.hasOwn(ch, 'publish')).toBe(false);
    ch.sendToQueue(q, Buffer.from('2'));
    expect(await publishedCount(m, q, 'sent')).toBe(1);
    // Instrumentable again once undone.
    m.instrumentAmqplib(ch)();
    await ch.close();
  });

  it('rejects what is not a connection or channel, and bad options, naming them', async () => {
    const m = make();
    expect(() => m.instrumentAmqplib({})).toThrow(/instrumentAmqplib\(target\)/);
    expect(() => m.instrumentAmqplib(null as never)).toThrow(/instrumentAmqplib\(target\)/);
    const conn = await connect();
    expect(() => m.instrumentAmqplib(conn, { maxDestinations: 0 })).toThrow(/"maxDestinations"/);
    expect(() => m.instrumentAmqplib(conn, { queues: 'q' as never })).toThrow(/"queues"/);
    expect(() => m.instrumentAmqplib(conn, { queuePollIntervalMs: -1 })).toThrow(/"queuePollIntervalMs"/);
    expect(() => m.instrumentAmqplib(conn, { nope: 1 } as never)).toThrow(/nope/);
    const ch = await conn.createChannel();
    expect(() => m.instrumentAmqplib(ch, { queues: ['q'] })).toThrow(/"queues"/);
    await ch.close();
  });
});
