import { constants } from 'node:os';
import {
  checkBoolean,
  checkFunction,
  checkKnownKeys,
  checkMs,
  checkObject,
  VigilOptionError,
} from '@vigil/core';
import type { ShutdownLogger, ShutdownOptions, ShutdownReadiness } from '../types.js';
import { safeLogger, silentLogger, stderrLogger } from './logger.js';

/**
 * Defaults for `createShutdown`; the README's options table lists exactly these (a test checks it).
 *
 * They fit Kubernetes' default `terminationGracePeriodSeconds: 30` with no `preStop` hook: the
 * 5 s drain delay, up to 0.5 s of settling and 10 s for in-flight requests, then the hooks, all done
 * by 22 s (the deadline less the flush); then at most 3 s to flush tracing and loggers, so the exit
 * comes by the 25 s deadline, 5 s before the kubelet's SIGKILL.
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
  /**
   * The last step, after the hooks: flush and close what Vigil packages registered (tracing's
   * queued spans, file loggers). Kept free at the end of `deadlineMs`: the drain and the hooks are
   * cut when only this much is left. What cannot be flushed in time is dropped, counted and logged
   * as a warning; it never changes the exit code.
   */
  flushTimeoutMs: 3_000,
  /** From the signal to a forced exit with code 124. */
  deadlineMs: 25_000,
  /** Off: `uncaughtException` keeps Node's default (print and exit 1) unless enabled. */
  handleUncaught: false,
});

/** Exit codes. A second signal exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM). */
export const SHUTDOWN_EXIT_CODES = Object.freeze({
  /** Drained and every hook succeeded. */
  ok: 0,
  /**
   * A hook failed or timed out, requests were cut (at the drain timeout, or when the time for the
   * drain and hooks ran out), or the cause was a crash. A flush that gave up is not a failure.
   */
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
  'flushTimeoutMs',
  'deadlineMs',
  'handleUncaught',
  'exit',
  'logger',
] as const;
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/** `createShutdown` options after validation, with defaults applied. */
export interface ResolvedOptions {
  readonly signals: readonly NodeJS.Signals[];
  readonly drainUntil: ShutdownOptions['drainUntil'];
  readonly drainDelayMs: number;
  readonly settleQuietMs: number;
  readonly settleMaxMs: number;
  readonly drainTimeoutMs: number;
  readonly idleGraceMs: number;
  readonly hookTimeoutMs: number;
  readonly flushTimeoutMs: number;
  readonly deadlineMs: number;
  readonly handleUncaught: boolean;
  readonly exit: (code: number) => void;
  readonly log: ShutdownLogger;
  readonly readiness: readonly ShutdownReadiness[];
  /** As given; each is checked when it is added to the sequence. */
  readonly servers: readonly unknown[];
}

/** Validate `createShutdown` options; every problem throws a `VigilOptionError` naming the option. */
export function resolveOptions(options: ShutdownOptions | undefined): ResolvedOptions {
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
  const timings = {
    drainDelayMs: checkMs('drainDelayMs', input.drainDelayMs, 0) ?? SHUTDOWN_DEFAULTS.drainDelayMs,
    settleQuietMs: checkMs('settleQuietMs', input.settleQuietMs, 1) ?? SHUTDOWN_DEFAULTS.settleQuietMs,
    settleMaxMs: checkMs('settleMaxMs', input.settleMaxMs, 0) ?? SHUTDOWN_DEFAULTS.settleMaxMs,
    drainTimeoutMs: checkMs('drainTimeoutMs', input.drainTimeoutMs, 0) ?? SHUTDOWN_DEFAULTS.drainTimeoutMs,
    idleGraceMs: checkMs('idleGraceMs', input.idleGraceMs, 0) ?? SHUTDOWN_DEFAULTS.idleGraceMs,
    hookTimeoutMs: checkMs('hookTimeoutMs', input.hookTimeoutMs, 1) ?? SHUTDOWN_DEFAULTS.hookTimeoutMs,
    flushTimeoutMs: checkMs('flushTimeoutMs', input.flushTimeoutMs, 0) ?? SHUTDOWN_DEFAULTS.flushTimeoutMs,
    deadlineMs: checkMs('deadlineMs', input.deadlineMs, 1) ?? SHUTDOWN_DEFAULTS.deadlineMs,
  };
  const handleUncaught =
    checkBoolean('handleUncaught', input.handleUncaught) ?? SHUTDOWN_DEFAULTS.handleUncaught;
  // The drain delay and the flush both have to fit before the deadline, with time left for the rest.
  const reserved = (drainUntil ? 0 : timings.drainDelayMs) + timings.flushTimeoutMs;
  if (timings.deadlineMs <= reserved) {
    throw new VigilOptionError(
      'deadlineMs',
      drainUntil
        ? `more than flushTimeoutMs (${timings.flushTimeoutMs})`
        : `more than drainDelayMs + flushTimeoutMs (${timings.drainDelayMs} + ${timings.flushTimeoutMs})`,
      timings.deadlineMs,
    );
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
  return {
    signals,
    drainUntil,
    ...timings,
    handleUncaught,
    exit,
    log,
    readiness,
    servers: (serversIn as unknown[] | undefined) ?? [],
  };
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
