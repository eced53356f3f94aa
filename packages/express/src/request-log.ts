import type { IncomingMessage } from 'node:http';
import {
  checkObject,
  type ExcludeRule,
  type RequestLogOptions,
  recordOf,
  requestLogWriter,
} from '@vigil/core';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { expressObserver, requestLogger } from './observe.js';

export interface ExpressRequestLoggerOptions extends RequestLogOptions {
  /** The logger to write to (from `@vigil/logger`'s `createLogger()`). */
  logger: unknown;
  /** Paths not logged (see `createExpressMetrics`' `exclude`). */
  exclude?: readonly ExcludeRule[];
  includeVigilEndpoints?: boolean;
  /** @deprecated Use `exclude`. */
  ignorePaths?: readonly string[];
}

export interface ExpressRequestLogger {
  /** `app.use(requestLogger.middleware)`: mount first, before your routes and routers. */
  readonly middleware: RequestHandler;
  /** Puts a handler's thrown error on its request line (`err`), then passes it on. */
  readonly errorHandler: ErrorRequestHandler;
  readonly logger: unknown;
}

/**
 * The request line alone (no metrics): one JSON line per request when it completes. Prefer
 * `createExpressMetrics({ logger })`, which writes the same line from the metrics middleware.
 * Mounted next to it, both share one record per request.
 */
export function createExpressRequestLogger(options: ExpressRequestLoggerOptions): ExpressRequestLogger {
  const { logger, exclude, includeVigilEndpoints, ignorePaths, ...requestLog } = checkObject(
    'options',
    options,
  ) as unknown as ExpressRequestLoggerOptions;
  const log = requestLogWriter(logger, requestLog);
  const parts = expressObserver({
    http: undefined,
    log,
    exclude: exclude ?? ignorePaths,
    includeVigilEndpoints,
  });
  return { middleware: parts.middleware, errorHandler: parts.errorHandler, logger };
}

/**
 * The logger for a request, with its `request_id` bound (a pino child, created on first use):
 * `requestLog(req).info({ orderId }, 'order placed')`. Also available as `req.log`.
 */
export function requestLog<L = RequestLog>(req: Request | IncomingMessage): L {
  return (requestLogger(req) ?? (req as unknown as { log?: unknown }).log) as L;
}

/** The request id (the incoming `x-request-id` when well-formed, else a new UUID); also `req.id`. */
export function requestId(req: Request | IncomingMessage): string | undefined {
  return recordOf(req)?.id;
}

/** The part of a pino logger `requestLog()` is typed as (pass pino's `Logger` for the rest). */
export interface RequestLog {
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
}
