import { compileExclude, createRequestObserver, type ExcludeRule, VigilOptionError } from '@vigil/core';
import {
  createLoadShedder,
  type LoadShedder,
  type LoadShedderOptions,
} from '@vigil/resilience/load-shedding';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export interface FastifyLoadSheddingOptions extends LoadShedderOptions {
  /** A shedder to use (`createLoadShedder()`); then the shedder options are not allowed here. */
  shedder?: LoadShedder;
  /** Paths never shed nor counted, besides Vigil's own endpoints (the probes, `/metrics`), which never are. */
  exclude?: readonly ExcludeRule[];
  /** Requests of a class you never want shed (still counted in flight), e.g. admin or payment calls. */
  isPriority?: (req: FastifyRequest) => boolean;
}

function validate(o: unknown): FastifyLoadSheddingOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o))
    throw new VigilOptionError('options', 'an options object', o);
  // Keys Fastify itself reads from `register()` options are not ours to validate.
  const {
    prefix: _p,
    logLevel: _l,
    logSerializers: _s,
    ...v
  } = o as FastifyLoadSheddingOptions & Record<string, unknown>;
  if (v.isPriority !== undefined && typeof v.isPriority !== 'function') {
    throw new VigilOptionError('isPriority', 'a function (request) => boolean', v.isPriority);
  }
  return v;
}

const plugin: FastifyPluginAsync<FastifyLoadSheddingOptions> = async (app, options) => {
  const { shedder: given, exclude, isPriority, ...rest } = validate(options);
  compileExclude(exclude, false); // a bad rule fails before a shedder is made
  if (given !== undefined && Object.keys(rest).length > 0) {
    throw new VigilOptionError(
      Object.keys(rest)[0] as string,
      'no shedder option when `shedder` is given',
      'a value',
    );
  }
  const shedder = given ?? createLoadShedder(rest);
  // The limiter's side of the request observer: a rejected request is answered 503 from the first
  // hook; an admitted one is released when the request's record completes. Spans start in
  // vigilMetrics' hook, which runs the rest of the request.
  const observe = createRequestObserver({ exclude, gate: shedder, tracing: false }).observe;
  app.addHook('onRequest', (req, reply, done) => {
    const rec = observe(
      req.raw,
      reply.raw,
      req.routeOptions.url,
      undefined,
      undefined,
      done,
      isPriority !== undefined && isPriority(req) === true,
    );
    const a = rec?.admission;
    if (a === undefined || a.admitted) return;
    reply.hijack();
    reply.raw.writeHead(503, {
      'retry-after': String(a.retryAfterSeconds),
      'content-type': 'application/json',
    });
    reply.raw.end(`{"error":"overloaded","reason":"${a.reason}"}`);
  });
  if (given === undefined) app.addHook('onClose', async () => shedder.close());
};

/**
 * Load shedding for Fastify 5 in one line: `await app.register(vigilLoadShedding, { metrics })`,
 * registered before `vigilMetrics` and your routes. Over the limit, a request gets 503 with
 * `Retry-After` from the first onRequest hook; the probes, `/metrics` and `isPriority` requests are
 * never shed. See `createLoadShedder` for the limit.
 */
const wrapped = fp(plugin, { name: '@vigil/fastify-load-shedding', fastify: '5.x' });
export const vigilLoadShedding: typeof wrapped & { default: typeof wrapped } = Object.assign(wrapped, {
  default: wrapped,
});
