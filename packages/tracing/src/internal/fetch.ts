import diagnostics from 'node:diagnostics_channel';
import {
  type ContextManager,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import {
  clientSpanName,
  isStandardMethod,
  LABEL_VALUES,
  setClientSpanAttributes,
  type UndiciRequestLike,
  undiciHasTraceparent,
} from '@vigil/core';

/**
 * Client spans for `fetch()` and undici, from the diagnostics channels undici publishes (Node's
 * built-in fetch included): no module is patched, and the cost is zero for a process that makes
 * no outbound calls.
 *
 * - Inside a sampled span: a client span (`GET`, `http.request.method`, `server.address`,
 *   `server.port`, `url.full` without its query, `http.response.status_code`, `error.type`), and
 *   `traceparent` pointing at it.
 * - Inside an unsampled span: no span, but `traceparent` is still sent (flags 00), so the services
 *   downstream follow the same decision and their logs carry the same trace id.
 * - A request that already has a `traceparent` (an instrumented client such as @vigil/resilience's,
 *   or code that set it by hand) is left alone: one span and one header per call.
 */

const setter: TextMapSetter<UndiciRequestLike> = {
  set(request, key, value) {
    request.addHeader?.(key, value);
  },
};

/** Subscribes to undici's channels; returns the unsubscribe function. */
export function instrumentFetch(tracer: Tracer, contexts: ContextManager): () => void {
  const spans = new WeakMap<object, Span>();

  const onCreate = (message: unknown) => {
    const request = (message as { request?: UndiciRequestLike }).request;
    if (!request || typeof request.addHeader !== 'function') return;
    const active = contexts.active();
    if (isTracingSuppressed(active)) return;
    const parent = trace.getSpan(active);
    if (parent === undefined) return;
    if (undiciHasTraceparent(request.headers)) return;
    if ((parent.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) {
      propagation.inject(active, request, setter);
      return;
    }
    const raw = (request.method ?? 'GET').toUpperCase();
    const method = isStandardMethod(raw) ? raw : LABEL_VALUES.otherMethod;
    let origin: URL | undefined;
    try {
      origin = request.origin instanceof URL ? request.origin : new URL(String(request.origin));
    } catch {}
    const span = tracer.startSpan(clientSpanName(method), { kind: SpanKind.CLIENT }, active);
    if (span.isRecording() && origin) {
      const port = origin.port ? Number(origin.port) : origin.protocol === 'https:' ? 443 : 80;
      const path = (request.path ?? '/').split('?')[0] ?? '/';
      setClientSpanAttributes(
        span,
        method,
        raw,
        origin.hostname,
        port,
        `${origin.protocol}//${origin.host}${path}`,
      );
    } else if (span.isRecording()) span.setAttribute('http.request.method', method);
    spans.set(request, span);
    propagation.inject(trace.setSpan(active, span), request, setter);
  };

  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response?: { statusCode?: number } };
    const span = spans.get(request);
    const status = response?.statusCode;
    if (span === undefined || typeof status !== 'number') return;
    span.setAttribute('http.response.status_code', status);
    if (status >= 400) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  };

  const onDone = (message: unknown) => {
    const { request } = message as { request: object };
    const span = spans.get(request);
    if (span === undefined) return;
    spans.delete(request);
    span.end();
  };

  const onError = (message: unknown) => {
    const { request, error } = message as { request: object; error?: Error & { code?: string } };
    const span = spans.get(request);
    if (span === undefined) return;
    spans.delete(request);
    const type = error?.code ?? error?.name ?? 'error';
    span.setAttribute('error.type', type);
    if (error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message });
    span.end();
  };

  const subs: [string, (m: unknown) => void][] = [
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:trailers', onDone],
    ['undici:request:error', onError],
  ];
  for (const [name, fn] of subs) diagnostics.subscribe(name, fn);
  return () => {
    for (const [name, fn] of subs) diagnostics.unsubscribe(name, fn);
  };
}
