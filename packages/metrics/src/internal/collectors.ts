import type { Registry } from 'prom-client';
import { formatValue, type SeriesStore, writeCountAsCounter, writeHistogram } from './series-store.js';

/**
 * Metric families backed by a SeriesStore, registered in a prom-client Registry.
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
  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void;
}

interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

function labelsOf(store: SeriesStore, values: readonly string[]): Record<string, string> {
  const [a, b, c] = store.labelNames;
  return { [a]: values[0] as string, [b]: values[1] as string, [c]: values[2] as string };
}

export class StoreHistogram implements FastWritable {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly store: SeriesStore,
  ) {}

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`);
    writeHistogram(this.store, this.name, defaults, openMetrics, out);
  }

  get() {
    const values: PromValue[] = [];
    const buckets = this.store.buckets;
    for (const s of this.store.series) {
      const labels = labelsOf(this.store, s.values);
      let cum = 0;
      for (let i = 0; i < s.counts.length; i++) {
        cum += s.counts[i] as number;
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

  reset(): void {
    this.store.reset();
  }
}

/** A counter whose value per label set is a histogram store's count. */
export class StoreCountCounter implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly store: SeriesStore,
    private readonly histogramName: string,
  ) {}

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    const base = openMetrics ? this.name.replace(/_total$/, '') : this.name;
    out.push(`# HELP ${base} ${escapeHelp(this.help)}`, `# TYPE ${base} counter`);
    writeCountAsCounter(this.store, this.histogramName, this.name, defaults, out);
  }

  get() {
    const values: PromValue[] = this.store.series.map((s) => ({
      labels: labelsOf(this.store, s.values),
      value: s.count,
    }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.store.reset();
  }
}

/** A label-less gauge read from a function at scrape time. */
export class FunctionGauge implements FastWritable {
  readonly type = 'gauge' as const;
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  [FAST_WRITE](defaults: string, _openMetrics: boolean, out: string[]): void {
    out.push(
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} gauge`,
      `${this.name}${defaults ? `{${defaults}}` : ''} ${formatValue(this.read())}`,
    );
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: [{ labels: {}, value: this.read() }],
      aggregator: this.aggregator,
    };
  }

  reset(): void {}
}

/** A counter with one label whose values are a small fixed set (internal bookkeeping). */
export class SmallCounter implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
  ) {}

  inc(labelValue: string): void {
    this.values.set(labelValue, (this.values.get(labelValue) ?? 0) + 1);
  }

  value(labelValue: string): number {
    return this.values.get(labelValue) ?? 0;
  }

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    const base = openMetrics ? this.name.replace(/_total$/, '') : this.name;
    out.push(`# HELP ${base} ${escapeHelp(this.help)}`, `# TYPE ${base} counter`);
    for (const [v, n] of this.values) {
      out.push(`${this.name}{${this.labelName}="${v}"${defaults ? `,${defaults}` : ''}} ${n}`);
    }
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: [...this.values].map(([v, n]) => ({ labels: { [this.labelName]: v }, value: n })),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.values.clear();
  }
}

export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Register, tolerating re-registration of the very same object. */
export function register(registry: Registry, metric: FastWritable): void {
  // prom-client's Registry.registerMetric is typed for its own Metric class; ours is duck-typed.
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric(metric);
}
