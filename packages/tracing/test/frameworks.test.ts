import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createExpressMetrics } from '@vigil/express';
import { createHttpObserver } from '@vigil/metrics';
import type { NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { activeTrace, startTracing, type Tracing } from '../src/index.js';

// Server spans from the adapters beyond Express 5 and Fastify 5: Express 4, and a plain node:http
// server through createHttpObserver. Each: the span is named by the route template, continues
// the caller's trace, and the handler runs inside it.

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

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

function serverSpan(all: ReadableSpan[], route: string): ReadableSpan {
  const span = all.find((s) => s.attributes['http.route'] === route);
  if (span === undefined) throw new Error(`no span for ${route}: ${all.map((s) => s.name).join(', ')}`);
  return span;
}

describe('server spans', () => {
  it('Express 4: named by the template through parameterised mounts; handler in the span; errors', async () => {
    const spans = start();
    const app = express4();
    const metrics = createExpressMetrics({ runtimeMetrics: false });
    app.use(metrics.middleware);
    const orders = express4.Router({ mergeParams: true });
    orders.get('/', (_req, res) => {
      res.json(activeTrace() ?? null);
    });
    orders.get('/fail', () => {
      throw new RangeError('no such order');
    });
    app.use('/tenants/:tenantId/orders/:orderId', orders);
    app.use(metrics.errorHandler);
    app.use((_err: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).send('failed');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(
      () => new Promise((r) => server.close(r)),
      () => metrics.close(),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const r = await fetch(`${base}/tenants/acme/orders/7`, { headers: { traceparent: PARENT } });
    const inHandler = (await r.json()) as { traceId: string; spanId: string };
    expect((await fetch(`${base}/tenants/acme/orders/8/fail`)).status).toBe(500);

    const all = await spans();
    const ok = serverSpan(all, '/tenants/:tenantId/orders/:orderId');
    expect(ok.name).toBe('GET /tenants/:tenantId/orders/:orderId');
    expect(ok.spanContext().traceId).toBe(TRACE_ID);
    expect(ok.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(inHandler).toMatchObject({ traceId: TRACE_ID, spanId: ok.spanContext().spanId });
    expect(ok.attributes['http.response.status_code']).toBe(200);
    const failed = serverSpan(all, '/tenants/:tenantId/orders/:orderId/fail');
    expect(failed.events.filter((e) => e.name === 'exception')[0]?.attributes?.['exception.type']).toBe(
      'RangeError',
    );
    expect(failed.attributes['error.type']).toBe('500');
    // `url.path` has the concrete path (as the conventions say); the name and route never do.
    expect(JSON.stringify(all.map((s) => [s.name, s.attributes['http.route']]))).not.toContain('acme');
  });

  it('node:http with createHttpObserver: named by the route function; handler in the span', async () => {
    const spans = start();
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/users/')) return void res.end(JSON.stringify(activeTrace() ?? null));
      res.statusCode = 404;
      res.end();
    });
    const observer = createHttpObserver(server, {
      runtimeMetrics: false,
      route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(
      () => new Promise((r) => server.close(r)),
      () => observer.close(),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const inHandler = (await (
      await fetch(`${base}/users/42`, { headers: { traceparent: PARENT } })
    ).json()) as { traceId: string; spanId: string };
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    const all = await spans();
    const users = serverSpan(all, '/users/:id');
    expect(users.name).toBe('GET /users/:id');
    expect(users.spanContext().traceId).toBe(TRACE_ID);
    expect(inHandler).toMatchObject({ traceId: TRACE_ID, spanId: users.spanContext().spanId });
    // The unmatched request has its span too, without a route attribute or a raw-path name.
    expect(all).toHaveLength(2);
    const other = all.find((s) => s !== users);
    expect(other?.attributes['http.route']).toBeUndefined();
    expect(other?.name).not.toContain('/nope');
    expect(other?.attributes['http.response.status_code']).toBe(404);
  });
});
