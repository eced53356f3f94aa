import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createNodeHandler, type ScrapeOptions } from './handler.js';

export interface MetricsServer {
  /** The bound address (read the port from here when you asked for port 0). */
  readonly address: AddressInfo;
  readonly server: Server;
  /** Stops listening and closes idle connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` on its own port (for example a management port that is not exposed
 * publicly). Anything else answers 404.
 */
export async function startMetricsServerFor(
  registry: Registry,
  o: ScrapeOptions & { port: number; host: string; path: string },
): Promise<MetricsServer> {
  const handle = createNodeHandler(registry, o);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === o.path && (req.method === 'GET' || req.method === 'HEAD')) return handle(req, res);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    address: server.address() as AddressInfo,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
