import { LABEL_VALUES } from './labels.js';

/**
 * The process-wide "not observed here" mark for outbound HTTP requests: requests started while
 * `untrackedOutbound(fn)` runs are skipped by `@vigil/resilience`'s `instrumentOutbound()`, because
 * a client records them itself (the resilient HTTP client) or because the caller opted out.
 *
 * The mark covers what `fn` starts synchronously (`fetch()` and `http.request()` create their
 * request before returning), not requests started after an `await` inside it: a counter, not an
 * AsyncLocalStorage, so untracked calls never turn on async context tracking for the process.
 * Shared through a `Symbol.for` key by the ESM and CommonJS builds and duplicated installs.
 */
const UNTRACKED: unique symbol = Symbol.for('vigil.outbound.untracked/1') as never;

type Globals = { [UNTRACKED]?: number };

/** Runs `fn`; the outbound HTTP requests it starts synchronously are not observed. Returns what `fn` returns. */
export function untrackedOutbound<T>(fn: () => T): T {
  const g = globalThis as Globals;
  g[UNTRACKED] = (g[UNTRACKED] ?? 0) + 1;
  try {
    return fn();
  } finally {
    g[UNTRACKED] = (g[UNTRACKED] as number) - 1;
  }
}

/** Whether the code running now was called from inside `untrackedOutbound()`. */
export function isOutboundUntracked(): boolean {
  return ((globalThis as Globals)[UNTRACKED] ?? 0) > 0;
}

/** Set while `@vigil/resilience`'s `instrumentOutbound()` observes every outbound request of the process. */
const OBSERVED: unique symbol = Symbol.for('vigil.outbound.active/1') as never;

/**
 * Claims (true) or releases (false) the process's outbound requests for one observer: true when
 * the claim succeeded (false: another observer holds it).
 */
export function claimOutbound(on: boolean): boolean {
  const g = globalThis as { [OBSERVED]?: true };
  if (!on) {
    delete g[OBSERVED];
    return true;
  }
  if (g[OBSERVED]) return false;
  g[OBSERVED] = true;
  return true;
}

/**
 * Whether every outbound request is already recorded in `http_client_request_duration_seconds`
 * (`instrumentOutbound()` runs), so other sources of the metric (the span bridge) stay out.
 */
export function isOutboundObserved(): boolean {
  return (globalThis as { [OBSERVED]?: true })[OBSERVED] === true;
}

/** The part of an undici request (its diagnostics channels' `request`) that Vigil reads and writes. */
export interface UndiciRequestLike {
  origin?: string | URL;
  upgrade?: unknown;
  method?: string;
  path?: string;
  headers?: string | (string | string[])[];
  addHeader?(name: string, value: string): unknown;
}

/** Whether an undici request carries `traceparent` already (its headers as a block or as pairs). */
export function undiciHasTraceparent(headers: UndiciRequestLike['headers']): boolean {
  if (typeof headers === 'string') return /(^|\r\n)traceparent:/i.test(headers);
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      if (typeof k === 'string' && k.toLowerCase() === 'traceparent') return true;
    }
  }
  return false;
}

/** The name of an HTTP client span (stable semconv): the method, `HTTP` for non-standard ones. */
export function clientSpanName(method: string): string {
  return method === LABEL_VALUES.otherMethod ? 'HTTP' : method;
}

/**
 * Sets an HTTP client span's stable semconv attributes (method, its original form when
 * non-standard, server address and port, `url.full` without the query, length-bounded).
 */
export function setClientSpanAttributes(
  span: { setAttribute(key: string, value: string | number): unknown },
  method: string,
  rawMethod: string,
  address: string,
  port: number,
  urlFull: string,
): void {
  span.setAttribute('http.request.method', method);
  if (method === LABEL_VALUES.otherMethod)
    span.setAttribute('http.request.method_original', rawMethod.slice(0, 64));
  span.setAttribute('server.address', address);
  span.setAttribute('server.port', port);
  span.setAttribute('url.full', urlFull.slice(0, 1024));
}
