import type { IncomingMessage } from 'node:http';
import {
  createRequestObserver,
  type ExcludeRule,
  type RequestLogWriter,
  type RequestObserver,
  recordRequestError,
  requestLogWriter,
  VigilOptionError,
} from '@vigil/core';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { LogController } from 'fastify';
// Any pino logger (createLogger()'s is one, with close() and reopen()); a request's is a pino child.
import type { Logger } from 'pino';
import { cheapChild } from './internal/request-line.js';
import { REQUEST_LOG_DEFAULTS, type RequestLogOptions } from './internal/request-log.js';

export type { RequestLogOptions };
export { REQUEST_LOG_DEFAULTS };

export interface FastifyLoggingOptions extends RequestLogOptions {
  /** The logger (from `createLogger()`); it becomes Fastify's own logger (`app.log`, `request.log`). */
  logger: Logger;
  /** Paths not logged: exact, `/prefix/*`, RegExps or predicates (Vigil's own endpoints always). */
  exclude?: readonly ExcludeRule[];
  /** Log Vigil's own endpoints (`/metrics`, the probes) too. Default false. */
  includeVigilEndpoints?: boolean;
  /** @deprecated Use `exclude`. */
  ignorePaths?: readonly string[];
}

/** Fastify server options: spread them into `Fastify({ ... })`. */
export interface FastifyLoggingServerOptions {
  /** Typed as Fastify's base logger so `Fastify({ ... })` keeps its default type parameters. */
  loggerInstance: FastifyBaseLogger;
  logController: LogController;
  genReqId: (req: IncomingMessage) => string;
  /**
   * Fastify makes a child logger for every request (`request.log`, with `request_id` bound); this
   * makes it the cheap way for createLogger()'s loggers (and through pino otherwise, or when the
   * route sets its own log level or serialisers).
   */
  childLoggerFactory: (
    logger: FastifyBaseLogger,
    bindings: Record<string, unknown>,
    opts: { level?: string; serializers?: unknown },
    rawReq: IncomingMessage,
  ) => FastifyBaseLogger;
}

/**
 * Fastify's own request logging, reduced to one line per request: Fastify's `incoming request`
 * and `request completed` pair (and its separate error and 404 lines) become the request
 * observer's single line at completion (see @vigil/core), written through the request's own
 * `request.log` (so it carries `request_id` and the route's log level), with the route template,
 * status, duration, trace ids and, for a failed request, the error. Probes and `/metrics` are left
 * out; the request id is echoed in the response. With `vigilMetrics` registered, metrics, span and
 * line of a request share one record.
 */
class VigilLogController extends LogController {
  private readonly observe: RequestObserver['observe'];
  private readonly header: string;

  constructor(
    writer: RequestLogWriter,
    exclude: readonly ExcludeRule[] | undefined,
    includeVigilEndpoints: boolean | undefined,
  ) {
    super({ requestIdLogLabel: 'request_id' });
    this.header = writer.idHeader;
    // No spans from here: Fastify calls this outside its hook chain; vigilMetrics starts them.
    this.observe = createRequestObserver({
      log: writer,
      exclude,
      includeVigilEndpoints,
      tracing: false,
    }).observe;
  }

  /** Called once per request by Fastify before the hooks: begin the record, log nothing yet. */
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    const rec = this.observe(
      request.raw,
      reply.raw,
      request.routeOptions?.url,
      undefined,
      request.id,
      undefined,
    );
    if (rec === undefined) return;
    rec.child ??= request.log;
    reply.header(this.header, request.id);
  }

  /** The observer writes the line when the response completes (or the client goes away). */
  override requestCompleted(): void {}

  /** The handler's error goes on the completion line instead of a line of its own. */
  override defaultErrorLog(error: Error, request: FastifyRequest): void {
    if (!recordRequestError(request.raw, error)) super.defaultErrorLog(error, request, undefined as never);
  }

  /** The completion line says 404. */
  override routeNotFound(): void {}
}

/**
 * Logging for Fastify in one spread: `Fastify({ ...fastifyLogging({ logger }) })`. Sets Fastify's
 * `loggerInstance` (your pino logger), a request id generator (well-formed `x-request-id`, else a
 * UUID), a `logController` that writes one line per request, and a `childLoggerFactory` that makes
 * each request's `request.log` cheaply (see `FastifyLoggingServerOptions`).
 */
export function fastifyLogging(options: FastifyLoggingOptions): FastifyLoggingServerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new VigilOptionError('options', 'an options object with a logger', options);
  }
  const { logger, exclude, includeVigilEndpoints, ignorePaths, ...requestLog } = options;
  if (!logger || typeof logger.info !== 'function' || typeof logger.child !== 'function') {
    throw new VigilOptionError('logger', 'a pino logger (createLogger())', logger);
  }
  const writer = requestLogWriter(logger, requestLog);
  const header = writer.idHeader;
  return {
    loggerInstance: logger,
    logController: new VigilLogController(writer, exclude ?? ignorePaths, includeVigilEndpoints),
    genReqId: (req) => writer.requestId(req.headers[header]),
    childLoggerFactory: (parent, bindings, opts) => {
      const id = bindings.request_id;
      if (!opts.level && opts.serializers === undefined && typeof id === 'string') {
        let only = true;
        for (const k in bindings) if (k !== 'request_id') only = false;
        const child = only ? cheapChild(parent, 'request_id', id) : undefined;
        if (child !== undefined) return child;
      }
      return parent.child(bindings, opts as Parameters<FastifyBaseLogger['child']>[1]);
    },
  };
}
