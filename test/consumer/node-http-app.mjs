// (c) A plain node:http server with createHttpObserver() from @vigil/metrics (ESM).

import { createServer } from 'node:http';
import { createHttpObserver } from '@vigil/metrics';
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
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await observer.close();
  }
});
