// The routes every benchmark server has, for the frameworks two suites share (http-overhead's
// lib/server.mjs and tracing's suites/_tracing-server.mjs): GET /users/:id (the loaded route) and
// GET /api/v1/items/:id under a router/prefix.

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
