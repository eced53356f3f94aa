// A node:http service instrumented the way a team using a metric prefix would: createMetrics with
// prefix "shop_" and its own service label "app" (APP), for test/mixin/prometheus.test.ts.
// Answers the routes startTraffic() calls: /users/:id, /api/v1/items/:id, /error, /slow, 404s.
import { createServer } from 'node:http';
import { createHttpObserver, createMetrics } from '../../packages/metrics/dist/index.js';

const metrics = createMetrics({ prefix: 'shop_', defaultLabels: { app: process.env.APP ?? 'shop' } });
const ROUTES = [
  [/^\/users\/[^/]+$/, '/users/:id'],
  [/^\/api\/v1\/items\/[^/]+$/, '/api/v1/items/:id'],
  [/^\/error$/, '/error'],
  [/^\/slow$/, '/slow'],
];
const routeOf = (path) => ROUTES.find(([re]) => re.test(path))?.[1];

let observer;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/metrics') return observer.handler(req, res);
  const route = routeOf(url.pathname);
  if (route === '/error') {
    res.statusCode = 500;
    return res.end('boom');
  }
  if (route === '/slow') {
    const ms = Math.min(Number(url.searchParams.get('ms')) || 0, 2000);
    return setTimeout(() => res.end('slow'), ms);
  }
  if (route) return res.end('{}');
  res.statusCode = 404;
  res.end('not found');
});
observer = createHttpObserver(server, { metrics, route: (req) => routeOf(req.url.split('?')[0]) });
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => observer.close().then(() => metrics.close()));
});
