import { context, type Span, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { VIGIL_TRACING_VERSION } from './internal/resource.js';
import type { ActiveSpan, Attributes, SpanOptions } from './types.js';

const KINDS = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
} as const;

function clean(a: Attributes | undefined): Record<string, NonNullable<Attributes[string]>> | undefined {
  if (a === undefined) return undefined;
  const out: Record<string, NonNullable<Attributes[string]>> = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v;
  return out;
}

function fail(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setAttribute(
    'error.type',
    (e as { code?: unknown }).code ? String((e as { code?: unknown }).code) : e.name,
  );
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

function view(span: Span): ActiveSpan {
  const sc = span.spanContext();
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    recording: span.isRecording(),
    setAttribute: (k, v) => void span.setAttribute(k, v as never),
    setAttributes: (a) => void span.setAttributes(clean(a) as never),
    addEvent: (name, a) => void span.addEvent(name, clean(a) as never),
    recordException: (e) => void span.recordException(e instanceof Error ? e : new Error(String(e))),
    setError: (message) => void span.setStatus({ code: SpanStatusCode.ERROR, message }),
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * Run `fn` in a new span, child of the active one, and return what `fn` returns. Sync and async:
 * a returned promise ends the span when it settles. A throw or rejection is recorded on the span
 * (exception event, `error.type`, status error) and passed through unchanged.
 *
 * ```ts
 * const user = await withSpan('load user', async (span) => {
 *   span.setAttribute('user.id', id);
 *   return repo.find(id);
 * });
 * ```
 *
 * Works through the OpenTelemetry API: without tracing started it runs `fn` with a no-op span.
 */
export function withSpan<T>(name: string, fn: (span: ActiveSpan) => T, options?: SpanOptions): T {
  const parent = context.active();
  const span = trace.getTracer('@vigil/tracing', VIGIL_TRACING_VERSION).startSpan(
    name,
    {
      kind: KINDS[options?.kind ?? 'internal'] ?? SpanKind.INTERNAL,
      attributes: clean(options?.attributes) as never,
    },
    parent,
  );
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), fn, undefined, view(span));
  } catch (err) {
    fail(span, err);
    span.end();
    throw err;
  }
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        fail(span, err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

/** The reference guide's name for {@link withSpan}: `createSpan('name', async (span) => ...)`. */
export const createSpan = withSpan;

/** Ids of the active span (for a response header, an error report), or undefined outside any span. */
export function activeTrace(): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  if (sc.traceId === '00000000000000000000000000000000') return undefined;
  return { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & TraceFlags.SAMPLED) !== 0 };
}
