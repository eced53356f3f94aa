import type { FastifyInstance } from 'fastify';
import { chaosBody } from './validate.js';

/** Paths chaos never touches: probes, the scrape and the admin route itself stay truthful. */
const SPARED = new Set(['/health', '/livez', '/ready', '/readyz', '/startup', '/metrics']);

interface ChaosConfig {
  errorRate: number;
  delayMs: number;
}

/**
 * Demo-only fault injection, registered only with CHAOS_ENABLED=1: `PUT /admin/chaos
 * {"errorRate":0..1,"delayMs":0..10000}` (an omitted field is 0, so `{}` turns chaos off) delays
 * every other request by delayMs and answers a fraction errorRate of them 503 {"error":"chaos"},
 * enough to make a caller's retries and circuit breaker move. Never enable it in production: the
 * admin route has no authentication.
 */
export function registerChaos(app: FastifyInstance): void {
  const config: ChaosConfig = { errorRate: 0, delayMs: 0 };

  app.addHook('onRequest', async (req, reply) => {
    if (config.errorRate === 0 && config.delayMs === 0) return;
    const path = req.url.split('?', 1)[0] as string;
    if (SPARED.has(path) || path.startsWith('/admin/')) return;
    if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
    if (Math.random() < config.errorRate) return reply.code(503).send({ error: 'chaos' });
  });

  app.get('/admin/chaos', async () => config);
  app.put<{ Body: Partial<ChaosConfig> }>('/admin/chaos', { schema: { body: chaosBody } }, async (req) => {
    config.errorRate = req.body.errorRate ?? 0;
    config.delayMs = req.body.delayMs ?? 0;
    req.log.warn({ chaos: config }, 'chaos settings changed');
    return config;
  });
}
