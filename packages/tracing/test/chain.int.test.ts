import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT,
  FIXTURES,
  get,
  type Proc,
  type Receiver,
  SERVER,
  startNode,
  startReceiver,
  tracingEnv,
} from './helpers.js';

// Two real services in their own processes, both preloaded with `--import @vigil/tracing/register`,
// exporting to a real OTLP/HTTP receiver in a third process: A (Express) calls B (Fastify) through
// /chain; B queries PostgreSQL.

describe('A (Express) -> B (Fastify) -> PostgreSQL', () => {
  let receiver: Receiver;
  let a: Proc;
  let b: Proc;

  beforeAll(async () => {
    receiver = await startReceiver();
    [a, b] = await Promise.all([
      startNode(
        ['--import', '@vigil/tracing/register', join(FIXTURES, 'express-app.mjs')],
        tracingEnv(receiver, { OTEL_SERVICE_NAME: 'svc-a', SERVICE: 'svc-a' }),
      ),
      startNode(
        ['--import', '@vigil/tracing/register', join(FIXTURES, 'fastify-app.mjs')],
        // B sends protobuf (the OTLP default), A JSON: the receiver decodes both.
        tracingEnv(receiver, {
          OTEL_SERVICE_NAME: 'svc-b',
          SERVICE: 'svc-b',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=core',
        }),
      ),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await receiver?.stop();
  });

  it('one trace end to end: A server -> A client -> B server -> B db, with logs carrying the trace id', async () => {
    const res = await get(a.port, `/chain?to=${encodeURIComponent(`http://127.0.0.1:${b.port}/db`)}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).n).toBeGreaterThan(0);

    const spans = await receiver.waitForSpans(
      (s) => s.some((x) => x.name === 'SELECT pg_database') && s.some((x) => x.name === 'GET /chain'),
      'chain spans',
    );
    const aServer = spans.find((s) => s.name === 'GET /chain')!;
    const traceId = aServer.traceId;
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const aClient = inTrace.find((s) => s.kind === CLIENT && s.resource['service.name'] === 'svc-a')!;
    const bServer = inTrace.find((s) => s.name === 'GET /db' && s.resource['service.name'] === 'svc-b')!;
    const bDb = inTrace.find((s) => s.name === 'SELECT pg_database')!;

    expect(aServer.kind).toBe(SERVER);
    expect(aServer.parentSpanId).toBeUndefined();
    expect(aClient.parentSpanId).toBe(aServer.spanId);
    expect(bServer.kind).toBe(SERVER);
    expect(bServer.parentSpanId).toBe(aClient.spanId); // B's server span is a child of A's client span
    expect(bDb.parentSpanId).toBe(bServer.spanId);
    expect(bDb.kind).toBe(CLIENT);

    // Stable semantic conventions.
    expect(aServer.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/chain',
      'http.response.status_code': 200,
      'url.path': '/chain',
      'url.scheme': 'http',
    });
    expect(aClient.name).toBe('GET');
    expect(aClient.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': b.port,
      'url.full': `http://127.0.0.1:${b.port}/db`,
      'http.response.status_code': 200,
    });
    expect(bDb.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'pg_database',
      'db.namespace': 'test',
      'server.address': '127.0.0.1',
      'server.port': 5432,
    });
    expect(bDb.attributes['db.query.text']).toBeUndefined(); // off by default

    // Resources: service name from OTEL_SERVICE_NAME, attributes from OTEL_RESOURCE_ATTRIBUTES.
    expect(bServer.resource).toMatchObject({
      'service.name': 'svc-b',
      'deployment.environment.name': 'test',
      team: 'core',
      'telemetry.sdk.language': 'nodejs',
    });
    expect(typeof bServer.resource['service.instance.id']).toBe('string');
    expect(aServer.encoding).toBe('json');
    expect(bServer.encoding).toBe('protobuf');

    // Every log line of both services for this request carries the trace id.
    const aLines = await a.waitForLine(
      (l) => l.msg === 'request completed' && l.route === '/chain',
      'A request line',
    );
    const bLines = await b.waitForLine(
      (l) => l.msg === 'request completed' && l.route === '/db',
      'B request line',
    );
    const during = [
      ...a.lines.filter((l) => l.msg === 'calling downstream' || l.msg === 'downstream answered'),
      ...b.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('queried')),
      aLines,
      bLines,
    ];
    expect(during).toHaveLength(6); // 2 lines of A, 2 of B (request logger and root logger), 2 request lines
    for (const l of during) expect(l.trace_id).toBe(traceId);
    expect(aLines.span_id).toBe(aServer.spanId);
    expect(bLines.span_id).toBe(bServer.spanId);
    expect(bLines.service).toBe('svc-b');
    expect(bLines.request_id).toEqual(expect.any(String));
  });

  it('a malformed traceparent is ignored: the request starts a fresh trace and succeeds', async () => {
    const bad = 'not-a-traceparent-0123456789abcdef';
    const res = await get(b.port, '/users/9', { traceparent: bad });
    expect(res.status).toBe(200);
    const spans = await receiver.waitForSpans(
      (s) => s.some((x) => x.attributes['url.path'] === '/users/9'),
      'span',
    );
    const span = spans.find((x) => x.attributes['url.path'] === '/users/9')!;
    expect(span.parentSpanId).toBeUndefined();
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.traceId).not.toBe('00000000000000000000000000000000');

    // A valid one is continued.
    const parent = '0af7651916cd43dd8448eb211c80319c';
    const ok = await get(b.port, '/users/10', { traceparent: `00-${parent}-b7ad6b7169203331-01` });
    expect(ok.status).toBe(200);
    const s2 = await receiver.waitForSpans(
      (s) => s.some((x) => x.attributes['url.path'] === '/users/10'),
      'span',
    );
    const child = s2.find((x) => x.attributes['url.path'] === '/users/10')!;
    expect(child.traceId).toBe(parent);
    expect(child.parentSpanId).toBe('b7ad6b7169203331');
  });

  it('errors: a 500 marks the server span failed; the request line is logged at error', async () => {
    expect((await get(a.port, '/fail')).status).toBe(500);
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.name === 'GET /fail'), 'fail span');
    const span = spans.find((x) => x.name === 'GET /fail')!;
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('500');
    const line = await a.waitForLine((l) => l.route === '/fail', 'fail line');
    expect(line.level).toBe('error');
    expect(line.status_code).toBe(500);
  });

  it('exemplars: OpenMetrics scrapes carry the trace id of a sampled request', async () => {
    const r = await get(b.port, '/db');
    expect(r.status).toBe(200);
    const line = await b.waitForLine(
      (l) => l.route === '/db' && l.msg === 'request completed' && l !== undefined,
      'line',
    );
    const om = await get(b.port, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0' });
    expect(om.headers['content-type']).toContain('application/openmetrics-text');
    const http = om.body
      .split('\n')
      .filter((l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes('route="/db"'));
    const withExemplar = http.filter((l) => l.includes('# {trace_id="'));
    expect(withExemplar.length).toBeGreaterThan(0);
    const ids = withExemplar.map((l) => /trace_id="([0-9a-f]{32})"/.exec(l)?.[1]);
    expect(ids).toContain(
      b.lines.filter((l) => l.route === '/db' && l.msg === 'request completed').at(-1)?.trace_id ??
        line.trace_id,
    );
    const db = om.body.split('\n').filter((l) => l.startsWith('database_query_duration_seconds_bucket{'));
    expect(db.some((l) => l.includes('# {trace_id="'))).toBe(true);
    // The Prometheus text format never carries exemplars.
    const text = await get(b.port, '/metrics');
    expect(text.body).not.toContain('trace_id=');
    // Tracing's own counters are in the same registry.
    expect(text.body).toMatch(/vigil_tracing_spans_exported_total \d+/);
    expect(text.body).toContain('vigil_tracing_spans_dropped_total{reason="queue_full"} 0');
  });
});
