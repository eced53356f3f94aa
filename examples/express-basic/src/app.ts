import { createExpressMetrics } from '@vigil/express';
import express, { type Express } from 'express';

export interface App {
  app: Express;
  close(): Promise<void>;
}

/** The example service: the one-liners, then ordinary routes. */
export function createApp(): App {
  const app = express();
  const metrics = createExpressMetrics({ defaultLabels: { service: 'express-basic' } });
  app.use(metrics.middleware); // one line: RED metrics for every route below
  app.get('/metrics', metrics.handler);

  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, name: `user ${req.params.id}` });
  });

  app.get('/slow', async (req, res) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), 30_000);
    await new Promise((r) => setTimeout(r, ms));
    res.json({ waited: ms });
  });

  app.get('/error', () => {
    throw new Error('boom');
  });

  const v1 = express.Router();
  v1.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.use('/api/v1', v1);

  return { app, close: () => metrics.close() };
}
