import { randomUUID } from 'node:crypto';
import { VigilOptionError } from '../errors.js';

/** Defaults of the request loggers (Express and Fastify); the README's table is generated from it. */
export const REQUEST_LOG_DEFAULTS = Object.freeze({
  /** Paths (exact, without the query) not logged: probes and the metrics endpoint. */
  ignorePaths: Object.freeze([
    '/metrics',
    '/health',
    '/healthz',
    '/livez',
    '/ready',
    '/readyz',
    '/startup',
  ]) as readonly string[],
  /** Incoming request id honoured from this header (when well-formed), and echoed in the response. */
  requestIdHeader: 'x-request-id',
  /** Add the request headers to the line (redacted: authorization, cookies, API keys). */
  logHeaders: false,
});

export interface RequestLogOptions {
  ignorePaths?: readonly string[];
  requestIdHeader?: string;
  logHeaders?: boolean;
}

export interface ResolvedRequestLog {
  readonly ignore: ReadonlySet<string>;
  readonly header: string;
  readonly logHeaders: boolean;
}

export function resolveRequestLog(o: RequestLogOptions, extraKeys: readonly string[]): ResolvedRequestLog {
  const known = ['ignorePaths', 'requestIdHeader', 'logHeaders', ...extraKeys];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new VigilOptionError(k, `one of ${known.join(', ')}`, 'an unknown option');
  }
  const ig = o.ignorePaths;
  if (ig !== undefined && (!Array.isArray(ig) || ig.some((p) => typeof p !== 'string'))) {
    throw new VigilOptionError('ignorePaths', 'an array of paths', ig);
  }
  const h = o.requestIdHeader;
  if (h !== undefined && (typeof h !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(h))) {
    throw new VigilOptionError('requestIdHeader', 'a header name', h);
  }
  if (o.logHeaders !== undefined && typeof o.logHeaders !== 'boolean') {
    throw new VigilOptionError('logHeaders', 'a boolean', o.logHeaders);
  }
  return {
    ignore: new Set(ig ?? REQUEST_LOG_DEFAULTS.ignorePaths),
    header: (h ?? REQUEST_LOG_DEFAULTS.requestIdHeader).toLowerCase(),
    logHeaders: o.logHeaders ?? REQUEST_LOG_DEFAULTS.logHeaders,
  };
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
