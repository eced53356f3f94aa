import { createHealth, type Health, type HealthOptions } from '@vigil/health';
import { type Registry, VigilOptionError } from '@vigil/metrics';
import type { RequestHandler } from 'express';

export interface ExpressHealthOptions extends Omit<HealthOptions, 'metrics'> {
  /** An existing health handle to serve (then the other health options are ignored). */
  health?: Health;
  /**
   * Where the health metrics go: a `createExpressMetrics()` result, a `createMetrics()` handle, or
   * anything with a `registry`. Default: a private registry (`expressHealth.health.registry`).
   */
  metrics?: { readonly registry: Registry } | { readonly metrics: { readonly registry: Registry } };
}

export const EXPRESS_HEALTH_DEFAULTS = Object.freeze({
  /**
   * Express has no "ready" event and probes cannot reach an app before it listens, so the adapter
   * marks the service started when it is created. Pass `false` and call `health.markStarted()`
   * when warm-up goes on after `listen()`.
   */
  autoStart: true,
});

export interface ExpressHealth {
  /**
   * `app.use(expressHealth.middleware)`: answers `/health` `/livez` `/ready` `/readyz` `/startup`
   * (GET, HEAD) with `application/health+json`, and passes every other request on.
   */
  readonly middleware: RequestHandler;
  /** The core handle: `markStarted()`, `beginShutdown()`, `startServer()` for a management port. */
  readonly health: Health;
  /** Closes the health handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Kubernetes probes for Express 5 in one line: `app.use(createExpressHealth({ checks }).middleware)`.
 * Pair it with `createShutdown({ servers: [server], health: expressHealth.health })` so readiness
 * fails the moment SIGTERM arrives.
 */
export function createExpressHealth(options?: ExpressHealthOptions): ExpressHealth {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const { health: given, metrics, ...rest } = options ?? {};
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof (given as Health).createHandler !== 'function')
  ) {
    throw new VigilOptionError('health', 'a handle from createHealth()', given);
  }
  const registry = registryOf(metrics);
  const health =
    given ??
    createHealth({
      ...rest,
      autoStart: rest.autoStart ?? EXPRESS_HEALTH_DEFAULTS.autoStart,
      ...(registry ? { registry } : {}),
    });
  const owned = given === undefined;
  const handler =
    rest.details !== undefined || rest.paths !== undefined
      ? health.createHandler({
          ...(rest.details !== undefined ? { details: rest.details } : {}),
          ...(rest.paths !== undefined ? { paths: rest.paths } : {}),
        })
      : health.handler;
  const middleware: RequestHandler = (req, res, next) => handler(req, res, next);
  return {
    middleware,
    health,
    close: () => (owned ? health.close() : Promise.resolve()),
  };
}

function registryOf(m: unknown): Registry | undefined {
  if (m === undefined) return undefined;
  const o = m as { registry?: unknown; metrics?: { registry?: unknown } } | null;
  const r = o?.registry ?? o?.metrics?.registry;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof (r as { registerMetric?: unknown }).registerMetric !== 'function'
  ) {
    throw new VigilOptionError('metrics', 'createExpressMetrics(), createMetrics() or { registry }', m);
  }
  return r as Registry;
}

export type {
  CheckContext,
  CheckFunction,
  CheckOptions,
  Health,
  HealthCheck,
  HealthOptions,
  HealthReport,
  HealthServer,
  HealthStatus,
} from '@vigil/health';
export {
  createHealth,
  eventLoopDelayCheck,
  HEALTH_DEFAULTS,
  heapCheck,
  httpCheck,
  postgresCheck,
  redisCheck,
} from '@vigil/health';
export type { Shutdown, ShutdownHook, ShutdownOptions, ShutdownState, ShutdownTarget } from '@vigil/shutdown';
export { createShutdown, SHUTDOWN_DEFAULTS, SHUTDOWN_EXIT_CODES } from '@vigil/shutdown';
