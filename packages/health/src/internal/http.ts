import type { IncomingMessage, ServerResponse } from 'node:http';
import { excludeVigilEndpoint, serveOn } from '@vigil/core';
import type { HealthReport, HealthRequestHandler, HealthServer, Probe, ProbeOptions } from '../types.js';

/** The media type of the IETF health-check draft. */
export const HEALTH_CONTENT_TYPE = 'application/health+json';

const FALLBACK = JSON.stringify({ status: 'fail', output: 'health evaluation failed' });

/** Serialise a report as an HTTP answer: status code, headers and the JSON body. */
export function toHttp(report: HealthReport): {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  const body = JSON.stringify(report.body);
  return {
    statusCode: report.statusCode,
    headers: {
      'content-type': HEALTH_CONTENT_TYPE,
      'cache-control': 'no-cache, no-store, must-revalidate',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  };
}

/**
 * A `node:http` handler that answers the probe paths (GET and HEAD) and hands anything else to
 * `next`, or answers 404 when there is none.
 */
export function createProbeHandler(
  table: ReadonlyMap<string, Probe>,
  evaluate: (probe: Probe, o: ProbeOptions) => Promise<HealthReport>,
  o: ProbeOptions,
): HealthRequestHandler {
  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const probe = table.get(q < 0 ? url : url.slice(0, q));
    if (probe === undefined) {
      if (next) return next();
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    // Probes stay out of the RED metrics, spans and request log, wherever this is mounted.
    excludeVigilEndpoint(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    evaluate(probe, o).then(
      (report) => {
        const r = toHttp(report);
        res.writeHead(r.statusCode, r.headers);
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      () => {
        // Evaluation never rejects by design; if it ever does, answer a bounded failure.
        if (!res.headersSent) res.writeHead(503, { 'content-type': HEALTH_CONTENT_TYPE });
        res.end(req.method === 'HEAD' ? undefined : FALLBACK);
      },
    );
  };
}

/** Serve a probe handler on its own port. */
export function startProbeServer(
  handler: HealthRequestHandler,
  port: number,
  host: string,
): Promise<HealthServer> {
  return serveOn((req, res) => handler(req, res), port, host);
}
