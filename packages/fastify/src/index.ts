import { LABEL_VALUES } from '@vigil/catalog';
import { createMetrics, type Metrics, type MetricsOptions, VigilOptionError } from '@vigil/metrics';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export interface FastifyMetricsOptions extends MetricsOptions {
  /** An existing Vigil metrics handle to record into (then the other metric options are ignored). */
  metrics?: Metrics;
  /** Path of the scrape endpoint; `false` to not register one. Default `/metrics`. */
  endpoint?: string | false;
  /** Route URLs (templates) not recorded, such as probes. Default: the scrape endpoint. */
  excludeRoutes?: readonly string[];
}

export const FASTIFY_METRICS_DEFAULTS = Object.freeze({
  endpoint: '/metrics' as string | false,
});

export interface VigilFastifyDecoration {
  metrics: Metrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: VigilFastifyDecoration;
  }
}

const START = Symbol('vigil.start');
const DONE = Symbol('vigil.done');

interface TrackedRequest extends FastifyRequest {
  [START]?: number;
  [DONE]?: boolean;
}

function validate(o: unknown): FastifyMetricsOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o))
    throw new VigilOptionError('options', 'an options object', o);
  const v = o as FastifyMetricsOptions;
  if (
    v.endpoint !== undefined &&
    v.endpoint !== false &&
    (typeof v.endpoint !== 'string' || !v.endpoint.startsWith('/'))
  ) {
    throw new VigilOptionError('endpoint', 'a path starting with "/" or false', v.endpoint);
  }
  if (
    v.excludeRoutes !== undefined &&
    (!Array.isArray(v.excludeRoutes) || v.excludeRoutes.some((r) => typeof r !== 'string'))
  ) {
    throw new VigilOptionError('excludeRoutes', 'an array of route URL strings', v.excludeRoutes);
  }
  if (v.metrics !== undefined && (typeof v.metrics !== 'object' || v.metrics === null || !v.metrics.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', v.metrics);
  }
  return v;
}

const plugin: FastifyPluginAsync<FastifyMetricsOptions> = async (app: FastifyInstance, options) => {
  // fastify passes plugin options through; strip fastify's own keys before validating ours.
  const { metrics: given, endpoint: ep, excludeRoutes, ...rest } = validate(options);
  const metrics = given ?? createMetrics(rest);
  const owned = given === undefined;
  const http = metrics.http;
  const endpoint = ep === undefined ? FASTIFY_METRICS_DEFAULTS.endpoint : ep;
  const excluded = new Set<string>(excludeRoutes ?? (endpoint ? [endpoint] : []));

  app.decorate('vigil', { metrics } satisfies VigilFastifyDecoration);

  app.addHook('onRequest', (req: TrackedRequest, _reply, done) => {
    const url = req.routeOptions.url;
    if (url === undefined || !excluded.has(url)) req[START] = http.start();
    done();
  });

  app.addHook('onResponse', (req: TrackedRequest, reply: FastifyReply, done) => {
    const start = req[START];
    if (start !== undefined && !req[DONE]) {
      req[DONE] = true;
      http.end(req.method, req.routeOptions.url ?? LABEL_VALUES.unmatchedRoute, reply.statusCode, start);
    }
    done();
  });

  // Aborted by the client before the response completed: onResponse never runs.
  app.addHook('onRequestAbort', (req: TrackedRequest, done) => {
    const start = req[START];
    if (start !== undefined && !req[DONE]) {
      req[DONE] = true;
      http.abort(req.method, req.routeOptions.url ?? LABEL_VALUES.unmatchedRoute, start);
    }
    done();
  });

  if (endpoint) {
    app.get(endpoint, { logLevel: 'warn' }, async (req, reply) => {
      const r = await metrics.scrape(
        req.headers.accept,
        req.headers['accept-encoding'] as string | undefined,
      );
      reply.code(r.status).headers(r.headers);
      return r.body;
    });
  }

  if (owned) app.addHook('onClose', async () => metrics.close());
};

/**
 * Fastify 5 metrics in one line: `await app.register(vigilMetrics)`. Not encapsulated, so it sees
 * every route; labels use `request.routeOptions.url` (the template with prefixes), `__unmatched__`
 * for 404s, `_OTHER` for non-standard methods and `499` for aborted requests.
 */
export const vigilMetrics = fp(plugin, { name: '@vigil/fastify-metrics', fastify: '5.x' });
export default vigilMetrics;

export type { Metrics, MetricsOptions };
export { LABEL_VALUES };
