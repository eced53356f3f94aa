import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createHttpObserver, createMetrics } from '@vigil/metrics';
import amqp, { type ConsumeMessage } from 'amqplib';
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../src/index.js';

// A message published inside an HTTP request and consumed by a handler that queries MariaDB: one
// trace, SERVER -> PRODUCER -> CONSUMER -> CLIENT (real RabbitMQ 127.0.0.1:5672 and MariaDB
// 127.0.0.1:3306; not skipped anywhere). The consumer runs outside the request's async context, so
// its parent can only come from the message's headers.

const PRODUCER = 3;
const CONSUMER = 4;
const URL = 'amqp://guest:guest@127.0.0.1:5672';

let tracing: Tracing | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  await tracing?.close();
  tracing = undefined;
});

describe('amqplib publish and consume with @vigil/tracing', () => {
  it('one trace from the HTTP request through the queue to the consumer’s database query', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false });
    const metrics = createMetrics({ runtimeMetrics: false });
    closers.push(() => metrics.close());
    metrics.instrumentMysql2();
    const conn = await amqp.connect(URL);
    closers.push(() => conn.close());
    metrics.instrumentAmqplib(conn);
    const db = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
    closers.push(() => db.end());

    const q = `vigil.trace.${process.pid}`;
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { autoDelete: true });
    closers.push(() => ch.close());
    const consumed = new Promise<ConsumeMessage>((resolve) => {
      ch.consume(q, async (msg) => {
        if (msg === null) return;
        await db.query('SELECT 1 AS one');
        ch.ack(msg);
        resolve(msg);
      });
    });

    const server = http.createServer((_req, res) => {
      ch.sendToQueue(q, Buffer.from('order-1'));
      res.end('queued');
    });
    const observer = createHttpObserver(server, { metrics, route: () => '/orders' });
    closers.push(() => observer.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    await new Promise<void>((resolve, reject) =>
      http
        .get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject),
    );
    const msg = await consumed;
    expect(String(msg.properties.headers?.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans();
    const server_ = spans.find((s) => s.name === 'GET /orders');
    const producer = spans.find((s) => s.kind === PRODUCER);
    const consumer = spans.find((s) => s.kind === CONSUMER);
    const query = spans.find((s) => s.name === 'SELECT');
    expect(server_ && producer && consumer && query).toBeTruthy();
    const traceId = server_?.spanContext().traceId;
    for (const s of [producer, consumer, query]) expect(s?.spanContext().traceId).toBe(traceId);
    expect(producer?.parentSpanContext?.spanId).toBe(server_?.spanContext().spanId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(query?.parentSpanContext?.spanId).toBe(consumer?.spanContext().spanId);
    expect(producer?.name).toBe('publish amq.default');
    expect(producer?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': '',
      'messaging.rabbitmq.destination.routing_key': q,
      'messaging.message.body.size': 7,
    });
    expect(consumer?.name).toBe(`process ${q}`);
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': q,
      'vigil.messaging.outcome': 'ack',
    });
  });

  it('a message without trace context starts a trace of its own; a failing handler marks its span', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false });
    const metrics = createMetrics({ runtimeMetrics: false });
    closers.push(() => metrics.close());
    const conn = await amqp.connect(URL);
    closers.push(() => conn.close());
    metrics.instrumentAmqplib(conn);
    const q = `vigil.trace.root.${process.pid}`;
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { autoDelete: true });
    closers.push(() => ch.close());
    const handled = new Promise<void>((resolve) => {
      ch.consume(q, (msg) => {
        if (msg === null) return;
        resolve();
        return Promise.reject(new Error('cannot process'));
      });
    });
    // Published outside any span: no producer span, no header.
    ch.sendToQueue(q, Buffer.from('x'));
    await handled;
    // The rejection is observed in a microtask after the handler returned: all run before setImmediate.
    await new Promise((r) => setImmediate(r));
    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans();
    expect(spans.filter((s) => s.kind === PRODUCER)).toHaveLength(0);
    const consumer = spans.find((s) => s.kind === CONSUMER);
    expect(consumer?.parentSpanContext).toBeUndefined();
    expect(consumer?.status.code).toBe(2);
    expect(consumer?.attributes['vigil.messaging.outcome']).toBe('error');
  });
});
