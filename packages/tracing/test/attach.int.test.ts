import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL, FIXTURES, get, type Proc, startNode } from './helpers.js';

// Attach mode with OpenTelemetry's NodeSDK and its HTTP instrumentation, in both start orders, in
// a child process (the instrumentation patches node:http process-wide). One pipeline (the SDK's),
// one server span per request, and the ids in logs and exemplars are those of the active span.

// API SpanKind values (the spans are read in-process, not from OTLP).
const INTERNAL = 0;
const SERVER = 1;
const CLIENT = 2;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

interface SpanView {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  scope: string;
  attributes: Record<string, unknown>;
}
interface Dump {
  attached: boolean;
  sdk: SpanView[];
  vigil: SpanView[];
}

let app: Proc | undefined;
afterEach(async () => {
  app?.child.stdin?.end();
  await app?.exited;
  app = undefined;
});

async function startApp(
  order: 'sdk-first' | 'vigil-first',
  attach = true,
  env: Record<string, string> = {},
): Promise<Proc> {
  app = await startNode([join(FIXTURES, 'attach-app.cjs')], {
    ...env,
    ORDER: order,
    ATTACH: attach ? '1' : '0',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_TRACES_EXPORTER: 'none',
    DATABASE_URL,
  });
  return app;
}

async function dump(p: Proc): Promise<Dump> {
  const before = p.lines.length;
  p.child.stdin!.write('dump\n');
  const line = await p.waitForLine((l) => l.dump !== undefined && p.lines.indexOf(l) >= before, 'dump');
  return line.dump as Dump;
}

describe.each(['sdk-first', 'vigil-first'] as const)(
  'attach mode, NodeSDK + instrumentation-http, %s',
  (order) => {
    it('one pipeline, one server span per request; logs and exemplars carry the active span', async () => {
      const p = await startApp(order);
      const inHandler: { traceId: string; spanId: string }[] = [];
      for (const [path, headers] of [
        ['/users/1', {}],
        ['/users/2', { traceparent: PARENT }],
        ['/users/3', {}],
      ] as const) {
        const r = await get(p.port, path, headers);
        expect(r.status).toBe(200);
        const t = JSON.parse(r.body) as { traceId: string; spanId: string; sampled: boolean };
        expect(t.sampled).toBe(true);
        inHandler.push({ traceId: t.traceId, spanId: t.spanId });
      }
      const om = await get(p.port, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0' });
      const d = await dump(p);

      expect(d.attached).toBe(true);
      // Everything went through the SDK's provider; Vigil's own exporter saw nothing.
      expect(d.vigil).toEqual([]);
      const servers = d.sdk.filter(
        (s) => s.kind === SERVER && String(s.attributes['url.path']).startsWith('/users/'),
      );
      expect(servers.map((s) => s.attributes['url.path']).sort()).toEqual([
        '/users/1',
        '/users/2',
        '/users/3',
      ]);
      expect(new Set(servers.map((s) => s.scope))).toEqual(new Set(['@opentelemetry/instrumentation-http']));
      expect(new Set(servers.map((s) => s.traceId)).size).toBe(3);
      // The caller's trace continues (one sampling decision: the SDK's parent-based default).
      const continued = servers.find((s) => s.attributes['url.path'] === '/users/2')!;
      expect(continued.traceId).toBe(TRACE_ID);
      expect(continued.parentSpanId).toBe('00f067aa0ba902b7');

      const requestLines = p.lines.filter((l) => l.msg === 'request completed' && l.route === '/users/:id');
      const handlerLines = p.lines.filter((l) => l.msg === 'handler');
      for (const server of servers) {
        // Vigil's span nests under the instrumentation's: named by the route, in the same trace.
        const vigil = d.sdk.filter((s) => s.parentSpanId === server.spanId && s.scope === '@vigil/tracing');
        expect(vigil).toHaveLength(1);
        expect(vigil[0]).toMatchObject({ kind: INTERNAL, name: 'GET /users/:id', traceId: server.traceId });
        expect(vigil[0]!.attributes['http.route']).toBe('/users/:id');
        const ids = { traceId: server.traceId, spanId: vigil[0]!.spanId };
        expect(inHandler).toContainEqual(ids);
        const user = String(server.attributes['url.path']).slice('/users/'.length);
        expect(handlerLines.find((l) => l.user === user)).toMatchObject({
          trace_id: ids.traceId,
          span_id: ids.spanId,
          trace_flags: '01',
        });
        expect(requestLines.map((l) => l.trace_id)).toContain(ids.traceId);
      }
      // Exemplars: the trace and span of a request's active span.
      const exemplars = om.body
        .split('\n')
        .filter(
          (l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes('route="/users/:id"'),
        )
        .map((l) => /# \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\}/.exec(l))
        .filter((m) => m !== null)
        .map((m) => ({ traceId: m[1], spanId: m[2] }));
      expect(exemplars.length).toBeGreaterThan(0);
      for (const e of exemplars) expect(inHandler).toContainEqual(e);
      expect(p.lines.filter((l) => l.vigilWarning !== undefined && order === 'vigil-first')).toEqual([]);
    });

    it("one sampling decision, the SDK's: with its sampler off nothing is recorded, by either", async () => {
      const p = await startApp(order, true, { OTEL_TRACES_SAMPLER: 'always_off', VIGIL_SAMPLE_RATIO: '1' });
      const r = await get(p.port, '/users/9');
      const t = JSON.parse(r.body) as { traceId: string; sampled: boolean };
      expect(t.sampled).toBe(false);
      const om = await get(p.port, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0' });
      const d = await dump(p);
      expect(d.sdk).toEqual([]);
      expect(d.vigil).toEqual([]);
      expect(om.body).not.toContain('trace_id=');
      const line = p.lines.find((l) => l.msg === 'handler' && l.user === '9');
      expect(line).toMatchObject({ trace_id: t.traceId, trace_flags: '00' });
    });

    it("Vigil's database spans go to the same pipeline, under the request's span", async () => {
      const p = await startApp(order);
      const r = await get(p.port, '/db');
      expect(r.status).toBe(200);
      const { trace } = JSON.parse(r.body) as { trace: { traceId: string; spanId: string } };
      const om = await get(p.port, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0' });
      const d = await dump(p);
      expect(d.vigil).toEqual([]);
      const db = d.sdk.filter((s) => s.kind === CLIENT && s.attributes['db.system.name'] === 'postgresql');
      expect(db).toHaveLength(1);
      expect(db[0]).toMatchObject({
        traceId: trace.traceId,
        parentSpanId: trace.spanId,
        scope: '@vigil/tracing',
      });
      const ex =
        /database_query_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="(\w+)",span_id="(\w+)"\}/.exec(
          om.body,
        );
      expect(ex?.slice(1)).toEqual([db[0]!.traceId, db[0]!.spanId]);
    });
  },
);

describe('attach mode: options', () => {
  it('sdk-first: Vigil says its own exporter options are not used', async () => {
    const p = await startApp('sdk-first');
    const w = await p.waitForLine((l) => l.vigilWarning !== undefined, 'warning');
    expect(w.vigilWarning).toMatch(/options exporter, endpoint, sampleRatio and spanProcessors are not used/);
  });

  it('vigil-first: span processors given to Vigil are said to see no new spans once the SDK took over', async () => {
    const p = await startApp('vigil-first', true, { EXTRA_PROCESSOR: '1' });
    const w = await p.waitForLine((l) => l.vigilWarning !== undefined, 'warning');
    expect(w.vigilWarning).toMatch(/spanProcessors given to startTracing see no new spans/);
  });

  it('attach: false keeps Vigil on its own provider: a second server span and a warning', async () => {
    const p = await startApp('sdk-first', false);
    await p.waitForLine((l) => /Another OpenTelemetry SDK/.test(l.vigilWarning ?? ''), 'warning');
    expect((await get(p.port, '/users/1')).status).toBe(200);
    const d = await dump(p);
    expect(d.attached).toBe(false);
    expect(d.vigil.filter((s) => s.name === 'GET /users/:id')).toHaveLength(1);
    expect(d.sdk.filter((s) => s.kind === SERVER && s.attributes['url.path'] === '/users/1')).toHaveLength(1);
  });
});
