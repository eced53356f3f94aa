import { checkObject, isRegistry, type RegistryLike, VigilOptionError } from '@vigil/core';
import { createHealth, type Health, type HealthOptions } from '@vigil/health';
import type { RequestHandler } from 'express';

export interface ExpressHealthOptions extends Omit<HealthOptions, 'metrics'> {
  /** An existing health handle to serve (then the other health options are ignored). */
  health?: Health;
  /**
   * Where the health metrics go: the `createExpressMetrics()` handle (or any Vigil metrics handle),
   * so `vigil_health_*` is served on the same `/metrics`. Default: a private registry.
   */
  metrics?: { readonly registry: RegistryLike };
}

export const EXPRESS_HEALTH_DEFAULTS = Object.freeze({
  /**
   * Express has no "ready" event and probes cannot reach an app before it listens, so the adapter
   * marks the service started when it is created. Pass `false` and call `health.markStarted()`
   * when warm-up goes on after `listen()`.
   */
  autoStart: true,
});

/** The Express adapter's handle: the health handle, plus the middleware to mount. */
export interface ExpressHealth extends Health {
  /**
   * `app.use(health.middleware)`: answers `/health` `/livez` `/ready` `/readyz` `/startup`
   * (GET, HEAD) with `application/health+json`, and passes every other request on.
   */
  readonly middleware: RequestHandler;
  /** @deprecated The handle itself is the health handle (`health.markStarted()`, `health.readiness()`). */
  readonly health: Health;
  /** Closes the health handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Kubernetes probes for Express in one line: `app.use(createExpressHealth({ checks, metrics }).middleware)`.
 * Pair it with `createShutdown({ servers: [server], health })` so readiness fails the moment
 * SIGTERM arrives.
 */
export function createExpressHealth(options?: ExpressHealthOptions): ExpressHealth {
  const { health: given, metrics, ...rest } = checkObject('options', options) as ExpressHealthOptions;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof (given as Health).createHandler !== 'function')
  ) {
    throw new VigilOptionError('health', 'a handle from createHealth()', given);
  }
  if (metrics !== undefined && !isRegistry((metrics as { registry?: unknown } | null)?.registry)) {
    throw new VigilOptionError(
      'metrics',
      'a Vigil metrics handle (createExpressMetrics(), createMetrics())',
      metrics,
    );
  }
  const health =
    given ??
    createHealth({
      ...rest,
      autoStart: rest.autoStart ?? EXPRESS_HEALTH_DEFAULTS.autoStart,
      ...(metrics ? { metrics: metrics as HealthOptions['metrics'] } : {}),
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
  // Inherits the health handle's methods and getters (`state`), adds the adapter's own.
  return Object.create(health, {
    middleware: { value: middleware, enumerable: true },
    health: { value: health },
    close: { value: () => (owned ? health.close() : Promise.resolve()), enumerable: true },
  }) as ExpressHealth;
}
