import { executionAsyncResource } from 'node:async_hooks';

const TICK_PENDING = Object.freeze({});
let pinned: object | undefined;

/**
 * Keeps one `process.nextTick` tick object alive for the life of the process: with none alive, a few
 * full GCs (as at start-up) replace their hidden class until V8 marks nextTick's literal stores
 * megamorphic, a slow path for every nextTick from then on (bench/README.md).
 */
export function pinTickObjectShape(): void {
  if (pinned !== undefined) return;
  pinned = TICK_PENDING;
  // Inside a tick's callback, the current async resource is that tick's object.
  process.nextTick(() => {
    pinned = executionAsyncResource();
  });
}

/** The object kept alive (for the test that pins this Node behaviour), once the tick ran. */
export function pinnedTickObject(): object | undefined {
  return pinned === TICK_PENDING ? undefined : pinned;
}
