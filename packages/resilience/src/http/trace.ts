import {
  type Context,
  isSpanContextValid,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { clientSpanName, setClientSpanAttributes } from '@vigil/core';
import { errorType } from './labels.js';

/** What an attempt's client span says about the request (stable HTTP client semconv). */
export interface ClientSpanTarget {
  /** The method as sent, and its label (`_OTHER` for non-standard methods). */
  readonly method: string;
  readonly methodLabel: string;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** `url.full` without query or credentials. */
  readonly urlFull: string;
}

/**
 * Starts an attempt's client span under `parent` and writes its trace context into `headers`;
 * returns the span and the context the request is sent in.
 */
export function startAttemptSpan(
  tracer: Tracer,
  target: ClientSpanTarget,
  attempt: number,
  parent: Context,
  headers: Headers,
): { span: Span; active: Context } {
  const span = tracer.startSpan(clientSpanName(target.methodLabel), { kind: SpanKind.CLIENT }, parent);
  if (span.isRecording()) {
    setClientSpanAttributes(
      span,
      target.methodLabel,
      target.method,
      target.serverAddress,
      target.serverPort,
      target.urlFull,
    );
    if (attempt > 1) span.setAttribute('http.request.resend_count', attempt - 1);
  }
  const active = trace.setSpan(parent, span);
  injectTraceContext(active, span, headers);
  return { span, active };
}

/** Ends an attempt's span: the status code it got, or the error (timeout, abort, connect error). */
export function endAttemptSpan(
  span: Span,
  statusCode: number | undefined,
  error: unknown,
  signal: AbortSignal,
): void {
  if (statusCode !== undefined) span.setAttribute('http.response.status_code', statusCode);
  if (error !== undefined || (statusCode !== undefined && statusCode >= 400)) {
    const type = statusCode !== undefined ? String(statusCode) : errorType(error, signal);
    span.setAttribute('error.type', type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: statusCode !== undefined ? undefined : type });
  }
  if (statusCode === undefined && error instanceof Error) span.recordException(error);
  span.end();
}

const headerSetter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};

/**
 * Write `traceparent` (and `tracestate`) for the span. A registered propagator (the SDK's W3C
 * one, or B3, ...) does it; when none is registered the API's propagator is a no-op, so the
 * header is written here from the span context, which is the caller's active span when no tracer
 * provider is registered either. A `traceparent` set by the caller is left alone.
 */
function injectTraceContext(ctx: Context, span: Span, headers: Headers): void {
  if (headers.has('traceparent')) return;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, headerSetter);
  for (const k in carrier) headers.set(k, carrier[k] as string);
  if (carrier.traceparent !== undefined) return;
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return;
  headers.set('traceparent', `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`);
  const state = sc.traceState?.serialize();
  if (state) headers.set('tracestate', state);
}
