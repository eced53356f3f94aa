// (f) A message published on RabbitMQ inside an HTTP request and consumed on another connection
// (a second service's, in this process) whose handler queries Redis through node-redis: one trace
// SERVER -> PRODUCER -> CONSUMER -> CLIENT, the trace context carried only by the message's headers
// (the consumer runs in its connection's socket context, not the request's), and the messaging
// and database series. Real servers (RabbitMQ 127.0.0.1:5672, Redis 127.0.0.1:6379), packed
// tarballs, ESM.

import http from 'node:http';
import { createRequire } from 'node:module';
import { createHttpObserver, createMetrics } from '@vigil/metrics';
import { startTracing } from '@vigil/tracing';
import amqp from 'amqplib';
import { createClient } from 'redis';

const require = createRequire(import.meta.url);
const { check, ok, runMain, watchdog } = require('./helpers.cjs');

watchdog(20_000, 'messaging app');

runMain(async () => {
  const spans = [];
  const exporter = {
    export(batch, done) {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const tracing = startTracing({ serviceName: 'consumer', exporter, scheduledDelayMs: 1, logger: false });
  const metrics = createMetrics({ runtimeMetrics: false });
  metrics.instrumentRedis();
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  const producerConn = await amqp.connect(url);
  const consumerConn = await amqp.connect(url);
  metrics.instrumentAmqplib(producerConn);
  const queue = `vigil.consumer-check.${process.pid}`;
  metrics.instrumentAmqplib(consumerConn, { queues: [queue] });
  const redis = createClient({ url: 'redis://127.0.0.1:6379' });
  await redis.connect();
  const pub = await producerConn.createChannel();
  await pub.assertQueue(queue, { autoDelete: true });
  const sub = await consumerConn.createChannel();

  const server = http.createServer((_req, res) => {
    pub.sendToQueue(queue, Buffer.from('order-1'));
    res.end('queued');
  });
  const observer = createHttpObserver(server, { metrics, route: () => '/orders' });
  try {
    const consumed = new Promise((resolve) => {
      sub.consume(queue, async (msg) => {
        if (msg === null) return;
        await redis.get('vigil:consumer:order');
        sub.ack(msg);
        resolve(msg);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise((resolve, reject) =>
      http
        .get(`http://127.0.0.1:${server.address().port}/orders`, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject),
    );
    const msg = await consumed;
    check(
      /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(String(msg.properties.headers?.traceparent)),
      `the message carries traceparent, got ${msg.properties.headers?.traceparent}`,
    );
    await tracing.forceFlush();

    const byKind = (k) => spans.filter((s) => s.kind === k);
    const [serverSpan] = byKind(1);
    const [producer] = byKind(3);
    const [consumer] = byKind(4);
    const query = byKind(2).find((s) => s.name === 'GET');
    check(
      serverSpan && producer && consumer && query,
      `server, producer, consumer and GET spans, got ${spans.map((s) => s.name).join(', ')}`,
    );
    const traceId = serverSpan.spanContext().traceId;
    for (const s of [producer, consumer, query]) {
      check(s.spanContext().traceId === traceId, `span ${s.name} is in the request's trace`);
    }
    check(
      producer.parentSpanContext?.spanId === serverSpan.spanContext().spanId,
      'producer under the server span',
    );
    check(
      consumer.parentSpanContext?.spanId === producer.spanContext().spanId,
      'consumer under the producer span',
    );
    check(
      query.parentSpanContext?.spanId === consumer.spanContext().spanId,
      'the Redis query under the consumer span',
    );
    ok(`one trace: ${[serverSpan, producer, consumer, query].map((s) => s.name).join(' -> ')}`);

    const body = (await metrics.scrape()).body;
    check(
      body.includes(`messaging_published_total{destination="${queue}",system="rabbitmq",outcome="sent"} 1`),
      'messaging_published_total counts the publish',
    );
    check(
      body.includes(
        `messaging_process_duration_seconds_count{destination="${queue}",system="rabbitmq",outcome="ack"} 1`,
      ),
      'messaging_process_duration_seconds counts the processed message',
    );
    check(
      /database_query_duration_seconds_count\{table="unknown",operation="GET",outcome="success",system="redis"\} 1/.test(
        body,
      ),
      'a node-redis series labelled by command',
    );
    ok('messaging_published_total, messaging_process_duration_seconds and the node-redis series');
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await observer.close();
    await sub.close().catch(() => {});
    await pub.close().catch(() => {});
    await consumerConn.close();
    await producerConn.close();
    await redis.quit();
    await metrics.close();
    await tracing.close();
  }
});
