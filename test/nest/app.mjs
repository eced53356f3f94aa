// A Nest app with Vigil's documented one-liners, for one Nest major (the module set from
// nest11/ or nest12/) on its Express or Fastify platform. Plain JS with Nest's decorators applied
// as functions: the same metadata a TypeScript build writes, without a decorator transform.
import { setTimeout as delay } from 'node:timers/promises';

/** `Reflect.decorate` for a method, its parameter decorators given as [index, decorator]. */
function method(proto, name, decorators, params = []) {
  for (const [index, d] of params) d(proto, name, index);
  const desc = Object.getOwnPropertyDescriptor(proto, name);
  for (const d of decorators.slice().reverse()) d(proto, name, desc);
}

/**
 * The controllers: `/api/v1/users/:id` (global prefix `api`, URI version 1), `/api/items/:id`
 * (ParseIntPipe: 400 on a non-number), `/api/missing/:id` (NotFoundException), `/api/error`
 * (an unhandled Error: 500), `/api/hang` (resolves when `release()` is called).
 */
export function appModule(nest, hooks = {}) {
  const { Controller, Get, Module, NotFoundException, Param, ParseIntPipe, Query } = nest.common;
  let releaseHang;
  const hangReleased = new Promise((r) => {
    releaseHang = r;
  });

  class UsersController {
    get(id) {
      return { id, name: `user ${id}` };
    }
  }
  Controller({ path: 'users', version: '1' })(UsersController);
  method(UsersController.prototype, 'get', [Get(':id')], [[0, Param('id')]]);

  class MiscController {
    item(id) {
      return { id };
    }
    missing(id) {
      throw new NotFoundException(`no ${id}`);
    }
    error() {
      throw new Error('boom');
    }
    async slow(ms) {
      const wait = Math.min(Math.max(Number(ms) || 0, 0), 30_000);
      await delay(wait);
      return { waited: wait };
    }
    async hang() {
      hooks.onHang?.();
      await hangReleased;
      return { released: true };
    }
  }
  Controller()(MiscController);
  method(MiscController.prototype, 'item', [Get('items/:id')], [[0, Param('id', ParseIntPipe)]]);
  method(MiscController.prototype, 'missing', [Get('missing/:id')], [[0, Param('id')]]);
  method(MiscController.prototype, 'error', [Get('error')]);
  method(MiscController.prototype, 'slow', [Get('slow')], [[0, Query('ms')]]);
  method(MiscController.prototype, 'hang', [Get('hang')]);

  // Lifecycle hooks, counted: Vigil's shutdown must run them once, after the drain.
  class Lifecycle {
    onModuleDestroy() {
      hooks.onModuleDestroy?.();
    }
    beforeApplicationShutdown(signal) {
      hooks.beforeApplicationShutdown?.(signal);
    }
    onApplicationShutdown(signal) {
      hooks.onApplicationShutdown?.(signal);
    }
  }
  Module({ providers: [Lifecycle] })(Lifecycle);

  class AppModule {}
  Module({ imports: [Lifecycle], controllers: [UsersController, MiscController] })(AppModule);
  return { AppModule, release: () => releaseHang() };
}

/**
 * Creates and listens (port 0) a Nest app on `platform` ('express' | 'fastify') with Vigil's
 * one-liners. `logger` (from @vigil/logger) gives the request line; `routeLabel` goes to the metrics;
 * `errorFilter` adds the README's global filter of that platform.
 */
export async function startNestApp(
  nest,
  platform,
  { logger, hooks, routeLabel, errorFilter, health: healthOptions } = {},
) {
  const { AppModule, release } = appModule(nest, hooks);
  const { NestFactory } = nest.core;
  const { VersioningType } = nest.common;
  let app;
  let metrics;
  let health;
  if (platform === 'express') {
    const { createExpressHealth, createExpressMetrics } = nest.vigilExpress;
    app = await NestFactory.create(AppModule, new nest.platformExpress.ExpressAdapter(), { logger: false });
    metrics = createExpressMetrics({ logger, routeLabel, runtimeMetrics: false });
    health = createExpressHealth({ metrics, cacheMs: 0, ...healthOptions });
    app.use(metrics.middleware); // before Nest registers its routes (at listen)
    app.use(health.middleware);
    app.getHttpAdapter().get('/metrics', metrics.handler);
  } else {
    const { vigilHealth, vigilMetrics } = nest.vigilFastify;
    const { fastifyLogging } = nest.vigilLoggerFastify;
    // Your own Fastify instance (the `fastify` @vigil/logger resolves), so the log controller is
    // of the same Fastify copy even where Nest pins another (Nest 11: fastify 5.11).
    const adapter = new nest.platformFastify.FastifyAdapter(
      nest.fastify(logger ? fastifyLogging({ logger }) : {}),
    );
    app = await NestFactory.create(AppModule, adapter, { logger: false });
    await app.register(vigilMetrics, { routeLabel, runtimeMetrics: false });
    await app.register(vigilHealth, { cacheMs: 0, ...healthOptions });
    const fastify = app.getHttpAdapter().getInstance();
    metrics = fastify.vigil.metrics;
    health = fastify.vigil.health;
  }
  if (errorFilter) app.useGlobalFilters(vigilErrorFilter(nest, app, platform));
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI });
  await app.listen(0, '127.0.0.1');
  const port = app.getHttpServer().address().port;
  return { app, port, metrics, health, release };
}

/**
 * The README's global filter of each platform: the exception goes on the request's span and line
 * (@vigil/express' errorHandler, @vigil/fastify's recordError), then Nest's own filter answers.
 */
function vigilErrorFilter(nest, app, platform) {
  const { errorHandler } = nest.vigilExpress;
  const { recordError } = nest.vigilFastify;
  class VigilErrors extends nest.core.BaseExceptionFilter {
    catch(err, host) {
      const http = host.switchToHttp();
      if (platform === 'express') errorHandler(err, http.getRequest(), http.getResponse(), () => {});
      else recordError(http.getRequest(), err);
      super.catch(err, host);
    }
  }
  nest.common.Catch()(VigilErrors);
  return new VigilErrors(app.getHttpAdapter());
}
