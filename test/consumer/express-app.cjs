'use strict';
// (c) An Express 5 app (CommonJS) with createExpressMetrics(), scraped over real HTTP.

const express = require('express');
const { createExpressMetrics } = require('@vigil/express');
const { ok, exercise, pollRedMetrics, watchdog, runMain, UNKNOWN_PATH } = require('./helpers.cjs');

watchdog(20_000, 'express app');

runMain(async () => {
  const app = express();
  const metrics = createExpressMetrics();
  app.use(metrics.middleware);
  app.get('/metrics', metrics.handler);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1');
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    await exercise(base);
    const lines = await pollRedMetrics(base);
    ok(`express: ${lines[0]}`);
    ok(`express: ${UNKNOWN_PATH} -> ${lines[1]}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await metrics.close();
  }
});
