import { type OwnServer, serveOn } from '@vigil/core';
import type { Registry } from 'prom-client';
import { createNodeHandler, type ScrapeOptions } from './handler.js';

/** The separate metrics port: its address, its server, `close()`. */
export type MetricsServer = OwnServer;

/**
 * Serve `GET /metrics` on its own port (for example a management port that is not exposed
 * publicly). Anything else answers 404.
 */
export function startMetricsServerFor(
  registry: Registry,
  o: ScrapeOptions & { port: number; host: string; path: string },
): Promise<MetricsServer> {
  const handle = createNodeHandler(registry, o);
  return serveOn(
    (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      if (path === o.path && (req.method === 'GET' || req.method === 'HEAD')) return handle(req, res);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    },
    o.port,
    o.host,
  );
}
