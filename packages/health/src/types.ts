import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OwnServer } from '@vigil/core';
import type { Registry } from '@vigil/metrics';

/** Status values of the IETF health-check draft (`draft-inadarei-api-health-check`). */
export type HealthStatus = 'pass' | 'warn' | 'fail';

/** The three Kubernetes probes. */
export type Probe = 'liveness' | 'readiness' | 'startup';

/**
 * Lifecycle of a health handle: `starting` until `markStarted()`, `started`, `shutting_down` from
 * `beginShutdown()` (readiness answers 503 from then on), `closed` after `close()`.
 */
export type HealthState = 'starting' | 'started' | 'shutting_down' | 'closed';

/** Passed to every check run. `signal` aborts when the run reaches its timeout or the handle closes. */
export interface CheckContext {
  readonly signal: AbortSignal;
}

/**
 * What a check function may resolve to. Throwing or rejecting means `fail`; `false` means `fail`;
 * an object with a `status` sets the status (and may carry a measurement); anything else is `pass`.
 */
export interface CheckOutcome {
  status?: HealthStatus;
  /** Short human-readable text, shown only when details are enabled. */
  output?: string;
  /** A measurement (event-loop delay, heap ratio, ...), shown only when details are enabled. */
  observedValue?: number;
  observedUnit?: string;
}

export type CheckFunction = (ctx: CheckContext) => unknown;

/** Scheduling and classification options shared by every check. */
export interface CheckOptions {
  /** A run that takes longer fails with output `timeout` and its signal aborts. Default: `checkTimeoutMs`. */
  timeoutMs?: number;
  /** A failing critical check makes readiness 503; a failing non-critical one only warns. Default true. */
  critical?: boolean;
  /** Serve the last result for this long before running again (0 = share only in-flight runs). */
  cacheMs?: number;
  /** Run in the background every `intervalMs` (after the previous run ends); probes read the last result. */
  intervalMs?: number;
  /**
   * Also part of liveness. Only for checks of the process itself (event loop, heap): a liveness
   * failure restarts the container, so dependency checks are refused here.
   */
  liveness?: boolean;
}

/** A check with its options. Built-in checks (`postgresCheck`, ...) return this shape. */
export interface HealthCheck extends CheckOptions {
  check: CheckFunction;
  /** Ignored (the key in `checks` names the check); allowed for objects that carry a name. */
  name?: string;
  /**
   * True for checks of something outside the process (database, cache, HTTP service). Such a
   * check cannot be a liveness check.
   */
  dependency?: boolean;
  /** IETF `componentType`: `datastore`, `component`, `system`, ... */
  componentType?: string;
  /** Called once by `health.close()` (for checks that own a monitor or timer). */
  close?: () => void | Promise<void>;
}

/** Probe paths served by the handlers. */
export interface HealthPaths {
  liveness: readonly string[];
  readiness: readonly string[];
  startup: readonly string[];
}

/** Identification fields copied into every response (all optional, from the IETF draft). */
export interface HealthInfo {
  serviceId?: string;
  version?: string;
  releaseId?: string;
  description?: string;
}

export interface HealthOptions {
  /** Named checks: a function, or an object with `check` and options. Names become the `check` label. */
  checks?: Record<string, CheckFunction | HealthCheck>;
  /** Default timeout of every check run, in ms. */
  checkTimeoutMs?: number;
  /** Default for `critical`. */
  critical?: boolean;
  /** Default for `cacheMs`. */
  cacheMs?: number;
  /** Start in state `started` (startup probe passes at once) instead of waiting for `markStarted()`. */
  autoStart?: boolean;
  /** Include check error messages and measurements in responses. Keep off on public ports. */
  details?: boolean;
  /** Probe paths for the handlers and the management server. */
  paths?: Partial<HealthPaths>;
  /** Fields copied into every response body. */
  info?: HealthInfo;
  /** Registry for the health metrics. Default: `metrics.registry`, else a new private Registry. */
  registry?: Registry;
  /**
   * A Vigil metrics handle (`createMetrics()`, `createExpressMetrics()`, Fastify's `app.vigil.metrics`):
   * the health metrics are recorded through it (its registry, prefix and default labels).
   */
  metrics?: { readonly registry: Registry };
  /** Clock in ms for durations and caching (tests). Default `performance.now`. */
  now?: () => number;
}

/** One entry of the `checks` object in a response (the draft allows an array per key; Vigil uses one). */
export interface CheckEntry {
  status: HealthStatus;
  /** When the run that produced this result finished (ISO 8601). */
  time: string;
  /** How long that run took, in ms (the timeout when it timed out). */
  durationMs: number;
  critical: boolean;
  componentType?: string;
  /** Without details: a stable reason (`timeout`, `error`, `fail`, `warn`). */
  output?: string;
  observedValue?: number;
  observedUnit?: string;
}

/** `application/health+json` body. */
export interface HealthBody extends HealthInfo {
  status: HealthStatus;
  /** Why the probe failed without running checks: `not started`, `shutting down`, `closed`. */
  output?: string;
  checks?: Record<string, CheckEntry[]>;
}

export interface HealthReport {
  readonly status: HealthStatus;
  /** 200 for pass and warn, 503 for fail. */
  readonly statusCode: 200 | 503;
  readonly body: HealthBody;
}

export interface ProbeOptions {
  /** Override the handle's `details` for this answer. */
  details?: boolean;
}

export interface HealthHandlerOptions extends ProbeOptions {
  /** Override the handle's probe paths for this handler. */
  paths?: Partial<HealthPaths>;
}

/**
 * A `node:http` request handler for the probe paths. Also works as Express/Connect middleware:
 * requests for other paths go to `next()` (or get a 404 when there is no `next`).
 */
export type HealthRequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

export interface HealthServerOptions extends HealthHandlerOptions {
  /** Port; 0 picks a free one. Default 9000. */
  port?: number;
  /** Interface to bind. Default `0.0.0.0` (the kubelet connects from outside the pod's loopback). */
  host?: string;
}

/** The probes' own port: its address, its server, `close()`. */
export type HealthServer = OwnServer;

export interface Health {
  /** Registry holding `vigil_health_*` metrics. */
  readonly registry: Registry;
  readonly state: HealthState;
  /** Startup probe passes from now on (and readiness may). */
  markStarted(): void;
  /** Readiness answers 503 from now on without running checks. Called by `@vigil/shutdown`. */
  beginShutdown(): void;
  /** Liveness: alive and answering; plus checks marked `liveness`. Never runs dependency checks. */
  liveness(options?: ProbeOptions): Promise<HealthReport>;
  /** Readiness: started, not shutting down, and every critical check passing. */
  readiness(options?: ProbeOptions): Promise<HealthReport>;
  /** Startup: whether `markStarted()` was called. */
  startup(options?: ProbeOptions): Promise<HealthReport>;
  /** Handler for the handle's paths (`/health`, `/livez`, `/ready`, `/readyz`, `/startup`). */
  readonly handler: HealthRequestHandler;
  /** A handler with other paths or details. */
  createHandler(options?: HealthHandlerOptions): HealthRequestHandler;
  /** Serve the probes on their own port (a management port). Closed by `close()`. */
  startServer(options?: HealthServerOptions): Promise<HealthServer>;
  /** Called with the new state on every change; returns an unsubscribe function. */
  onStateChange(listener: (state: HealthState) => void): () => void;
  /** Stops background checks and servers, closes checks, removes metrics. Idempotent. */
  close(): Promise<void>;
}
