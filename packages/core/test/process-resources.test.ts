import { describe, expect, it } from 'vitest';
import {
  PROCESS_RESOURCES,
  type ProcessResource,
  processResourceGroups,
  RESOURCE_ORDER,
  registerProcessResource,
} from '../src/index.js';

const resource = (name: string, order: number): ProcessResource => ({ name, order, close: () => undefined });

describe('process resources', () => {
  it('groups registered resources by order, ascending; unregistering removes one', () => {
    const offs = [
      registerProcessResource(resource('logger a', RESOURCE_ORDER.logs)),
      registerProcessResource(resource('tracing', RESOURCE_ORDER.telemetry)),
      registerProcessResource(resource('logger b', RESOURCE_ORDER.logs)),
    ];
    try {
      expect(processResourceGroups().map((g) => g.map((r) => r.name))).toEqual([
        ['tracing'],
        ['logger a', 'logger b'],
      ]);
      offs[0]?.();
      expect(processResourceGroups().map((g) => g.map((r) => r.name))).toEqual([['tracing'], ['logger b']]);
    } finally {
      for (const off of offs) off();
    }
    expect(processResourceGroups()).toEqual([]);
  });

  it('the list is process-wide: a copy of the package that adds to the Symbol.for set is seen', () => {
    // What another copy does: the set under the shared key, created by whichever copy came first.
    const g = globalThis as Record<symbol, Set<ProcessResource> | undefined>;
    const key = Symbol.for('vigil.process.resources');
    g[key] ??= new Set();
    const set = g[key];
    expect(PROCESS_RESOURCES).toBe(Symbol.for('vigil.process.resources'));
    const other = resource('from another copy', RESOURCE_ORDER.telemetry);
    set.add(other);
    try {
      expect(processResourceGroups().flat()).toContain(other);
    } finally {
      set.delete(other);
    }
  });
});
