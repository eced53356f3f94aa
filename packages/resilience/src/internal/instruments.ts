import type { MetricDefinition } from '@vigil/catalog';
import { Registry, VigilOptionError } from '@vigil/metrics';
import type { InstrumentationOptions } from '../types.js';

/**
 * Metric families of this package, registered in a prom-client Registry.
 *
 * Hot paths only bump plain numbers (`counts[i]++`): label sets are fixed per breaker / policy /
 * client at construction, so there is nothing to hash per call. The families implement
 * prom-client's metric interface (`get()`), so `registry.metrics()`, @vigil/metrics' `/metrics`
 * handler and `Registry.merge` see them like any other metric, and read the numbers at scrape time.
 *
 * A family is registered when its first series source is added and removed with its last, so
 * handles can be created and closed freely (one per test) without "already registered" errors.
 */

/** Most distinct names (breakers, policies, targets) one family accepts per registry. */
export const MAX_NAMES_PER_REGISTRY = 100;

export interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

type Source = () => PromValue[];

export class Family {
  readonly aggregator = 'sum';
  private readonly sources = new Map<string, Source>();
  constructor(
    readonly registry: Registry,
    readonly def: MetricDefinition,
  ) {}

  get name(): string {
    return this.def.name;
  }
  get help(): string {
    return this.def.help;
  }
  get type(): string {
    return this.def.type;
  }
  get labelNames(): readonly string[] {
    return this.def.labels;
  }

  has(key: string): boolean {
    return this.sources.has(key);
  }
  get size(): number {
    return this.sources.size;
  }

  /** Throws a `VigilOptionError` naming `option` when the key cannot be added. */
  checkAdd(key: string, option: string): void {
    if (this.sources.has(key)) {
      throw new VigilOptionError(
        option,
        `a name not used by another open handle in the same registry (for ${this.def.name}; close the other one first)`,
        key,
      );
    }
    if (this.sources.size >= MAX_NAMES_PER_REGISTRY) {
      throw new VigilOptionError(
        option,
        `at most ${MAX_NAMES_PER_REGISTRY} distinct names per registry for ${this.def.name} (names are label values: create handles once, not per request)`,
        key,
      );
    }
    const existing = this.registry.getSingleMetric(this.def.name);
    if (existing !== undefined && existing !== (this as unknown)) {
      throw new VigilOptionError(
        'registry',
        `a registry without a foreign metric named ${this.def.name}`,
        'a registry that has one',
      );
    }
  }

  add(key: string, source: Source): void {
    if (this.sources.size === 0 && this.registry.getSingleMetric(this.def.name) === undefined) {
      // prom-client's registerMetric is typed for its own classes; it only needs name and get().
      (this.registry as unknown as { registerMetric(m: unknown): void }).registerMetric(this);
    }
    this.sources.set(key, source);
  }

  delete(key: string): void {
    if (!this.sources.delete(key)) return;
    if (this.sources.size === 0 && this.registry.getSingleMetric(this.def.name) === (this as unknown)) {
      this.registry.removeSingleMetric(this.def.name);
    }
  }

  get() {
    const values: PromValue[] = [];
    for (const source of this.sources.values()) {
      const vs = source();
      for (let i = 0; i < vs.length; i++) values.push(vs[i] as PromValue);
    }
    return {
      name: this.def.name,
      help: this.def.help,
      type: this.def.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /** Our numbers live with their handles; `registry.resetMetrics()` leaves them alone. */
  reset(): void {}
}

const families = new WeakMap<Registry, Map<string, Family>>();

function familyFor(registry: Registry, def: MetricDefinition): Family {
  let m = families.get(registry);
  if (m === undefined) {
    m = new Map();
    families.set(registry, m);
  }
  let f = m.get(def.name);
  if (f === undefined) {
    f = new Family(registry, def);
    m.set(def.name, f);
  }
  return f;
}

/**
 * Add series sources to several families at once: validate every addition first, so a failure
 * leaves nothing behind. Returns the function that removes them again.
 */
export function attach(
  registry: Registry,
  option: string,
  entries: ReadonlyArray<readonly [MetricDefinition, string, Source]>,
): () => void {
  const resolved = entries.map(([def, key, source]) => [familyFor(registry, def), key, source] as const);
  for (const [f, key] of resolved) f.checkAdd(key, option);
  for (const [f, key, source] of resolved) f.add(key, source);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const [f, key] of resolved) f.delete(key);
  };
}

/** The registry an options object asks for (validated), or a new private one. */
export function resolveRegistry(o: Pick<InstrumentationOptions, 'registry' | 'metrics'>): Registry {
  const { registry, metrics } = o;
  if (registry !== undefined && !isRegistryLike(registry)) {
    throw new VigilOptionError('registry', 'a prom-client Registry', registry);
  }
  if (metrics !== undefined) {
    if (typeof metrics !== 'object' || metrics === null || !isRegistryLike(metrics.registry)) {
      throw new VigilOptionError('metrics', 'a Vigil metrics handle (from createMetrics())', metrics);
    }
    if (registry !== undefined && registry !== metrics.registry) {
      throw new VigilOptionError(
        'registry',
        'the same registry as metrics.registry (pass one of them)',
        registry,
      );
    }
    return metrics.registry;
  }
  return registry ?? new Registry();
}

function isRegistryLike(v: unknown): v is Registry {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Registry).registerMetric === 'function' &&
    typeof (v as Registry).getSingleMetric === 'function' &&
    typeof (v as Registry).removeSingleMetric === 'function'
  );
}

/** One histogram series with fixed labels: bucket counts in a typed array, no per-call lookups. */
export class Hist {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && seconds > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

export function boundsOf(def: MetricDefinition): Float64Array {
  return Float64Array.from(def.buckets ?? []);
}

/** prom-client's sample shape for one histogram series. */
export function histValues(name: string, bounds: Float64Array, h: Hist, out: PromValue[]): void {
  let cum = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cum += h.counts[i] as number;
    out.push({
      labels: { ...h.labels, le: i < bounds.length ? (bounds[i] as number) : '+Inf' },
      value: cum,
      metricName: `${name}_bucket`,
    });
  }
  out.push({ labels: { ...h.labels }, value: h.sum, metricName: `${name}_sum` });
  out.push({ labels: { ...h.labels }, value: h.count, metricName: `${name}_count` });
}
