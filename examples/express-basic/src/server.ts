import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const { app, close } = createApp();
const server = app.listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(`express-basic listening on http://127.0.0.1:${bound} (metrics: /metrics)`);
});

// Minimal signal handling until @vigil/shutdown lands: stop accepting, then exit.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close(() => void close().then(() => process.exit(0)));
    server.closeIdleConnections();
  });
}
