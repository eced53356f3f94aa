import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server Vigil started on a port of its own (a management port for probes or scrapes). */
export interface OwnServer {
  /** The bound address (read the port from here when you asked for port 0). */
  readonly address: AddressInfo;
  readonly server: Server;
  /** Stops listening and closes its connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `listener` on `port` and `host`; rejects when the port cannot be bound. Keep-alive lasts
 * longer than the scrapers' and kubelets' idle timeouts, so they reuse connections.
 */
export async function serveOn(listener: RequestListener, port: number, host: string): Promise<OwnServer> {
  const server = createServer(listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
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
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
