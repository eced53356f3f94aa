import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { HTTP_CLIENT_STATUS, httpClientRequestDuration } from '@vigil/catalog';
import {
  checkBoolean,
  checkFunction,
  checkInt,
  checkName,
  checkObject,
  checkTimeout,
  LABEL_VALUES,
  NAME_PATTERN,
  normalizeMethod,
  statusLabel,
  untrackedOutbound,
  VigilOptionError,
} from '@vigil/core';
import type { HistogramSeries, Registry } from '@vigil/metrics';
import type { BreakerSettings, BreakerView } from './breaker.js';
import type { BulkheadSettings, BulkheadView } from './bulkhead.js';
import { HTTP_CLIENT_DEFAULTS } from './defaults.js';
import { HttpStatusError, isHttpStatusError, isTimeoutError } from './errors.js';
import { makeExecutor } from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { attach, histogram, removeHistogram, resolveInstruments } from './internal/instruments.js';
import { resolveLogger } from './internal/log.js';
import { breakerView, buildPipeline, bulkheadView, resolvePolicy } from './policy.js';
import { isConnectError, isRetryableError, type RetrySettings } from './retry.js';
import type { InstrumentationOptions, RetryEvent, RetryPredicate } from './types.js';

/** What `new Headers(init)` accepts: a record, an array of pairs or a `Headers`. */
export type HeadersLike = NonNullable<ConstructorParameters<typeof Headers>[0]>;

export interface HttpClientOptions extends InstrumentationOptions {
  /** Origin and optional path prefix every request path is appended to: `http://users:8080/api`. Required. */
  baseUrl: string | URL;
  /**
   * The `target` label, span attribute and breaker / policy name. Default: the base URL's
   * host and port. Names are label values: one client per downstream, created once.
   */
  name?: string;
  timeoutMs?: number | false;
  overallTimeoutMs?: number | false;
  breaker?: boolean | BreakerSettings;
  retry?: boolean | RetrySettings;
  bulkhead?: boolean | BulkheadSettings;
  retryStatusCodes?: readonly number[];
  /** Headers sent with every request (a request's own headers win). */
  headers?: HeadersLike;
  /** The fetch implementation. Default: the global `fetch` (undici), looked up per request. */
  fetch?: typeof fetch;
  tracing?: boolean;
  maxErrorBodyBytes?: number;
}

/** `fetch`'s `RequestInit` plus per-request resilience options. */
export interface HttpRequestInit extends RequestInit {
  /** Per-attempt timeout (ms) for this request, or `false`. */
  timeoutMs?: number | false;
  /**
   * Whether repeating this request is safe. Default: true for GET, HEAD, OPTIONS, TRACE, PUT and
   * DELETE, and for any request with an `Idempotency-Key` header; false otherwise.
   */
  idempotent?: boolean;
}

export interface HttpClient {
  readonly name: string;
  /** The base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly registry: Registry;
  readonly breaker: BreakerView | undefined;
  readonly bulkhead: BulkheadView | undefined;
  /**
   * Send a request to `baseUrl + path`. Resolves with the `Response` of the last attempt whatever
   * its status (like `fetch`); rejects on network errors, timeouts, an open breaker or a full
   * bulkhead. Timeouts cover the wait for the response headers; read the body promptly.
   */
  fetch(path: string, init?: HttpRequestInit): Promise<Response>;
  /** Like `fetch`, then parse the body as JSON (under the timeouts). Non-2xx throws `HttpStatusError`. */
  json<T = unknown>(path: string, init?: HttpRequestInit): Promise<T>;
  /** Like `fetch`, then read the body as text (under the timeouts). Non-2xx throws `HttpStatusError`. */
  text(path: string, init?: HttpRequestInit): Promise<string>;
  /** Subscribe to retries; returns the unsubscribe function. */
  onRetry(fn: (event: RetryEvent) => void): () => void;
  /** Closes the breaker, bulkhead and retry and removes the client's series. Idempotent. */
  close(): Promise<void>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const OTHER_METHOD = LABEL_VALUES.otherMethod;

const CLIENT_KEYS = [
  'baseUrl',
  'name',
  'retryStatusCodes',
  'headers',
  'fetch',
  'tracing',
  'maxErrorBodyBytes',
];
const INIT_EXTRA_KEYS = new Set(['timeoutMs', 'idempotent']);

type Mode = 0 | 1 | 2; // fetch, json, text
const MODE_FETCH: Mode = 0;
const MODE_JSON: Mode = 1;
const MODE_TEXT: Mode = 2;

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const MONTH_INDEX = new Map(MONTHS.split('|').map((m, i) => [m, i]));
// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms recipients must accept. Anchored, with
// fixed-width fields: nothing to backtrack over.
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const RFC850_DATE = new RegExp(
  `^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`,
);

/** The fields of an HTTP date in one of its three forms (RFC 9110), or undefined. */
function httpDateFields(
  s: string,
  nowMs: number,
): { day: string; month: string; year: number; hms: string[] } | undefined {
  const imf = IMF_FIXDATE.exec(s);
  if (imf)
    return { day: imf[1] as string, month: imf[2] as string, year: Number(imf[3]), hms: imf.slice(4, 7) };
  const rfc850 = RFC850_DATE.exec(s);
  if (rfc850) {
    // A two-digit year more than 50 years in the future is the most recent past year with it.
    const current = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(current / 100) * 100 + Number(rfc850[3]);
    if (year > current + 50) year -= 100;
    return { day: rfc850[1] as string, month: rfc850[2] as string, year, hms: rfc850.slice(4, 7) };
  }
  const asctime = ASCTIME_DATE.exec(s);
  if (asctime) {
    const day = (asctime[2] as string).trim();
    return { day, month: asctime[1] as string, year: Number(asctime[6]), hms: asctime.slice(3, 6) };
  }
  return undefined;
}

/** An HTTP date (RFC 9110) as epoch ms, or undefined. */
function parseHttpDate(s: string, nowMs: number): number | undefined {
  const f = httpDateFields(s, nowMs);
  if (f === undefined) return undefined;
  const mon = MONTH_INDEX.get(f.month) as number;
  const [h, min, sec] = f.hms.map(Number) as [number, number, number];
  const d = Number(f.day);
  if (h > 23 || min > 59 || sec > 59 || d < 1) return undefined;
  const t = Date.UTC(f.year, mon, d, h, min, sec);
  // Date.UTC rolls 31 Feb over into March: such a date does not exist.
  return new Date(t).getUTCDate() === d ? t : undefined;
}

/**
 * `Retry-After` as ms: delay-seconds, or an HTTP date (its three forms in RFC 9110) counted from
 * `nowMs`. Anything else is ignored (undefined), including the free-form dates `Date.parse` would
 * accept.
 */
export function parseRetryAfter(v: string | null, nowMs = Date.now()): number | undefined {
  if (v === null || v.length > 64) return undefined;
  const s = v.trim();
  if (/^\d{1,10}$/.test(s)) return Number(s) * 1000;
  const t = parseHttpDate(s, nowMs);
  return t === undefined ? undefined : Math.max(0, t - nowMs);
}

function defaultName(url: URL): string {
  const raw = `${url.hostname.replace(/^\[|\]$/g, '')}${url.port ? `:${url.port}` : ''}`;
  const clean = raw
    .replace(/[^A-Za-z0-9_.:/-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  return NAME_PATTERN.test(clean) ? clean : 'http-client';
}

function replayable(body: unknown): boolean {
  if (body === undefined || body === null) return true;
  if (typeof body === 'string') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return true;
  if (body instanceof URLSearchParams) return true;
  if (typeof FormData !== 'undefined' && body instanceof FormData) return true;
  return false;
}

/** Read at most `max` bytes of a body as text, then drop the rest. */
async function readSnippet(res: Response, max: number): Promise<string | undefined> {
  const body = res.body;
  if (body === null) return undefined;
  if (max === 0) {
    await body.cancel().catch(() => {});
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = Buffer.concat(chunks);
  return all.subarray(0, max).toString('utf8');
}

function setAll(target: Headers, init: HeadersLike | undefined): void {
  if (init === undefined) return;
  new Headers(init).forEach((value, key) => {
    target.set(key, value);
  });
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

/**
 * An outbound HTTP client on `fetch` (undici) with base URL, timeouts that really cancel, retries
 * for idempotent requests, a circuit breaker and optional bulkhead; records
 * `http_client_request_duration_seconds{target, method, status_code}` per attempt, creates a
 * client span per attempt and propagates W3C trace context.
 *
 * ```ts
 * const users = createHttpClient({ baseUrl: 'http://users:8080', metrics });
 * const user = await users.json<User>(`/users/${id}`, { signal: req.signal });
 * ```
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  if (options === undefined) throw new VigilOptionError('baseUrl', 'an http(s) URL', undefined);
  const input = checkObject('options', options);
  let base: URL;
  try {
    base = new URL(String(input.baseUrl));
  } catch {
    throw new VigilOptionError('baseUrl', 'an absolute http(s) URL', input.baseUrl);
  }
  if (
    (typeof input.baseUrl !== 'string' && !(input.baseUrl instanceof URL)) ||
    (base.protocol !== 'http:' && base.protocol !== 'https:') ||
    base.search !== '' ||
    base.hash !== '' ||
    base.username !== '' ||
    base.password !== ''
  ) {
    throw new VigilOptionError(
      'baseUrl',
      'an absolute http(s) URL without query, fragment or credentials (send credentials in headers)',
      input.baseUrl,
    );
  }
  const name = input.name === undefined ? defaultName(base) : checkName('name', input.name);
  const retryStatusCodes = checkStatusCodes(input.retryStatusCodes) ?? HTTP_CLIENT_DEFAULTS.retryStatusCodes;
  const retryStatus = new Set(retryStatusCodes);
  const isRetryable: RetryPredicate = (e) =>
    isHttpStatusError(e) ? retryStatus.has(e.status) : isRetryableError(e);
  const connectOnly: RetryPredicate = (e) => isConnectError(e);
  const never: RetryPredicate = () => false;
  const resolved = resolvePolicy(input, HTTP_CLIENT_DEFAULTS, name, CLIENT_KEYS, isRetryable);
  let defaultHeaders: Headers;
  try {
    defaultHeaders = new Headers(input.headers as HeadersLike | undefined);
  } catch {
    throw new VigilOptionError('headers', 'headers (object, array of pairs or Headers)', input.headers);
  }
  const fetchImpl = checkFunction<typeof fetch>('fetch', input.fetch);
  const tracing = checkBoolean('tracing', input.tracing) ?? HTTP_CLIENT_DEFAULTS.tracing;
  const maxErrorBodyBytes =
    checkInt('maxErrorBodyBytes', input.maxErrorBodyBytes, 0, 1_048_576) ??
    HTTP_CLIENT_DEFAULTS.maxErrorBodyBytes;
  const now = checkFunction<() => number>('now', input.now) ?? monotonicNow;
  const logger = resolveLogger(input.logger);
  const { instruments, release } = resolveInstruments(input as InstrumentationOptions);

  const baseUrl = base.href.replace(/\/+$/, '');
  const serverAddress = base.hostname.replace(/^\[|\]$/g, '');
  const serverPort = Number(base.port || (base.protocol === 'https:' ? 443 : 80));
  const tracer = trace.getTracer('@vigil/resilience');

  // http_client_request_duration_seconds: a series per (method, status), bound on first use; both
  // labels come from bounded sets, `target` is fixed per client.
  const series = new Map<string, HistogramSeries>();
  const observe = (methodLabel: string, status: string, seconds: number) => {
    const key = `${methodLabel} ${status}`;
    let h = series.get(key);
    if (h === undefined) {
      h = histogram(instruments, httpClientRequestDuration, [name, methodLabel, status]);
      series.set(key, h);
    }
    h.observe(seconds);
  };
  const unclaim = attach(instruments, 'name', [[httpClientRequestDuration, name, undefined]]);
  const detach = () => {
    unclaim();
    for (const key of series.keys()) {
      const [m, st] = key.split(' ');
      removeHistogram(instruments, httpClientRequestDuration, [name, m as string, st as string]);
    }
    void release();
  };
  let pipeline: ReturnType<typeof buildPipeline>;
  try {
    pipeline = buildPipeline(resolved, instruments, logger, now);
  } catch (e) {
    detach();
    throw e;
  }
  let closed: Promise<void> | undefined;
  const breaker = pipeline.breaker;
  const { execute } = makeExecutor(pipeline.run, {
    what: `HTTP client "${name}"`,
    timeoutMs: resolved.timeoutMs,
    overallMs: resolved.overallMs,
    isClosed: () => closed !== undefined,
    onFallback: breaker ? () => breaker.countFallback() : undefined,
  });

  async function request(path: string, init: HttpRequestInit | undefined, mode: Mode): Promise<unknown> {
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
      throw new VigilOptionError(
        'path',
        'a path starting with a single "/" (it is appended to baseUrl)',
        path,
      );
    }
    const i = init === undefined ? {} : checkObject('init', init);
    const method = typeof i.method === 'string' ? i.method.toUpperCase() : 'GET';
    const methodLabel = normalizeMethod(method);
    const url = baseUrl + path;
    const fetchInit: Record<string, unknown> = {};
    for (const k of Object.keys(i)) if (!INIT_EXTRA_KEYS.has(k) && k !== 'signal') fetchInit[k] = i[k];
    fetchInit.method = method;
    const headers = new Headers(defaultHeaders);
    setAll(headers, i.headers as HeadersLike | undefined);
    const idem =
      checkBoolean('idempotent', i.idempotent) ?? (IDEMPOTENT.has(method) || headers.has('idempotency-key'));
    const canReplay = replayable(i.body);
    if (!canReplay && fetchInit.duplex === undefined) fetchInit.duplex = 'half';
    const retryOn = !canReplay ? never : idem ? undefined : connectOnly;
    const userSignal = i.signal as AbortSignal | undefined;
    // A fetch() response's body is read after the attempt: keep the caller's signal wired to it.
    const linkBody = mode === MODE_FETCH && userSignal != null;
    let pending: Response | undefined;
    const urlAttr = `${base.protocol}//${base.host}${new URL(url).pathname}`;

    const attempt = async (ctx: { signal: AbortSignal; attempt: number }): Promise<unknown> => {
      if (pending !== undefined) {
        // A retry: the previous attempt's error response will not be returned.
        pending.body?.cancel().catch(() => {});
        pending = undefined;
      }
      const h = new Headers(headers);
      let span: Span | undefined;
      let active = context.active();
      if (tracing) {
        const attributes: Record<string, string | number> = {
          'http.request.method': methodLabel,
          'server.address': serverAddress,
          'server.port': serverPort,
          'url.full': urlAttr,
        };
        if (methodLabel === OTHER_METHOD) attributes['http.request.method_original'] = method;
        if (ctx.attempt > 1) attributes['http.request.resend_count'] = ctx.attempt - 1;
        span = tracer.startSpan(
          methodLabel === OTHER_METHOD ? 'HTTP' : method,
          { kind: SpanKind.CLIENT, attributes },
          active,
        );
        active = trace.setSpan(active, span);
        injectTraceContext(active, span, h);
      }
      let signal = ctx.signal;
      let bodyController: AbortController | undefined;
      if (linkBody) {
        const bc = new AbortController();
        bodyController = bc;
        const s = ctx.signal;
        if (s.aborted) bc.abort(s.reason);
        else s.addEventListener('abort', () => bc.abort(s.reason), { once: true });
        signal = bc.signal;
      }
      const t0 = now();
      let recorded = false;
      const record = (status: string, statusCode: number | undefined, error: unknown) => {
        if (recorded) return;
        recorded = true;
        observe(methodLabel, status, (now() - t0) / 1000);
        if (span !== undefined) {
          if (statusCode !== undefined) span.setAttribute('http.response.status_code', statusCode);
          if (error !== undefined || (statusCode !== undefined && statusCode >= 400)) {
            const type = statusCode !== undefined ? String(statusCode) : errorType(error, ctx.signal);
            span.setAttribute('error.type', type);
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: statusCode !== undefined ? undefined : type,
            });
          }
          span.end();
        }
      };
      try {
        const f = fetchImpl ?? globalThis.fetch;
        // Marked untracked: instrumentOutbound() would count this attempt a second time.
        const res = await context.with(active, () =>
          untrackedOutbound(() => f(url, { ...(fetchInit as RequestInit), headers: h, signal })),
        );
        const status = res.status;
        const label = statusLabel(status);
        if (mode === MODE_FETCH) {
          record(label, status, undefined);
          if (status >= 500 || status === 429 || retryStatus.has(status)) {
            pending = res;
            throw new HttpStatusError(status, method, name, {
              retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
              response: res,
            });
          }
          if (bodyController !== undefined) linkBodyToSignal(res, bodyController, userSignal as AbortSignal);
          return res;
        }
        if (status < 200 || status >= 300) {
          const snippet = await readSnippet(res, maxErrorBodyBytes);
          record(label, status, undefined);
          throw new HttpStatusError(status, method, name, {
            retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
            body: snippet,
          });
        }
        const text = await res.text();
        record(label, status, undefined);
        if (mode === MODE_TEXT) return text;
        return text === '' ? undefined : JSON.parse(text);
      } catch (e) {
        if (!isHttpStatusError(e)) {
          record(errorLabel(e, ctx.signal), undefined, e);
          if (span !== undefined && e instanceof Error) span.recordException(e);
        }
        throw e;
      }
    };

    try {
      const out = await execute(attempt, {
        signal: userSignal ?? undefined,
        timeoutMs: checkTimeout('timeoutMs', i.timeoutMs),
        ...(retryOn ? { retryOn } : {}),
      });
      return out;
    } catch (e) {
      // fetch() semantics: an HTTP status is an answer, not an exception. The error only drove
      // the breaker and retries; hand back the response of the last attempt.
      if (mode === MODE_FETCH && isHttpStatusError(e) && e.response !== undefined && e.response === pending) {
        pending = undefined;
        return e.response;
      }
      if (pending !== undefined) {
        pending.body?.cancel().catch(() => {});
        pending = undefined;
      }
      throw e;
    }
  }

  return {
    name,
    baseUrl,
    registry: instruments.registry,
    breaker: breaker ? breakerView(breaker) : undefined,
    bulkhead: pipeline.bulkhead ? bulkheadView(pipeline.bulkhead) : undefined,
    fetch: (path, init) => request(path, init, MODE_FETCH) as Promise<Response>,
    json: <T>(path: string, init?: HttpRequestInit) => request(path, init, MODE_JSON) as Promise<T>,
    text: (path, init) => request(path, init, MODE_TEXT) as Promise<string>,
    onRetry: (fn) => (pipeline.retry ? pipeline.retry.onRetry(fn) : () => {}),
    close() {
      closed ??= (async () => {
        pipeline.close();
        detach();
      })();
      return closed;
    },
  };
}

/**
 * Keep the caller's signal able to stop the body of a response `fetch()` returned (as with plain
 * `fetch`). The listener is removed when the signal fires or the response is garbage collected,
 * so a long-lived signal shared by many requests does not collect listeners for ever.
 */
let bodyLinks: FinalizationRegistry<() => void> | undefined;
function linkBodyToSignal(res: Response, bc: AbortController, signal: AbortSignal): void {
  const onAbort = () => bc.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  bodyLinks ??= new FinalizationRegistry((off) => off());
  bodyLinks.register(res, () => signal.removeEventListener('abort', onAbort));
}

function checkStatusCodes(v: unknown): readonly number[] | undefined {
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 100 || x > 599)
  ) {
    throw new VigilOptionError('retryStatusCodes', 'an array of HTTP status codes (100 to 599)', v);
  }
  return Object.freeze([...v]);
}

/** `status_code` of an attempt that got no HTTP status. */
function errorLabel(e: unknown, signal: AbortSignal): string {
  if (isTimeoutError(e) || (signal.aborted && isTimeoutError(signal.reason)))
    return HTTP_CLIENT_STATUS.timeout;
  if (signal.aborted) return HTTP_CLIENT_STATUS.aborted;
  return HTTP_CLIENT_STATUS.error;
}

/** `error.type` span attribute of an attempt that got no HTTP status. */
function errorType(e: unknown, signal: AbortSignal): string {
  const label = errorLabel(e, signal);
  if (label !== HTTP_CLIENT_STATUS.error) return label;
  const code = (e as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof code === 'string' && code.length <= 40) return code;
  return e instanceof Error ? e.name : 'error';
}
