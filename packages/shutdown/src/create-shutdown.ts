import { constants } from 'node:os';
import {
  checkFunction,
  checkKnownKeys,
  checkMs,
  checkObject,
  checkString,
  VigilOptionError,
} from '@vigil/core';
import { errorFields } from './internal/logger.js';
import { resolveOptions } from './internal/options.js';
import { ShutdownSequence } from './internal/sequence.js';
import { installProcessHandlers } from './internal/signals.js';
import type { Shutdown, ShutdownHookOptions, ShutdownOptions } from './types.js';

export { SHUTDOWN_DEFAULTS, SHUTDOWN_EXIT_CODES } from './internal/options.js';

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
  const o = resolveOptions(options);
  const log = o.log;
  const seq = new ShutdownSequence(o);

  const onSignal = (signal: NodeJS.Signals) => {
    if (!seq.started) {
      void seq.start(signal);
      return;
    }
    const code = 128 + (constants.signals[signal] ?? 0);
    log.warn(
      { signal, state: seq.state, pending: seq.pending(), code },
      `second ${signal}: exiting now with ${code}`,
    );
    seq.exit(code);
  };
  const onUncaught = (err: unknown, origin?: string) => {
    const during = seq.started;
    seq.markFailed();
    log.error(
      { origin: origin ?? 'uncaughtException', err: errorFields(err, true) },
      during ? 'uncaught error during shutdown' : 'uncaught error: shutting down gracefully',
    );
    void seq.start(origin ?? 'uncaughtException');
  };
  const uninstall = installProcessHandlers(o.signals, o.handleUncaught, { onSignal, onUncaught });

  let closing: Promise<void> | undefined;
  return {
    get state() {
      return seq.state;
    },
    addServer(target) {
      return seq.addServer('addServer(target)', target);
    },
    addHook(name, hook, ho?: ShutdownHookOptions) {
      checkString('addHook(name)', name, /^.{1,100}$/, 'a non-empty name');
      checkFunction('addHook(hook)', hook);
      if (hook === undefined) throw new VigilOptionError('addHook(hook)', 'a function', hook);
      const h = checkObject('addHook(options)', ho);
      checkKnownKeys('addHook(options).', h, ['timeoutMs']);
      return seq.addHook(name, hook, checkMs('timeoutMs', h.timeoutMs, 1));
    },
    onStateChange(listener) {
      checkFunction('onStateChange(listener)', listener);
      return seq.onStateChange(listener);
    },
    trigger(reason) {
      checkString('trigger(reason)', reason);
      return seq.start(reason ?? 'trigger()');
    },
    close() {
      closing ??= (async () => {
        uninstall();
        seq.dispose();
      })();
      return closing;
    },
  };
}
