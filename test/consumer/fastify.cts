// (d) TypeScript, CommonJS side (module/moduleResolution node16): @vigil/fastify from a .cts file.
import vigilDefault, { type FastifyMetricsOptions, vigilMetrics } from '@vigil/fastify';
import Fastify from 'fastify';

const options: FastifyMetricsOptions = { endpoint: '/metrics', excludeRoutes: ['/healthz'] };
const app = Fastify();
export const ready = app.register(vigilMetrics, options).then(() => app.vigil.metrics.registry);
export const same: typeof vigilMetrics = vigilDefault;

// @ts-expect-error endpoint is a path or false
app.register(vigilMetrics, { endpoint: 42 });
