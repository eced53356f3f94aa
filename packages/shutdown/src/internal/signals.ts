import { VigilOptionError } from '@vigil/core';

/** Signals held by live handles in this process (across copies of this package). */
const ACTIVE = Symbol.for('vigil.shutdown.signals');

function activeSignals(): Set<string> {
  const g = globalThis as { [ACTIVE]?: Set<string> };
  g[ACTIVE] ??= new Set();
  return g[ACTIVE];
}

export interface ProcessHandlers {
  readonly onSignal: (signal: NodeJS.Signals) => void;
  /** Installed only with `handleUncaught`. */
  readonly onUncaught: (err: unknown, origin?: string) => void;
}

/**
 * Install the process-wide handlers, the one side effect of this package, owned by the handle.
 * Two live handles on one signal would both drain and exit: refused with a `VigilOptionError`.
 * Returns the function that removes them again.
 */
export function installProcessHandlers(
  signals: readonly NodeJS.Signals[],
  handleUncaught: boolean,
  h: ProcessHandlers,
): () => void {
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
  const onRejection = (reason: unknown) => h.onUncaught(reason, 'unhandledRejection');
  for (const s of signals) {
    active.add(s);
    process.on(s, h.onSignal);
  }
  if (handleUncaught) {
    process.on('uncaughtException', h.onUncaught);
    process.on('unhandledRejection', onRejection);
  }
  return () => {
    for (const s of signals) {
      process.off(s, h.onSignal);
      active.delete(s);
    }
    if (handleUncaught) {
      process.off('uncaughtException', h.onUncaught);
      process.off('unhandledRejection', onRejection);
    }
  };
}
