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
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { DbQueryInfo, DbTrace, RequestTrace, TracingHook } from '@vigil/metrics';
import type { TracingStats } from '../types.js';
import type { SamplerConfig } from './config.js';
import { type IdPool, ratioUpperBound } from './ids.js';

/** Same key as `TRACING_HOOK` in @vigil/metrics. */
export const TRACING_HOOK: unique symbol = Symbol.for('vigil.tracing.hook') as never;

/** Methods semconv names as they are; anything else is `_OTHER` (bounded span names). */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);
const MAX_ATTR = 1024;

/** The API's span key (`createContextKey` is `Symbol.for` of its description). */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/**
 * The context of a request that starts its own trace: the root context plus the request's span.
 * `trace.setSpan(ROOT_CONTEXT, span)` copies the root's Map into a new context object for every
 * request (~90 ns and two objects, micro-benchmark); this holds the span alone (~7 ns). Setting or
 * deleting a value gives an ordinary OpenTelemetry context.
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

/** A request's trace: the span, its context, and the ids adapters and loggers read. */
interface ServerTrace extends RequestTrace {
  readonly span: Span;
  readonly ctx: Context;
  readonly method: string;
  readonly req: IncomingMessage;
  /** `req.socket`, read once at the start (on Express 5 each read of `req` misses V8's caches). */
  readonly socket: object | null | undefined;
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

/**
 * The hook Vigil's adapters call on each request (see @vigil/metrics' tracing-hook.ts): server
 * spans per request, database client spans per query, context binding for driver callbacks.
 *
 * Unsampled requests (the common case at low ratios) cost an id, a non-recording span and a
 * context: no attributes are built, nothing is queued. A malformed `traceparent` is ignored by the
 * W3C propagator, so such a request starts a new trace.
 */
export function createHook(o: HookOptions): TracingHook {
  const { tracer, contexts } = o;

  // Each request's trace, from startServer to endServer, for loggers and error hooks that have
  // only the request. It sits in a slot on the request's socket (one request at a time per
  // HTTP/1.1 connection; a pipelined or HTTP/2 request that finds the slot taken goes to the
  // WeakMap). Not a WeakMap for every request: its set gives each request object an identity hash
  // and each scavenge ephemeron work, measured at +17–19 % CPU per request on a bare Express route
  // (+2 % for the socket slot). Not a property on req: Express 5 swaps req's prototype on every
  // request, after which every property V8 has to add is slow. Completion handlers of the same
  // request that run after endServer (a request logger mounted after the metrics middleware) still
  // find the request that just ended in `lastEnded`.
  const SLOT = Symbol('vigil.tracing.request');
  type Slotted = { [SLOT]?: ServerTrace | undefined };
  const byRequest = new WeakMap<IncomingMessage, ServerTrace>();
  let lastEnded: ServerTrace | undefined;

  // The sampling decision for requests, taken here where it is certain to match what the SDK
  // would decide, so that unsampled requests (most of them at low ratios) never enter the SDK:
  // their span is a bare span context with ids from the pool. 'on' and the ratio's sampled side go
  // through `tracer.startSpan` as usual.
  const { ids } = o;
  const type = o.sampler.type;
  const root: 'on' | 'off' | 'ratio' =
    type === 'always_off' || type === 'parentbased_always_off'
      ? 'off'
      : type === 'traceidratio' || type === 'parentbased_traceidratio'
        ? 'ratio'
        : 'on';
  const upper = 'ratio' in o.sampler ? ratioUpperBound(o.sampler.ratio) : 0;
  // With a remote parent: parent-based samplers follow its flag; always_off never samples.
  const followsParent = type.startsWith('parentbased_');

  const requestTrace = (req: IncomingMessage, socket?: object | null): ServerTrace | undefined => {
    const slotted = ((socket === undefined ? req.socket : socket) as Slotted | null | undefined)?.[SLOT];
    if (slotted !== undefined && slotted.req === req) return slotted;
    return byRequest.get(req) ?? (lastEnded !== undefined && lastEnded.req === req ? lastEnded : undefined);
  };

  const startServer = (req: IncomingMessage): RequestTrace => {
    let parent: Context = ROOT_CONTEXT;
    let kind: SpanKind = SpanKind.SERVER;
    const sock = req.socket as Slotted | null | undefined;
    if (o.checkActive) {
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
    const method = KNOWN_METHODS.has(raw) ? raw : '_OTHER';
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
        span = tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind }, parent);
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
      const secure = (sock as { encrypted?: boolean } | null | undefined)?.encrypted === true;
      span.setAttribute('http.request.method', method);
      if (method === '_OTHER') span.setAttribute('http.request.method_original', cut(raw));
      span.setAttribute('url.path', cut(q < 0 ? url : url.slice(0, q)));
      span.setAttribute('url.scheme', secure ? 'https' : 'http');
      if (hostHeader) {
        const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostHeader);
        if (m?.[1]) span.setAttribute('server.address', cut(m[1]));
        if (m?.[2]) span.setAttribute('server.port', Number(m[2]));
      }
      const peer = (sock as { remoteAddress?: string } | null | undefined)?.remoteAddress;
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
      req,
      socket: sock,
      recording,
    } satisfies ServerTrace;
    if (sampled) t.exemplar = t;
    if (sock != null && sock[SLOT] === undefined) sock[SLOT] = t;
    else byRequest.set(req, t);
    // A body is read from socket events, which run outside the request's context: bind the
    // request's listeners to it (only for requests with a body; GETs skip the extra work).
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      contexts.bind(ctx, req);
    }
    return t;
  };

  return {
    startServer,

    run<T>(t: RequestTrace, fn: () => T): T {
      return contexts.with((t as ServerTrace).ctx, fn);
    },

    endServer(t, route, statusCode) {
      const st = t as ServerTrace;
      const sock = st.socket as Slotted | null | undefined;
      if (sock != null && sock[SLOT] === st) sock[SLOT] = undefined;
      else byRequest.delete(st.req);
      lastEnded = st;
      // A non-recording span's end() does nothing; not calling it keeps this site monomorphic.
      if (!st.recording) return;
      const { span, method } = st;
      if (route.charCodeAt(0) === 47 /* / */) {
        span.setAttribute('http.route', route);
        span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
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

    requestTrace,

    recordError(req, error) {
      const t = requestTrace(req);
      if (t === undefined || !t.recording || !t.span.isRecording()) return;
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

    bind(fn) {
      return contexts.bind(contexts.active(), fn);
    },

    stats: o.stats,
  };
}
