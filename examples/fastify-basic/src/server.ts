import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const app = await createApp();
await app.listen({ port, host });
const address = app.server.address();
const bound = typeof address === 'object' && address ? address.port : port;
console.log(`fastify-basic listening on http://127.0.0.1:${bound} (metrics: /metrics)`);

// Minimal signal handling until @vigil/shutdown lands.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
