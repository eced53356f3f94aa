import { randomUUID } from 'node:crypto';
import {
  ABORTED_STATUS,
  checkBoolean,
  checkKnownKeys,
  checkObject,
  checkString,
  REQUEST_LOG,
  type RequestLogOptions,
  type RequestLogWriter,
  type RequestRecord,
} from '@vigil/core';
import { cheapChild, logRequestLine } from './request-line.js';
import { fieldsOf } from './trace-context.js';

export type { RequestLogOptions };

/** Defaults of the request line (Express and Fastify); the README's table is generated from it. */
export const REQUEST_LOG_DEFAULTS = Object.freeze({
  /** Incoming request id honoured from this header (when well-formed), and echoed in the response. */
  requestIdHeader: 'x-request-id',
  /** Add the request headers to the line (redacted: authorization, cookies, API keys). */
  logHeaders: false,
});

interface LineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): unknown;
}

/** Well-formed incoming ids are kept (bounded length, no spaces or quotes); anything else is replaced. */
const SAFE_ID = /^[\w\-.:@=+/]{1,128}$/;

/** The incoming request id when well-formed, else a new random UUID (never a per-process counter). */
export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && SAFE_ID.test(header)) return header;
  return randomUUID();
}

/** 5xx error, 4xx (and aborted) warn, anything else info. */
export function levelFor(status: number | undefined): 'error' | 'warn' | 'info' {
  if (status === undefined) return 'warn';
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

/** The path of a URL without its query. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * The request line writer the request observer calls (see @vigil/core): one JSON line per request,
 * `{ level, time, service, request_id, method, route, path, status_code, duration_ms, trace_id,
 * span_id, trace_flags, msg }`, at `error` for 5xx, `warn` for 4xx and aborted requests, `info`
 * otherwise; the handler's error and (with `logHeaders`) the redacted headers when present.
 */
export function createRequestLogWriter(
  logger: LineLogger,
  options: RequestLogOptions = {},
): RequestLogWriter {
  const o = checkObject('requestLog', options);
  checkKnownKeys('requestLog', o, ['requestIdHeader', 'logHeaders']);
  const header = (
    checkString('requestIdHeader', o.requestIdHeader, /^[A-Za-z0-9-]{1,64}$/, 'a header name') ??
    REQUEST_LOG_DEFAULTS.requestIdHeader
  ).toLowerCase();
  const logHeaders = checkBoolean('logHeaders', o.logHeaders) ?? REQUEST_LOG_DEFAULTS.logHeaders;
  const childOf = (id: string | undefined): LineLogger =>
    id === undefined
      ? logger
      : ((cheapChild(logger, 'request_id', id) ?? logger.child({ request_id: id })) as LineLogger);
  return {
    idHeader: header,
    requestId: requestIdFrom,
    child: childOf,
    write(rec: RequestRecord, route: string, status: number | undefined, durationMs: number): void {
      // A child logger the request already has (Fastify's `request.log`, or `req.log` once used)
      // carries request_id in its bindings, and its level.
      const child = rec.child as LineLogger | undefined;
      const error = rec.error;
      logRequestLine(
        child ?? logger,
        levelFor(status),
        {
          requestId: child === undefined ? rec.id : undefined,
          method: rec.method,
          route,
          path: pathOf(rec.url),
          status: status ?? ABORTED_STATUS,
          durationMs,
          trace: fieldsOf(rec.trace),
        },
        status === undefined ? 'request aborted' : 'request completed',
        error !== undefined || logHeaders
          ? { headers: logHeaders ? rec.req.headers : undefined, err: error }
          : undefined,
      );
    },
  };
}

/** Makes `logger` usable as the `logger` option of Vigil's adapters (children inherit it). */
export function enableRequestLog(logger: object): void {
  Object.defineProperty(logger, REQUEST_LOG, {
    value(this: LineLogger, options?: RequestLogOptions) {
      return createRequestLogWriter(this, options);
    },
  });
}
