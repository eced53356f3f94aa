import { type MetricDefinition, seriesOverflowTotal } from '@vigil/catalog';
import {
  checkKnownKeys,
  checkLabels,
  checkObject,
  checkPositiveInt,
  checkRegistry,
  checkString,
  LABEL_VALUES,
  METRIC_PREFIX,
  VigilOptionError,
} from '@vigil/core';
import {
  CounterFamily,
  type CounterSeries,
  CountView,
  type Family,
  type FastWritable,
  GaugeFamily,
  type GaugeSeries,
  HistogramFamily,
  type HistogramSeries,
  type Instrument,
} from './internal/families.js';
import { Registry } from './internal/prom.js';
import { escapeLabelValue } from './internal/store.js';

/** One string per label name, in the definition's order. */
export type LabelTuple<L extends readonly string[]> = { readonly [K in keyof L]: string };

export interface InstrumentOptions {
  /**
   * The overflow label set of a label set past the series cap. Default: every label
   * `__overflow__`. Keep bounded labels as they are (HTTP keeps the method and the status class).
   */
  overflow?: (values: readonly string[]) => readonly string[];
  /** Histogram buckets other than the definition's. */
  buckets?: readonly number[];
  /** Write nothing, not even HELP and TYPE, while no series exists. */
  hideWhenEmpty?: boolean;
  /** Labels after the definition's (declared, bounded: `httpLabels`); values in this order. */
  extraLabels?: readonly string[];
}

/** Where Vigil's metrics are registered: one registry, one prefix, one set of default labels. */
export interface Instruments {
  /** The registry holding every metric of this handle. */
  readonly registry: Registry;
  /** Prefix of every Vigil metric name of this handle. */
  readonly prefix: string;
  /**
   * The instrument of a catalog definition, created on first use (the same object afterwards):
   * name, help, labels and buckets from the definition, the handle's prefix, default labels and
   * series cap applied. `metrics.instrument(circuitBreakerState).labels('payments').set(1)`.
   */
  instrument<const L extends readonly string[]>(
    definition: MetricDefinition<L, 'counter'>,
    options?: InstrumentOptions,
  ): Instrument<CounterSeries, LabelTuple<L>>;
  instrument<const L extends readonly string[]>(
    definition: MetricDefinition<L, 'gauge'>,
    options?: InstrumentOptions,
  ): Instrument<GaugeSeries, LabelTuple<L>>;
  instrument<const L extends readonly string[]>(
    definition: MetricDefinition<L, 'histogram'>,
    options?: InstrumentOptions,
  ): Instrument<HistogramSeries, LabelTuple<L>>;
  /** Observations that went to an overflow label set, per metric name (prefix included). */
  overflowCount(metricName: string): number;
  /** Unregisters every metric of this handle. Idempotent. */
  close(): Promise<void>;
}

export interface InstrumentsOptions {
  /** Registry to register into. Default: a new private Registry (never prom-client's global one). */
  registry?: Registry;
  /** Prefix for every metric name. */
  prefix?: string;
  /** Labels added to every series of this handle (for example `{ service: 'users' }`). */
  defaultLabels?: Record<string, string>;
  /** Label sets per metric before new ones go to the overflow set. */
  maxSeries?: number;
}

export const INSTRUMENTS_DEFAULTS = Object.freeze({
  prefix: '',
  defaultLabels: Object.freeze({}) as Readonly<Record<string, string>>,
  maxSeries: 1000,
});

const everyLabelOverflows = (values: readonly string[]) => values.map(() => LABEL_VALUES.overflowRoute);

/** Registers `metric` in `registry` (prom-client types its own classes; ours are duck-typed). */
export function register(registry: Registry, metric: FastWritable | object): void {
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric(metric);
}

/**
 * The instruments of each registry that has Vigil metrics: one per registry, so Vigil's families
 * (and the overflow counter every handle keeps) are never registered twice.
 */
interface Shared {
  readonly instruments: Instruments;
  /** Packages holding it through `acquireInstruments`. */
  refs: number;
  /** Made by `acquireInstruments`: closed when its last holder releases it. */
  acquired: boolean;
}
const byRegistry = new WeakMap<object, Shared>();

/**
 * The instrument layer alone, without HTTP, database or runtime metrics:
 * `createInstruments({ registry })`. `createMetrics()` builds on it. A registry holds one such
 * handle: create it once and share it.
 */
export function createInstruments(options?: InstrumentsOptions): Instruments {
  const input = checkObject('options', options);
  checkKnownKeys('', input, ['registry', 'prefix', 'defaultLabels', 'maxSeries']);
  return instrumentsFor({
    registry: checkRegistry<Registry>('registry', input.registry) ?? new Registry(),
    prefix:
      checkString('prefix', input.prefix, METRIC_PREFIX, 'a valid metric name prefix') ??
      INSTRUMENTS_DEFAULTS.prefix,
    defaultLabels: checkLabels('defaultLabels', input.defaultLabels) ?? INSTRUMENTS_DEFAULTS.defaultLabels,
    maxSeries: checkPositiveInt('maxSeries', input.maxSeries) ?? INSTRUMENTS_DEFAULTS.maxSeries,
    buckets: new Map(),
  });
}

export interface ResolvedInstruments {
  readonly registry: Registry;
  readonly prefix: string;
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly maxSeries: number;
  /** Bucket overrides by definition name. */
  readonly buckets: ReadonlyMap<string, readonly number[]>;
}

/** The instrument layer over validated options. */
export interface InstrumentsInternal extends Instruments {
  /** Registers a family this handle did not build from a definition (removed on close). */
  adopt(metric: FastWritable | object, name: string): void;
  /** A counter whose values are the counts of a histogram's series. */
  countView(definition: MetricDefinition, of: Instrument<HistogramSeries>): void;
}

/** The instrument layer over validated options. */
export function instrumentsFor(o: ResolvedInstruments): InstrumentsInternal {
  const defaults = Object.entries(o.defaultLabels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');
  const families = new Map<string, Family>();
  const owned: string[] = [];
  const overflowCounts = new Map<string, number>();
  let overflow: CounterFamily | undefined;

  const adopt = (metric: FastWritable | object, name: string): void => {
    if (o.registry.getSingleMetric(name) !== undefined) {
      throw new VigilOptionError(
        'registry',
        `a registry without a metric named "${name}" (close the other Vigil handle using it, or pass its metrics handle)`,
        'a registry that has one',
      );
    }
    register(o.registry, metric);
    owned.push(name);
  };

  function create(def: MetricDefinition, opts: InstrumentOptions | undefined): Family {
    const name = o.prefix + def.name;
    const family = new (
      def.type === 'counter' ? CounterFamily : def.type === 'gauge' ? GaugeFamily : HistogramFamily
    )({
      name,
      definition: def,
      defaults,
      defaultLabels: o.defaultLabels,
      // The overflow counter has one series per family of this handle: bounded, never capped.
      maxSeries: def === seriesOverflowTotal ? Number.POSITIVE_INFINITY : o.maxSeries,
      overflow: opts?.overflow ?? everyLabelOverflows,
      onOverflow: () => {
        overflowCounts.set(name, (overflowCounts.get(name) ?? 0) + 1);
        overflow?.labels(name).inc();
      },
      buckets:
        def.type === 'histogram' ? (opts?.buckets ?? o.buckets.get(def.name) ?? def.buckets) : undefined,
      hideWhenEmpty: opts?.hideWhenEmpty,
      extraLabels: opts?.extraLabels,
    });
    adopt(family, name);
    families.set(def.name, family);
    // The overflow count of every family with labels exists from the start at 0, so `increase()`
    // sees the first overflow (label-less families have one series and never overflow).
    if (overflow !== undefined && def.labels.length > 0 && opts?.hideWhenEmpty !== true) {
      overflow.labels(name);
    }
    return family;
  }

  if (byRegistry.has(o.registry)) {
    throw new VigilOptionError(
      'registry',
      'a registry without Vigil metrics (pass the metrics handle that already uses it instead)',
      'a registry that has them',
    );
  }
  overflow = create(seriesOverflowTotal, undefined) as CounterFamily;
  let closed: Promise<void> | undefined;

  const handle: InstrumentsInternal = {
    registry: o.registry,
    prefix: o.prefix,
    instrument: ((def: MetricDefinition, opts?: InstrumentOptions) => {
      const existing = families.get(def.name);
      if (existing !== undefined) {
        if (existing.definition !== def) {
          throw new VigilOptionError('definition', `the catalog's definition of ${def.name}`, 'another one');
        }
        return existing;
      }
      return create(def, opts);
    }) as unknown as Instruments['instrument'],
    overflowCount: (metricName) => overflowCounts.get(metricName) ?? 0,
    adopt,
    countView(def, of) {
      const name = o.prefix + def.name;
      adopt(new CountView(name, def, of as unknown as HistogramFamily), name);
    },
    close() {
      closed ??= (async () => {
        if (byRegistry.get(o.registry)?.instruments === handle) byRegistry.delete(o.registry);
        for (const name of owned) {
          if (o.registry.getSingleMetric(name) !== undefined) o.registry.removeSingleMetric(name);
        }
        families.clear();
      })();
      return closed;
    },
  };
  byRegistry.set(o.registry, { instruments: handle, refs: 0, acquired: false });
  return handle;
}

/**
 * The instruments a package records into when it is given a registry rather than a metrics
 * handle: the registry's own (a metrics handle's, or one made here and shared by every package
 * that asks for it), or a private registry's when none is given. `release()` closes what it made
 * once its last user released it.
 */
export function acquireInstruments(registry: Registry | undefined): {
  instruments: Instruments;
  release(): Promise<void>;
} {
  let e = registry === undefined ? undefined : byRegistry.get(registry);
  if (e === undefined) {
    const made = createInstruments(registry === undefined ? undefined : { registry });
    e = byRegistry.get(made.registry) as Shared;
    e.acquired = true;
  }
  const entry = e;
  entry.refs++;
  let released = false;
  return {
    instruments: entry.instruments,
    async release() {
      if (released) return;
      released = true;
      if (--entry.refs === 0 && entry.acquired) await entry.instruments.close();
    },
  };
}
