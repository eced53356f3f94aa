// The routes every benchmark server has, for the frameworks two suites share (http-overhead's
// lib/server.mjs and tracing's suites/_tracing-server.mjs): GET /users/:id (the loaded route) and
// GET /api/v1/items/:id under a router/prefix (a controller's path on Nest).

export const user = (id) => ({ id: Number(id), name: 'user' });
export const item = (id) => ({ id: Number(id), name: 'item' });

/** Koa 3 with `@koa/router`: the routes (items under a prefixed nested router), then listening. */
export async function listenKoa(app, router, Router) {
  router.get('/users/:id', (ctx) => {
    ctx.body = user(ctx.params.id);
  });
  const api = new Router({ prefix: '/api/v1' });
  api.get('/items/:id', (ctx) => {
    ctx.body = item(ctx.params.id);
  });
  router.use(api.routes());
  app.use(router.routes());
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
  });
  return server.address().port;
}

const USER = /^\/users\/([^/?]+)(?:\?|$)/;
const ITEM = /^\/api\/v1\/items\/([^/?]+)(?:\?|$)/;

/** A plain node:http app: the same routes matched by hand, as services without a framework do. */
export function plainHttpApp() {
  const app = {
    /** Set once Vigil observes the server: it then answers /metrics. */
    observer: undefined,
    /** The route template of a request, for `createHttpObserver`'s `route`. */
    route: (req) =>
      USER.test(req.url) ? '/users/:id' : ITEM.test(req.url) ? '/api/v1/items/:id' : undefined,
    handle(req, res) {
      let m = USER.exec(req.url);
      if (m) return json(res, user(m[1]));
      m = ITEM.exec(req.url);
      if (m) return json(res, item(m[1]));
      if (app.observer !== undefined && req.url === '/metrics') return app.observer.handler(req, res);
      res.statusCode = 404;
      res.end();
    },
  };
  return app;
}

function json(res, body) {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** Listens on an ephemeral loopback port; resolves with it. */
export async function listenHttp(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server.address().port;
}

/**
 * The peers' hand-written RED recording on an Express request (Express's and Nest's minimal
 * prom-client rows): one histogram observation and one counter increment when the response finishes.
 */
export function recordOnFinish(req, res, histogram, counter) {
  const start = performance.now();
  res.once('finish', () => {
    const labels = {
      method: req.method,
      route: req.route?.path ?? '#unmatched',
      status_code: res.statusCode,
    };
    histogram.observe(labels, (performance.now() - start) / 1000);
    counter.inc(labels);
  });
}

/** Applies Nest's decorators as functions (no decorator transform here), parameters first. */
function decorate(proto, name, decorators, params = []) {
  for (const [index, d] of params) d(proto, name, index);
  const desc = Object.getOwnPropertyDescriptor(proto, name);
  for (const d of decorators.slice().reverse()) d(proto, name, desc);
}

/**
 * NestJS 12 on its Express platform: the same routes as two controllers, then listening.
 * `willsoto`: @willsoto/nestjs-prometheus with an interceptor recording the RED metrics (the peer);
 * `setup(app)`: the rest of the instrumentation, before listening.
 */
export async function listenNest({ willsoto = false, setup } = {}) {
  await import('reflect-metadata');
  const { Controller, Get, Module, Param } = await import('@nestjs/common');
  const { APP_INTERCEPTOR, NestFactory } = await import('@nestjs/core');
  class Users {
    get(id) {
      return user(id);
    }
  }
  Controller('users')(Users);
  decorate(Users.prototype, 'get', [Get(':id')], [[0, Param('id')]]);
  class Items {
    get(id) {
      return item(id);
    }
  }
  Controller('api/v1/items')(Items);
  decorate(Items.prototype, 'get', [Get(':id')], [[0, Param('id')]]);
  const imports = [];
  const providers = [];
  if (willsoto) {
    const w = await import('@willsoto/nestjs-prometheus');
    const labelNames = ['method', 'route', 'status_code'];
    const histogramName = 'http_request_duration_seconds';
    const counterName = 'http_requests_total';
    class HttpMetrics {
      constructor(histogram, counter) {
        this.histogram = histogram;
        this.counter = counter;
      }
      intercept(context, next) {
        const http = context.switchToHttp();
        const req = http.getRequest();
        const res = http.getResponse();
        recordOnFinish(req, res, this.histogram, this.counter);
        return next.handle();
      }
    }
    imports.push(w.PrometheusModule.register());
    providers.push(
      w.makeHistogramProvider({ name: histogramName, help: 'Time to serve an HTTP request.', labelNames }),
      w.makeCounterProvider({ name: counterName, help: 'HTTP requests served.', labelNames }),
      {
        provide: APP_INTERCEPTOR,
        useFactory: (h, c) => new HttpMetrics(h, c),
        inject: [w.getToken(histogramName), w.getToken(counterName)],
      },
    );
  }
  class AppModule {}
  Module({ imports, controllers: [Users, Items], providers })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  if (setup) await setup(app);
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer().address().port;
}
