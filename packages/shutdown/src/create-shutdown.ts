import { Server as NetServer } from 'node:net';
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkMs,
  checkObject,
  checkString,
  VigilOptionError,
} from '@vigil/core';
import { type ServerDrain, trackServer } from './internal/drain.js';
import { safeLogger, silentLogger, stderrLogger } from './internal/logger.js';
import type {
  Shutdown,
  ShutdownHook,
  ShutdownHookOptions,
  ShutdownLogger,
  ShutdownOptions,
  ShutdownReadiness,
  ShutdownState,
} from './types.js';

/**
 * Defaults for `createShutdown`; the README's options table lists exactly these (a test checks it).
 *
 * They fit Kubernetes' default `terminationGracePeriodSeconds: 30` with no `preStop` hook:
 * 5 s drain delay + up to 10 s for in-flight requests + hooks, all inside the 25 s deadline, which
 * leaves 5 s before the kubelet's SIGKILL.
 */
export const SHUTDOWN_DEFAULTS = Object.freeze({
  /** Signals that start a shutdown. */
  signals: Object.freeze(['SIGTERM', 'SIGINT']) as readonly NodeJS.Signals[],
  /**
   * Keep serving this long after the signal while readiness fails. Endpoint removal takes a few
   * seconds to reach kube-proxy, ingress controllers and cloud load balancers; on everywhere, not
   * only when Kubernetes is detected.
   */
  drainDelayMs: 5_000,
  /**
   * Before the listener closes, responses keep their connections again, and the listener closes
   * once every client told `Connection: close` during the drain has reconnected and no new
   * connection has arrived for this long: none is then left in the kernel's accept queue (which
   * resets them when the listener closes).
   */
  settleQuietMs: 50,
  /** Upper bound of that settle step (clients that open a connection per request never go quiet). */
  settleMaxMs: 500,
  /** After the listener closes, in-flight requests get this long before their sockets are cut. */
  drainTimeoutMs: 10_000,
  /** After the listener closes, an idle connection is closed once idle this long. */
  idleGraceMs: 500,
  /** Default timeout of each cleanup hook. */
  hookTimeoutMs: 5_000,
  /** From the signal to a forced exit with code 124. */
  deadlineMs: 25_000,
  /** Off: `uncaughtException` keeps Node's default (print and exit 1) unless enabled. */
  handleUncaught: false,
});

/** Exit codes. A second signal exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM). */
export const SHUTDOWN_EXIT_CODES = Object.freeze({
  /** Drained and every hook succeeded. */
  ok: 0,
  /** A hook failed or timed out, requests were cut at the drain timeout, or the cause was a crash. */
  failed: 1,
  /** The global deadline passed. */
  deadline: 124,
});

const KNOWN = [
  'servers',
  'health',
  'signals',
  'drainDelayMs',
  'drainUntil',
  'settleQuietMs',
  'settleMaxMs',
  'drainTimeoutMs',
  'idleGraceMs',
  'hookTimeoutMs',
  'deadlineMs',
  'handleUncaught',
  'exit',
  'logger',
] as const;
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);
/** Signals held by live handles in this process (across copies of this package). */
const ACTIVE = Symbol.for('vigil.shutdown.signals');

interface Hook {
  readonly name: string;
  readonly fn: ShutdownHook;
  readonly timeoutMs: number;
}

interface Target {
  readonly server: NetServer;
  readonly close: (() => unknown) | undefined;
  readonly label: string;
  drain: ServerDrain;
}

/**
 * Graceful shutdown for an HTTP service, as one sequence:
 *
 * 1. signal → every `health` handle's readiness fails at once;
 * 2. keep serving for `drainDelayMs`, every response carrying `Connection: close`;
 * 3. stop accepting, let in-flight requests finish (each connection is closed once its response
 *    is out or it has been idle `idleGraceMs`), then `close()` apps such as Fastify;
 * 4. run hooks in reverse order of registration, each with its timeout;
 * 5. `exit(0)`, or 1 when something failed; `deadlineMs` after the signal, `exit(124)` naming what
 *    was pending. A second signal exits at once.
 *
 * Creating the handle installs the signal handlers; `close()` removes them.
 */
export function createShutdown(options?: ShutdownOptions): Shutdown {
  const input = checkObject('options', options);
  checkKnownKeys('', input, KNOWN);
  const signals = resolveSignals(input.signals);
  const drainUntil = checkFunction<NonNullable<ShutdownOptions['drainUntil']>>(
    'drainUntil',
    input.drainUntil,
  );
  if (drainUntil && input.drainDelayMs !== undefined) {
    throw new VigilOptionError(
      'drainDelayMs',
      'no drainDelayMs together with drainUntil',
      input.drainDelayMs,
    );
  }
  const o = {
    drainDelayMs: checkMs('drainDelayMs', input.drainDelayMs, 0) ?? SHUTDOWN_DEFAULTS.drainDelayMs,
    settleQuietMs: checkMs('settleQuietMs', input.settleQuietMs, 1) ?? SHUTDOWN_DEFAULTS.settleQuietMs,
    settleMaxMs: checkMs('settleMaxMs', input.settleMaxMs, 0) ?? SHUTDOWN_DEFAULTS.settleMaxMs,
    drainTimeoutMs: checkMs('drainTimeoutMs', input.drainTimeoutMs, 0) ?? SHUTDOWN_DEFAULTS.drainTimeoutMs,
    idleGraceMs: checkMs('idleGraceMs', input.idleGraceMs, 0) ?? SHUTDOWN_DEFAULTS.idleGraceMs,
    hookTimeoutMs: checkMs('hookTimeoutMs', input.hookTimeoutMs, 1) ?? SHUTDOWN_DEFAULTS.hookTimeoutMs,
    deadlineMs: checkMs('deadlineMs', input.deadlineMs, 1) ?? SHUTDOWN_DEFAULTS.deadlineMs,
    handleUncaught: checkBoolean('handleUncaught', input.handleUncaught) ?? SHUTDOWN_DEFAULTS.handleUncaught,
  };
  if (!drainUntil && o.deadlineMs <= o.drainDelayMs) {
    throw new VigilOptionError('deadlineMs', `more than drainDelayMs (${o.drainDelayMs})`, o.deadlineMs);
  }
  const exit =
    checkFunction<(code: number) => void>('exit', input.exit) ?? ((code: number) => process.exit(code));
  const log = resolveLogger(input.logger);
  const readiness = resolveHealth(input.health);
  const serversIn = input.servers;
  if (serversIn !== undefined && !Array.isArray(serversIn)) {
    throw new VigilOptionError(
      'servers',
      'an array of http servers or apps with { server, close() }',
      serversIn,
    );
  }
  const now = () => performance.now();

  const targets = new Set<Target>();
  (serversIn ?? []).forEach((t: unknown, i: number) => {
    targets.add(resolveTarget(`servers[${i}]`, t));
  });
  const hooks: Hook[] = [];
  const listeners = new Set<(s: ShutdownState) => void>();
  let state: ShutdownState = 'running';
  let sequence: Promise<number> | undefined;
  let exited: number | undefined;
  let failed = false;
  let startedAt = 0;
  let pendingDescription = (): string => 'nothing';
  let closed = false;
  let settle: ((code: number) => void) | undefined;

  function resolveTarget(where: string, t: unknown): Target {
    if (t instanceof NetServer) {
      return { server: t, close: undefined, label: where, drain: trackServer(t, o.idleGraceMs, now) };
    }
    const app = t as { server?: unknown; close?: unknown } | null;
    if (
      typeof app === 'object' &&
      app !== null &&
      app.server instanceof NetServer &&
      typeof app.close === 'function'
    ) {
      const server = app.server;
      const close = app.close as () => unknown;
      return {
        server,
        close: () => close.call(app),
        label: where,
        drain: trackServer(server, o.idleGraceMs, now),
      };
    }
    throw new VigilOptionError(
      where,
      'an http server or an app with { server, close() } (such as Fastify)',
      t,
    );
  }

  function setState(next: ShutdownState): void {
    state = next;
    for (const l of listeners) {
      try {
        l(next);
      } catch (err) {
        log.warn({ err: errorFields(err) }, 'a shutdown state listener threw');
      }
    }
  }

  function doExit(code: number): void {
    if (exited !== undefined) return;
    exited = code;
    clearTimeout(deadlineTimer);
    try {
      exit(code);
    } finally {
      settle?.(code);
    }
  }

  let deadlineTimer: NodeJS.Timeout | undefined;

  async function run(reason: string): Promise<void> {
    startedAt = now();
    // Ref'd on purpose: the deadline must fire even when nothing else keeps the process alive.
    deadlineTimer = setTimeout(onDeadline, o.deadlineMs);
    for (const r of readiness) {
      try {
        r.beginShutdown();
      } catch (err) {
        log.error({ err: errorFields(err) }, 'beginShutdown() of a health handle threw');
      }
    }
    for (const t of targets) t.drain.begin();
    setState('draining');
    log.info(
      { reason, drainDelayMs: drainUntil ? undefined : o.drainDelayMs, servers: targets.size },
      `${reason}: readiness now fails; serving with Connection: close until the drain ${drainUntil ? 'condition is met' : `delay of ${o.drainDelayMs} ms ends`}`,
    );

    const delayStart = now();
    pendingDescription = () =>
      drainUntil
        ? 'the drainUntil condition'
        : `the drain delay (${Math.max(0, Math.round(o.drainDelayMs - (now() - delayStart)))} ms left)`;
    if (drainUntil) {
      const ac = new AbortController();
      const abortAtDeadline = setTimeout(() => ac.abort(new Error('shutdown deadline')), o.deadlineMs);
      abortAtDeadline.unref();
      try {
        await drainUntil({ signal: ac.signal });
      } catch (err) {
        log.warn({ err: errorFields(err) }, 'drainUntil rejected; stopping now');
      } finally {
        clearTimeout(abortAtDeadline);
      }
    } else if (o.drainDelayMs > 0) {
      await new Promise((r) => setTimeout(r, o.drainDelayMs));
    }

    setState('stopping');
    const stopStart = now();
    pendingDescription = () => describeDrains();
    await Promise.all(
      [...targets].map(async (t) => {
        const settled =
          o.settleMaxMs > 0
            ? await t.drain.settle(o.settleQuietMs, o.settleMaxMs)
            : { ms: 0, quiet: true, awaited: 0 };
        const { requests } = t.drain.pending();
        log.info(
          {
            server: t.label,
            settleMs: settled.ms,
            quiet: settled.quiet,
            reconnectsAwaited: settled.awaited,
            inFlight: requests.length,
          },
          `${t.label}: stopped accepting connections; finishing ${requests.length} request(s) in flight`,
        );
        const { cut, idleClosedFresh, idleClosedUsed } = await t.drain.stop(o.drainTimeoutMs);
        log.info(
          { server: t.label, ms: Math.round(now() - stopStart), idleClosedFresh, idleClosedUsed, cut },
          `${t.label}: drained`,
        );
        if (cut > 0) {
          failed = true;
          log.error(
            { server: t.label, cut },
            `drain timeout of ${o.drainTimeoutMs} ms: cut ${cut} request(s) in flight`,
          );
        }
        if (t.close) {
          const ok = await runStep(`${t.label}.close()`, () => t.close?.(), o.hookTimeoutMs);
          if (!ok) failed = true;
        }
      }),
    );
    log.info({ ms: Math.round(now() - stopStart) }, 'servers closed');

    setState('hooks');
    const order = [...hooks].reverse();
    for (let i = 0; i < order.length; i++) {
      const h = order[i] as Hook;
      const rest = order.slice(i + 1).map((x) => x.name);
      pendingDescription = () =>
        `hook "${h.name}"${rest.length ? ` (then ${rest.map((n) => `"${n}"`).join(', ')})` : ''}`;
      const ok = await runStep(`hook "${h.name}"`, h.fn, h.timeoutMs);
      if (!ok) failed = true;
    }
  }

  /** Run one step with a timeout; log and return false when it throws or times out. */
  async function runStep(label: string, fn: ShutdownHook, timeoutMs: number): Promise<boolean> {
    const ac = new AbortController();
    const t0 = now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'timeout');
    });
    try {
      const r = await Promise.race([Promise.resolve().then(() => fn({ signal: ac.signal })), timeout]);
      if (r === 'timeout') {
        ac.abort(new Error(`${label} timed out`));
        log.error({ step: label, timeoutMs }, `${label} timed out after ${timeoutMs} ms; abandoned`);
        return false;
      }
      return true;
    } catch (err) {
      log.error({ step: label, ms: Math.round(now() - t0), err: errorFields(err) }, `${label} failed`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  function describeDrains(): string {
    const parts: string[] = [];
    for (const t of targets) {
      const p = t.drain.pending();
      if (p.connections === 0 && p.requests.length === 0) continue;
      const reqs = p.requests
        .slice(0, 5)
        .map((r) => `${r.method} ${r.path} (${(r.ms / 1000).toFixed(1)} s)`)
        .join(', ');
      parts.push(
        `${t.label}: ${p.connections} connection(s), ${p.requests.length} request(s) in flight${reqs ? `: ${reqs}` : ''}`,
      );
    }
    return parts.length ? parts.join('; ') : 'closing servers';
  }

  function onDeadline(): void {
    const pending = pendingDescription();
    log.error(
      { deadlineMs: o.deadlineMs, state, pending },
      `shutdown deadline of ${o.deadlineMs} ms passed; still pending: ${pending}; exiting with ${SHUTDOWN_EXIT_CODES.deadline}`,
    );
    doExit(SHUTDOWN_EXIT_CODES.deadline);
  }

  function start(reason: string): Promise<number> {
    if (sequence) return sequence;
    sequence = new Promise<number>((resolve) => {
      settle = resolve;
    });
    run(reason).then(
      () => {
        if (exited !== undefined) return;
        setState('exiting');
        const code = failed ? SHUTDOWN_EXIT_CODES.failed : SHUTDOWN_EXIT_CODES.ok;
        log.info({ code, ms: Math.round(now() - startedAt) }, `shutdown complete; exiting with ${code}`);
        doExit(code);
      },
      (err) => {
        log.error({ err: errorFields(err) }, 'shutdown sequence failed');
        doExit(SHUTDOWN_EXIT_CODES.failed);
      },
    );
    return sequence;
  }

  const onSignal = (signal: NodeJS.Signals) => {
    if (!sequence) {
      void start(signal);
      return;
    }
    const code = 128 + (constants.signals[signal] ?? 0);
    log.warn(
      { signal, state, pending: pendingDescription(), code },
      `second ${signal}: exiting now with ${code}`,
    );
    doExit(code);
  };
  const onUncaught = (err: unknown, origin?: string) => {
    failed = true;
    log.error(
      { origin: origin ?? 'uncaughtException', err: errorFields(err, true) },
      sequence ? 'uncaught error during shutdown' : 'uncaught error: shutting down gracefully',
    );
    void start(origin ?? 'uncaughtException');
  };
  const onRejection = (reason: unknown) => onUncaught(reason, 'unhandledRejection');

  // Install the process-wide handlers (the one side effect of this package, owned by the handle).
  const active = activeSignals();
  for (const s of signals) {
    if (active.has(s)) {
      throw new VigilOptionError(
        'signals',
        `signals no other live createShutdown() handle listens to (close that one first)`,
        s,
      );
    }
  }
  for (const s of signals) {
    active.add(s);
    process.on(s, onSignal);
  }
  if (o.handleUncaught) {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
  }

  let closing: Promise<void> | undefined;
  return {
    get state() {
      return state;
    },
    addServer(target) {
      const t = resolveTarget('addServer(target)', target);
      targets.add(t);
      if (sequence) t.drain.begin();
      return () => {
        if (state === 'running') {
          targets.delete(t);
          t.drain.dispose();
        }
      };
    },
    addHook(name, hook, ho?: ShutdownHookOptions) {
      checkString('addHook(name)', name, /^.{1,100}$/, 'a non-empty name');
      checkFunction('addHook(hook)', hook);
      if (hook === undefined) throw new VigilOptionError('addHook(hook)', 'a function', hook);
      const h = checkObject('addHook(options)', ho);
      checkKnownKeys('addHook(options).', h, ['timeoutMs']);
      const entry: Hook = {
        name,
        fn: hook,
        timeoutMs: checkMs('timeoutMs', h.timeoutMs, 1) ?? o.hookTimeoutMs,
      };
      hooks.push(entry);
      return () => {
        const i = hooks.indexOf(entry);
        if (i >= 0 && (state === 'running' || state === 'draining' || state === 'stopping'))
          hooks.splice(i, 1);
      };
    },
    onStateChange(listener) {
      checkFunction('onStateChange(listener)', listener);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    trigger(reason) {
      checkString('trigger(reason)', reason);
      return start(reason ?? 'trigger()');
    },
    close() {
      closing ??= (async () => {
        if (closed) return;
        closed = true;
        for (const s of signals) {
          process.off(s, onSignal);
          active.delete(s);
        }
        if (o.handleUncaught) {
          process.off('uncaughtException', onUncaught);
          process.off('unhandledRejection', onRejection);
        }
        if (!sequence) for (const t of targets) t.drain.dispose();
      })();
      return closing;
    },
  };
}

function activeSignals(): Set<string> {
  const g = globalThis as { [ACTIVE]?: Set<string> };
  g[ACTIVE] ??= new Set();
  return g[ACTIVE];
}

function resolveSignals(v: unknown): readonly NodeJS.Signals[] {
  if (v === undefined) return SHUTDOWN_DEFAULTS.signals;
  if (!Array.isArray(v)) throw new VigilOptionError('signals', 'an array of signal names', v);
  for (const s of v) {
    if (typeof s !== 'string' || !(s in constants.signals) || UNCATCHABLE.has(s)) {
      throw new VigilOptionError('signals', 'catchable signal names such as "SIGTERM"', s);
    }
  }
  return Object.freeze([...new Set(v as NodeJS.Signals[])]);
}

function resolveLogger(v: unknown): ShutdownLogger {
  if (v === undefined) return stderrLogger;
  if (v === false) return silentLogger;
  const l = v as Partial<ShutdownLogger> | null;
  if (
    typeof l !== 'object' ||
    l === null ||
    typeof l.info !== 'function' ||
    typeof l.warn !== 'function' ||
    typeof l.error !== 'function'
  ) {
    throw new VigilOptionError('logger', 'a logger with info, warn and error (pino works) or false', v);
  }
  return safeLogger(l as ShutdownLogger);
}

function resolveHealth(v: unknown): readonly ShutdownReadiness[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  list.forEach((h: unknown, i) => {
    if (typeof h !== 'object' || h === null || typeof (h as ShutdownReadiness).beginShutdown !== 'function') {
      throw new VigilOptionError(
        Array.isArray(v) ? `health[${i}]` : 'health',
        'a handle with beginShutdown() (from createHealth())',
        h,
      );
    }
  });
  return list as ShutdownReadiness[];
}

function errorFields(err: unknown, stack = false): Record<string, unknown> {
  if (err instanceof Error) {
    return stack
      ? { type: err.name, message: err.message, stack: err.stack }
      : { type: err.name, message: err.message };
  }
  return { message: String(err) };
}
