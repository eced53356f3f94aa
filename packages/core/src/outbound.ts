import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The process-wide "not observed here" mark for outbound HTTP requests: requests started inside
 * `untrackedOutbound(fn)` are skipped by `@vigil/resilience`'s `instrumentOutbound()`, because a
 * client records them itself (the resilient HTTP client) or because the caller opted out.
 *
 * Shared through a `Symbol.for` key, so the ESM and CommonJS builds (and duplicated installs) see
 * one mark; versioned like the tracing hook.
 */
const UNTRACKED: unique symbol = Symbol.for('vigil.outbound.untracked/1') as never;

type Globals = { [UNTRACKED]?: AsyncLocalStorage<true> };

/** Runs `fn` so that the outbound HTTP requests it starts (now or later in its async flow) are not observed. */
export function untrackedOutbound<T>(fn: () => T): T {
  const g = globalThis as Globals;
  g[UNTRACKED] ??= new AsyncLocalStorage<true>();
  return g[UNTRACKED].run(true, fn);
}

/** Whether the current async flow runs inside `untrackedOutbound()`. */
export function isOutboundUntracked(): boolean {
  return (globalThis as Globals)[UNTRACKED]?.getStore() === true;
}
