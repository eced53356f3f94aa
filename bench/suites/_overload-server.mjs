#!/usr/bin/env node
// One server of the overload suite: `node _overload-server.mjs <variant>`. Fastify 5 (the framework
// @fastify/under-pressure supports, so every row runs on the same one), or Express 5 for the
// `express-*` variants. Routes: GET /work keeps the CPU busy for OVERLOAD_SERVICE_MS (5) and answers
// 200; GET /livez answers 200 and does no work (the liveness probe). Prints {"port","pid"} when
// listening; exits when stdin closes.
import { performance } from 'node:perf_hooks';

const variant = process.argv[2] ?? '';
const SERVICE_MS = Number(process.env.OVERLOAD_SERVICE_MS ?? 5);

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

function burn(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

/** Vigil's static guards with the values the resilience README suggests. */
const STATIC = {
  adaptive: false,
  maxEventLoopDelayMs: 100,
  maxEventLoopUtilization: 0.9,
  maxHeapUsedRatio: 0.9,
};

async function fastifyApp() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  switch (variant) {
    case 'none':
      break;
    case 'under-pressure': {
      const { default: underPressure } = await import('@fastify/under-pressure');
      // The thresholds of its README's example.
      await app.register(underPressure, {
        maxEventLoopDelay: 1000,
        maxHeapUsedBytes: 100_000_000,
        maxRssBytes: 100_000_000,
        maxEventLoopUtilization: 0.98,
      });
      break;
    }
    case 'vigil-static': {
      const { vigilLoadShedding } = await import('@vigil/fastify');
      await app.register(vigilLoadShedding, STATIC);
      break;
    }
    case 'vigil-adaptive': {
      const { vigilLoadShedding } = await import('@vigil/fastify');
      const { createLoadShedder } = await import('@vigil/resilience');
      const shedder = createLoadShedder();
      if (process.env.OVERLOAD_DEBUG) {
        setInterval(
          () => process.stderr.write(`limit ${shedder.limit.toFixed(2)} inflight ${shedder.inFlight}\n`),
          200,
        ).unref();
      }
      await app.register(vigilLoadShedding, { shedder });
      break;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
  app.get('/livez', async () => 'ok');
  app.get('/work', async () => {
    burn(SERVICE_MS);
    return 'done';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

async function expressApp() {
  const { default: express } = await import('express');
  const app = express();
  if (variant === 'express-vigil-adaptive') {
    const { createExpressLoadShedding } = await import('@vigil/express');
    app.use(createExpressLoadShedding().middleware);
  } else if (variant !== 'express-none') {
    throw new Error(`unknown variant ${variant}`);
  }
  app.get('/livez', (_req, res) => {
    res.send('ok');
  });
  app.get('/work', (_req, res) => {
    burn(SERVICE_MS);
    res.send('done');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server.address().port;
}

const port = variant.startsWith('express-') ? await expressApp() : await fastifyApp();
process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`);
