// First: tracing from the OTEL_* variables (same as `node --import @vigil/tracing/register`).
import '@vigil/tracing/register';
import type { AddressInfo } from 'node:net';
import { createShutdown } from '@vigil/express';
import { createApp, SERVICE } from './app.js';

const port = Number(process.env.PORT ?? 3001);
const host = process.env.HOST ?? '0.0.0.0';
const { app, health, logger, close } = await createApp({
  databaseUrl: process.env.DATABASE_URL,
  pgliteDataDir: process.env.PGLITE_DATA_DIR,
});
const server = app.listen(port, host, (err) => {
  if (err) {
    console.error(`${SERVICE} could not listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
  const { port: bound } = server.address() as AddressInfo;
  console.log(
    `${SERVICE} listening on http://127.0.0.1:${bound} (metrics: /metrics, probes: /livez /readyz)`,
  );
});

// Graceful shutdown. On SIGTERM or SIGINT readiness answers 503 at once; the service keeps serving
// for the drain delay (5 s by default, SHUTDOWN_DRAIN_DELAY_MS to change it; with Kubernetes it must
// fit in terminationGracePeriodSeconds), then stops accepting, drains keep-alive connections, runs
// the hook (the app: health, metrics, pool, embedded database), then flushes the spans tracing
// still holds (no hook needed) and exits 0. A second signal exits at once.
const drainDelayMs = process.env.SHUTDOWN_DRAIN_DELAY_MS;
const shutdown = createShutdown({
  servers: [server],
  health,
  logger,
  ...(drainDelayMs ? { drainDelayMs: Number(drainDelayMs) } : {}),
});
shutdown.addHook('app', close);
