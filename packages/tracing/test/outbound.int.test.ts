import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createMetrics } from '@vigil/metrics';
import { instrumentOutbound } from '@vigil/resilience';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing, withSpan } from '../src/index.js';

// instrumentOutbound() next to Vigil's tracing (whose own fetch spans are on by default): one
// client span per request whichever subscriber runs first, and the server sees its id.

let tracing: Tracing | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await tracing?.close();
  tracing = undefined;
});

async function downstream() {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.traceparent as string | undefined);
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const get = (url: string) =>
  new Promise<void>((resolve, reject) =>
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject),
  );

describe('instrumentOutbound with @vigil/tracing', () => {
  for (const order of ['tracing first', 'outbound first'] as const) {
    it(`http.get and fetch: one client span each under the active span (${order})`, async () => {
      const exporter = new InMemorySpanExporter();
      const metrics = createMetrics({ runtimeMetrics: false });
      closers.push(() => metrics.close());
      const start = () => {
        tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false });
      };
      if (order === 'tracing first') start();
      const outbound = instrumentOutbound({ metrics });
      closers.push(() => outbound.close());
      if (order === 'outbound first') start();
      const { url, seen } = await downstream();

      const parent = await withSpan('handler', async (span) => {
        await get(`${url}/a`);
        await (await fetch(`${url}/b`)).text();
        return span;
      });
      await tracing?.forceFlush();
      const clients = exporter.getFinishedSpans().filter((s) => s.kind === 2);
      expect(clients).toHaveLength(2);
      for (const [i, s] of clients.entries()) {
        expect(s.parentSpanContext?.spanId).toBe(parent.spanId);
        expect(seen[i]).toBe(`00-${parent.traceId}-${s.spanContext().spanId}-01`);
      }
      const body = (await metrics.scrape()).body as string;
      expect(body).toMatch(
        /http_client_request_duration_seconds_count\{target="127\.0\.0\.1:\d+",method="GET",status_code="200"\} 2/,
      );
    });
  }
});
