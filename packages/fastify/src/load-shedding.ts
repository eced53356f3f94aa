import { createRequestObserver } from '@vigil/core';
import { type LoadSheddingOptions, resolveLoadShedding } from '@vigil/resilience/load-shedding';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type FastifyAdmission, offerAdmission, shedIfRejected } from './admission.js';
import { withoutFastifyKeys } from './options.js';

export type FastifyLoadSheddingOptions = LoadSheddingOptions<FastifyRequest>;

const plugin: FastifyPluginAsync<FastifyLoadSheddingOptions> = async (app, options) => {
  const { shedder, owned, exclude, isPriority } = resolveLoadShedding<FastifyRequest>(
    withoutFastifyKeys(options ?? {}),
  );
  // The limiter's side of the request observer: a rejected request is answered 503 from the first
  // hook; an admitted one is released when the request's record completes. Spans start in
  // vigilMetrics' observer, which runs the rest of the request and gives the record its route; when
  // registered after this plugin with the same exclusions, it takes this hook over (one hook).
  const observe = createRequestObserver({ exclude, gate: shedder }).observe;
  const admission: FastifyAdmission = {
    gate: shedder,
    isPriority,
    defaultExclusions: exclude === undefined || exclude.length === 0,
    onRequest(req, reply, done) {
      const priority = isPriority !== undefined && isPriority(req) === true;
      shedIfRejected(observe(req.raw, reply.raw, undefined, undefined, undefined, done, priority), reply);
    },
  };
  offerAdmission(app, admission);
  app.addHook('onRequest', function vigilAdmit(req, reply, done) {
    admission.onRequest(req, reply, done);
  });
  if (owned) app.addHook('onClose', async () => shedder.close());
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
