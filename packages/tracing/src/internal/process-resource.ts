/**
 * Registration in the process-wide list of resources that `@vigil/shutdown` flushes after its
 * hooks (the contract is defined in @vigil/shutdown's process-resources.ts: a `Set` under this
 * `Symbol.for` key of globalThis). Tracing does not depend on @vigil/shutdown, so it adds itself
 * to that set here.
 */
const PROCESS_RESOURCES = Symbol.for('vigil.process.resources');

export interface ProcessResource {
  readonly name: string;
  /** 0: telemetry, closed before the loggers (100). */
  readonly order: number;
  close(budget: { readonly timeoutMs: number }): Promise<unknown>;
}

/** Adds `resource` to the process's list; returns the function that removes it. */
export function registerProcessResource(resource: ProcessResource): () => void {
  const g = globalThis as { [PROCESS_RESOURCES]?: Set<ProcessResource> };
  g[PROCESS_RESOURCES] ??= new Set();
  const set = g[PROCESS_RESOURCES];
  set.add(resource);
  return () => {
    set.delete(resource);
  };
}
