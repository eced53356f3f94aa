import { type AdapterHealthOptions, adaptHealth, type Health } from '@vigil/health';
import type { KoaMiddleware } from './context.js';

export type KoaHealthOptions = AdapterHealthOptions;

export const KOA_HEALTH_DEFAULTS = Object.freeze({
  /**
   * Koa has no "ready" event and probes cannot reach an app before it listens, so the adapter
   * marks the service started when it is created. Pass `false` and call `health.markStarted()`
   * when warm-up goes on after `listen()`.
   */
  autoStart: true,
});

/** The Koa adapter's handle: the health handle, plus the middleware to mount. */
export interface KoaHealth extends Health {
  /**
   * `app.use(health.middleware)`: answers `/health` `/livez` `/ready` `/readyz` `/startup`
   * (GET, HEAD) with `application/health+json`, and passes every other request on.
   */
  readonly middleware: KoaMiddleware;
  /** Closes the health handle if this adapter created it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Kubernetes probes for Koa in one line: `app.use(createKoaHealth({ checks, metrics }).middleware)`.
 * Pair it with `createShutdown({ servers: [server], health })` so readiness fails the moment
 * SIGTERM arrives.
 */
export function createKoaHealth(options?: KoaHealthOptions): KoaHealth {
  const { health, handler, owned } = adaptHealth(options, KOA_HEALTH_DEFAULTS);
  const middleware: KoaMiddleware = (ctx, next) => {
    let passed: Promise<unknown> | undefined;
    handler(ctx.req, ctx.res, () => {
      passed = next();
    });
    if (passed !== undefined) return passed;
    // The probe handler answers on the raw response; Koa must not write one of its own.
    ctx.respond = false;
    return Promise.resolve();
  };
  // Inherits the health handle's methods and getters (`state`), adds the adapter's own.
  return Object.create(health, {
    middleware: { value: middleware, enumerable: true },
    close: { value: () => (owned ? health.close() : Promise.resolve()), enumerable: true },
  }) as KoaHealth;
}
