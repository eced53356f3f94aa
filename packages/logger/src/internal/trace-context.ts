/**
 * The active span's ids, read through OpenTelemetry's own process-wide registration (the
 * `Symbol.for` key `@opentelemetry/api` 1.x stores its globals under), so the logger works with
 * `@vigil/tracing` or any OpenTelemetry SDK, and needs no OpenTelemetry package itself. The one
 * module that reads the API's internals; test/otel-internals.test.ts pins the versions.
 */

/** The `@opentelemetry/api` versions whose global slot and span key this module reads. */
export const OTEL_API_SUPPORTED = '>=1.0.0 <2.0.0';

const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const INVALID_TRACE_ID = '00000000000000000000000000000000';

interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
}
interface ContextLike {
  getValue(key: symbol): unknown;
}
interface OtelGlobals {
  context?: { active(): ContextLike | undefined };
}

export interface TraceFields {
  trace_id: string;
  span_id: string;
  trace_flags: '00' | '01';
}

export function fieldsOf(sc: SpanContextLike | undefined): TraceFields | undefined {
  if (sc === undefined || typeof sc.traceId !== 'string' || sc.traceId === INVALID_TRACE_ID) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: (sc.traceFlags & 1) === 1 ? '01' : '00' };
}

/** Trace fields of the active span, or undefined (no OpenTelemetry context manager, or no span). */
export function activeTraceFields(): TraceFields | undefined {
  const api = (globalThis as { [OTEL_API]?: OtelGlobals })[OTEL_API];
  const ctx = api?.context?.active();
  if (ctx === undefined) return undefined;
  const span = ctx.getValue(SPAN_KEY) as { spanContext?: () => SpanContextLike } | undefined;
  if (span === undefined || typeof span.spanContext !== 'function') return undefined;
  return fieldsOf(span.spanContext());
}
