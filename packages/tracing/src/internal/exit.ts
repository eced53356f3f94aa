import type { Tracing } from '../types.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Flush spans when the process ends, without changing how it ends (the register entry's default):
 *
 * - `beforeExit` (the event loop ran empty): flush, bounded by `shutdownTimeoutMs`.
 * - SIGTERM / SIGINT when no other listener handles the signal: flush (bounded), then re-raise the
 *   signal with Node's default action, so the process still dies of it (exit status 143 / 130).
 *   When the application listens too, Vigil leaves the signal to it: @vigil/shutdown flushes
 *   tracing by itself; an application of its own should call `getTracing()?.close()` before exit.
 *
 * Returns a function that removes the listeners.
 */
export function installExitFlush(tracing: Tracing): () => void {
  const onBeforeExit = () => {
    void tracing.close();
  };
  const handlers = new Map<NodeJS.Signals, () => void>();
  const remove = () => {
    process.removeListener('beforeExit', onBeforeExit);
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    handlers.clear();
  };
  for (const sig of SIGNALS) {
    const h = () => {
      if (process.listenerCount(sig) > 1) return;
      remove();
      tracing.close().finally(() => process.kill(process.pid, sig));
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  process.once('beforeExit', onBeforeExit);
  return remove;
}
