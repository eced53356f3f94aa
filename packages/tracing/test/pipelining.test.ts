import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { recordOf } from '@vigil/core';
import { createExpressMetrics } from '@vigil/express';
import { createLogger } from '@vigil/logger';
import { createExpressRequestLogger, requestId } from '@vigil/logger/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../src/index.js';

// A request's trace and request id live in a slot on its socket, one request at a time; a second
// request on the same connection while the first is still running (HTTP/1.1 pipelining: Node
// dispatches both) must get its own ids through the fallback, and neither may see the other's.

let tracing: Tracing | undefined;
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await tracing?.close();
  tracing = undefined;
});

/** Sends raw bytes on one connection and resolves with what came back once `n` responses arrived. */
function rawExchange(port: number, payload: string, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(payload));
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      const bodies = buf.split('\r\n\r\n').length - 1;
      if (buf.split('HTTP/1.1 ').length - 1 === n && bodies >= n && /"path":"\/fast"/.test(buf)) {
        c.destroy();
        resolve(buf);
      }
    });
    c.on('error', reject);
  });
}

describe('two requests in flight on one connection (pipelining)', () => {
  it('each gets its own trace ids and request id in its span, its log line and its response', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = startTracing({ exporter, sampleRatio: 1, scheduledDelayMs: 1, logger: false });
    const lines: Record<string, any>[] = [];
    const logger = createLogger({
      service: 'pipelining',
      destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
    });
    const metrics = createExpressMetrics();
    const app = express();
    app.use(createExpressRequestLogger({ logger }).middleware);
    app.use(metrics.middleware);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: Record<string, string | undefined> = {};
    // What the hook says each request's trace is, read in the handler (loggers and error hooks
    // ask the same way), after the other request has started on the same socket.
    const traceOf: Record<string, string | undefined> = {};
    app.get('/slow', async (req, res) => {
      await gate; // held until /fast has started on the same connection
      seen.slow = requestId(req);
      traceOf.slow = recordOf(req)?.trace?.traceId;
      res.json({ path: '/slow', id: requestId(req) });
    });
    app.get('/fast', (req, res) => {
      seen.fast = requestId(req);
      traceOf.fast = recordOf(req)?.trace?.traceId;
      release();
      res.json({ path: '/fast', id: requestId(req) });
    });
    server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const port = (server.address() as AddressInfo).port;

    const out = await rawExchange(
      port,
      'GET /slow HTTP/1.1\r\nHost: t\r\nx-request-id: req-slow-1\r\n\r\n' +
        'GET /fast HTTP/1.1\r\nHost: t\r\nx-request-id: req-fast-2\r\n\r\n',
      2,
    );
    // Responses in order, each echoing its own id in the header and in the body.
    const slowAt = out.indexOf('"path":"/slow"');
    const fastAt = out.indexOf('"path":"/fast"');
    expect(slowAt).toBeGreaterThan(0);
    expect(fastAt).toBeGreaterThan(slowAt);
    expect(out.slice(0, slowAt)).toMatch(/x-request-id: req-slow-1/i);
    expect(out.slice(slowAt, fastAt)).toMatch(/x-request-id: req-fast-2/i);
    expect(seen).toEqual({ slow: 'req-slow-1', fast: 'req-fast-2' });

    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.kind === 1 /* SERVER */);
    const byRoute = new Map(spans.map((s) => [s.attributes['http.route'], s]));
    const slowSpan = byRoute.get('/slow');
    const fastSpan = byRoute.get('/fast');
    expect(slowSpan && fastSpan).toBeTruthy();
    expect(slowSpan!.spanContext().traceId).not.toBe(fastSpan!.spanContext().traceId);
    expect(traceOf).toEqual({ slow: slowSpan!.spanContext().traceId, fast: fastSpan!.spanContext().traceId });

    // The lines are written when each response closes; wait for both (no timers: they come from the close events above).
    await expect.poll(() => lines.filter((l) => l.msg === 'request completed').length).toBe(2);
    const line = (route: string) => lines.find((l) => l.route === route && l.msg === 'request completed');
    expect(line('/slow')).toMatchObject({
      request_id: 'req-slow-1',
      trace_id: slowSpan!.spanContext().traceId,
      span_id: slowSpan!.spanContext().spanId,
    });
    expect(line('/fast')).toMatchObject({
      request_id: 'req-fast-2',
      trace_id: fastSpan!.spanContext().traceId,
      span_id: fastSpan!.spanContext().spanId,
    });
    await metrics.close();
  });
});
