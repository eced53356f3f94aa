import { context, propagation, type SpanContext, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../src/index.js';
import { startDownstream } from './helpers.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const parent: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
};

async function setup(extra: Record<string, unknown> = {}) {
  const downstream = await startDownstream();
  cleanup.push(() => downstream.close());
  const client = createHttpClient({ baseUrl: downstream.url, name: 'traced', logger: false, ...extra });
  cleanup.push(() => client.close());
  return { downstream, client };
}

describe('trace context without a tracer provider (API no-op)', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it('injects traceparent from the active context', async () => {
    const { downstream, client } = await setup();
    const active = trace.setSpanContext(context.active(), parent);
    await context.with(active, () => client.fetch('/x'));
    expect(downstream.requests[0]?.headers.traceparent).toBe(`00-${parent.traceId}-${parent.spanId}-01`);
  });

  it('sends no traceparent when there is no active trace, and keeps a caller-set one', async () => {
    const { downstream, client } = await setup();
    await client.fetch('/none');
    expect(downstream.requests[0]?.headers.traceparent).toBeUndefined();
    const own = '00-11111111111111111111111111111111-2222222222222222-00';
    await context.with(trace.setSpanContext(context.active(), parent), () =>
      client.fetch('/own', { headers: { traceparent: own } }),
    );
    expect(downstream.requests[1]?.headers.traceparent).toBe(own);
  });

  it('tracing: false sends nothing', async () => {
    const { downstream, client } = await setup({ tracing: false });
    await context.with(trace.setSpanContext(context.active(), parent), () => client.fetch('/off'));
    expect(downstream.requests[0]?.headers.traceparent).toBeUndefined();
  });
});

describe('with the OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('creates a client span per attempt, parented, and propagates its id', async () => {
    exporter.reset();
    const { downstream, client } = await setup({ retry: { baseDelayMs: 0 } });
    downstream.script({ kind: 'status', status: 503 });
    await context.with(trace.setSpanContext(context.active(), parent), () =>
      client.fetch('/users/1?token=secret'),
    );
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    const [first, second] = spans;
    for (const s of spans) {
      expect(s.name).toBe('GET');
      expect(s.kind).toBe(2); // SpanKind.CLIENT
      expect(s.spanContext().traceId).toBe(parent.traceId);
      expect(s.parentSpanContext?.spanId).toBe(parent.spanId);
      expect(s.attributes).toMatchObject({
        'http.request.method': 'GET',
        'server.address': '127.0.0.1',
        'server.port': downstream.port,
        'url.full': `${downstream.url}/users/1`,
      });
    }
    expect(first?.attributes['http.response.status_code']).toBe(503);
    expect(first?.attributes['error.type']).toBe('503');
    expect(first?.status.code).toBe(2); // ERROR
    expect(second?.attributes['http.response.status_code']).toBe(200);
    expect(second?.attributes['http.request.resend_count']).toBe(1);
    // Each attempt carried its own span id.
    expect(downstream.requests[0]?.headers.traceparent).toBe(
      `00-${parent.traceId}-${first?.spanContext().spanId}-01`,
    );
    expect(downstream.requests[1]?.headers.traceparent).toBe(
      `00-${parent.traceId}-${second?.spanContext().spanId}-01`,
    );
  });

  it('marks a timed-out attempt', async () => {
    exporter.reset();
    const { downstream, client } = await setup({ retry: false, timeoutMs: 30 });
    downstream.set({ kind: 'hang' });
    await client.fetch('/hang').catch(() => {});
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['error.type']).toBe('timeout');
    expect(span?.status.code).toBe(2);
    // The error is an event of the attempt's span (recorded before the span ends, not after).
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
  });
});
