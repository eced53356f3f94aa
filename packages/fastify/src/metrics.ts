import {
  checkStringArray,
  compileExclude,
  createRequestObserver,
  type ExcludeRule,
  excludeVigilEndpoint,
  type RouteLabel,
  recordRequestError,
  VigilOptionError,
} from '@vigil/core';
import type { Health } from '@vigil/health';
import { createMetrics, type Metrics, type MetricsOptions } from '@vigil/metrics';
import type { Shutdown } from '@vigil/shutdown';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { shedIfRejected, takeAdmission } from './admission.js';
import { withoutFastifyKeys } from './options.js';
import { assertSupportedFastify } from './version.js';

export interface FastifyMetricsOptions extends MetricsOptions {
  /** An existing Vigil metrics handle to record into (then the other metric options are ignored). */
  metrics?: Metrics;
  /** Path of the scrape endpoint; `false` to not register one. Default `/metrics`. */
  endpoint?: string | false;
  /**
   * Paths not recorded: exact (`/internal/ping`), prefixes (`/static/*`), RegExps or predicates on
   * the URL's path. Vigil's own endpoints (the scrape endpoint, the probes) are never recorded
   * unless `includeVigilEndpoints` is true.
   */
  exclude?: readonly ExcludeRule[];
  /** Record Vigil's own endpoints like any other route. Default false. */
  includeVigilEndpoints?: boolean;
  /** @deprecated Use `exclude` (paths). Route templates (`/users/:id`) not recorded. */
  excludeRoutes?: readonly string[];
  /**
   * Overrides the `route` label: `(req, template) => label | undefined`, called when the request
   * completes with the route's template (`__unmatched__` when none). A string replaces it,
   * `undefined` keeps it; its values count against `maxSeries` like routes, and one that throws
   * keeps the template.
   */
  routeLabel?: RouteLabel;
}

export const FASTIFY_METRICS_DEFAULTS = Object.freeze({
  endpoint: '/metrics' as string | false,
  exclude: Object.freeze([]) as readonly ExcludeRule[],
  includeVigilEndpoints: false,
});

export interface VigilFastifyDecoration {
  metrics: Metrics;
  /** Set by `vigilHealth` (optional in the type: present once that plugin is registered). */
  health?: Health;
  /** Set by `vigilShutdown` (optional in the type: present once that plugin is registered). */
  shutdown?: Shutdown;
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: VigilFastifyDecoration;
  }
}

function validate(o: unknown): FastifyMetricsOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o))
    throw new VigilOptionError('options', 'an options object', o);
  const v = withoutFastifyKeys(o as FastifyMetricsOptions, true);
  if (
    v.endpoint !== undefined &&
    v.endpoint !== false &&
    (typeof v.endpoint !== 'string' || !v.endpoint.startsWith('/'))
  ) {
    throw new VigilOptionError('endpoint', 'a path starting with "/" or false', v.endpoint);
  }
  checkStringArray('excludeRoutes', v.excludeRoutes, 'an array of route URL strings');
  if (v.metrics !== undefined && (typeof v.metrics !== 'object' || v.metrics === null || !v.metrics.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', v.metrics);
  }
  return v;
}

const plugin: FastifyPluginAsync<FastifyMetricsOptions> = async (app: FastifyInstance, options) => {
  assertSupportedFastify(app);
  const {
    metrics: given,
    endpoint: ep,
    exclude,
    includeVigilEndpoints,
    excludeRoutes,
    routeLabel,
    ...rest
  } = validate(options);
  const endpoint = ep === undefined ? FASTIFY_METRICS_DEFAULTS.endpoint : ep;
  compileExclude(exclude, includeVigilEndpoints); // fail on a bad rule before creating anything
  const metrics = given ?? createMetrics(rest);
  const owned = given === undefined;
  const http = metrics.http;
  // A limiter registered just before with the same exclusions: admit in this observer, in its hook.
  const adm = takeAdmission(app);
  const gated =
    adm?.defaultExclusions === true &&
    (exclude === undefined || exclude.length === 0) &&
    includeVigilEndpoints !== true &&
    excludeRoutes === undefined &&
    (endpoint === false || endpoint === FASTIFY_METRICS_DEFAULTS.endpoint)
      ? adm
      : undefined;
  const observe = createRequestObserver({
    http,
    exclude,
    includeVigilEndpoints,
    endpoints: endpoint ? [endpoint] : [],
    routeLabel,
    gate: gated?.gate,
    tracing: true,
  }).observe;
  const excludedRoutes = excludeRoutes === undefined ? undefined : new Set(excludeRoutes);

  app.decorate('vigil', { metrics } satisfies VigilFastifyDecoration);

  // `routeOptions` is read once: Fastify builds a new object on every read.
  if (gated === undefined) {
    app.addHook('onRequest', function vigilObserve(req: FastifyRequest, reply: FastifyReply, done) {
      const route = req.routeOptions.url;
      if (excludedRoutes !== undefined && route !== undefined && excludedRoutes.has(route)) return done();
      observe(req.raw, reply.raw, route, undefined, undefined, done);
    });
  } else {
    const isPriority = gated.isPriority;
    gated.onRequest = (req, reply, done) => {
      const priority = isPriority !== undefined && isPriority(req) === true;
      const rec = observe(req.raw, reply.raw, req.routeOptions.url, undefined, undefined, done, priority);
      shedIfRejected(rec, reply, true);
    };
  }

  // A handler's error: an `exception` event on the request's span, and the request line's `err`.
  app.addHook('onError', (req, _reply, err, done) => {
    recordRequestError(req.raw, err);
    done();
  });

  if (endpoint) {
    app.get(endpoint, { logLevel: 'warn' }, async (req, reply) => {
      excludeVigilEndpoint(req.raw);
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
export const vigilMetrics = fp(plugin, { name: '@vigil/fastify-metrics' });

/**
 * Hands a handler's error to Vigil (an `exception` event on the request's span, `err` on its
 * request line) where the framework answers errors itself and Fastify's `onError` never runs:
 * NestJS' exception filters on its Fastify platform. The first error of a request wins.
 */
export function recordError(request: FastifyRequest, err: unknown): void {
  recordRequestError(request.raw, err);
}
