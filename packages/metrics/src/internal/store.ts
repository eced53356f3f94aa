/**
 * The series store behind every Vigil metric family, built for per-request hot paths.
 *
 * prom-client resolves and hashes label objects on every `observe()`, even through a child from
 * `labels()`. Here each label set is resolved once into a `Series` (bucket counts in a typed array
 * for histograms, a number for counters and gauges, its label string cached for exposition),
 * reached through nested maps keyed by the raw label values: recording costs one `Map.get` per
 * label, a short bucket scan and a few increments, with no allocation. Callers with fixed labels
 * keep the `Series` itself and skip even the lookups.
 *
 * Cardinality is capped: once `maxSeries` label sets exist, new ones are recorded under the
 * overflow set their family maps them to (by default every label `__overflow__`), and
 * `onOverflow` counts it. Overflow sets are bounded by construction, so no input can grow memory or
 * series without bound.
 */

export interface Exemplar {
  readonly traceId: string;
  readonly spanId: string;
  readonly value: number;
  /** Seconds since epoch. */
  readonly timestamp: number;
}

export interface Series {
  /** Label values in the family's label order. */
  readonly values: readonly string[];
  /** Counter or gauge value (unused by histograms). */
  value: number;
  /** Histogram: per-bucket (non-cumulative) counts; index `buckets.length` is +Inf. */
  readonly counts: Float64Array | undefined;
  sum: number;
  count: number;
  /** Histogram: exemplar per bucket, set by tracing when enabled (OpenMetrics only). */
  exemplars: (Exemplar | undefined)[] | undefined;
  /** Cached exposition label string (rebuilt when the default labels change). */
  cache: { readonly defaults: string; readonly labels: string } | undefined;
}

export interface StoreOptions {
  readonly labelNames: readonly string[];
  /** Histogram bucket bounds; undefined for counters and gauges. */
  readonly buckets?: readonly number[] | undefined;
  readonly maxSeries: number;
  /** The overflow label set for a label set beyond the cap. */
  readonly overflow: (values: readonly string[]) => readonly string[];
  /** Called once per observation that went to an overflow set. */
  readonly onOverflow: () => void;
}

type Level = Map<string, Level | Series>;

export class Store {
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[] | undefined;
  private readonly bounds: Float64Array | undefined;
  private readonly depth: number;
  private readonly maxSeries: number;
  private readonly overflow: (values: readonly string[]) => readonly string[];
  private readonly onOverflow: () => void;
  private readonly root: Level = new Map();
  /** The one series of a family without labels. */
  private single: Series | undefined;
  /** Insertion-ordered list for exposition. */
  readonly series: Series[] = [];
  private regular = 0;

  constructor(o: StoreOptions) {
    this.labelNames = o.labelNames;
    this.depth = o.labelNames.length;
    this.buckets = o.buckets;
    this.bounds = o.buckets === undefined ? undefined : Float64Array.from(o.buckets);
    this.maxSeries = o.maxSeries;
    this.overflow = o.overflow;
    this.onOverflow = o.onOverflow;
  }

  get size(): number {
    return this.series.length;
  }

  /** The series of a label set (created on first use, or its overflow set past the cap). */
  get(values: readonly string[]): Series {
    if (this.depth === 0) {
      this.single ??= this.create([], true);
      return this.single;
    }
    let level: Level = this.root;
    const last = this.depth - 1;
    for (let i = 0; i < last; i++) {
      const next = level.get(values[i] as string);
      if (next === undefined) return this.resolve(values);
      level = next as Level;
    }
    return (level.get(values[last] as string) as Series | undefined) ?? this.resolve(values);
  }

  /** `get` for three labels without an array (the per-request path of HTTP metrics). */
  get3(a: string, b: string, c: string): Series {
    const s = (this.root.get(a) as Level | undefined)?.get(b) as Level | undefined;
    return (s?.get(c) as Series | undefined) ?? this.resolve([a, b, c]);
  }

  /** `get` for four labels without an array (the per-query path of database metrics). */
  get4(a: string, b: string, c: string, d: string): Series {
    const s = ((this.root.get(a) as Level | undefined)?.get(b) as Level | undefined)?.get(c) as
      | Level
      | undefined;
    return (s?.get(d) as Series | undefined) ?? this.resolve([a, b, c, d]);
  }

  /** Records one histogram observation in `s`; returns the bucket index. */
  observe(s: Series, value: number): number {
    const bounds = this.bounds as Float64Array;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > (bounds[i] as number)) i++;
    const counts = s.counts as Float64Array;
    counts[i] = (counts[i] as number) + 1;
    s.sum += value;
    s.count++;
    return i;
  }

  /** Attaches an exemplar to bucket `i` of `s` (sampled observations only: allocated lazily). */
  setExemplar(s: Series, i: number, value: number, traceId: string, spanId: string): void {
    s.exemplars ??= new Array<Exemplar | undefined>((this.bounds as Float64Array).length + 1);
    s.exemplars[i] = { traceId, spanId, value, timestamp: Date.now() / 1000 };
  }

  /** Forgets a label set (its series leaves the exposition). */
  remove(values: readonly string[]): void {
    if (this.depth === 0) return;
    const path: Level[] = [];
    let level: Level = this.root;
    for (let i = 0; i < this.depth - 1; i++) {
      const next = level.get(values[i] as string);
      if (next === undefined) return;
      path.push(level);
      level = next as Level;
    }
    const key = values[this.depth - 1] as string;
    const s = level.get(key) as Series | undefined;
    if (s === undefined) return;
    level.delete(key);
    for (let i = path.length - 1; i >= 0 && level.size === 0; i--) {
      const parent = path[i] as Level;
      parent.delete(values[i] as string);
      level = parent;
    }
    const at = this.series.indexOf(s);
    if (at >= 0) this.series.splice(at, 1);
    if (!this.isOverflow(s)) this.regular--;
  }

  reset(): void {
    this.root.clear();
    this.single = undefined;
    this.series.length = 0;
    this.regular = 0;
  }

  private readonly overflowSets = new WeakSet<Series>();

  private isOverflow(s: Series): boolean {
    return this.overflowSets.has(s);
  }

  private resolve(values: readonly string[]): Series {
    if (this.regular < this.maxSeries) return this.create(values, true);
    this.onOverflow();
    const o = this.overflow(values);
    let level: Level = this.root;
    for (let i = 0; i < this.depth - 1 && level !== undefined; i++)
      level = level.get(o[i] as string) as Level;
    const existing = level?.get(o[this.depth - 1] as string) as Series | undefined;
    return existing ?? this.create(o, false);
  }

  private create(values: readonly string[], regular: boolean): Series {
    const s: Series = {
      values: Object.freeze([...values]),
      value: 0,
      counts: this.bounds === undefined ? undefined : new Float64Array(this.bounds.length + 1),
      sum: 0,
      count: 0,
      exemplars: undefined,
      cache: undefined,
    };
    if (this.depth > 0) {
      let level: Level = this.root;
      for (let i = 0; i < this.depth - 1; i++) {
        let next = level.get(values[i] as string) as Level | undefined;
        if (next === undefined) {
          next = new Map();
          level.set(values[i] as string, next);
        }
        level = next;
      }
      level.set(values[this.depth - 1] as string, s);
    }
    this.series.push(s);
    if (regular) this.regular++;
    else this.overflowSets.add(s);
    return s;
  }
}

/** Escape a label value for the text exposition formats. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

/** Format a sample value the way Prometheus and OpenMetrics expect. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${v}`;
}

/** `a="x",b="y"` for a series, plus the default labels; cached on the series. */
export function labelString(names: readonly string[], s: Series, defaults: string): string {
  const c = s.cache;
  if (c !== undefined && c.defaults === defaults) return c.labels;
  let str = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) str += ',';
    str += `${names[i]}="${escapeLabelValue(s.values[i] as string)}"`;
  }
  if (defaults) str = str ? `${str},${defaults}` : defaults;
  s.cache = { defaults, labels: str };
  return str;
}
