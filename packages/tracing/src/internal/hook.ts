import type { IncomingMessage } from 'node:http';
import {
  type Context,
  type ContextManager,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import {
  type DbQueryInfo,
  type DbTrace,
  isStandardMethod,
  LABEL_VALUES,
  type MessageInfo,
  type MessageTrace,
  type RequestTrace,
  type TracingHook,
  type TracingStats,
} from '@vigil/core';
import type { SamplerConfig } from './config.js';
import { type IdPool, ratioUpperBound } from './ids.js';

const MAX_ATTR = 1024;

/** The API's span key (`createContextKey` is `Symbol.for` of its description). */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/**
 * The context of a request that starts its own trace: the root context plus the request's span.
 * `trace.setSpan(ROOT_CONTEXT, span)` copies the root's Map into a new context object for every
 * request; this holds the span alone. Setting or deleting a value gives an ordinary OpenTelemetry
 * context.
 */
class RequestContext implements Context {
  constructor(private readonly span: Span) {}
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }
  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, this.span);
  }
}

const headerGetter: TextMapGetter<IncomingMessage['headers']> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    return carrier[key];
  },
};

/** Message headers (AMQP header tables): string values only, others are not trace context. */
const messageGetter: TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key];
    if (typeof v === 'string') return v;
    return Buffer.isBuffer(v) ? v.toString('latin1') : undefined;
  },
};

const messageSetter: TextMapSetter<Record<string, unknown>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

interface MessageSpan extends MessageTrace {
  readonly span: Span;
  readonly ctx: Context;
}

/** A request's trace: the span, its context, and the ids adapters and loggers read. */
interface ServerTrace extends RequestTrace {
  readonly span: Span;
  readonly ctx: Context;
  readonly method: string;
  /** Whether the span records (sampled). Unsampled spans are never called: see startServer. */
  readonly recording: boolean;
}

interface DbSpan extends DbTrace {
  readonly span: Span;
}

export interface HookOptions {
  readonly tracer: Tracer;
  /** The context manager in effect (Vigil's, or one registered before it). */
  readonly contexts: ContextManager;
  readonly dbQueryText: boolean;
  readonly stats: () => TracingStats;
  /** The tracer provider's id generator: the hook takes unsampled ids from the same pool. */
  readonly ids: IdPool;
  /** The sampler the provider was built with, so the hook can skip the SDK for unsampled requests. */
  readonly sampler: SamplerConfig;
  /**
   * Whether a request may already run inside a span made by something else (OpenTelemetry
   * instrumentations given as options, or another SDK's context manager): then the hook looks at
   * the active context and nests under such a span.
   */
  readonly checkActive: boolean;
}

function cut(s: string): string {
  return s.length > MAX_ATTR ? s.slice(0, MAX_ATTR) : s;
}

function errorType(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length <= 64) return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string' && name.length <= 64) return name;
  }
  return 'error';
}

function messageTrace(span: Span, ctx: Context): MessageSpan {
  const sc = span.spanContext();
  return {
    span,
    ctx,
    exemplar:
      (sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? { traceId: sc.traceId, spanId: sc.spanId } : undefined,
  };
}

/** Stable messaging semconv attributes of a producer or consumer span. */
function setMessageAttributes(span: Span, info: MessageInfo, name: string, type: string): void {
  span.setAttribute('messaging.system', info.system);
  span.setAttribute('messaging.operation.name', name);
  span.setAttribute('messaging.operation.type', type);
  span.setAttribute('messaging.destination.name', cut(info.destination));
  if (info.routingKey !== undefined)
    span.setAttribute('messaging.rabbitmq.destination.routing_key', cut(info.routingKey));
  if (info.messageId !== undefined) span.setAttribute('messaging.message.id', cut(info.messageId));
  if (info.bodySize !== undefined) span.setAttribute('messaging.message.body.size', info.bodySize);
  if (info.host) span.setAttribute('server.address', info.host);
  if (info.port) span.setAttribute('server.port', info.port);
}

/**
 * The hook Vigil's request observer calls on each request (the contract is @vigil/core's): server
 * spans per request, database client spans per query, context binding for driver callbacks.
 *
 * Unsampled requests (the common case at low ratios) cost an id, a non-recording span and a
 * context: no attributes are built, nothing is queued. A malformed `traceparent` is ignored by the
 * W3C propagator, so such a request starts a new trace.
 */
export interface Hook extends TracingHook {
  /**
   * Attach mode: spans come from another SDK's tracer (its sampler decides, so the shortcut for
   * unsampled requests is off) and requests nest under the span its instrumentation made.
   */
  attach(tracer: Tracer): void;
}

export function createHook(o: HookOptions): Hook {
  const { contexts } = o;
  let tracer = o.tracer;
  let checkActive = o.checkActive;

  // The sampling decision for requests, taken here where it is certain to match what the SDK
  // would decide, so that unsampled requests (most of them at low ratios) never enter the SDK:
  // their span is a bare span context with ids from the pool. 'on' and the ratio's sampled side go
  // through `tracer.startSpan` as usual.
  const { ids } = o;
  const type = o.sampler.type;
  let root: 'on' | 'off' | 'ratio' =
    type === 'always_off' || type === 'parentbased_always_off'
      ? 'off'
      : type === 'traceidratio' || type === 'parentbased_traceidratio'
        ? 'ratio'
        : 'on';
  const upper = 'ratio' in o.sampler ? ratioUpperBound(o.sampler.ratio) : 0;
  // With a remote parent: parent-based samplers follow its flag; always_off never samples.
  let followsParent = type.startsWith('parentbased_');

  const startServer = (req: IncomingMessage): RequestTrace => {
    let parent: Context = ROOT_CONTEXT;
    let kind: SpanKind = SpanKind.SERVER;
    if (checkActive) {
      const active = contexts.active();
      const activeSpan = trace.getSpan(active);
      if (
        activeSpan !== undefined &&
        activeSpan.spanContext().traceId !== '00000000000000000000000000000000'
      ) {
        // Something (an OpenTelemetry http instrumentation) already made a span for this request:
        // nest under it rather than starting a second trace.
        parent = active;
        kind = SpanKind.INTERNAL;
      }
    }
    if (kind === SpanKind.SERVER && req.headers.traceparent !== undefined) {
      parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
    }

    const raw = req.method ?? 'GET';
    const method = isStandardMethod(raw) ? raw : LABEL_VALUES.otherMethod;
    // Unsampled requests get a bare span context (`sc`) and a non-recording span made from it, and
    // no method of that span is ever called: with a share of requests sampled, the same call sites
    // would otherwise see two span classes and turn polymorphic for every request.
    let sc: SpanContext | undefined;
    const parentSc = parent === ROOT_CONTEXT ? undefined : trace.getSpanContext(parent);
    if (parentSc !== undefined && trace.isSpanContextValid(parentSc)) {
      if (
        kind === SpanKind.SERVER &&
        (parentSc.traceFlags & TraceFlags.SAMPLED) === 0 &&
        (followsParent || root === 'off')
      ) {
        sc = {
          traceId: parentSc.traceId,
          spanId: ids.generateSpanId(),
          traceFlags: TraceFlags.NONE,
          traceState: parentSc.traceState,
        };
      }
    } else if (root === 'off') {
      sc = { traceId: ids.nextTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
    } else if (root === 'ratio') {
      const traceId = ids.nextTraceId();
      if (ids.acc >= upper) sc = { traceId, spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
      else ids.pending = traceId;
    }
    let span: Span;
    let recording = false;
    if (sc !== undefined) span = trace.wrapSpanContext(sc);
    else {
      try {
        span = tracer.startSpan(method === LABEL_VALUES.otherMethod ? 'HTTP' : method, { kind }, parent);
      } finally {
        // Never left over for another span, even if the SDK threw before taking it.
        ids.pending = undefined;
      }
      sc = span.spanContext();
      recording = span.isRecording();
    }
    const ctx = parent === ROOT_CONTEXT ? new RequestContext(span) : trace.setSpan(parent, span);
    const sampled = (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (recording) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const hostHeader = req.headers.host;
      const sock = req.socket as { encrypted?: boolean; remoteAddress?: string } | null | undefined;
      const secure = sock?.encrypted === true;
      span.setAttribute('http.request.method', method);
      if (method === LABEL_VALUES.otherMethod) span.setAttribute('http.request.method_original', cut(raw));
      span.setAttribute('url.path', cut(q < 0 ? url : url.slice(0, q)));
      span.setAttribute('url.scheme', secure ? 'https' : 'http');
      if (hostHeader) {
        const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostHeader);
        if (m?.[1]) span.setAttribute('server.address', cut(m[1]));
        if (m?.[2]) span.setAttribute('server.port', Number(m[2]));
      }
      const peer = sock?.remoteAddress;
      if (peer) span.setAttribute('client.address', peer);
      const ua = req.headers['user-agent'];
      if (ua) span.setAttribute('user_agent.original', cut(ua));
      span.setAttribute('network.protocol.version', req.httpVersion);
    }
    const t = {
      traceId: sc.traceId,
      spanId: sc.spanId,
      traceFlags: sc.traceFlags,
      exemplar: undefined as RequestTrace['exemplar'],
      span,
      ctx,
      method,
      recording,
    } satisfies ServerTrace;
    if (sampled) t.exemplar = t;
    // A body is read from socket events, which run outside the request's context: bind the
    // request's listeners to it (only for requests with a body; GETs skip the extra work).
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      contexts.bind(ctx, req);
    }
    return t;
  };

  return {
    attach(t) {
      tracer = t;
      checkActive = true;
      root = 'on';
      followsParent = false;
    },

    startServer,

    run<T>(t: RequestTrace, fn: () => T): T {
      return contexts.with((t as ServerTrace).ctx, fn);
    },

    endServer(t, route, statusCode) {
      const st = t as ServerTrace;
      // A non-recording span's end() does nothing; not calling it keeps this site monomorphic.
      if (!st.recording) return;
      const { span, method } = st;
      if (route.charCodeAt(0) === 47 /* / */) {
        span.setAttribute('http.route', route);
        span.updateName(`${method === LABEL_VALUES.otherMethod ? 'HTTP' : method} ${route}`);
      }
      if (statusCode === undefined) {
        span.setAttribute('error.type', 'aborted');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted the request' });
      } else {
        span.setAttribute('http.response.status_code', statusCode);
        if (statusCode >= 500) {
          span.setAttribute('error.type', String(statusCode));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      span.end();
    },

    recordError(trace, error) {
      const t = trace as ServerTrace;
      if (!t.recording || !t.span.isRecording()) return;
      t.span.recordException(
        error instanceof Error ? error : { name: errorType(error), message: cut(String(error)) },
      );
    },

    startDb(info: DbQueryInfo): DbTrace | undefined {
      const parent = contexts.active();
      const parentSpan = trace.getSpan(parent);
      // Queries outside any span (pool warm-up, health checks) would each start a trace of their own.
      if (parentSpan === undefined) return undefined;
      // Unsampled parent: the (parent-based) sampler drops the child too; skip the work.
      if ((parentSpan.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
      const op = info.operation !== 'unknown' ? info.operation : undefined;
      const table = info.table !== 'unknown' ? info.table : undefined;
      const name = op ? (table ? `${op} ${table}` : op) : info.system;
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT }, parent);
      if (span.isRecording()) {
        span.setAttribute('db.system.name', info.system);
        // The pre-1.26 name, still what several backends use to draw database nodes.
        span.setAttribute('db.system', info.system);
        if (op) span.setAttribute('db.operation.name', op);
        if (table) span.setAttribute('db.collection.name', table);
        if (op) span.setAttribute('db.query.summary', name);
        if (info.namespace) span.setAttribute('db.namespace', info.namespace);
        if (info.host) span.setAttribute('server.address', info.host);
        if (info.port) span.setAttribute('server.port', info.port);
        if (o.dbQueryText && info.text) span.setAttribute('db.query.text', cut(info.text));
      }
      const sc = span.spanContext();
      const sampled = (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
      const d = { span, exemplar: undefined as DbTrace['exemplar'] } satisfies DbSpan;
      if (sampled) d.exemplar = { traceId: sc.traceId, spanId: sc.spanId };
      return d;
    },

    endDb(d, error) {
      const { span } = d as DbSpan;
      if (error && span.isRecording()) {
        const type = errorType(error);
        span.setAttribute('error.type', type);
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
        span.recordException(error as Error);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: cut(String((error as Error).message ?? type)),
        });
      }
      span.end();
    },

    startSend(info: MessageInfo, headers: Record<string, unknown>): MessageTrace | undefined {
      const active = contexts.active();
      const parentSpan = trace.getSpan(active);
      // A publish outside any span (a timer, start-up) would start a trace of its own: leave it.
      if (parentSpan === undefined || !trace.isSpanContextValid(parentSpan.spanContext())) return undefined;
      if ((parentSpan.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) {
        // Unsampled: no span, but the decision travels with the message (flags 00).
        propagation.inject(active, headers, messageSetter);
        return undefined;
      }
      const span = tracer.startSpan(
        `publish ${info.destination || 'amq.default'}`,
        { kind: SpanKind.PRODUCER },
        active,
      );
      if (span.isRecording()) setMessageAttributes(span, info, 'publish', 'send');
      const ctx = trace.setSpan(active, span);
      propagation.inject(ctx, headers, messageSetter);
      return messageTrace(span, ctx);
    },

    startProcess(info, headers): MessageTrace {
      // The producer's context when the message carries one; a new trace otherwise.
      const parent =
        headers !== undefined && headers !== null && typeof headers === 'object'
          ? propagation.extract(ROOT_CONTEXT, headers, messageGetter)
          : ROOT_CONTEXT;
      const span = tracer.startSpan(`process ${info.destination}`, { kind: SpanKind.CONSUMER }, parent);
      if (span.isRecording()) setMessageAttributes(span, info, 'process', 'process');
      return messageTrace(span, trace.setSpan(parent, span));
    },

    runMessage<T>(t: MessageTrace, fn: () => T): T {
      return contexts.with((t as MessageSpan).ctx, fn);
    },

    endMessage(t, error, outcome) {
      const { span } = t as MessageSpan;
      if (span.isRecording()) {
        if (outcome) span.setAttribute('vigil.messaging.outcome', outcome);
        if (error) {
          const type = errorType(error);
          span.setAttribute('error.type', type);
          if (error instanceof Error) span.recordException(error);
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: cut(String((error as Error).message ?? type)),
          });
        }
      }
      span.end();
    },

    bind(fn) {
      return contexts.bind(contexts.active(), fn);
    },

    stats: o.stats,
  };
}
