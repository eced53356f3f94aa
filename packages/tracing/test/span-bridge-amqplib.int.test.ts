import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createMetrics, createSpanMetricsBridge, type Metrics } from '@vigil/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../src/index.js';

// The span-to-metrics bridge with a real messaging instrumentation (@opentelemetry/
// instrumentation-amqplib) against the RabbitMQ on this machine: the messaging series of the
// catalog appear from its PRODUCER and CONSUMER spans, and not twice when Vigil's own
// instrumentAmqplib() records the same connection.

const require = createRequire(import.meta.url);
const URL = 'amqp://guest:guest@127.0.0.1:5672';

interface Channel {
  assertQueue(q: string, o: object): Promise<unknown>;
  sendToQueue(q: string, b: Buffer): boolean;
  consume(q: string, fn: (m: unknown) => void): Promise<unknown>;
  ack(m: unknown): void;
  deleteQueue(q: string): Promise<unknown>;
}
interface Connection {
  createChannel(): Promise<Channel>;
  close(): Promise<void>;
}

let tracing: Tracing | undefined;
let metrics: Metrics | undefined;
let conn: Connection | undefined;
// One instrumentation per process: amqplib is patched once, when first loaded.
const instrumentation = new AmqplibInstrumentation();
afterEach(async () => {
  await conn?.close();
  await tracing?.close();
  await metrics?.close();
  conn = tracing = metrics = undefined;
});

async function run(vigilToo: boolean) {
  metrics = createMetrics({ runtimeMetrics: false });
  tracing = startTracing({
    exporter: new InMemorySpanExporter(),
    sampleRatio: 1,
    scheduledDelayMs: 1,
    logger: false,
    instrumentations: [instrumentation],
    spanProcessors: [createSpanMetricsBridge({ metrics })],
  });
  const amqp = require('amqplib') as { connect(url: string): Promise<Connection> };
  conn = await amqp.connect(URL);
  if (vigilToo) metrics.instrumentAmqplib(conn);
  const ch = await conn.createChannel();
  const q = `vigil-bridge-${randomUUID()}`;
  await ch.assertQueue(q, { durable: false, autoDelete: true });
  let consumed = 0;
  const all = new Promise<void>((resolve) => {
    void ch.consume(q, (msg) => {
      ch.ack(msg);
      if (++consumed === 3) resolve();
    });
  });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await all;
  // The consumer span ends on ack; the scrape after a flush sees every span that ended.
  await tracing.forceFlush();
  const text = (await metrics.scrape()).body.toString();
  return { q, text };
}

const value = (text: string, name: string, labels: Record<string, string>): number => {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(name) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return Number(line?.split(' ').at(-1) ?? 0);
};

describe('span-to-metrics bridge: amqplib + @opentelemetry/instrumentation-amqplib on RabbitMQ', () => {
  it('records messaging_published_total and messaging_process_duration_seconds from the spans', async () => {
    const { q, text } = await run(false);
    expect(
      value(text, 'messaging_published_total{', { destination: q, system: 'rabbitmq', outcome: 'sent' }),
    ).toBe(3);
    expect(
      value(text, 'messaging_process_duration_seconds_count{', {
        destination: q,
        system: 'rabbitmq',
        outcome: 'ack',
      }),
    ).toBe(3);
  });

  it("leaves RabbitMQ spans alone while Vigil's instrumentAmqplib() counts the connection", async () => {
    const { q, text } = await run(true);
    // Vigil's own counts, once: the bridge added nothing.
    expect(value(text, 'messaging_published_total{', { destination: q, outcome: 'sent' })).toBe(3);
    expect(value(text, 'messaging_process_duration_seconds_count{', { destination: q, outcome: 'ack' })).toBe(
      3,
    );
  });
});
