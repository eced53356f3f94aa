import type { MetricDefinition } from '@vigil/catalog';
import { isRegistry, VigilOptionError } from '@vigil/core';
import { acquireInstruments, type HistogramSeries, type Instruments, type Registry } from '@vigil/metrics';
import type { InstrumentationOptions } from '../types.js';

/**
 * This package's metrics, through @vigil/metrics' instrument layer (catalog definitions, the
 * handle's prefix, default labels and series cap).
 *
 * Hot paths only bump plain numbers (`counts[i]++`) that each breaker, policy or client owns; the
 * counters and gauges read them at scrape time. Histograms are recorded as calls end, into series
 * bound once per handle: nothing is looked up per call.
 */

/** Most distinct names (breakers, policies, targets) one family accepts per registry. */
export const MAX_NAMES_PER_REGISTRY = 100;

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

type Source = () => readonly Sample[];

/** Names in use per family and instruments: two open handles must not share a label set. */
const used = new WeakMap<Instruments, Map<string, Set<string>>>();

function namesOf(ins: Instruments, def: MetricDefinition): Set<string> {
  let byDef = used.get(ins);
  if (byDef === undefined) {
    byDef = new Map();
    used.set(ins, byDef);
  }
  let names = byDef.get(def.name);
  if (names === undefined) {
    names = new Set();
    byDef.set(def.name, names);
  }
  return names;
}

/**
 * Adds counters and gauges read from `source` at scrape time, for the handle named `key`: validates
 * every addition first (a failure leaves nothing behind), returns the function that removes them.
 * An entry without a source only claims the name (a histogram the handle records into itself).
 */
export function attach(
  ins: Instruments,
  option: string,
  entries: ReadonlyArray<readonly [MetricDefinition, string, Source | undefined]>,
): () => void {
  for (const [def, key] of entries) {
    const names = namesOf(ins, def);
    if (names.has(key)) {
      throw new VigilOptionError(
        option,
        `a name not used by another open handle in the same registry (for ${def.name}; close the other one first)`,
        key,
      );
    }
    if (names.size >= MAX_NAMES_PER_REGISTRY) {
      throw new VigilOptionError(
        option,
        `at most ${MAX_NAMES_PER_REGISTRY} distinct names per registry for ${def.name} (names are label values: create handles once, not per request)`,
        key,
      );
    }
  }
  const offs: Array<() => void> = [];
  for (const [def, key, source] of entries) {
    namesOf(ins, def).add(key);
    if (source === undefined) {
      ins.instrument(def as MetricDefinition<readonly string[], 'histogram'>); // in the exposition from the start
      offs.push(() => namesOf(ins, def).delete(key));
      continue;
    }
    const family = ins.instrument(def as MetricDefinition<readonly string[], 'gauge'>);
    const counter = def.type === 'counter';
    const sets = new Map<string, readonly string[]>();
    const stop = family.collect(() => {
      for (const s of source()) {
        const values = def.labels.map((l) => s.labels[l] ?? '');
        const series = family.labels(...values) as unknown as {
          value: number;
          set?(v: number): void;
          inc?(n: number): void;
        };
        sets.set(values.join('\u0000'), values);
        // A mirrored counter only ever moves up by what its source added since the last scrape.
        if (counter) {
          const delta = s.value - series.value;
          if (delta > 0) series.inc?.(delta);
        } else series.set?.(s.value);
      }
    });
    offs.push(() => {
      stop();
      for (const values of sets.values()) family.remove(...values);
      namesOf(ins, def).delete(key);
    });
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const off of offs) off();
  };
}

/** A histogram series bound to fixed labels (in the definition's label order). */
export function histogram(
  ins: Instruments,
  def: MetricDefinition,
  values: readonly string[],
): HistogramSeries {
  return ins.instrument(def as MetricDefinition<readonly string[], 'histogram'>).labels(...values);
}

/** Removes a histogram's label set (when its handle closes). */
export function removeHistogram(ins: Instruments, def: MetricDefinition, values: readonly string[]): void {
  ins.instrument(def as MetricDefinition<readonly string[], 'histogram'>).remove(...values);
}

/**
 * Where an options object's metrics go: a metrics handle records through its own instruments; a
 * registry (or none: a private one) through instruments shared per registry. `release()` when the
 * handle closes.
 */
export function resolveInstruments(o: Pick<InstrumentationOptions, 'registry' | 'metrics'>): {
  instruments: Instruments;
  release(): Promise<void>;
} {
  const { registry, metrics } = o;
  if (registry !== undefined && !isRegistry(registry)) {
    throw new VigilOptionError('registry', 'a prom-client Registry', registry);
  }
  if (metrics !== undefined) {
    if (typeof metrics !== 'object' || metrics === null || !isRegistry(metrics.registry)) {
      throw new VigilOptionError('metrics', 'a Vigil metrics handle (from createMetrics())', metrics);
    }
    if (registry !== undefined && registry !== metrics.registry) {
      throw new VigilOptionError(
        'registry',
        'the same registry as metrics.registry (pass one of them)',
        registry,
      );
    }
    if (typeof (metrics as Partial<Instruments>).instrument === 'function') {
      return { instruments: metrics as unknown as Instruments, release: async () => {} };
    }
    return acquireInstruments(metrics.registry as Registry);
  }
  return acquireInstruments(registry);
}
