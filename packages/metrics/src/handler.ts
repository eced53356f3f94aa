import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { excludeVigilEndpoint } from '@vigil/core';
import type { Registry } from 'prom-client';
import {
  acceptsOpenMetrics,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  serializeRegistry,
} from './exposition.js';

const gzip = promisify(gzipCb);

export interface ScrapeResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
}

export interface ScrapeOptions {
  /** Compress with gzip when the client accepts it. */
  readonly gzip: boolean;
  /** Serve OpenMetrics when the client's Accept header asks for it. */
  readonly openMetrics: boolean;
}

/** Framework-neutral scrape: headers in, status, headers and body out. */
export async function scrape(
  registry: Registry,
  accept: string | undefined,
  acceptEncoding: string | undefined,
  o: ScrapeOptions,
): Promise<ScrapeResult> {
  const om = o.openMetrics && acceptsOpenMetrics(accept);
  try {
    const text = await serializeRegistry(registry, om);
    const headers: Record<string, string> = {
      'content-type': om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
      'cache-control': 'no-store',
      vary: 'Accept, Accept-Encoding',
    };
    if (o.gzip && typeof acceptEncoding === 'string' && /\bgzip\b/.test(acceptEncoding)) {
      headers['content-encoding'] = 'gzip';
      return { status: 200, headers, body: await gzip(text) };
    }
    return { status: 200, headers, body: text };
  } catch {
    // A collector that throws must not take the endpoint's error text to the network.
    return {
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      body: 'metrics collection failed\n',
    };
  }
}

/** A plain `node:http` request handler serving the registry (also usable as Express middleware). */
export function createNodeHandler(registry: Registry, o: ScrapeOptions) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    // Scrapes stay out of the RED metrics, spans and request log, wherever this is mounted.
    excludeVigilEndpoint(req);
    scrape(registry, req.headers.accept, req.headers['accept-encoding'] as string | undefined, o).then(
      (r) => {
        res.writeHead(r.status, r.headers);
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      () => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      },
    );
  };
}
