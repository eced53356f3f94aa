import { excludeVigilEndpoint, isRegistry, type RegistryLike, VigilOptionError } from '@vigil/core';
import {
  createHealth,
  HEALTH_DEFAULTS,
  type Health,
  type HealthOptions,
  type HealthPaths,
  type Probe,
  toHttp,
} from '@vigil/health';
import { createShutdown, type Shutdown, type ShutdownOptions } from '@vigil/shutdown';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { withoutFastifyKeys } from './options.js';
import { assertSupportedFastify } from './version.js';

export interface FastifyHealthOptions extends Omit<HealthOptions, 'metrics'> {
  /** An existing health handle to serve (then the other health options are ignored). */
  health?: Health;
  /**
   * Where the health metrics go. Default: the registry of `vigilMetrics` when it was registered
   * before this plugin, else a private one (`fastify.vigil.health.registry`).
   */
  metrics?: { readonly registry: RegistryLike };
}

export const FASTIFY_HEALTH_DEFAULTS = Object.freeze({
  /** Mark the service started in Fastify's `onReady` hook (every plugin has loaded). */
  autoStart: true,
});

/** `vigilShutdown` options: those of `createShutdown()`; the server is the Fastify instance. */
export type FastifyShutdownOptions = Omit<ShutdownOptions, 'servers'>;

const PROBES: readonly Probe[] = ['liveness', 'readiness', 'startup'];

function validateHealth(o: unknown): FastifyHealthOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o))
    throw new VigilOptionError('options', 'an options object', o);
  const v = withoutFastifyKeys(o as FastifyHealthOptions);
  if (
    v.health !== undefined &&
    (typeof v.health !== 'object' || v.health === null || typeof v.health.readiness !== 'function')
  ) {
    throw new VigilOptionError('health', 'a handle from createHealth()', v.health);
  }
  if (v.metrics !== undefined && !isRegistry((v.metrics as { registry?: unknown } | null)?.registry)) {
    throw new VigilOptionError('metrics', 'a handle with a registry (createMetrics())', v.metrics);
  }
  return v;
}

/** Add one property to the shared `fastify.vigil` object, creating it when no Vigil plugin has. */
function decorateVigil(app: FastifyInstance, key: 'health' | 'shutdown', value: Health | Shutdown): void {
  if (app.hasDecorator('vigil')) {
    const existing = app.vigil as unknown as Record<string, unknown>;
    if (existing[key] !== undefined) {
      throw new VigilOptionError(
        key,
        `a single registration of the Vigil ${key} plugin per instance`,
        'a second one',
      );
    }
    existing[key] = value;
  } else {
    app.decorate('vigil', { [key]: value } as never);
  }
}

const healthPlugin: FastifyPluginAsync<FastifyHealthOptions> = async (app, options) => {
  assertSupportedFastify(app);
  const { health: given, metrics, ...rest } = validateHealth(options);
  // Explicit `registry` / `metrics` options win; else the registry of vigilMetrics, if registered.
  const vigilMetrics = app.hasDecorator('vigil')
    ? (app.vigil as { metrics?: { registry: RegistryLike } }).metrics
    : undefined;
  const target = metrics ?? (rest.registry === undefined ? vigilMetrics : undefined);
  const autoStart = rest.autoStart ?? FASTIFY_HEALTH_DEFAULTS.autoStart;
  // Started in onReady (below), not at creation, so the startup probe waits for every plugin.
  const health =
    given ??
    createHealth({
      ...rest,
      autoStart: false,
      ...(target ? { metrics: target as HealthOptions['metrics'] } : {}),
    });
  const owned = given === undefined;
  decorateVigil(app, 'health', health);

  const paths: HealthPaths = { ...HEALTH_DEFAULTS.paths, ...rest.paths };
  const details = rest.details;
  for (const probe of PROBES) {
    for (const url of paths[probe]) {
      // logLevel warn: kubelet probes every few seconds and must not flood the request log.
      app.get(url, { logLevel: 'warn' }, async (req, reply) => {
        excludeVigilEndpoint(req.raw);
        const r = toHttp(await health[probe](details === undefined ? undefined : { details }));
        reply.code(r.statusCode).headers(r.headers);
        return r.body;
      });
    }
  }

  if (autoStart) {
    app.addHook('onReady', async () => {
      health.markStarted();
    });
  }
  if (owned) app.addHook('onClose', async () => health.close());
};

/**
 * Kubernetes probes for Fastify 5 in one line: `await app.register(vigilHealth, { checks })`.
 * Not encapsulated; decorates `fastify.vigil.health`. Register it after `vigilMetrics` so its
 * metrics land in the same registry.
 */
const wrappedHealth = fp(healthPlugin, { name: '@vigil/fastify-health' });
export const vigilHealth: typeof wrappedHealth & { default: typeof wrappedHealth } = Object.assign(
  wrappedHealth,
  {
    default: wrappedHealth,
  },
);

const shutdownPlugin: FastifyPluginAsync<FastifyShutdownOptions> = async (app, options) => {
  assertSupportedFastify(app);
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const own = withoutFastifyKeys(options ?? {});
  if ((own as { servers?: unknown }).servers !== undefined) {
    throw new VigilOptionError(
      'servers',
      'no servers option (the Fastify instance is the server)',
      'servers',
    );
  }
  const linked = app.hasDecorator('vigil') ? (app.vigil as { health?: Health }).health : undefined;
  const shutdown = createShutdown({
    ...own,
    servers: [app],
    ...(own.health === undefined && linked ? { health: linked } : {}),
  });
  decorateVigil(app, 'shutdown', shutdown);
  // When the app is closed by something else (tests, a supervisor), remove the signal handlers. A
  // shutdown in progress closes the app itself and keeps its handlers (second signal = exit now).
  app.addHook('onClose', async () => {
    if (shutdown.state === 'running') await shutdown.close();
  });
};

/**
 * Graceful shutdown for Fastify 5: `await app.register(vigilShutdown)` before `listen()`. On
 * SIGTERM readiness (`fastify.vigil.health`) fails at once, the app keeps serving for the drain
 * delay, then stops accepting, drains keep-alive connections without racing requests, calls
 * `app.close()` (your onClose hooks), runs the shutdown hooks and exits. Decorates
 * `fastify.vigil.shutdown` (for `addHook`).
 */
const wrappedShutdown = fp(shutdownPlugin, { name: '@vigil/fastify-shutdown' });
export const vigilShutdown: typeof wrappedShutdown & { default: typeof wrappedShutdown } = Object.assign(
  wrappedShutdown,
  { default: wrappedShutdown },
);
