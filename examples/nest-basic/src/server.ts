// First: tracing from the OTEL_* variables (same as `node --import @vigil/tracing/register`).
import '@vigil/tracing/register';
import type { AddressInfo } from 'node:net';
import { createShutdown } from '@vigil/express';
import { createApp } from './app.js';
import { chainOptions } from './env.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const { app, health, close } = await createApp({
  databaseUrl: process.env.DATABASE_URL,
  chain: chainOptions(),
});
await app.listen(port, host);
const { port: bound } = app.getHttpServer().address() as AddressInfo;
console.log(`nest-basic listening on http://127.0.0.1:${bound} (metrics: /metrics, probes: /livez /readyz)`);

// Graceful shutdown, with Vigil's shutdown instead of app.enableShutdownHooks(). On SIGTERM or
// SIGINT readiness answers 503 at once; the service keeps serving for the drain delay (5 s by
// default, SHUTDOWN_DRAIN_DELAY_MS to change it), then stops accepting and drains keep-alive
// connections; then app.close(signal) runs Nest's lifecycle hooks once, the hook closes health,
// metrics and the pool, tracing's spans are flushed and the process exits 0. A second signal exits
// at once.
const drainDelayMs = process.env.SHUTDOWN_DRAIN_DELAY_MS;
const shutdown = createShutdown({
  servers: [app],
  health,
  ...(drainDelayMs ? { drainDelayMs: Number(drainDelayMs) } : {}),
});
shutdown.addHook('app', close);
