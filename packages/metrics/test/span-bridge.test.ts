import { claimOutbound } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BridgeSpan,
  createMetrics,
  createSpanMetricsBridge,
  isVigilOptionError,
  type Metrics,
  type SpanMetricsBridge,
} from '../src/index.js';

// The bridge's rules on span shapes (labels, bounds, no double counting). The same bridge against
// a real instrumentation (Knex on PostgreSQL): packages/tracing/test/span-bridge.int.test.ts.

const CLIENT = 2;
const INTERNAL = 0;
let n = 0;

function span(
  attributes: Record<string, unknown>,
  o: Partial<Omit<BridgeSpan, 'attributes'>> & { parent?: string; id?: string; scope?: string } = {},
): BridgeSpan {
  const id = o.id ?? (++n).toString(16).padStart(16, '0');
  return {
    kind: o.kind ?? CLIENT,
    attributes,
    duration: o.duration ?? [0, 12_000_000],
    status: o.status ?? { code: 0 },
    instrumentationScope: { name: o.scope ?? '@opentelemetry/instrumentation-x' },
    spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: id, traceFlags: 1 }),
    parentSpanContext: o.parent === undefined ? undefined : { spanId: o.parent },
  };
}

let metrics: Metrics | undefined;
let bridge: SpanMetricsBridge | undefined;
afterEach(async () => {
  claimOutbound(false);
  await bridge?.close();
  await metrics?.close();
});

function setUp(options: Record<string, unknown> = {}) {
  metrics = createMetrics({ runtimeMetrics: false });
  bridge = createSpanMetricsBridge({ metrics, ...options });
  return { m: metrics, b: bridge };
}

async function lines(m: Metrics, name: string): Promise<string[]> {
  const text = (await m.scrape()).body.toString();
  return text.split('\n').filter((l) => l.startsWith(`${name}_count{`));
}
const has = (l: string, labels: Record<string, string>) =>
  Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`));

describe('createSpanMetricsBridge', () => {
  it('rejects bad options, naming the option', () => {
    for (const [options, name] of [
      [{}, 'metrics'],
      [{ metrics: { registry: 1 } }, 'metrics'],
      [{ metrics: createMetrics({ runtimeMetrics: false }), maxTargets: 0 }, 'maxTargets'],
      [{ metrics: createMetrics({ runtimeMetrics: false }), db: 'yes' }, 'db'],
      [{ metrics: createMetrics({ runtimeMetrics: false }), sampled: true }, 'sampled'],
    ] as const) {
      let err: unknown;
      try {
        createSpanMetricsBridge(options as never);
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), String(err)).toBe(true);
      expect((err as Error).message).toContain(name);
    }
    expect(() => createSpanMetricsBridge(undefined as never)).toThrow(/metrics/);
  });

  it('database spans: stable and older attribute names, SQL text when the operation is missing', async () => {
    const { m, b } = setUp();
    b.onEnd(
      span({ 'db.system.name': 'postgresql', 'db.operation.name': 'select', 'db.collection.name': 'users' }),
    );
    b.onEnd(span({ 'db.system': 'mysql', 'db.operation': 'INSERT', 'db.sql.table': 'orders' }));
    b.onEnd(
      span({
        'db.system.name': 'postgresql',
        'db.query.text': "UPDATE accounts SET x = 'secret' WHERE id = 1",
      }),
    );
    b.onEnd(
      span({
        'db.system.name': 'postgresql',
        'db.operation.name': 'raw',
        'db.query.text': 'delete from carts',
      }),
    );
    b.onEnd(
      span({ 'db.system.name': 'postgresql', 'db.operation.name': 'del', 'db.collection.name': 'users' }),
    );
    b.onEnd(span({ 'db.system.name': 'redis', 'db.operation.name': 'GET' }, { status: { code: 2 } }));
    // Knex reports its client's name: recorded as the system Vigil's adapter uses.
    b.onEnd(span({ 'db.system.name': 'mysql2', 'db.operation.name': 'select', 'db.collection.name': 'k' }));
    const l = await lines(m, 'database_query_duration_seconds');
    const find = (labels: Record<string, string>) => l.filter((x) => has(x, labels));
    expect(
      find({ system: 'postgresql', operation: 'SELECT', table: 'users', outcome: 'success' }),
    ).toHaveLength(1);
    expect(find({ system: 'mysql', operation: 'INSERT', table: 'orders' })).toHaveLength(1);
    expect(find({ system: 'postgresql', operation: 'UPDATE', table: 'accounts' })).toHaveLength(1);
    expect(find({ system: 'postgresql', operation: 'DELETE', table: 'carts' })).toHaveLength(1);
    expect(find({ system: 'postgresql', operation: 'DELETE', table: 'users' })).toHaveLength(1);
    expect(find({ system: 'redis', operation: 'GET', table: 'unknown', outcome: 'error' })).toHaveLength(1);
    expect(find({ system: 'mysql', operation: 'SELECT', table: 'k' })).toHaveLength(1);
    expect(l.join('\n')).not.toContain('secret');
    // Duration from the span.
    const text = (await m.scrape()).body.toString();
    expect(text).toMatch(
      /database_query_duration_seconds_sum\{[^}]*table="users",operation="SELECT"[^}]*\} 0\.012/,
    );
  });

  it('HTTP client spans: target host[:port], method, status; errors without a response', async () => {
    const { m, b } = setUp();
    b.onEnd(
      span({
        'http.request.method': 'GET',
        'server.address': 'API.example.com',
        'server.port': 443,
        'url.full': 'https://api.example.com/x?q=1',
        'http.response.status_code': 200,
      }),
    );
    b.onEnd(
      span({
        'http.request.method': 'POST',
        'server.address': '10.0.0.5',
        'server.port': 8080,
        'http.response.status_code': 503,
      }),
    );
    b.onEnd(
      span({
        'http.method': 'get',
        'net.peer.name': 'old.example',
        'net.peer.port': 80,
        'http.status_code': 404,
      }),
    );
    b.onEnd(
      span(
        {
          'http.request.method': 'PURGE',
          'url.full': 'http://cache:8081/a',
          'error.type': 'UND_ERR_HEADERS_TIMEOUT',
        },
        { status: { code: 2 } },
      ),
    );
    b.onEnd(
      span(
        { 'http.request.method': 'GET', 'server.address': 'down.example', 'error.type': 'ECONNREFUSED' },
        { status: { code: 2 } },
      ),
    );
    const l = await lines(m, 'http_client_request_duration_seconds');
    const find = (labels: Record<string, string>) => l.filter((x) => has(x, labels));
    expect(find({ target: 'api.example.com', method: 'GET', status_code: '200' })).toHaveLength(1);
    expect(find({ target: '10.0.0.5:8080', method: 'POST', status_code: '503' })).toHaveLength(1);
    expect(find({ target: 'old.example', method: 'GET', status_code: '404' })).toHaveLength(1);
    expect(find({ target: 'cache:8081', method: '_OTHER', status_code: 'timeout' })).toHaveLength(1);
    expect(find({ target: 'down.example', method: 'GET', status_code: 'error' })).toHaveLength(1);
  });

  it('no double counting: Vigil spans, outer spans of the same kind, instrumentOutbound, non-client spans', async () => {
    const { m, b } = setUp();
    // Knex over instrumentation-pg: the pg span ends first, then its knex parent.
    b.onEnd(
      span(
        { 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.collection.name': 'a' },
        { parent: 'k1' },
      ),
    );
    b.onEnd(
      span(
        { 'db.system.name': 'postgresql', 'db.operation.name': 'select', 'db.collection.name': 'a' },
        { id: 'k1' },
      ),
    );
    // Knex over Vigil's pg adapter (which records the query itself): neither counted here.
    b.onEnd(
      span(
        { 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.collection.name': 'b' },
        { parent: 'k2', scope: '@vigil/tracing' },
      ),
    );
    b.onEnd(
      span(
        { 'db.system.name': 'postgresql', 'db.operation.name': 'select', 'db.collection.name': 'b' },
        { id: 'k2' },
      ),
    );
    // A server or internal span with db attributes is not a query.
    b.onEnd(
      span(
        { 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.collection.name': 'c' },
        { kind: INTERNAL },
      ),
    );
    // While instrumentOutbound() observes every request, HTTP client spans are left to it.
    claimOutbound(true);
    b.onEnd(
      span({
        'http.request.method': 'GET',
        'server.address': 'skipped.example',
        'http.response.status_code': 200,
      }),
    );
    claimOutbound(false);
    b.onEnd(
      span({
        'http.request.method': 'GET',
        'server.address': 'counted.example',
        'http.response.status_code': 200,
      }),
    );
    const db = await lines(m, 'database_query_duration_seconds');
    expect(db.filter((l) => has(l, { table: 'a' })).map((l) => l.split(' ')[1])).toEqual(['1']);
    expect(db.filter((l) => has(l, { table: 'b' }) || has(l, { table: 'c' }))).toEqual([]);
    const http = await lines(m, 'http_client_request_duration_seconds');
    expect(http.map((l) => /target="([^"]+)"/.exec(l)?.[1])).toEqual(['counted.example']);
  });

  it('hostile attributes never grow series without bound, and never throw', async () => {
    const { m, b } = setUp({ maxTargets: 5, maxSystems: 3 });
    for (let i = 0; i < 2000; i++) {
      b.onEnd(
        span({
          'http.request.method': `M${i}`,
          'server.address': `h${i}.example`,
          'http.response.status_code': 200 + (i % 400),
        }),
      );
      b.onEnd(
        span({
          'db.system.name': `sys${i}`,
          'db.operation.name': `op ${'x'.repeat(i % 50)}; drop`,
          'db.collection.name': `t${i}${'y'.repeat(3000)}`,
        }),
      );
    }
    const http = await lines(m, 'http_client_request_duration_seconds');
    const targets = new Set(http.map((l) => /target="([^"]+)"/.exec(l)?.[1]));
    expect(targets.size).toBeLessThanOrEqual(6);
    expect(targets).toContain('__overflow__');
    const db = await lines(m, 'database_query_duration_seconds');
    const systems = new Set(db.map((l) => /system="([^"]+)"/.exec(l)?.[1]));
    expect(systems.size).toBeLessThanOrEqual(4);
    expect(systems).toContain('other_sql');
    expect(db.length).toBeLessThanOrEqual(1001);
    for (const l of db) expect(l.length).toBeLessThan(600);
    // A span whose attributes throw when read: the application's span.end() must not.
    const evil = span({});
    Object.defineProperty(evil, 'attributes', {
      get() {
        throw new Error('boom');
      },
    });
    expect(() => b.onEnd(evil)).not.toThrow();
  });

  it('close() stops recording; it works as the provider calls it (shutdown, forceFlush)', async () => {
    const { m, b } = setUp();
    await b.forceFlush();
    b.onStart(undefined, undefined);
    await b.shutdown();
    b.onEnd(
      span({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.collection.name': 'late' }),
    );
    expect(await lines(m, 'database_query_duration_seconds')).toEqual([]);
  });
});
