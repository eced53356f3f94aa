// (c) A Fastify 5 app (ESM) with app.register(vigilMetrics), scraped over real HTTP.

import { vigilMetrics } from '@vigil/fastify';
import Fastify from 'fastify';
import helpers from './helpers.cjs';

const { check, ok, exercise, pollRedMetrics, watchdog, UNKNOWN_PATH } = helpers;

watchdog(20_000, 'fastify app');

helpers.runMain(async () => {
  const app = Fastify();
  await app.register(vigilMetrics);
  app.get('/users/:id', async (req) => ({ id: req.params.id }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    check(typeof app.vigil?.metrics?.registry === 'object', 'app.vigil.metrics is not decorated');
    const base = `http://127.0.0.1:${app.server.address().port}`;
    await exercise(base);
    const lines = await pollRedMetrics(base);
    ok(`fastify: ${lines[0]}`);
    ok(`fastify: ${UNKNOWN_PATH} -> ${lines[1]}`);
  } finally {
    await app.close();
  }
});
