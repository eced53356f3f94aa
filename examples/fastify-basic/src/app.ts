import { vigilMetrics } from '@vigil/fastify';
import Fastify, { type FastifyInstance } from 'fastify';

/** The example service: the one-liner, then ordinary routes. */
export async function createApp(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(vigilMetrics, { defaultLabels: { service: 'fastify-basic' } }); // RED metrics + /metrics

  app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({
    id: req.params.id,
    name: `user ${req.params.id}`,
  }));

  app.get<{ Querystring: { ms?: string } }>('/slow', async (req) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 30_000);
    await new Promise((r) => setTimeout(r, ms));
    return { waited: ms };
  });

  app.get('/error', async () => {
    throw new Error('boom');
  });

  await app.register(
    async (v1) => {
      v1.get<{ Params: { id: string } }>('/items/:id', async (req) => ({ id: req.params.id }));
    },
    { prefix: '/api/v1' },
  );

  return app;
}
