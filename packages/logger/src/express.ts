import type { IncomingMessage } from 'node:http';
import {
  type ExpressRequestLogger as Base,
  type ExpressRequestLoggerOptions as BaseOptions,
  createExpressRequestLogger as create,
  requestId as idOf,
  requestLog as logOf,
} from '@vigil/express';
import type { Request } from 'express';
// Any pino logger (createLogger()'s is one, with close() and reopen()); a request's is a pino child.
import type { Logger } from 'pino';

/**
 * @deprecated The Express request line now comes from @vigil/express:
 * `createExpressMetrics({ logger })` (metrics and the line from one middleware), or
 * `createExpressRequestLogger` from `@vigil/express`. This entry re-exports them.
 */
export interface ExpressRequestLoggerOptions extends Omit<BaseOptions, 'logger'> {
  /** The logger to write to (from `createLogger()`). */
  logger: Logger;
}

/** @deprecated See `ExpressRequestLoggerOptions`. */
export interface ExpressRequestLogger extends Omit<Base, 'logger'> {
  readonly logger: Logger;
}

/** @deprecated Use `createExpressMetrics({ logger })` or @vigil/express' `createExpressRequestLogger`. */
export function createExpressRequestLogger(options: ExpressRequestLoggerOptions): ExpressRequestLogger {
  return create(options) as ExpressRequestLogger;
}

/** The logger for a request, with its `request_id` bound; also `req.log`. */
export function requestLog(req: Request | IncomingMessage): Logger {
  return logOf<Logger>(req);
}

/** The request id (the incoming `x-request-id` when well-formed, else a new UUID); also `req.id`. */
export function requestId(req: Request | IncomingMessage): string | undefined {
  return idOf(req);
}

export { REQUEST_LOG_DEFAULTS, type RequestLogOptions } from './internal/request-log.js';
