import { context, type Span, trace } from '@opentelemetry/api';
import { httpClientRequestDuration } from '@vigil/catalog';
import {
  checkBoolean,
  checkFunction,
  checkInt,
  checkName,
  checkObject,
  checkTimeout,
  normalizeMethod,
  statusLabel,
  untrackedOutbound,
  VigilOptionError,
} from '@vigil/core';
import type { HistogramSeries, Registry } from '@vigil/metrics';
import type { BreakerSettings, BreakerView } from './breaker.js';
import type { BulkheadSettings, BulkheadView } from './bulkhead.js';
import { HTTP_CLIENT_DEFAULTS } from './defaults.js';
import { HttpStatusError, isHttpStatusError } from './errors.js';
import {
  followSignal,
  type HeadersLike,
  linkBodyToSignal,
  readSnippet,
  replayable,
  setAll,
} from './http/body.js';
import { checkStatusCodes, defaultName, errorLabel } from './http/labels.js';
import { parseRetryAfter } from './http/retry-after.js';
import { type ClientSpanTarget, endAttemptSpan, startAttemptSpan } from './http/trace.js';
import { makeExecutor } from './internal/call.js';
import { monotonicNow } from './internal/clock.js';
import { attach, histogram, removeHistogram, resolveInstruments } from './internal/instruments.js';
import { resolveLogger } from './internal/log.js';
import { breakerView, buildPipeline, bulkheadView, resolvePolicy } from './policy.js';
import { isConnectError, isRetryableError, type RetrySettings } from './retry.js';
import type { InstrumentationOptions, RetryEvent, RetryPredicate } from './types.js';

export type { HeadersLike } from './http/body.js';
export { parseRetryAfter } from './http/retry-after.js';

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
    const spanTarget: ClientSpanTarget = {
      method,
      methodLabel,
      serverAddress,
      serverPort,
      urlFull: `${base.protocol}//${base.host}${new URL(url).pathname}`,
    };

    const attempt = async (ctx: { signal: AbortSignal; attempt: number }): Promise<unknown> => {
      if (pending !== undefined) {
        // A retry: the previous attempt's error response will not be returned.
        pending.body?.cancel().catch(() => {});
        pending = undefined;
      }
      const h = new Headers(headers);
      let span: Span | undefined;
      let active = context.active();
      if (tracing) ({ span, active } = startAttemptSpan(tracer, spanTarget, ctx.attempt, active, h));
      const bodyController = linkBody ? followSignal(ctx.signal) : undefined;
      const signal = bodyController?.signal ?? ctx.signal;
      const t0 = now();
      let recorded = false;
      const record = (status: string, statusCode: number | undefined, error: unknown) => {
        if (recorded) return;
        recorded = true;
        observe(methodLabel, status, (now() - t0) / 1000);
        if (span !== undefined) endAttemptSpan(span, statusCode, error, ctx.signal);
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
        if (!isHttpStatusError(e)) record(errorLabel(e, ctx.signal), undefined, e);
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
