import type { Logger } from '@vigil/logger';
import type { Metrics } from '@vigil/metrics';
import { createHttpClient, type HttpClient, isBreakerOpenError } from '@vigil/resilience';

export type Dependency = 'users' | 'catalog';

/** A downstream call failed (breaker open, timeout, network error, 5xx after retries). */
export class DependencyError extends Error {
  override readonly name = 'DependencyError';
  constructor(
    readonly dependency: Dependency,
    readonly service: string,
    options?: { cause?: unknown },
  ) {
    super(`${service} unavailable`, options);
  }
}

export type ReserveResult =
  | { kind: 'reserved'; stock: number }
  | { kind: 'not_found' }
  | { kind: 'insufficient' };

export interface Downstreams {
  readonly users: HttpClient;
  readonly catalog: HttpClient;
  /** GET /users/:id: true when the user exists, false on 404. */
  userExists(userId: number, signal?: AbortSignal): Promise<boolean>;
  /** POST /products/:id/reserve with an Idempotency-Key, which is what makes the client retry it. */
  reserve(productId: number, quantity: number, key: string): Promise<ReserveResult>;
  close(): Promise<void>;
}

export interface DownstreamOptions {
  usersUrl: string;
  catalogUrl: string;
  metrics: Metrics;
  logger: Logger;
  /** How long a breaker stays open before one trial call (ms). */
  breakerResetTimeoutMs: number;
}

// Per attempt 2 s, whole call (attempts + backoff) 5 s: a caller waits at most about that long.
const TIMEOUT_MS = 2_000;
const OVERALL_TIMEOUT_MS = 5_000;

/**
 * One resilient client per downstream, created once at start-up: per-attempt timeout, retries
 * with jitter inside a budget (only requests safe to repeat), a circuit breaker, a client span and
 * `http_client_request_duration_seconds{target}` per attempt. The client name is the `target` and
 * `breaker` label. Breaker state changes are logged by the client through `logger`.
 */
export function createDownstreams(o: DownstreamOptions): Downstreams {
  const client = (name: string, baseUrl: string) =>
    createHttpClient({
      name,
      baseUrl,
      metrics: o.metrics,
      logger: o.logger,
      timeoutMs: TIMEOUT_MS,
      overallTimeoutMs: OVERALL_TIMEOUT_MS,
      breaker: { resetTimeoutMs: o.breakerResetTimeoutMs },
    });
  const users = client('users-service', o.usersUrl);
  const catalog = client('catalog-service', o.catalogUrl);

  /** Logs why the call failed (one line) and turns it into a DependencyError. */
  const fail = (dependency: Dependency, name: string, err: unknown): DependencyError => {
    if (isBreakerOpenError(err)) {
      o.logger.warn({ dependency: name, breaker: name }, `${name} call rejected: circuit breaker open`);
    } else if ((err as { name?: unknown })?.name !== 'AbortError') {
      o.logger.warn({ dependency: name, err }, `${name} call failed`);
    }
    return new DependencyError(dependency, name, { cause: err });
  };

  return {
    users,
    catalog,
    async userExists(userId, signal) {
      let res: Response;
      try {
        res = await users.fetch(`/users/${userId}`, signal ? { signal } : {});
      } catch (err) {
        throw fail('users', 'users-service', err);
      }
      await res.body?.cancel();
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      throw fail('users', 'users-service', new Error(`unexpected status ${res.status}`));
    },
    async reserve(productId, quantity, key) {
      let res: Response;
      try {
        res = await catalog.fetch(`/products/${productId}/reserve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ quantity }),
        });
      } catch (err) {
        throw fail('catalog', 'catalog-service', err);
      }
      if (res.status === 200)
        return { kind: 'reserved', stock: ((await res.json()) as { stock: number }).stock };
      await res.body?.cancel();
      if (res.status === 404) return { kind: 'not_found' };
      if (res.status === 409) return { kind: 'insufficient' };
      throw fail('catalog', 'catalog-service', new Error(`unexpected status ${res.status}`));
    },
    async close() {
      await Promise.all([users.close(), catalog.close()]);
    },
  };
}
