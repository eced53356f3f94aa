// (d) TypeScript, ESM side (module/moduleResolution node16): @vigil/fastify from a .mts file.
import vigilDefault, { type FastifyMetricsOptions, vigilMetrics } from '@vigil/fastify';
import Fastify from 'fastify';

const options: FastifyMetricsOptions = { endpoint: '/metrics', excludeRoutes: ['/healthz'] };
const app = Fastify();
await app.register(vigilMetrics, options);
export const registry = app.vigil.metrics.registry;
export const same: typeof vigilMetrics = vigilDefault;

// @ts-expect-error endpoint is a path or false
await app.register(vigilMetrics, { endpoint: 42 });
