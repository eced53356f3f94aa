import { type AdapterHealthOptions, adaptHealth, type Health } from '@vigil/health';
import type { RequestHandler } from 'express';

export type ExpressHealthOptions = AdapterHealthOptions;

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
  const { health, handler, owned } = adaptHealth(options, EXPRESS_HEALTH_DEFAULTS);
  const middleware: RequestHandler = (req, res, next) => handler(req, res, next);
  // Inherits the health handle's methods and getters (`state`), adds the adapter's own.
  return Object.create(health, {
    middleware: { value: middleware, enumerable: true },
    health: { value: health },
    close: { value: () => (owned ? health.close() : Promise.resolve()), enumerable: true },
  }) as ExpressHealth;
}
