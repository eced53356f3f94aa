import diagnostics from 'node:diagnostics_channel';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { HTTP_CLIENT_STATUS, httpClientRequestDuration } from '@vigil/catalog';
import {
  boundLabel,
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkObject,
  checkPositiveInt,
  checkStringArray,
  claimOutbound,
  clientSpanName,
  isOutboundObserved,
  isOutboundUntracked,
  LABEL_VALUES,
  normalizeMethod,
  setClientSpanAttributes,
  statusLabel,
  type UndiciRequestLike,
  undiciHasTraceparent,
  VigilOptionError,
} from '@vigil/core';
import type { HistogramSeries, Instrument, Registry } from '@vigil/metrics';
import { OUTBOUND_DEFAULTS } from './defaults.js';
import { resolveInstruments } from './internal/instruments.js';

/** What a `target` mapping function sees of an outbound request. */
export interface OutboundRequestInfo {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  /** The request path without its query string. */
  readonly path: string;
  /** The method as a label value (`GET`, or `_OTHER`). */
  readonly method: string;
  /** The default target: `host[:port]`, the port only when it is not the scheme's default. */
  readonly target: string;
}

export interface OutboundOptions {
  /** A Vigil metrics handle (`createMetrics()`); its registry is used. */
  metrics?: { readonly registry: Registry };
  /** Registry for the metrics. Default: `metrics.registry`, else a new private Registry. */
  registry?: Registry;
  http?: boolean;
  fetch?: boolean;
  tracing?: boolean;
  /**
   * The `target` label of a request (a bounded value: a service name, not a URL), or `undefined`
   * to leave the request unobserved. Default: `info.target` (`host[:port]`).
   */
  target?: (info: OutboundRequestInfo) => string | undefined;
  maxTargets?: number;
  excludeHosts?: readonly string[];
  /**
   * `http.Agent`s whose requests are not observed: opts one `node:http` client out (axios'
   * `httpAgent` / `httpsAgent`, got's `agent`, ...).
   */
  excludeAgents?: readonly object[];
}

export interface OutboundInstrumentation {
  /** The registry `http_client_request_duration_seconds` is recorded in. */
  readonly registry: Registry;
  /**
   * How `node:http` / `node:https` requests are seen: `diagnostics_channel` (Node 22.12+, 23.2+),
   * `wrap` (`http.request`/`get` and `https.request`/`get` replaced until `close()`), or `off`.
   */
  readonly httpHook: 'diagnostics_channel' | 'wrap' | 'off';
  /** Unsubscribes (and restores `http.request` when it was wrapped). Idempotent. */
  close(): Promise<void>;
}

/** The key `suppressTracing()` sets: exporters send their own requests under it. */
const SUPPRESS_TRACING = Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const CACHE_MAX = 1024;

const KEYS = [
  'metrics',
  'registry',
  'http',
  'fetch',
  'tracing',
  'target',
  'maxTargets',
  'excludeHosts',
  'excludeAgents',
];

interface Pending {
  readonly t0: number;
  readonly target: string;
  readonly method: string;
  readonly span: Span | undefined;
  done: boolean;
}

interface Origin {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  readonly target: string;
}

/** Whether Node publishes `http.client.request.created` (early enough to set headers). */
export function hasCreatedChannel(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 2) || (major === 22 && minor >= 12);
}

/** `status_code` of a request that got no response. */
export function outboundErrorStatus(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown } | undefined;
  const code = e?.code;
  if (
    e?.name === 'TimeoutError' ||
    code === 'ETIMEDOUT' ||
    (typeof code === 'string' && code.startsWith('UND_ERR_') && code.endsWith('_TIMEOUT'))
  ) {
    return HTTP_CLIENT_STATUS.timeout;
  }
  if (
    e?.name === 'AbortError' ||
    code === 'ABORT_ERR' ||
    code === 'UND_ERR_ABORTED' ||
    code === 'ECONNABORTED'
  ) {
    return HTTP_CLIENT_STATUS.aborted;
  }
  return HTTP_CLIENT_STATUS.error;
}

function errorType(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code.length <= 64) return e.code;
  if (typeof e?.name === 'string' && e.name.length <= 64) return e.name;
  return 'error';
}

/** `host[:port]` (lowercase, IPv6 without brackets) split into its parts, the port defaulted. */
function parseHostPort(hostport: string, secure: boolean): Origin {
  const protocol = secure ? 'https:' : 'http:';
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostport.toLowerCase());
  const host = m?.[1] ?? hostport.toLowerCase();
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  const port = m?.[2] ? Number(m[2]) : secure ? 443 : 80;
  const target = boundLabel(m?.[2] && port !== (secure ? 443 : 80) ? `${hostname}:${port}` : hostname);
  return { protocol, hostname, port, target };
}

function stripQuery(path: string | undefined): string {
  if (path === undefined) return '/';
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

type RequestFn = (...args: unknown[]) => ClientRequest;

/** Whether the request carries trace context already (set by its caller or another instrumentation). */
function propagated(carrier: object, isHttp: boolean): boolean {
  if (isHttp) return (carrier as ClientRequest).hasHeader('traceparent');
  const u = carrier as UndiciRequestLike;
  return typeof u.addHeader !== 'function' || undiciHasTraceparent(u.headers);
}

function inject(carrier: object, isHttp: boolean, key: string, value: string): void {
  if (isHttp) {
    const req = carrier as ClientRequest;
    // Array headers and `Expect: 100-continue` have their head rendered already.
    if (!req.headersSent) req.setHeader(key, value);
  } else (carrier as UndiciRequestLike).addHeader?.(key, value);
}

/**
 * Replaces `request` and `get` of `node:http` or `node:https` so each new request is seen before
 * its head is written; for Node versions without `http.client.request.created`. Returns the undo.
 */
function wrapModule(mod: typeof http | typeof https, onCreated: (req: ClientRequest) => void): () => void {
  const m = mod as unknown as { request: RequestFn; get: RequestFn };
  const original = m.request;
  const originalGet = m.get;
  const request = function request(this: unknown, ...args: unknown[]): ClientRequest {
    const req = original.apply(this, args);
    onCreated(req);
    return req;
  };
  // What Node's own get() does, over the wrapped request (its get() calls the unwrapped one).
  const get = function get(this: unknown, ...args: unknown[]): ClientRequest {
    const req = request.apply(this, args);
    req.end();
    return req;
  };
  m.request = request;
  m.get = get;
  return () => {
    if (m.request === request) m.request = original;
    if (m.get === get) m.get = originalGet;
  };
}

/**
 * Observes every outbound HTTP request of the process, whatever the client: `node:http` /
 * `node:https` (axios, got, node-fetch, superagent, most SDKs) and `fetch()` / undici. Each request
 * gets `http_client_request_duration_seconds{target, method, status_code}` (until the response
 * headers, or the error), and inside an active trace a client span and `traceparent`.
 *
 * Requests of `createHttpClient` (which records them itself), of `untrackedOutbound(fn)` and of
 * tracing exporters are skipped. One instance per process; `close()` undoes everything.
 *
 * ```ts
 * const outbound = instrumentOutbound({ metrics });
 * ```
 */
export function instrumentOutbound(options?: OutboundOptions): OutboundInstrumentation {
  const input = checkObject('options', options);
  checkKnownKeys('', input, KEYS);
  const doHttp = checkBoolean('http', input.http) ?? OUTBOUND_DEFAULTS.http;
  const doFetch = checkBoolean('fetch', input.fetch) ?? OUTBOUND_DEFAULTS.fetch;
  const tracing = checkBoolean('tracing', input.tracing) ?? OUTBOUND_DEFAULTS.tracing;
  const mapTarget = checkFunction<NonNullable<OutboundOptions['target']>>('target', input.target);
  const maxTargets = checkPositiveInt('maxTargets', input.maxTargets) ?? OUTBOUND_DEFAULTS.maxTargets;
  const excluded = new Set(
    (checkStringArray('excludeHosts', input.excludeHosts) ?? OUTBOUND_DEFAULTS.excludeHosts).map((h) =>
      h.toLowerCase().replace(/^\[|\](?=:|$)/g, ''),
    ),
  );
  const agents = input.excludeAgents;
  if (
    agents !== undefined &&
    (!Array.isArray(agents) || agents.some((a) => typeof a !== 'object' || a === null))
  ) {
    throw new VigilOptionError('excludeAgents', 'an array of http.Agent objects', agents);
  }
  const excludedAgents = new WeakSet<object>((agents as object[] | undefined) ?? []);
  const anyAgentExcluded = agents !== undefined && agents.length > 0;
  if (isOutboundObserved()) {
    throw new Error(
      'instrumentOutbound() is already active in this process: close the other instance first (one observes every request)',
    );
  }
  const { instruments, release } = resolveInstruments(input as Pick<OutboundOptions, 'registry' | 'metrics'>);
  const family = instruments.instrument(httpClientRequestDuration) as unknown as Instrument<HistogramSeries>;
  claimOutbound(true);
  const tracer = trace.getTracer('@vigil/resilience');

  // Targets seen, up to maxTargets; later ones share the overflow value (the series cap applies on top).
  const targets = new Set<string>();
  const bound = (t: string): string => {
    if (targets.has(t)) return t;
    if (targets.size >= maxTargets) return LABEL_VALUES.overflowRoute;
    targets.add(t);
    return t;
  };
  const origins = new Map<string, Origin>();
  const originOf = (key: string, make: () => Origin): Origin => {
    let o = origins.get(key);
    if (o === undefined) {
      o = make();
      if (origins.size >= CACHE_MAX) origins.clear();
      origins.set(key, o);
    }
    return o;
  };

  // `carrier` is the ClientRequest (`isHttp`) or the undici request: no closures per request.
  const begin = (
    rawMethod: string | undefined,
    origin: Origin,
    path: string | undefined,
    carrier: object,
    isHttp: boolean,
  ): Pending | undefined => {
    if (isOutboundUntracked()) return undefined;
    const active = context.active();
    if (active.getValue(SUPPRESS_TRACING) === true) return undefined;
    if (excluded.size > 0 && (excluded.has(origin.hostname) || excluded.has(origin.target))) return undefined;
    let method = normalizeMethod(rawMethod ?? 'GET');
    if (method === LABEL_VALUES.otherMethod && rawMethod !== undefined)
      method = normalizeMethod(rawMethod.toUpperCase());
    let target = origin.target;
    if (mapTarget !== undefined) {
      const t = mapTarget({ ...origin, path: stripQuery(path), method });
      if (typeof t !== 'string' || t === '') return undefined;
      target = boundLabel(t);
    }
    target = bound(target);
    let span: Span | undefined;
    const parent = tracing ? trace.getSpan(active) : undefined;
    if (parent !== undefined && !propagated(carrier, isHttp)) {
      let ctx: Context = active;
      if ((parent.spanContext().traceFlags & 1) === 1) {
        span = tracer.startSpan(clientSpanName(method), { kind: SpanKind.CLIENT }, active);
        if (span.isRecording()) {
          const host = origin.hostname.includes(':') ? `[${origin.hostname}]` : origin.hostname;
          const defaultPort = origin.protocol === 'https:' ? 443 : 80;
          const url = `${origin.protocol}//${host}${origin.port === defaultPort ? '' : `:${origin.port}`}${stripQuery(path)}`;
          setClientSpanAttributes(span, method, String(rawMethod), origin.hostname, origin.port, url);
        }
        ctx = trace.setSpan(active, span);
      }
      // Unsampled: no span, but the decision still travels downstream (flags 00).
      const headers: Record<string, string> = {};
      propagation.inject(ctx, headers);
      if (headers.traceparent === undefined) {
        // No propagator registered (API only): write W3C trace context from the span itself.
        const sc = trace.getSpanContext(ctx);
        if (sc !== undefined && trace.isSpanContextValid(sc)) {
          headers.traceparent = `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
          const state = sc.traceState?.serialize();
          if (state) headers.tracestate = state;
        }
      }
      for (const k in headers) inject(carrier, isHttp, k, headers[k] as string);
    }
    return { t0: performance.now(), target, method, span, done: false };
  };

  const finish = (p: Pending, statusCode: number | undefined, status: string, error: unknown): void => {
    if (p.done) return;
    p.done = true;
    try {
      record(p, statusCode, status, error);
    } catch {
      // A channel subscriber that throws crashes the process: recording never does.
    }
  };
  const record = (p: Pending, statusCode: number | undefined, status: string, error: unknown): void => {
    const seconds = (performance.now() - p.t0) / 1000;
    const span = p.span;
    if (span === undefined) {
      family.labels(p.target, p.method, status).observe(seconds);
      return;
    }
    // The client span is the sample's exemplar when it is exported (sampled).
    const sc = span.spanContext();
    family
      .labels(p.target, p.method, status)
      .observe(seconds, (sc.traceFlags & 1) === 1 ? { traceId: sc.traceId, spanId: sc.spanId } : undefined);
    if (statusCode !== undefined) {
      span.setAttribute('http.response.status_code', statusCode);
      if (statusCode >= 400) {
        span.setAttribute('error.type', String(statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    } else {
      const type = error === undefined ? status : errorType(error);
      span.setAttribute('error.type', type);
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : type });
    }
    span.end();
  };

  // --- node:http / node:https ---
  // A request's state lives on the request under this instance's own key (cheaper than a WeakMap).
  const PENDING = Symbol('vigil.outbound.pending');
  type Carrier = { [PENDING]?: Pending };
  const onHttpCreated = (req: ClientRequest): void => {
    try {
      if ((req as Carrier)[PENDING] !== undefined) return;
      // Upgrades (WebSocket) and CONNECT tunnels are connections, not request/response calls.
      if (req.method === 'CONNECT' || req.hasHeader('upgrade')) return;
      if (anyAgentExcluded) {
        const agent = (req as { agent?: object | null }).agent;
        if (agent != null && excludedAgents.has(agent)) return;
      }
      const secure = req.protocol === 'https:';
      const hostHeader = req.getHeader('host');
      const hostport = typeof hostHeader === 'string' ? hostHeader : (req.host ?? 'localhost');
      const origin = originOf(secure ? `s${hostport}` : hostport, () => parseHostPort(hostport, secure));
      const p = begin(req.method, origin, req.path, req, true);
      if (p === undefined) return;
      (req as Carrier)[PENDING] = p;
      if (closeFallback) req.on('close', onHttpClose);
    } catch {
      // Observing a request never breaks it.
    }
  };
  // Where Node may lack `http.client.request.error` (before 22.12), 'close' finishes a request
  // that got neither response nor error; one listener shared by all requests.
  const closeFallback = !hasCreatedChannel();
  const onHttpClose = function (this: object): void {
    const p = (this as Carrier)[PENDING];
    if (p !== undefined) finish(p, undefined, HTTP_CLIENT_STATUS.aborted, undefined);
  };
  const onHttpResponse = (message: unknown): void => {
    const { request, response } = message as { request: object; response: IncomingMessage };
    const p = (request as Carrier)[PENDING];
    if (p !== undefined) finish(p, response.statusCode, statusLabel(response.statusCode ?? 0), undefined);
  };
  const onHttpError = (message: unknown): void => {
    const { request, error } = message as { request: object; error: unknown };
    const p = (request as Carrier)[PENDING];
    if (p !== undefined) finish(p, undefined, outboundErrorStatus(error), error);
  };

  // --- fetch() / undici ---
  const onUndiciCreate = (message: unknown): void => {
    try {
      const request = (message as { request?: UndiciRequestLike }).request;
      if (request === undefined || request.origin === undefined) return;
      if (request.method === 'CONNECT' || request.upgrade) return;
      const o = request.origin;
      const key = typeof o === 'string' ? o : o.origin;
      const origin = originOf(key, () => {
        const u = typeof o === 'string' ? new URL(o) : o;
        return parseHostPort(u.host, u.protocol === 'https:');
      });
      const p = begin(request.method, origin, request.path, request, false);
      if (p !== undefined) (request as Carrier)[PENDING] = p;
    } catch {
      // Observing a request never breaks it.
    }
  };
  const onUndiciHeaders = (message: unknown): void => {
    const { request, response } = message as { request: object; response?: { statusCode?: number } };
    const p = (request as Carrier)[PENDING];
    const code = response?.statusCode;
    if (p !== undefined && typeof code === 'number') finish(p, code, statusLabel(code), undefined);
  };
  const onUndiciError = (message: unknown): void => {
    const { request, error } = message as { request: object; error: unknown };
    const p = (request as Carrier)[PENDING];
    if (p !== undefined) finish(p, undefined, outboundErrorStatus(error), error);
  };

  const subs: [string, (m: unknown) => void][] = [];
  const undo: (() => void)[] = [];
  let httpHook: OutboundInstrumentation['httpHook'] = 'off';
  if (doHttp) {
    if (hasCreatedChannel()) {
      subs.push([
        'http.client.request.created',
        (m) => onHttpCreated((m as { request: ClientRequest }).request),
      ]);
      httpHook = 'diagnostics_channel';
    } else {
      undo.push(wrapModule(http, onHttpCreated), wrapModule(https, onHttpCreated));
      // `import { request } from 'node:http'` sees the wrapped function too.
      syncBuiltinESMExports();
      httpHook = 'wrap';
    }
    subs.push(['http.client.response.finish', onHttpResponse], ['http.client.request.error', onHttpError]);
  }
  if (doFetch) {
    subs.push(
      ['undici:request:create', onUndiciCreate],
      ['undici:request:headers', onUndiciHeaders],
      ['undici:request:error', onUndiciError],
    );
  }
  for (const [name, fn] of subs) diagnostics.subscribe(name, fn);

  let closed: Promise<void> | undefined;
  return {
    registry: instruments.registry,
    httpHook,
    close() {
      closed ??= (async () => {
        for (const [name, fn] of subs) diagnostics.unsubscribe(name, fn);
        if (undo.length > 0) {
          for (const u of undo) u();
          syncBuiltinESMExports();
        }
        claimOutbound(false);
        await release();
      })();
      return closed;
    },
  };
}
