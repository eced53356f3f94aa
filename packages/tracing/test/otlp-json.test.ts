import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { nanos, OtlpJsonEncoder } from '../src/internal/otlp-json.js';

// Vigil's OTLP JSON encoder must write exactly what OpenTelemetry's JsonTraceSerializer writes (the
// encoding every OTLP/HTTP JSON receiver is tested against): the same JSON text, byte for byte, for
// every kind of span the SDK makes, and the same parsed value for hand-made spans that carry
// attribute values the SDK itself would refuse.

class Collect implements SpanProcessor {
  readonly spans: ReadableSpan[] = [];
  onStart(_s: Span): void {}
  onEnd(s: ReadableSpan): void {
    this.spans.push(s);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

function upstream(spans: ReadableSpan[]): string {
  return new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans));
}

const getter: TextMapGetter<Record<string, string>> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k],
};

function sdkSpans(): ReadableSpan[] {
  const collect = new Collect();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'checkout "eu"',
      'service.version': '1.2.3',
      'service.instance.id': 'pod-1',
      'host.cores': 2,
    }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [collect],
    spanLimits: { attributeCountLimit: 12, linkCountLimit: 2, eventCountLimit: 3 },
  });
  const other = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'other' }),
    spanProcessors: [collect],
  });
  const t = provider.getTracer('vigil', '0.1.0');
  const noVersion = provider.getTracer('no-version');
  const withSchema = provider.getTracer('schema', '2.0.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
  });

  const server = t.startSpan('GET /users/:id', { kind: SpanKind.SERVER });
  server.setAttributes({
    'http.request.method': 'GET',
    'http.route': '/users/:id',
    'http.response.status_code': 200,
    'server.port': 8080,
    ratio: 0.25,
    big: 2 ** 60,
    negative: -3,
    nan: Number.NaN,
    inf: Number.POSITIVE_INFINITY,
    ok: true,
    no: false,
    quoted: 'a "quote", a \\ backslash, a\nnewline, a\ttab, \u0001 control, é, 日本, 🎉, lone \ud800',
  });
  server.setAttribute('dropped beyond the limit', 'x');
  server.addEvent('plain');
  server.addEvent('with attributes', { n: 1, list: ['a', 'b'], nums: [1, 2.5], flags: [true, false] });
  server.recordException(new Error('boom'));
  server.addEvent('dropped beyond the event limit');
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'failed: "x"' });
  const serverCtx = trace.setSpan(ROOT_CONTEXT, server);

  const child = t.startSpan(
    'SELECT users',
    { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } },
    serverCtx,
  );
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();

  const remote = new W3CTraceContextPropagator().extract(
    ROOT_CONTEXT,
    {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=a1,other=b2',
    },
    getter,
  );
  const fromRemote = noVersion.startSpan('consume', { kind: SpanKind.CONSUMER }, remote);
  fromRemote.end();

  const linked = withSchema.startSpan('batch', {
    kind: SpanKind.INTERNAL,
    links: [
      { context: trace.getSpanContext(remote)!, attributes: { why: 'caused by' } },
      { context: server.spanContext() },
      { context: child.spanContext(), attributes: { dropped: 'beyond the link limit' } },
    ],
  });
  linked.end();
  const producer = withSchema.startSpan('send', { kind: SpanKind.PRODUCER, root: true });
  producer.end();
  server.end();

  const elsewhere = other.getTracer('vigil', '0.1.0').startSpan('elsewhere');
  elsewhere.end();
  return collect.spans;
}

describe('OtlpJsonEncoder', () => {
  it('writes the same JSON text as OpenTelemetry for spans of every kind, scope and resource', () => {
    const spans = sdkSpans();
    expect(spans.length).toBe(6);
    const ours = new OtlpJsonEncoder().encode(spans);
    expect(ours).toBe(upstream(spans));
    const parsed = JSON.parse(ours);
    expect(parsed.resourceSpans).toHaveLength(2);
    expect(parsed.resourceSpans[0].scopeSpans.map((s: { scope: { name: string } }) => s.scope.name)).toEqual([
      'vigil',
      'no-version',
      'schema',
    ]);
  });

  it('writes each span alone as upstream does, and an empty batch too', () => {
    const encoder = new OtlpJsonEncoder();
    for (const s of sdkSpans()) expect(encoder.encode([s])).toBe(upstream([s]));
    expect(encoder.encode([])).toBe(upstream([]));
  });

  it('keeps giving the same text once the resource JSON is cached', () => {
    const encoder = new OtlpJsonEncoder();
    const spans = sdkSpans();
    encoder.encode(spans);
    expect(encoder.encode(spans)).toBe(upstream(spans));
  });

  it('encodes attribute values the SDK would refuse (bytes, maps, nulls) as upstream does', () => {
    const [base] = sdkSpans().filter((s) => s.name === 'SELECT users');
    const raw = Object.create(base as object, {
      attributes: {
        value: {
          bytes: new Uint8Array([0, 1, 2, 250, 255]),
          view: Buffer.from('hello world').subarray(6),
          map: { a: 1, b: { c: 'd' }, e: [null, undefined, 'x'] },
          nil: null,
          undef: undefined,
          big: 10n,
          fn: () => 1,
        },
      },
      startTime: { value: [0, 5] },
      endTime: { value: [1, 0] },
      droppedAttributesCount: { value: 3 },
    }) as ReadableSpan;
    const ours = new OtlpJsonEncoder().encode([raw]);
    expect(JSON.parse(ours)).toEqual(JSON.parse(upstream([raw])));
    expect(ours).toBe(upstream([raw]));
  });

  it('splits a large batch into chunks whose concatenation is the same text', () => {
    const one = sdkSpans();
    const batch = Array.from({ length: 100 }, () => one).flat();
    const encoder = new OtlpJsonEncoder();
    const chunks = encoder.encodeChunks(batch);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.byteLength).toBeLessThan(128 * 1024);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(upstream(batch));
    // Multi-byte characters are counted in bytes, not characters, and never split.
    expect(Buffer.concat(chunks).byteLength).toBe(Buffer.byteLength(upstream(batch)));
    expect(encoder.encodeChunks([])).toEqual([Buffer.from(upstream([]))]);
  });

  it('writes nanoseconds exactly, beyond 2^53', () => {
    expect(nanos([1_795_749_571, 624_000_123])).toBe('1795749571624000123');
    expect(nanos([1_795_749_571, 5])).toBe('1795749571000000005');
    expect(nanos([0, 5])).toBe('5');
    expect(nanos([1, 0])).toBe('1000000000');
    expect(nanos([1.9, 7.9])).toBe('1000000007');
  });

  it('writes unsampled and remote flags as upstream does', () => {
    const collect = new Collect();
    const provider = new TracerProvider({ spanProcessors: [collect] });
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    provider.getTracer('t').startSpan('child of remote', {}, remote).end();
    provider.getTracer('t').startSpan('local root').end();
    expect(new OtlpJsonEncoder().encode(collect.spans)).toBe(upstream(collect.spans));
    const [a, b] = JSON.parse(new OtlpJsonEncoder().encode(collect.spans)).resourceSpans[0].scopeSpans[0]
      .spans;
    expect([a.flags, b.flags]).toEqual([0x301, 0x101]);
  });
});
