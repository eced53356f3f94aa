#!/usr/bin/env node
// A service under the shutdown load proof (bench/suites/shutdown.mjs), one process per run:
//   FRAMEWORK=express|fastify|fastify-bare node _shutdown-server.mjs   (fastify-bare: a control)
// Vigil's health and graceful shutdown through the framework adapters, exactly as a user mounts
// them, with default options except DRAIN_DELAY_MS when set. Routes: GET /work?ms=N answers after
// N ms (default 50); /ready, /health, ... from Vigil. Prints {"port":N} on stdout once listening;
// shutdown logs go to stderr.
const framework = process.env.FRAMEWORK ?? 'express';
const drainDelayMs = process.env.DRAIN_DELAY_MS ? Number(process.env.DRAIN_DELAY_MS) : undefined;
const shutdownOptions = drainDelayMs === undefined ? {} : { drainDelayMs };

// Optional stress: block the event loop STALL_MS every 250 ms (GC pauses, CPU steal), so
// connections pile up in the kernel's accept queue while the loop is stalled.
const stallMs = Number(process.env.STALL_MS ?? 0);
if (stallMs > 0) {
  setInterval(() => {
    const until = Date.now() + stallMs;
    while (Date.now() < until) {
      // stalled
    }
  }, 250).unref();
}

const workMs = (url) => {
  const m = /[?&]ms=(\d+)/.exec(url);
  return m ? Math.min(Number(m[1]), 10_000) : 50;
};

if (framework === 'express') {
  const { default: express } = await import('express');
  const { createExpressHealth, createShutdown } = await import('@vigil/express');
  const app = express();
  const health = createExpressHealth({ checks: { self: () => true } });
  app.use(health.middleware);
  app.get('/work', (req, res) => {
    setTimeout(() => res.json({ ok: true }), workMs(req.url));
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  createShutdown({ servers: [server], health: health.health, ...shutdownOptions });
} else if (framework === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const { vigilHealth, vigilShutdown } = await import('@vigil/fastify');
  const app = Fastify({ logger: false });
  await app.register(vigilHealth, { checks: { self: () => true } });
  await app.register(vigilShutdown, shutdownOptions);
  app.get('/work', (req, reply) => {
    setTimeout(() => reply.send({ ok: true }), workMs(req.url));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
} else if (framework === 'fastify-bare') {
  // Control, not Vigil: the anchors' config (e), bare `app.close()` on SIGTERM. It shows the client
  // counts losses when there are some.
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/ready', async () => ({ status: 'pass' }));
  app.get('/work', (req, reply) => {
    setTimeout(() => reply.send({ ok: true }), workMs(req.url));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.once('SIGTERM', () => {
    app.close().then(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
} else {
  console.error(`unknown FRAMEWORK ${framework}`);
  process.exit(2);
}
