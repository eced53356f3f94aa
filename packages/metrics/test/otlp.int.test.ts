import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { processResourceGroups } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../../test/helpers/http.js';
import { createHttpObserver, createMetrics, isVigilOptionError } from '../src/index.js';
import { startOtlpMetrics } from '../src/otlp.js';

// OTLP/HTTP metrics export against a real HTTP receiver: what the collector receives is the same
// series /metrics serves, in OTLP's JSON encoding.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Attr {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number };
}
interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints: { attributes: Attr[]; asDouble?: number }[]; isMonotonic?: boolean };
  gauge?: { dataPoints: { attributes: Attr[]; asDouble?: number }[] };
  histogram?: {
    dataPoints: {
      attributes: Attr[];
      count: number | string;
      sum?: number;
      bucketCounts: (number | string)[];
      explicitBounds: number[];
    }[];
  };
}
interface Body {
  resourceMetrics: { resource: { attributes: Attr[] }; scopeMetrics: { metrics: OtlpMetric[] }[] }[];
}

/** A collector: records each request body, answers as `mode` says. */
async function collector(mode: { status?: number; hang?: boolean } = {}) {
  const bodies: Body[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode.hang) return;
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body);
      for (const w of waiters.splice(0)) w();
      res.statusCode = mode.status ?? 200;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
  return { url, bodies, next: () => new Promise<void>((r) => waiters.push(r)) };
}

const attrs = (a: Attr[]) =>
  Object.fromEntries(a.map((x) => [x.key, x.value.stringValue ?? x.value.intValue ?? x.value.doubleValue]));
const metricsOf = (b: Body) => b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
const find = (b: Body, name: string) => metricsOf(b).find((m) => m.name === name);

async function app(options: Parameters<typeof createHttpObserver>[1] = {}) {
  const server = createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/users/') ? 200 : 404;
    res.end('ok');
  });
  const obs = createHttpObserver(server, {
    runtimeMetrics: false,
    route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
    ...options,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () => obs.close(),
    () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  );
  return { obs, port: (server.address() as AddressInfo).port };
}

describe('startOtlpMetrics', () => {
  it('pushes the registry: histograms with their buckets, counters without _total, the resource', async () => {
    const c = await collector();
    const { obs, port } = await app();
    for (const i of [1, 2, 3]) await request(port, 'GET', `/users/${i}`);
    await request(port, 'GET', '/nope');
    const otlp = startOtlpMetrics(obs, {
      url: c.url,
      serviceName: 'users',
      resourceAttributes: { 'deployment.environment': 'test' },
    });
    closers.push(() => otlp.close());
    await otlp.flush();
    expect(otlp.exported).toBe(1);
    const body = c.bodies[0] as Body;
    expect(attrs(body.resourceMetrics[0]?.resource.attributes ?? [])).toMatchObject({
      'service.name': 'users',
      'deployment.environment': 'test',
    });
    const h = find(body, 'http_request_duration_seconds');
    expect(h?.unit).toBe('s');
    const users = h?.histogram?.dataPoints.find((d) => attrs(d.attributes).route === '/users/:id');
    expect(attrs(users?.attributes ?? [])).toEqual({
      route: '/users/:id',
      method: 'GET',
      status_code: '200',
    });
    expect(Number(users?.count)).toBe(3);
    // Non-cumulative bucket counts, one more than the bounds (+Inf), summing to the count.
    expect(users?.bucketCounts.length).toBe((users?.explicitBounds.length ?? 0) + 1);
    expect(users?.bucketCounts.reduce((a: number, b) => a + Number(b), 0)).toBe(3);
    const total = find(body, 'http_requests');
    expect(total?.sum?.isMonotonic).toBe(true);
    const unmatched = total?.sum?.dataPoints.find((d) => attrs(d.attributes).route === '__unmatched__');
    expect(unmatched?.asDouble).toBe(1);
    expect(find(body, 'http_requests_total')).toBeUndefined();
  });

  it('default labels reach every series; prom-client runtime metrics go too', async () => {
    const c = await collector();
    const m = createMetrics({ defaultLabels: { service: 'users' } });
    closers.push(() => m.close());
    m.http.end('GET', '/users/:id', 200, m.http.start());
    const otlp = startOtlpMetrics(m, { url: c.url });
    closers.push(() => otlp.close());
    await otlp.flush();
    const body = c.bodies[0] as Body;
    const h = find(body, 'http_request_duration_seconds')?.histogram?.dataPoints[0];
    expect(attrs(h?.attributes ?? [])).toMatchObject({ service: 'users', route: '/users/:id' });
    const heap = find(body, 'nodejs_heap_size_total_bytes');
    expect(heap?.gauge?.dataPoints[0]?.asDouble).toBeGreaterThan(0);
    expect(attrs(heap?.gauge?.dataPoints[0]?.attributes ?? [])).toMatchObject({ service: 'users' });
    // A prom-client histogram (GC durations) keeps its buckets through the JSON path.
    const gc = find(body, 'nodejs_gc_duration_seconds');
    if (gc !== undefined) {
      for (const d of gc.histogram?.dataPoints ?? []) {
        expect(d.bucketCounts.length).toBe(d.explicitBounds.length + 1);
      }
    }
  });

  it('semconv: true uses the semantic-conventions names and attributes, and leaves out http_requests_total', async () => {
    const c = await collector();
    const { obs, port } = await app({ prefix: 'shop_' });
    await request(port, 'GET', '/users/1');
    const otlp = startOtlpMetrics(obs, { url: c.url, semconv: true });
    closers.push(() => otlp.close());
    await otlp.flush();
    const body = c.bodies[0] as Body;
    const h = find(body, 'http.server.request.duration');
    const d = h?.histogram?.dataPoints[0];
    expect(attrs(d?.attributes ?? [])).toEqual({
      'http.route': '/users/:id',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    });
    expect(find(body, 'shop_http_request_duration_seconds')).toBeUndefined();
    expect(find(body, 'shop_http_requests')).toBeUndefined();
    expect(find(body, 'http.server.active_requests')?.gauge?.dataPoints[0]?.asDouble).toBe(0);
  });

  it('a collector that is down or answers 503 costs nothing but the export: counted, one warning', async () => {
    const down = await collector({ status: 503 });
    const { obs } = await app();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'VIGIL_OTLP_METRICS_EXPORT') warnings.push(w);
    };
    process.on('warning', onWarning);
    closers.push(async () => void process.off('warning', onWarning));
    const otlp = startOtlpMetrics(obs, { url: down.url, timeoutMs: 1000 });
    closers.push(() => otlp.close());
    await otlp.flush();
    await otlp.flush();
    expect(otlp.failed).toBe(2);
    expect(otlp.exported).toBe(0);
    const refused = startOtlpMetrics(obs, { url: 'http://127.0.0.1:1/v1/metrics', timeoutMs: 1000 });
    closers.push(() => refused.close());
    await refused.flush();
    expect(refused.failed).toBe(1);
    if (warnings.length === 0) await once(process, 'warning');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
  });

  it('a hung collector: flush and close give up within their bound', async () => {
    const hung = await collector({ hang: true });
    const { obs } = await app();
    const otlp = startOtlpMetrics(obs, { url: hung.url, timeoutMs: 300 });
    const t0 = performance.now();
    await otlp.flush();
    expect(otlp.failed).toBe(1);
    await otlp.close();
    // Not a timing assertion of speed: the bound is what keeps shutdown from hanging.
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('close() sends a last export, and @vigil/shutdown finds it among the process resources', async () => {
    const c = await collector();
    const { obs, port } = await app();
    const otlp = startOtlpMetrics(obs, { url: c.url, intervalMs: 3_600_000 });
    const resource = processResourceGroups()
      .flat()
      .find((r) => r.name === 'otlp metrics');
    expect(resource).toBeDefined();
    await request(port, 'GET', '/users/9');
    await resource?.close({ timeoutMs: 2000 });
    expect(c.bodies).toHaveLength(1);
    const h = find(c.bodies[0] as Body, 'http_request_duration_seconds');
    expect(Number(h?.histogram?.dataPoints[0]?.count)).toBe(1);
    await otlp.close(); // idempotent
    expect(
      processResourceGroups()
        .flat()
        .some((r) => r.name === 'otlp metrics'),
    ).toBe(false);
  });

  it('invalid options fail at construction, naming the option', () => {
    const m = createMetrics({ runtimeMetrics: false });
    closers.push(() => m.close());
    const optionOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isVigilOptionError(e) ? (e as { option: string }).option : String(e);
      }
      return 'no error';
    };
    expect(optionOf(() => startOtlpMetrics({} as never))).toBe('metrics');
    expect(optionOf(() => startOtlpMetrics(m, { url: 'collector:4318' }))).toBe('url');
    expect(optionOf(() => startOtlpMetrics(m, { intervalMs: 0 }))).toBe('intervalMs');
    expect(optionOf(() => startOtlpMetrics(m, { timeoutMs: -1 }))).toBe('timeoutMs');
    expect(optionOf(() => startOtlpMetrics(m, { semconv: 'yes' as never }))).toBe('semconv');
    expect(optionOf(() => startOtlpMetrics(m, { headers: { a: 1 } as never }))).toBe('headers.a');
    expect(optionOf(() => startOtlpMetrics(m, { interval: 5 } as never))).toBe('interval');
  });
});
