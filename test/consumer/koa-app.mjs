// (c) A Koa 3 app (and, in the Koa 2 project, a Koa 2 app) (ESM) with @koa/router and createKoaMetrics(), probes and /metrics, scraped over real HTTP.

import Router from '@koa/router';
import { createKoaHealth, createKoaMetrics } from '@vigil/koa';
import Koa from 'koa';
import helpers from './helpers.cjs';

const { check, ok, exercise, pollRedMetrics, watchdog, UNKNOWN_PATH } = helpers;

watchdog(20_000, 'koa app');

helpers.runMain(async () => {
  const app = new Koa();
  const metrics = createKoaMetrics();
  const health = createKoaHealth({ metrics });
  app.use(metrics.middleware);
  app.use(health.middleware);
  const router = new Router();
  router.get('/metrics', metrics.koaHandler);
  router.get('/users/:id', (ctx) => {
    ctx.body = { id: ctx.params.id };
  });
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const live = await fetch(`${base}/livez`);
    check(live.status === 200, `/livez answered ${live.status}`);
    await exercise(base);
    const lines = await pollRedMetrics(base);
    ok(`koa: ${lines[0]}`);
    ok(`koa: ${UNKNOWN_PATH} -> ${lines[1]}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await health.close();
    await metrics.close();
  }
});
