import type { ServerResponse } from 'node:http';
import { LABEL_VALUES } from '@vigil/catalog';
import type { Health } from '@vigil/health';
import {
  createMetrics,
  getTracingHook,
  type Metrics,
  type MetricsOptions,
  type RequestTrace,
  VigilOptionError,
} from '@vigil/metrics';
import type { Shutdown } from '@vigil/shutdown';
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

  // One hook and one 'close' listener per request, state in the listener's closure: no
  // onResponse / onRequestAbort hooks (onRequestAbort makes Fastify add its own closure listener to
  // every request) and `routeOptions` read once (it builds a new object on every read).
  // 'close' fires exactly once: after 'finish' when the response completed, or on its own when
  // the client went away first (then `writableFinished` is false: recorded as aborted, 499).
  const record = (
    res: ServerResponse,
    method: string,
    route: string,
    start: number,
    trace: RequestTrace | undefined,
  ) => {
    const done = res.writableFinished;
    if (done) http.end(method, route, res.statusCode, start, trace?.exemplar);
    else http.abort(method, route, start, trace?.exemplar);
    // Tracing (@vigil/tracing): end the request's span; its ids became the exemplar above.
    if (trace !== undefined) getTracingHook()?.endServer(trace, route, done ? res.statusCode : undefined);
  };

  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done) => {
    const url = req.routeOptions.url;
    if (url !== undefined && excluded.has(url)) return done();
    const route = url ?? LABEL_VALUES.unmatchedRoute;
    const method = req.method;
    const start = http.start();
    const res = reply.raw;
    // Tracing: one global read when off; when on, later hooks and the handler run in the span.
    const tracing = getTracingHook();
    if (tracing === undefined) {
      res.on('close', () => record(res, method, route, start, undefined));
      return done();
    }
    const trace = tracing.startServer(req.raw);
    res.on('close', () => record(res, method, route, start, trace));
    tracing.run(trace, done);
  });

  // A handler's error becomes an `exception` event on the request's span (with @vigil/tracing).
  // Runs only for requests that fail; Fastify's error handling then goes on unchanged.
  app.addHook('onError', (req, _reply, err, done) => {
    getTracingHook()?.recordError?.(req.raw, err);
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

export * from './health.js';
export type { Metrics, MetricsOptions };
export { LABEL_VALUES };
