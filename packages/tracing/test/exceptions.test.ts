import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createExpressMetrics } from '@vigil/express';
import { vigilMetrics } from '@vigil/fastify';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../src/index.js';

// A handler's thrown error becomes an `exception` event on the request's server span, through
// Express' `metrics.errorHandler` and the Fastify plugin's onError hook; the answer is unchanged.

let tracing: Tracing | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await tracing?.close();
  tracing = undefined;
});

function start() {
  const exporter = new InMemorySpanExporter();
  tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false });
  return async (): Promise<ReadableSpan[]> => {
    await tracing!.forceFlush();
    return exporter.getFinishedSpans();
  };
}

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

function serverSpan(all: ReadableSpan[], route: string): ReadableSpan {
  const span = all.find((s) => s.attributes['http.route'] === route);
  if (span === undefined) throw new Error(`no span for ${route}: ${all.map((s) => s.name).join(', ')}`);
  return span;
}

describe('exceptions on the server span', () => {
  it('Express: errorHandler records the thrown error (sync and async) and passes it on', async () => {
    const spans = start();
    const app = express();
    const metrics = createExpressMetrics();
    app.use(metrics.middleware);
    app.get('/sync', () => {
      throw new PaymentDeclined('card declined');
    });
    app.get('/async', async () => {
      await Promise.resolve();
      throw new PaymentDeclined('async declined');
    });
    app.get('/ok', (_req, res) => {
      res.send('ok');
    });
    app.use(metrics.errorHandler);
    // A second hand-off of the same error (a filter and the hook both) adds no second event.
    app.use(metrics.errorHandler);
    // The application's own error handler still runs after Vigil's and decides the answer.
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(502).json({ error: err.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(
      () => new Promise((r) => server.close(r)),
      () => metrics.close(),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const sync = await fetch(`${base}/sync`);
    expect(sync.status).toBe(502);
    expect(await sync.json()).toEqual({ error: 'card declined' });
    expect((await fetch(`${base}/async`)).status).toBe(502);
    expect((await fetch(`${base}/ok`)).status).toBe(200);

    const all = await spans();
    for (const [route, message] of [
      ['/sync', 'card declined'],
      ['/async', 'async declined'],
    ] as const) {
      const span = serverSpan(all, route);
      const events = span.events.filter((e) => e.name === 'exception');
      expect(events, route).toHaveLength(1);
      expect(events[0]?.attributes?.['exception.type']).toBe('PaymentDeclined');
      expect(events[0]?.attributes?.['exception.message']).toBe(message);
      expect(span.attributes['http.response.status_code']).toBe(502);
      expect(span.attributes['error.type']).toBe('502');
    }
    expect(serverSpan(all, '/ok').events).toEqual([]);
  });

  it('Fastify: the plugin records a handler error; a thrown non-Error is recorded too', async () => {
    const spans = start();
    const app = Fastify();
    await app.register(vigilMetrics);
    app.get('/boom', async () => {
      throw new PaymentDeclined('fastify declined');
    });
    app.get('/string', async () => {
      throw 'plain string'; // a non-Error throw, on purpose
    });
    closers.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    expect((await fetch(`${base}/boom`)).status).toBe(500);
    expect((await fetch(`${base}/string`)).status).toBe(500);
    const all = await spans();
    const boom = serverSpan(all, '/boom').events.filter((e) => e.name === 'exception');
    expect(boom).toHaveLength(1);
    expect(boom[0]?.attributes?.['exception.type']).toBe('PaymentDeclined');
    expect(boom[0]?.attributes?.['exception.message']).toBe('fastify declined');
    expect(serverSpan(all, '/boom').attributes['error.type']).toBe('500');
    const str = serverSpan(all, '/string').events.filter((e) => e.name === 'exception');
    expect(str).toHaveLength(1);
  });
});
