import type { Server } from 'node:net';

/**
 * Phases of a shutdown: `running` (nothing yet), `draining` (readiness fails, still serving with
 * `Connection: close`), `stopping` (listener closed, in-flight requests finishing), `hooks`
 * (cleanup hooks in reverse order), `exiting` (the exit code is decided; tracing and loggers are
 * flushed, then exit is called).
 */
export type ShutdownState = 'running' | 'draining' | 'stopping' | 'hooks' | 'exiting';

/**
 * What to drain: a `node:http`/`node:https` server (what Express' `app.listen()` returns), or an
 * app that owns one and has its own `close()` (a Fastify instance: `{ server, close }`), which is
 * called once its server has drained so its `onClose` hooks run; or a NestJS app after `listen()`
 * (its `getHttpServer()` is drained, then `app.close(signal)` runs its lifecycle hooks once).
 */
export type ShutdownTarget =
  | Server
  | { readonly server: Server; close(): unknown }
  | { getHttpServer(): unknown; close(signal?: string): unknown };

/** Anything with `beginShutdown()`, such as a `@vigil/health` handle: readiness fails at once. */
export interface ShutdownReadiness {
  beginShutdown(): void;
}

/** pino-compatible logger: `(fields, message)`. */
export interface ShutdownLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface ShutdownHookOptions {
  /** The hook is abandoned (and the exit code becomes 1) after this long. Default `hookTimeoutMs`. */
  timeoutMs?: number;
}

/** A cleanup hook. `signal` aborts when its timeout passes. */
export type ShutdownHook = (ctx: { readonly signal: AbortSignal }) => unknown;

export interface ShutdownOptions {
  /** Servers or apps to drain. More can be added with `addServer()`. */
  servers?: readonly ShutdownTarget[];
  /** Told first, synchronously, when shutdown begins (readiness 503 at once). */
  health?: ShutdownReadiness | readonly ShutdownReadiness[];
  /** Signals that start a shutdown; a second one exits at once. */
  signals?: readonly NodeJS.Signals[];
  /**
   * How long to keep serving after the signal, with readiness failing, so load balancers and
   * Kubernetes endpoints stop sending new traffic before the listener closes.
   */
  drainDelayMs?: number;
  /**
   * Instead of a fixed delay: drain until this resolves (a deregistration callback, a test
   * control). Its signal aborts when the time for the drain and hooks runs out (`deadlineMs` less
   * `flushTimeoutMs`). Not together with `drainDelayMs`.
   */
  drainUntil?: (ctx: { readonly signal: AbortSignal }) => Promise<unknown>;
  /**
   * Settle step before the listener closes: responses keep their connections again, and the
   * listener closes once no connection has been accepted for this long. Connections still in the
   * kernel's accept queue when a listener closes are reset after the client sent its request;
   * under load, clients reconnecting after `Connection: close` keep that queue busy.
   */
  settleQuietMs?: number;
  /** Upper bound of the settle step; 0 closes the listener right after the drain delay. */
  settleMaxMs?: number;
  /** After the listener closes, how long in-flight requests may take before their sockets are cut. */
  drainTimeoutMs?: number;
  /**
   * After the listener closes, a connection with no request in flight is closed once it has been
   * idle this long (a client that just received a response may already be sending the next
   * request; closing under it would fail that request).
   */
  idleGraceMs?: number;
  /** Default timeout of each cleanup hook. */
  hookTimeoutMs?: number;
  /**
   * Time kept at the end of `deadlineMs` to flush and close what Vigil packages registered
   * (tracing's queued spans, file loggers), after the hooks. The drain and the hooks are cut when
   * only this much is left. A flush that gives up is a warning, never exit code 1. 0: no flush.
   */
  flushTimeoutMs?: number;
  /** From the signal to a forced exit (code 124) naming what was still pending. */
  deadlineMs?: number;
  /** Log `uncaughtException` / `unhandledRejection`, then shut down gracefully with exit code 1. */
  handleUncaught?: boolean;
  /** Called with the exit code at the end. Default `process.exit`. Inject it in tests. */
  exit?: (code: number) => void;
  /** Where progress and failures are logged. Default: JSON lines on stderr. `false` for none. */
  logger?: ShutdownLogger | false;
}

export interface Shutdown {
  readonly state: ShutdownState;
  /** Drain another server or app too. Returns a function that removes it. */
  addServer(target: ShutdownTarget): () => void;
  /**
   * Register a cleanup hook (close a DB pool, quit Redis). Hooks run one at a time in reverse order
   * of registration, each with its timeout, after the servers closed and before Vigil flushes
   * tracing and loggers (no hook needed for those). Returns a function that removes it.
   */
  addHook(name: string, hook: ShutdownHook, options?: ShutdownHookOptions): () => void;
  /** Called with the new state on every change; returns an unsubscribe function. */
  onStateChange(listener: (state: ShutdownState) => void): () => void;
  /** Start the shutdown without a signal. Resolves with the exit code once exit has been called. */
  trigger(reason?: string): Promise<number>;
  /** Remove the signal (and uncaught) handlers; a shutdown in progress continues. Idempotent. */
  close(): Promise<void>;
}
