/**
 * A histogram store for three labels, built for the per-request hot path.
 *
 * prom-client resolves and hashes label objects on every `observe()`, even through a child from
 * `labels()`. Here each label set is resolved once into a `Series` (bucket counts in a typed array,
 * sum, count, and its label string), cached in nested maps keyed by the raw label values: a request
 * costs three `Map.get` calls, a short bucket scan and three increments, with no allocation.
 *
 * The same series also backs a counter (`http_requests_total` is the histogram's count by
 * construction), so one observation feeds two metric families.
 *
 * Cardinality is capped: once `maxSeries` label sets exist, new ones are recorded under an overflow
 * label set (first label replaced by `overflowValue`, third collapsed to its class via
 * `overflowThird`), and the overflow counter is incremented. Overflow sets are bounded by the second
 * and third labels' bounded domains, so no input can grow memory or series without bound.
 */

export interface Series {
  /** Label values in declaration order. */
  readonly values: readonly [string, string, string];
  /** Per-bucket (non-cumulative) counts; index `buckets.length` is the +Inf bucket. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** Exemplar per bucket, set by tracing when enabled (OpenMetrics only). */
  exemplars: (Exemplar | undefined)[] | undefined;
  /** Cached exposition prefixes (rebuilt if the default-label string changes). */
  cache: SeriesCache | undefined;
}

export interface Exemplar {
  readonly traceId: string;
  readonly spanId: string;
  readonly value: number;
  /** Seconds since epoch. */
  readonly timestamp: number;
}

interface SeriesCache {
  readonly defaults: string;
  readonly bucketPrefixes: string[];
  readonly sumPrefix: string;
  readonly countPrefix: string;
  readonly counterLabels: string;
}

export interface SeriesStoreOptions {
  readonly buckets: readonly number[];
  readonly labelNames: readonly [string, string, string];
  readonly maxSeries: number;
  /** Value for the first label when the cap is reached. */
  readonly overflowValue: string;
  /** Maps the third label to a bounded class for overflow sets (for example 503 -> "5xx"). */
  readonly overflowThird: (v: string) => string;
  /** Called once per observation that went to an overflow set. */
  readonly onOverflow: () => void;
}

export class SeriesStore {
  readonly buckets: readonly number[];
  readonly labelNames: readonly [string, string, string];
  private readonly bounds: Float64Array;
  private readonly maxSeries: number;
  private readonly overflowValue: string;
  private readonly overflowThird: (v: string) => string;
  private readonly onOverflow: () => void;
  /** first -> second -> third -> series */
  private readonly root = new Map<string, Map<string, Map<string, Series>>>();
  /** Insertion-ordered list for exposition. */
  readonly series: Series[] = [];
  private regular = 0;

  constructor(o: SeriesStoreOptions) {
    this.buckets = o.buckets;
    this.bounds = Float64Array.from(o.buckets);
    this.labelNames = o.labelNames;
    this.maxSeries = o.maxSeries;
    this.overflowValue = o.overflowValue;
    this.overflowThird = o.overflowThird;
    this.onOverflow = o.onOverflow;
  }

  /** Record one observation (seconds). Returns the series, so callers may attach an exemplar. */
  observe(first: string, second: string, third: string, value: number): Series {
    let s = this.root.get(first)?.get(second)?.get(third);
    if (s === undefined) s = this.resolve(first, second, third);
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
    return s;
  }

  /**
   * Attach an exemplar (the trace of a sampled request or query) to the bucket `value` fell in.
   * Only sampled observations call this, so the per-series array is allocated lazily.
   */
  setExemplar(s: Series, value: number, traceId: string, spanId: string): void {
    let ex = s.exemplars;
    if (ex === undefined) {
      ex = new Array<Exemplar | undefined>(this.bounds.length + 1);
      s.exemplars = ex;
    }
    ex[this.bucketIndex(value)] = { traceId, spanId, value, timestamp: Date.now() / 1000 };
  }

  /** Index of the bucket a value falls in (`buckets.length` is +Inf). */
  bucketIndex(value: number): number {
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > (bounds[i] as number)) i++;
    return i;
  }

  get size(): number {
    return this.series.length;
  }

  reset(): void {
    this.root.clear();
    this.series.length = 0;
    this.regular = 0;
  }

  private resolve(first: string, second: string, third: string): Series {
    if (this.regular >= this.maxSeries) {
      this.onOverflow();
      const f = this.overflowValue;
      const t = this.overflowThird(third);
      const existing = this.root.get(f)?.get(second)?.get(t);
      return existing ?? this.create(f, second, t, false);
    }
    return this.create(first, second, third, true);
  }

  private create(first: string, second: string, third: string, regular: boolean): Series {
    let a = this.root.get(first);
    if (a === undefined) {
      a = new Map();
      this.root.set(first, a);
    }
    let b = a.get(second);
    if (b === undefined) {
      b = new Map();
      a.set(second, b);
    }
    const s: Series = {
      values: [first, second, third],
      counts: new Float64Array(this.bounds.length + 1),
      sum: 0,
      count: 0,
      exemplars: undefined,
      cache: undefined,
    };
    b.set(third, s);
    this.series.push(s);
    if (regular) this.regular++;
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

function seriesCache(store: SeriesStore, s: Series, name: string, defaults: string): SeriesCache {
  const c = s.cache;
  if (c !== undefined && c.defaults === defaults) return c;
  const [n0, n1, n2] = store.labelNames;
  const lbl = `${n0}="${escapeLabelValue(s.values[0])}",${n1}="${escapeLabelValue(s.values[1])}",${n2}="${escapeLabelValue(s.values[2])}"${defaults ? `,${defaults}` : ''}`;
  const bucketPrefixes = store.buckets.map((b) => `${name}_bucket{${lbl},le="${formatValue(b)}"} `);
  bucketPrefixes.push(`${name}_bucket{${lbl},le="+Inf"} `);
  const fresh: SeriesCache = {
    defaults,
    bucketPrefixes,
    sumPrefix: `${name}_sum{${lbl}} `,
    countPrefix: `${name}_count{${lbl}} `,
    counterLabels: `{${lbl}} `,
  };
  s.cache = fresh;
  return fresh;
}

/** Write a histogram family's samples (no HELP/TYPE lines). */
export function writeHistogram(
  store: SeriesStore,
  name: string,
  defaults: string,
  openMetrics: boolean,
  out: string[],
): void {
  const list = store.series;
  for (let k = 0; k < list.length; k++) {
    const s = list[k] as Series;
    const c = seriesCache(store, s, name, defaults);
    const counts = s.counts;
    const ex = openMetrics ? s.exemplars : undefined;
    let cum = 0;
    for (let i = 0; i < counts.length; i++) {
      cum += counts[i] as number;
      const e = ex?.[i];
      out.push(
        e === undefined
          ? `${c.bucketPrefixes[i]}${cum}`
          : `${c.bucketPrefixes[i]}${cum} # {trace_id="${e.traceId}",span_id="${e.spanId}"} ${formatValue(e.value)} ${e.timestamp}`,
      );
    }
    out.push(`${c.sumPrefix}${formatValue(s.sum)}`, `${c.countPrefix}${s.count}`);
  }
}

/** Write a counter family whose value per series is the histogram's count. */
export function writeCountAsCounter(
  store: SeriesStore,
  histogramName: string,
  sampleName: string,
  defaults: string,
  out: string[],
): void {
  const list = store.series;
  for (let k = 0; k < list.length; k++) {
    const s = list[k] as Series;
    const c = seriesCache(store, s, histogramName, defaults);
    out.push(`${sampleName}${c.counterLabels}${s.count}`);
  }
}
