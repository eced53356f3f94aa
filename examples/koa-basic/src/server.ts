// First: tracing from the OTEL_* variables (same as `node --import @vigil/tracing/register`).
import '@vigil/tracing/register';
import type { AddressInfo } from 'node:net';
import { createShutdown } from '@vigil/koa';
import { createApp } from './app.js';
import { chainOptions } from './env.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const { app, health, close } = createApp({ databaseUrl: process.env.DATABASE_URL, chain: chainOptions() });
const server = app.listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(`koa-basic listening on http://127.0.0.1:${bound} (metrics: /metrics, probes: /livez /readyz)`);
});

// Graceful shutdown. On SIGTERM or SIGINT readiness answers 503 at once; the service keeps serving
// for the drain delay (5 s by default, SHUTDOWN_DRAIN_DELAY_MS to change it), then stops accepting,
// drains keep-alive connections, runs the hook (health, metrics, the pool), flushes the spans
// tracing still holds and exits 0. A second signal exits at once.
const drainDelayMs = process.env.SHUTDOWN_DRAIN_DELAY_MS;
const shutdown = createShutdown({
  servers: [server],
  health,
  ...(drainDelayMs ? { drainDelayMs: Number(drainDelayMs) } : {}),
});
shutdown.addHook('app', close);
