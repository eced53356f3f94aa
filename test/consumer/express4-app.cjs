'use strict';
// (e) An Express 4 app (CommonJS) with createExpressMetrics(), in the project that installed
// express@4 next to the tarballs: route templates through nested, parameterised routers.

const express = require('express');
const { createExpressMetrics } = require('@vigil/express');
const {
  check,
  ok,
  exercise,
  parseSamples,
  pollRedMetrics,
  watchdog,
  runMain,
  UNKNOWN_PATH,
} = require('./helpers.cjs');

watchdog(20_000, 'express 4 app');

runMain(async () => {
  const version = require('express/package.json').version;
  check(/^4\./.test(version), `express resolves to ${version}, expected Express 4`);
  const app = express();
  const metrics = createExpressMetrics();
  app.use(metrics.middleware);
  app.get('/metrics', metrics.handler);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  const orders = express.Router({ mergeParams: true });
  orders.get('/', (req, res) => {
    res.json(req.params);
  });
  app.use('/tenants/:tenantId/orders/:orderId', orders);

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1');
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    await exercise(base);
    for (const p of ['/tenants/acme/orders/1', '/tenants/globex/orders/2']) {
      const r = await fetch(base + p);
      check(r.status === 200, `GET ${p} answered ${r.status}`);
    }
    const lines = await pollRedMetrics(base);
    ok(`express ${version}: ${lines[0]}`);
    ok(`express ${version}: ${UNKNOWN_PATH} -> ${lines[1]}`);
    const text = await (await fetch(`${base}/metrics`)).text();
    const tenants = parseSamples(text).find(
      (s) => s.name === 'http_requests_total' && s.labels.route === '/tenants/:tenantId/orders/:orderId',
    );
    check(tenants?.value === 2, `no templated series for the tenants router:\n${text.slice(0, 3000)}`);
    check(!/acme|globex/.test(text), 'mount values leaked into route labels');
    ok(`express ${version}: ${tenants.line}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await metrics.close();
  }
});
