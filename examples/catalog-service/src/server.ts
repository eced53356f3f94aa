// First: tracing from the OTEL_* variables (same as `node --import @vigil/tracing/register`).
import '@vigil/tracing/register';
import { vigilShutdown } from '@vigil/fastify';
import { createApp, SERVICE } from './app.js';

const env = process.env;
const port = Number(env.PORT ?? 3002);
const host = env.HOST ?? '0.0.0.0';
const app = await createApp({
  databaseUrl: env.DATABASE_URL,
  pgliteDataDir: env.PGLITE_DATA_DIR,
  redisUrl: env.REDIS_URL,
  cachePrefix: env.CACHE_PREFIX,
  cacheTtlSeconds: env.CACHE_TTL_SECONDS ? Number(env.CACHE_TTL_SECONDS) : undefined,
  chaosEnabled: env.CHAOS_ENABLED === '1',
});

// Graceful shutdown. On SIGTERM or SIGINT readiness answers 503 at once; the service keeps serving
// for the drain delay (5 s by default, SHUTDOWN_DRAIN_DELAY_MS to change it; with Kubernetes it must
// fit in terminationGracePeriodSeconds), then stops accepting, drains keep-alive connections, calls
// app.close() (onClose hooks: health, metrics, the pool and embedded database, Redis), flushes the
// spans tracing still holds (no hook needed) and exits 0. A second signal exits at once.
const drainDelayMs = env.SHUTDOWN_DRAIN_DELAY_MS;
await app.register(vigilShutdown, {
  logger: app.log,
  ...(drainDelayMs ? { drainDelayMs: Number(drainDelayMs) } : {}),
});

await app.listen({ port, host });
const address = app.server.address();
const bound = typeof address === 'object' && address ? address.port : port;
console.log(`${SERVICE} listening on http://127.0.0.1:${bound} (metrics: /metrics, probes: /livez /readyz)`);
