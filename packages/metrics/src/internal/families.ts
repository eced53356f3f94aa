import type { MetricDefinition } from '@vigil/catalog';
import type { TraceIds } from '@vigil/core';
import { escapeLabelValue, formatValue, labelString, type Series, Store } from './store.js';

/**
 * Metric families backed by a `Store`, registered in a prom-client Registry.
 *
 * They implement prom-client's metric interface (`get()`, `reset()`), so `registry.metrics()`,
 * `Registry.merge` and the cluster aggregator keep working, and additionally a fast text writer
 * (`FAST_WRITE`) that Vigil's exposition uses to serialise them without building sample objects.
 */

export const FAST_WRITE: unique symbol = Symbol.for('vigil.metrics.fastWrite');

export interface FastWritable {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** `defaults`: the registry's default labels as a label string. */
  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void;
}

interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A counter's value in one series. */
export interface CounterSeries {
  inc(amount?: number): void;
  readonly value: number;
}

/** A gauge's value in one series. */
export interface GaugeSeries {
  set(value: number): void;
  inc(amount?: number): void;
  dec(amount?: number): void;
  readonly value: number;
}

/** A histogram's series: `observe(seconds)`, with the trace of a sampled observation as exemplar. */
export interface HistogramSeries {
  observe(value: number, exemplar?: TraceIds | undefined): void;
}

/** One metric family of the catalog, with bounded label sets. */
export interface Instrument<S, L extends readonly string[] = readonly string[]> {
  /** The exposed name (the handle's prefix applied). */
  readonly name: string;
  readonly definition: MetricDefinition;
  /** The series of a label set, in the definition's label order; keep it to skip the lookup. */
  labels(...values: L): S;
  /** Removes a label set from the exposition. */
  remove(...values: L): void;
  /** Runs `fn` before every scrape (set gauges from state); returns the function that stops it. */
  collect(fn: () => void): () => void;
  /** Label sets held, overflow sets included. */
  readonly size: number;
}

export interface FamilyOptions {
  readonly name: string;
  readonly definition: MetricDefinition;
  /** The handle's default labels, as a label string. */
  readonly defaults: string;
  /** The same labels as an object (prom-client's sample objects). */
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly maxSeries: number;
  /** The overflow set of a label set past the cap (default: every label `__overflow__`). */
  readonly overflow: (values: readonly string[]) => readonly string[];
  readonly onOverflow: () => void;
  /** Histogram buckets (the definition's, unless the handle was given others). */
  readonly buckets?: readonly number[] | undefined;
  /** Write nothing, not even HELP and TYPE, while the family has no series. */
  readonly hideWhenEmpty?: boolean;
  /** Labels after the definition's, in this order. */
  readonly extraLabels?: readonly string[] | undefined;
}

export abstract class Family implements FastWritable {
  readonly name: string;
  readonly help: string;
  readonly definition: MetricDefinition;
  readonly store: Store;
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly defaults: string;
  private readonly defaultLabels: Readonly<Record<string, string>>;
  private readonly hideWhenEmpty: boolean;
  private readonly collectors = new Set<() => void>();
  private lastRegistryDefaults = '';
  private combined: string;

  constructor(o: FamilyOptions) {
    this.name = o.name;
    this.help = o.definition.help;
    this.definition = o.definition;
    this.defaults = o.defaults;
    this.defaultLabels = o.defaultLabels;
    this.combined = o.defaults;
    this.hideWhenEmpty = o.hideWhenEmpty === true;
    this.store = new Store({
      labelNames:
        o.extraLabels === undefined ? o.definition.labels : [...o.definition.labels, ...o.extraLabels],
      buckets: o.buckets,
      maxSeries: o.maxSeries,
      overflow: o.overflow,
      onOverflow: o.onOverflow,
    });
  }

  get size(): number {
    return this.store.size;
  }

  collect(fn: () => void): () => void {
    this.collectors.add(fn);
    return () => {
      this.collectors.delete(fn);
    };
  }

  remove(...values: readonly string[]): void {
    this.store.remove(values);
  }

  /** Brings computed series up to date (before a scrape). */
  protected refresh(): void {
    for (const fn of this.collectors) fn();
  }

  /** The handle's default labels and the registry's, as one label string. */
  combinedDefaults(registryDefaults: string): string {
    return this.labelDefaults(registryDefaults);
  }

  protected labelDefaults(registryDefaults: string): string {
    if (registryDefaults !== this.lastRegistryDefaults) {
      this.lastRegistryDefaults = registryDefaults;
      this.combined = [this.defaults, registryDefaults].filter(Boolean).join(',');
    }
    return this.combined;
  }

  [FAST_WRITE](registryDefaults: string, openMetrics: boolean, out: string[]): void {
    this.refresh();
    const list = this.store.series;
    if (list.length === 0 && this.hideWhenEmpty) return;
    const family = openMetrics && this.type === 'counter' ? this.name.replace(/_total$/, '') : this.name;
    out.push(`# HELP ${family} ${escapeHelp(this.help)}`, `# TYPE ${family} ${this.type}`);
    this.writeSamples(this.labelDefaults(registryDefaults), openMetrics, out);
  }

  protected writeSamples(defaults: string, _openMetrics: boolean, out: string[]): void {
    const names = this.store.labelNames;
    for (const s of this.store.series) {
      const l = labelString(names, s, defaults);
      out.push(`${this.name}${l ? `{${l}}` : ''} ${formatValue(s.value)}`);
    }
  }

  protected labelsOf(s: Series): Record<string, string> {
    const labels: Record<string, string> = { ...this.defaultLabels };
    const names = this.store.labelNames;
    for (let i = 0; i < names.length; i++) labels[names[i] as string] = s.values[i] as string;
    return labels;
  }

  /** Every series with its labels (the handle's default labels included), collectors run first. */
  snapshot(): { labels: Record<string, string>; series: Series }[] {
    this.refresh();
    return this.store.series.map((series) => ({ labels: this.labelsOf(series), series }));
  }

  get() {
    this.refresh();
    const values: PromValue[] = this.store.series.map((s) => ({ labels: this.labelsOf(s), value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The numbers live with their handles; `registry.resetMetrics()` leaves them alone. */
  reset(): void {}
}

export class CounterFamily extends Family implements Instrument<CounterSeries> {
  readonly type = 'counter' as const;
  private readonly children = new WeakMap<Series, CounterSeries>();

  labels(...values: readonly string[]): CounterSeries {
    const s = this.store.get(values);
    let c = this.children.get(s);
    if (c === undefined) {
      c = {
        inc(amount = 1) {
          s.value += amount;
        },
        get value() {
          return s.value;
        },
      };
      this.children.set(s, c);
    }
    return c;
  }
}

export class GaugeFamily extends Family implements Instrument<GaugeSeries> {
  readonly type = 'gauge' as const;
  private readonly children = new WeakMap<Series, GaugeSeries>();

  labels(...values: readonly string[]): GaugeSeries {
    const s = this.store.get(values);
    let c = this.children.get(s);
    if (c === undefined) {
      c = {
        set(value) {
          s.value = value;
        },
        inc(amount = 1) {
          s.value += amount;
        },
        dec(amount = 1) {
          s.value -= amount;
        },
        get value() {
          return s.value;
        },
      };
      this.children.set(s, c);
    }
    return c;
  }
}

interface HistogramCache {
  readonly defaults: string;
  readonly bucketPrefixes: string[];
  readonly sumPrefix: string;
  readonly countPrefix: string;
}

export class HistogramFamily extends Family implements Instrument<HistogramSeries> {
  readonly type = 'histogram' as const;
  private readonly children = new WeakMap<Series, HistogramSeries>();
  private readonly prefixes = new WeakMap<Series, HistogramCache>();

  labels(...values: readonly string[]): HistogramSeries {
    const s = this.store.get(values);
    let c = this.children.get(s);
    if (c === undefined) {
      const store = this.store;
      c = {
        observe(value, exemplar) {
          const i = store.observe(s, value);
          if (exemplar !== undefined) store.setExemplar(s, i, value, exemplar.traceId, exemplar.spanId);
        },
      };
      this.children.set(s, c);
    }
    return c;
  }

  /** Records into an already resolved series (the HTTP and database paths look it up themselves). */
  observeSeries(s: Series, value: number, exemplar: TraceIds | undefined): void {
    const i = this.store.observe(s, value);
    if (exemplar !== undefined) this.store.setExemplar(s, i, value, exemplar.traceId, exemplar.spanId);
  }

  private cacheOf(s: Series, defaults: string): HistogramCache {
    const hit = this.prefixes.get(s);
    if (hit !== undefined && hit.defaults === defaults) return hit;
    const l = labelString(this.store.labelNames, s, defaults);
    const sep = l ? `${l},` : '';
    const name = this.name;
    const bucketPrefixes = (this.store.buckets ?? []).map(
      (b) => `${name}_bucket{${sep}le="${formatValue(b)}"} `,
    );
    bucketPrefixes.push(`${name}_bucket{${sep}le="+Inf"} `);
    const fresh = {
      defaults,
      bucketPrefixes,
      sumPrefix: `${name}_sum${l ? `{${l}}` : ''} `,
      countPrefix: `${name}_count${l ? `{${l}}` : ''} `,
    };
    this.prefixes.set(s, fresh);
    return fresh;
  }

  protected override writeSamples(defaults: string, openMetrics: boolean, out: string[]): void {
    for (const s of this.store.series) {
      const c = this.cacheOf(s, defaults);
      const counts = s.counts as Float64Array;
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

  override get() {
    this.refresh();
    const values: PromValue[] = [];
    const buckets = this.store.buckets ?? [];
    for (const s of this.store.series) {
      const labels = this.labelsOf(s);
      const counts = s.counts as Float64Array;
      let cum = 0;
      for (let i = 0; i < counts.length; i++) {
        cum += counts[i] as number;
        values.push({
          labels: { ...labels, le: i < buckets.length ? (buckets[i] as number) : '+Inf' },
          value: cum,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/**
 * A counter whose value per label set is a histogram's count (`http_requests_total` is the
 * request histogram's count by construction): one observation feeds two families.
 */
export class CountView implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  readonly help: string;
  constructor(
    readonly name: string,
    readonly definition: MetricDefinition,
    private readonly of: HistogramFamily,
  ) {
    this.help = definition.help;
  }

  [FAST_WRITE](registryDefaults: string, openMetrics: boolean, out: string[]): void {
    const family = openMetrics ? this.name.replace(/_total$/, '') : this.name;
    out.push(`# HELP ${family} ${escapeHelp(this.help)}`, `# TYPE ${family} counter`);
    const defaults = this.of.combinedDefaults(registryDefaults);
    const names = this.of.store.labelNames;
    for (const s of this.of.store.series) {
      const l = labelString(names, s, defaults);
      out.push(`${this.name}${l ? `{${l}}` : ''} ${s.count}`);
    }
  }

  /** The histogram's series: this counter's value is each one's `count`. */
  snapshot(): { labels: Record<string, string>; series: Series }[] {
    return this.of.snapshot();
  }

  get() {
    const h = this.of.get();
    const values = h.values
      .filter((v) => v.metricName === `${this.of.name}_count`)
      .map((v) => ({ labels: v.labels, value: v.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

export { escapeLabelValue };
