// The server variants of the http-overhead suite. Metadata only (no framework imports), so the
// suite can list them without loading anything; bench/lib/server.mjs builds the actual apps.
//
// `defaultMetrics`: whether the variant, with its documented defaults, also runs prom-client's
// default Node.js collectors (process/heap/GC/event-loop-lag). That costs some CPU per second,
// not per request, and it is part of what a user of that library pays.

/** @typedef {{ id: string, framework: 'express' | 'express4' | 'fastify' | 'http' | 'koa' | 'nest', label: string, bare?: boolean, defaultMetrics: boolean, config: string, target?: number, vigil?: boolean, routeNeedle?: string }} Variant */

/** @type {Variant[]} */
export const VARIANTS = [
  {
    id: 'express-bare',
    framework: 'express',
    label: 'express bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation',
  },
  {
    id: 'express-vigil',
    framework: 'express',
    label: 'express + Vigil',
    vigil: true,
    target: 1.05,
    defaultMetrics: true,
    config:
      '`createExpressMetrics()` defaults (runtime metrics on), `app.use(m.middleware)`, `/metrics` via `m.handler`',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'express-prom-bundle',
    framework: 'express',
    label: 'express + express-prom-bundle 8.0.0',
    defaultMetrics: false,
    config: '`promBundle({ includeMethod, includePath, includeStatusCode })`',
    routeNeedle: 'path="/users/#val"',
  },
  {
    id: 'express-promster',
    framework: 'express',
    label: 'express + @promster/express 14.0.0',
    defaultMetrics: true,
    config: '`createMiddleware({ app })`, `/metrics` via `getSummary()`',
    routeNeedle: 'path="/users/#val"',
  },
  {
    id: 'express-minimal',
    framework: 'express',
    label: 'express + minimal prom-client middleware',
    defaultMetrics: false,
    config:
      'Histogram.observe + Counter.inc on `res.once("finish")`, labels method / `req.route.path` / status_code',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'express4-bare',
    framework: 'express4',
    label: 'express 4.22.3 bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation',
  },
  {
    id: 'express4-vigil',
    framework: 'express4',
    label: 'express 4.22.3 + Vigil',
    vigil: true,
    target: 1.05,
    defaultMetrics: true,
    config:
      '`createExpressMetrics()` defaults (runtime metrics on), `app.use(m.middleware)`, `/metrics` via `m.handler`',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'express4-prom-bundle',
    framework: 'express4',
    label: 'express 4.22.3 + express-prom-bundle 8.0.0',
    defaultMetrics: false,
    config: '`promBundle({ includeMethod, includePath, includeStatusCode })`',
    routeNeedle: 'path="/users/#val"',
  },
  {
    id: 'fastify-bare',
    framework: 'fastify',
    label: 'fastify bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation',
  },
  {
    id: 'fastify-vigil',
    framework: 'fastify',
    label: 'fastify + Vigil',
    vigil: true,
    target: 1.08,
    defaultMetrics: true,
    config: '`app.register(vigilMetrics)` defaults (runtime metrics on, `/metrics` route)',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'fastify-metrics',
    framework: 'fastify',
    label: 'fastify + fastify-metrics 13.2.1',
    defaultMetrics: true,
    config:
      "`register(fastifyMetrics, { endpoint: '/metrics' })` defaults: histogram **and** summary per route",
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'fastify-promster',
    framework: 'fastify',
    label: 'fastify + @promster/fastify 15.4.1',
    defaultMetrics: true,
    config: '`register(plugin)`, `/metrics` via `getSummary()`',
    routeNeedle: 'path="/users/#val"',
  },
  {
    id: 'fastify-minimal',
    framework: 'fastify',
    label: 'fastify + minimal prom-client hook',
    defaultMetrics: false,
    config:
      'one `onResponse` hook: Histogram.observe(`reply.elapsedTime`) + Counter.inc, labels method / `routeOptions.url` / status_code (the floor for a prom-client-based Fastify integration)',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'koa-bare',
    framework: 'koa',
    label: 'koa 3 bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation; `@koa/router` with a prefixed nested router',
  },
  {
    id: 'koa-vigil',
    framework: 'koa',
    label: 'koa 3 + Vigil',
    vigil: true,
    target: 1.05,
    defaultMetrics: true,
    config:
      '`createKoaMetrics()` defaults (runtime metrics on), `app.use(m.middleware)`, `router.get("/metrics", m.koaHandler)`',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'koa-noop',
    framework: 'koa',
    label: 'koa 3 + one pass-through middleware',
    defaultMetrics: false,
    config:
      '`app.use((ctx, next) => next())` and a `/metrics` route (answering an empty body): what any Koa middleware and one more route cost (the floor under every Koa integration)',
  },
  {
    id: 'koa-vigil-noruntime',
    framework: 'koa',
    label: 'koa 3 + Vigil, runtime metrics off',
    defaultMetrics: false,
    config:
      '`createKoaMetrics({ runtimeMetrics: false })`: the request path alone, without the runtime collectors',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'koa-minimal',
    framework: 'koa',
    label: 'koa 3 + minimal prom-client middleware',
    defaultMetrics: false,
    config:
      'one middleware: Histogram.observe + Counter.inc after `await next()`, labels method / `ctx._matchedRoute` / status_code (the floor for a prom-client Koa integration; the published Koa exporters pin prom-client 10)',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'http-bare',
    framework: 'http',
    label: 'node:http bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation; routes matched by hand',
  },
  {
    id: 'http-vigil',
    framework: 'http',
    label: 'node:http + Vigil',
    vigil: true,
    target: 1.05,
    defaultMetrics: true,
    config:
      '`createHttpObserver(server, { route })` defaults (runtime metrics on), `/metrics` via `observer.handler`',
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'nest-bare',
    framework: 'nest',
    label: 'nest 12.6.3 (express) bare',
    bare: true,
    defaultMetrics: false,
    config: 'no instrumentation; NestJS 12.6.3 on its Express platform, two controllers',
  },
  {
    id: 'nest-vigil',
    framework: 'nest',
    label: 'nest 12.6.3 (express) + Vigil',
    vigil: true,
    target: 1.05,
    defaultMetrics: true,
    config:
      "`createExpressMetrics()` defaults (runtime metrics on), `app.use(m.middleware)`, `/metrics` via `m.handler` on Nest's Express instance",
    routeNeedle: 'route="/users/:id"',
  },
  {
    id: 'nest-willsoto',
    framework: 'nest',
    label: 'nest 12.6.3 (express) + @willsoto/nestjs-prometheus 6.1.1',
    defaultMetrics: true,
    config:
      '`PrometheusModule.register()` defaults (default metrics on, its `/metrics` controller), with the HTTP metrics its README leaves to you: `makeHistogramProvider` + `makeCounterProvider` and a global interceptor observing on `res.once("finish")`, labels method / `req.route.path` / status_code',
    routeNeedle: 'route="/users/:id"',
  },
];

export function variantById(id) {
  const v = VARIANTS.find((x) => x.id === id);
  if (!v) throw new Error(`Unknown variant "${id}"; known: ${VARIANTS.map((x) => x.id).join(', ')}`);
  return v;
}
