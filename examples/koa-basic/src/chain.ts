import type { Metrics } from '@vigil/metrics';
import { createHttpClient, type HttpClient, isBreakerOpenError } from '@vigil/resilience';

/**
 * Outbound calls for `/chain`, through Vigil's resilient client: per-attempt timeout, retries with
 * jitter and a budget (idempotent GETs only), a circuit breaker per downstream, and
 * `http_client_request_duration_seconds` plus a client span per attempt. Real services create one
 * client per downstream at start-up; this demo route takes any URL, so it keeps one client per
 * origin, at most `MAX_ORIGINS` (the `target` label stays bounded).
 */
const MAX_ORIGINS = 8;

export interface ChainOptions {
  /** Per-attempt timeout (ms). Default 5 000. */
  timeoutMs?: number;
  /** How long (ms) the breaker stays open before a trial call. Default: the client's (30 000). */
  resetTimeoutMs?: number;
}

export interface Chain {
  /** GET `url`; resolves with status, content type and body, or a 503 when the breaker is open. */
  get(url: URL): Promise<{ status: number; contentType: string; body: string }>;
  close(): Promise<void>;
}

/**
 * Against a target that hangs, the first call waits for its attempts to time out and the breaker
 * opens after five timeouts in a row (`consecutiveFailures`), so from the second or third call on
 * `/chain` answers 503 at once, and the breaker closes again after `resetTimeoutMs` once the target
 * answers.
 */
export function createChain(metrics: Metrics, options: ChainOptions = {}): Chain {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const breaker = options.resetTimeoutMs === undefined ? true : { resetTimeoutMs: options.resetTimeoutMs };
  const clients = new Map<string, HttpClient>();
  return {
    async get(url) {
      let client = clients.get(url.origin);
      if (client === undefined) {
        if (clients.size >= MAX_ORIGINS)
          return { status: 400, contentType: 'application/json', body: '{"error":"too many chain targets"}' };
        client = createHttpClient({ baseUrl: url.origin, metrics, timeoutMs, breaker });
        clients.set(url.origin, client);
      }
      try {
        const r = await client.fetch(`${url.pathname}${url.search}`);
        return {
          status: r.status,
          contentType: r.headers.get('content-type') ?? 'text/plain',
          body: await r.text(),
        };
      } catch (err) {
        if (isBreakerOpenError(err)) {
          return {
            status: 503,
            contentType: 'application/json',
            body: '{"error":"downstream unavailable (circuit open)"}',
          };
        }
        throw err;
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
