// (c) A plain node:http server with createHttpObserver() from @vigil/metrics (ESM), and the same
// series pushed over OTLP/HTTP (@vigil/metrics/otlp, semconv names) to a receiver in this process.

import { createServer } from 'node:http';
import { createHttpObserver } from '@vigil/metrics';
import { startOtlpMetrics } from '@vigil/metrics/otlp';
import helpers from './helpers.cjs';

const { ok, exercise, pollRedMetrics, watchdog, UNKNOWN_PATH } = helpers;

watchdog(20_000, 'node:http app');

helpers.runMain(async () => {
  let observer;
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/metrics') return observer.handler(req, res);
    if (/^\/users\/[^/]+$/.test(path)) return res.end(JSON.stringify({ id: path.slice(7) }));
    res.statusCode = 404;
    res.end('not found');
  });
  observer = createHttpObserver(server, {
    route: (req) => (/^\/users\/[^/?]+(\?|$)/.test(req.url) ? '/users/:id' : undefined),
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    await exercise(base);
    const lines = await pollRedMetrics(base);
    ok(`node:http: ${lines[0]}`);
    ok(`node:http: ${UNKNOWN_PATH} -> ${lines[1]}`);

    const bodies = [];
    const receiver = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const otlp = startOtlpMetrics(observer, {
      url: `http://127.0.0.1:${receiver.address().port}/v1/metrics`,
      semconv: true,
    });
    try {
      await otlp.flush();
      const metrics = bodies.flatMap((b) =>
        b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)),
      );
      const h = metrics.find((m) => m.name === 'http.server.request.duration');
      const routes = new Set(
        (h?.histogram?.dataPoints ?? []).flatMap((d) =>
          d.attributes.filter((a) => a.key === 'http.route').map((a) => a.value.stringValue),
        ),
      );
      helpers.check(
        routes.has('/users/:id'),
        `OTLP export: no http.server.request.duration for /users/:id (${[...routes]})`,
      );
      ok(`node:http: OTLP export has http.server.request.duration for ${[...routes].join(', ')}`);
    } finally {
      await otlp.close();
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await observer.close();
  }
});
