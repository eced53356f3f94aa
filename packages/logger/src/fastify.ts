import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { LogController } from 'fastify';
import type { Logger } from './create-logger.js';
import { VigilOptionError } from './errors.js';
import { cheapChild, logRequestLine } from './internal/request-line.js';
import {
  levelFor,
  pathOf,
  REQUEST_LOG_DEFAULTS,
  type RequestLogOptions,
  type ResolvedRequestLog,
  requestIdFrom,
  resolveRequestLog,
} from './internal/request-log.js';
import { requestTraceFields } from './internal/trace-context.js';

export type { RequestLogOptions };
export { REQUEST_LOG_DEFAULTS };

export interface FastifyLoggingOptions extends RequestLogOptions {
  /** The logger (from `createLogger()`); it becomes Fastify's own logger (`app.log`, `request.log`). */
  logger: Logger;
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

const ERROR = Symbol('vigil.requestError');

type RequestWithError = FastifyRequest & { [ERROR]?: unknown };

/**
 * Fastify's own request logging, reduced to one line per request: Fastify's `incoming request`
 * and `request completed` pair (and its separate error and 404 lines) become a single line at
 * completion, written by Fastify's own pino logger (`request.log`, so it also carries
 * `request_id`), with the route template, status, duration, trace ids and, for a failed request,
 * the error. Probes and `/metrics` are skipped; the request id is echoed in the response.
 */
class VigilLogController extends LogController {
  constructor(private readonly o: ResolvedRequestLog) {
    super({ requestIdLogLabel: 'request_id' });
  }

  /** Fastify passes its request, or the raw IncomingMessage in a few paths. */
  private skip(request: FastifyRequest | IncomingMessage): boolean {
    if (this.o.ignore.size === 0) return false;
    const r = request as Partial<FastifyRequest> & { url?: string };
    return this.o.ignore.has(r.routeOptions?.url ?? pathOf(r.raw?.url ?? r.url));
  }

  override isLogDisabled(req: object): boolean {
    return this.skip(req as FastifyRequest | IncomingMessage);
  }

  /**
   * Called once per request by Fastify before the hooks: echo the id, log nothing yet. Fastify
   * reports completion only when the response finishes; a client that goes away first (or a
   * handler that never answers before the socket closes) would get no line, so the raw
   * response's `close` writes an `aborted` line when it did not finish.
   */
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    reply.header(this.o.header, request.id);
    if (this.skip(request)) return;
    const res = reply.raw;
    // 'close' is emitted once per response: a plain listener, no once() wrapper per request.
    res.on('close', () => {
      // `writableEnded`: the response was ended (its completion line comes from Fastify), which
      // also holds for `app.inject()`, whose responses never report `writableFinished`.
      if (!res.writableEnded && !res.writableFinished) this.line(undefined, request, reply, undefined);
    });
  }

  override requestCompleted(
    err: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.skip(request)) return;
    this.line(err, request, reply, reply.statusCode);
  }

  /** The one line; `status` undefined means the client aborted (logged as 499 at warn). */
  private line(
    err: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    status: number | undefined,
  ): void {
    const error = err ?? (request as RequestWithError)[ERROR];
    // request.log carries request_id in its bindings.
    logRequestLine(
      request.log,
      levelFor(status),
      {
        requestId: undefined,
        method: request.method,
        route: request.routeOptions?.url ?? '__unmatched__',
        path: pathOf(request.raw.url),
        status: status ?? 499,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        trace: requestTraceFields(request.raw),
      },
      status === undefined ? 'request aborted' : 'request completed',
      error || this.o.logHeaders
        ? { headers: this.o.logHeaders ? request.headers : undefined, err: error }
        : undefined,
    );
  }

  /** The handler's error goes on the completion line instead of a line of its own. */
  override defaultErrorLog(error: Error, request: FastifyRequest): void {
    (request as RequestWithError)[ERROR] = error;
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
  const { logger, ...rest } = options;
  if (!logger || typeof logger.info !== 'function' || typeof logger.child !== 'function') {
    throw new VigilOptionError('logger', 'a pino logger (createLogger())', logger);
  }
  const o = resolveRequestLog(rest, []);
  const header = o.header;
  return {
    loggerInstance: logger,
    logController: new VigilLogController(o),
    genReqId: (req) => requestIdFrom(req.headers[header]),
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
