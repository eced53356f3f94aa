import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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

const procs: Proc[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});
async function node(args: string[], env: Record<string, string>) {
  const p = await startNode(args, env);
  procs.push(p);
  return p;
}
async function receiver() {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

describe('preload', () => {
  it('CommonJS: node -r @vigil/tracing/register', async () => {
    const r = await receiver();
    const p = await node(['-r', '@vigil/tracing/register', join(FIXTURES, 'cjs-app.cjs')], {
      ...tracingEnv(r),
      OTEL_SERVICE_NAME: 'cjs-svc',
    });
    expect((await get(p.port, '/users/1')).status).toBe(200);
    const spans = await r.waitForSpans((s) => s.some((x) => x.name === 'GET /users/:id'), 'server span');
    expect(spans[0]?.resource['service.name']).toBe('cjs-svc');
    expect(spans[0]?.kind).toBe(SERVER);
  });

  it('ESM: node --import @vigil/tracing/register', async () => {
    const r = await receiver();
    const p = await node(['--import', '@vigil/tracing/register', join(FIXTURES, 'express-app.mjs')], {
      ...tracingEnv(r),
      OTEL_SERVICE_NAME: 'esm-svc',
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.2.3,service.name=ignored-because-OTEL_SERVICE_NAME-wins',
    });
    expect((await get(p.port, '/users/1')).status).toBe(200);
    const spans = await r.waitForSpans((s) => s.some((x) => x.name === 'GET /users/:id'), 'server span');
    expect(spans[0]?.resource).toMatchObject({ 'service.name': 'esm-svc', 'service.version': '1.2.3' });
  });

  it('OTEL_SDK_DISABLED=true: nothing is recorded, the service runs as usual', async () => {
    const r = await receiver();
    const p = await node(['--import', '@vigil/tracing/register', join(FIXTURES, 'express-app.mjs')], {
      ...tracingEnv(r),
      OTEL_SDK_DISABLED: 'true',
    });
    expect((await get(p.port, '/users/1')).status).toBe(200);
    const line = await p.waitForLine((l) => l.msg === 'request completed', 'request line');
    expect(line.trace_id).toBeUndefined();
    const metrics = (await get(p.port, '/metrics')).body;
    expect(metrics).not.toContain('vigil_tracing_');
    expect((await r.stats()).requests).toBe(0);
  });

  it("sampling 0: no spans, but the trace id still propagates (flags 00) and reaches both services' logs", async () => {
    const r = await receiver();
    const env = tracingEnv(r, {
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    });
    const b = await node(['--import', '@vigil/tracing/register', join(FIXTURES, 'fastify-app.mjs')], {
      ...tracingEnv(r), // B samples everything on its own, but follows its caller's decision
    });
    const a = await node(['--import', '@vigil/tracing/register', join(FIXTURES, 'express-app.mjs')], env);
    const res = await get(a.port, `/chain?to=${encodeURIComponent(`http://127.0.0.1:${b.port}/users/5`)}`);
    expect(res.status).toBe(200);
    const aLine = await a.waitForLine((l) => l.route === '/chain', 'A line');
    const bLine = await b.waitForLine((l) => l.route === '/users/:id', 'B line');
    expect(aLine.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(bLine.trace_id).toBe(aLine.trace_id);
    expect(aLine.trace_flags).toBe('00');
    expect(bLine.trace_flags).toBe('00');
    // Unsampled spans never enter the queue: nothing exported, nothing waiting.
    for (const svc of [a, b]) {
      const m = (await get(svc.port, '/metrics')).body;
      expect(m).toContain('vigil_tracing_spans_exported_total 0');
      expect(m).toContain('vigil_tracing_queue_spans 0');
    }
    // Flush both, then check nothing was exported.
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
    expect(await r.spans()).toEqual([]);
  });

  it("an OpenTelemetry instrumentation added by option (ioredis) nests under Vigil's server span", async () => {
    const r = await receiver();
    const p = await node(['-r', join(FIXTURES, 'redis-tracing.cjs'), join(FIXTURES, 'cjs-app.cjs')], {
      ...tracingEnv(r),
      REDIS: '1',
    });
    const res = await get(p.port, '/redis');
    expect(JSON.parse(res.body)).toEqual({ v: '1' });
    const spans = await r.waitForSpans(
      (s) =>
        s.some((x) => x.name === 'GET /redis') && s.filter((x) => x.scope?.includes('ioredis')).length >= 2,
      'server and redis spans',
    );
    const server = spans.find((x) => x.name === 'GET /redis')!;
    const redis = spans.filter((x) => x.scope?.includes('ioredis'));
    expect(redis.map((x) => x.name).sort()).toEqual(['get', 'set']);
    for (const s of redis) {
      expect(s.traceId).toBe(server.traceId);
      expect(s.parentSpanId).toBe(server.spanId);
      expect(s.kind).toBe(CLIENT);
    }
  });
});
