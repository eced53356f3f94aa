import { checkObject, isRegistry, type RegistryLike, VigilOptionError } from '@vigil/core';
import { createHealth } from './create-health.js';
import type { Health, HealthOptions, HealthRequestHandler } from './types.js';

/** The health options of a framework adapter (`createExpressHealth`, `createKoaHealth`). */
export interface AdapterHealthOptions extends Omit<HealthOptions, 'metrics'> {
  /** An existing health handle to serve (then the other health options are ignored). */
  health?: Health;
  /**
   * Where the health metrics go: the adapter's metrics handle (or any Vigil metrics handle), so
   * `vigil_health_*` is served on the same `/metrics`. Default: a private registry.
   */
  metrics?: { readonly registry: RegistryLike };
}

/** What an adapter serves: the health handle, its probe handler, and whether the adapter owns it. */
export interface AdaptedHealth {
  readonly health: Health;
  readonly handler: HealthRequestHandler;
  readonly owned: boolean;
}

/**
 * The one option check and set-up behind every framework's health adapter: reuses a given handle
 * or creates one (with the adapter's `autoStart` default), and picks its probe handler.
 */
export function adaptHealth(options: unknown, defaults: { autoStart: boolean }): AdaptedHealth {
  const { health: given, metrics, ...rest } = checkObject('options', options) as AdapterHealthOptions;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof (given as Health).createHandler !== 'function')
  ) {
    throw new VigilOptionError('health', 'a handle from createHealth()', given);
  }
  if (metrics !== undefined && !isRegistry((metrics as { registry?: unknown } | null)?.registry)) {
    throw new VigilOptionError(
      'metrics',
      'a Vigil metrics handle (createMetrics() or an adapter handle)',
      metrics,
    );
  }
  const health =
    given ??
    createHealth({
      ...rest,
      autoStart: rest.autoStart ?? defaults.autoStart,
      ...(metrics ? { metrics: metrics as HealthOptions['metrics'] } : {}),
    });
  const handler =
    rest.details !== undefined || rest.paths !== undefined
      ? health.createHandler({
          ...(rest.details !== undefined ? { details: rest.details } : {}),
          ...(rest.paths !== undefined ? { paths: rest.paths } : {}),
        })
      : health.handler;
  return { health, handler, owned: given === undefined };
}
