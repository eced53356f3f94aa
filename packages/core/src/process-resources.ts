/**
 * Process resources: what a Vigil package owns for the whole process and must flush before the
 * process exits (tracing's span queue, a file logger's buffer). Each registers itself while it
 * runs; `@vigil/shutdown` flushes and closes them, bounded, after the servers drained and the hooks
 * ran, so users write no hook for them.
 *
 * The contract between packages that do not depend on each other (tracing and the logger do not
 * depend on shutdown): a `Set` of `ProcessResource` under the `Symbol.for('vigil.process.resources')`
 * key of `globalThis`, shared by every copy of every package in the process (ESM and CommonJS
 * builds, duplicated installs).
 */
export const PROCESS_RESOURCES: unique symbol = Symbol.for('vigil.process.resources');

/** The order groups: resources of one group close together, groups in ascending order. */
export const RESOURCE_ORDER = Object.freeze({
  /** Tracing and other telemetry: first, so that what they report still reaches the logs. */
  telemetry: 0,
  /** Loggers: last, so every other step's lines are written. */
  logs: 100,
});

/** What a resource reports once closed. */
export interface ProcessResourceReport {
  /** Items it gave up on (spans, log lines): more than 0 makes the flush a warning, never a failure. */
  readonly dropped?: number;
  /** What `dropped` counts, plural: `spans`, `lines`. */
  readonly unit?: string;
  /** Where the drops are also counted, such as a metric name. */
  readonly countedIn?: string;
}

export interface ProcessResource {
  /** For log lines: `tracing`, `logger /var/log/app.log`. */
  readonly name: string;
  /** Its group, see `RESOURCE_ORDER`. */
  readonly order: number;
  /**
   * Flush and release within `timeoutMs`, whatever the far end does (a hung collector, a stalled
   * pipe): what cannot be flushed by then is dropped and reported. Called at most once.
   */
  close(budget: { readonly timeoutMs: number }): unknown;
}

function registry(): Set<ProcessResource> {
  const g = globalThis as { [PROCESS_RESOURCES]?: Set<ProcessResource> };
  g[PROCESS_RESOURCES] ??= new Set();
  return g[PROCESS_RESOURCES];
}

/** Registers a resource; returns the function that removes it (call it when it closes by itself). */
export function registerProcessResource(resource: ProcessResource): () => void {
  const set = registry();
  set.add(resource);
  return () => {
    set.delete(resource);
  };
}

/** The registered resources, grouped by `order` (ascending). */
export function processResourceGroups(): ProcessResource[][] {
  const byOrder = new Map<number, ProcessResource[]>();
  for (const r of registry()) {
    const group = byOrder.get(r.order);
    if (group) group.push(r);
    else byOrder.set(r.order, [r]);
  }
  return [...byOrder.entries()].sort((a, b) => a[0] - b[0]).map(([, group]) => group);
}
