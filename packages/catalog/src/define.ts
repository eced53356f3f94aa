export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Where a metric comes from: Vigil's own instruments, or prom-client's default Node.js collectors. */
export type MetricSource = 'vigil' | 'prom-client';

/** A metric's name in OpenTelemetry's semantic conventions (OTLP export with `semconv: true`). */
export interface SemconvName<L extends readonly string[] = readonly string[]> {
  /** `http.server.request.duration` */
  readonly name: string;
  /** UCUM unit: `s`, `{request}` */
  readonly unit: string;
  /** The attribute each label becomes (`route` -> `http.route`); labels not listed keep their name. */
  readonly attributes: Readonly<Partial<Record<L[number], string>>>;
}

export interface MetricDefinition<
  L extends readonly string[] = readonly string[],
  T extends MetricType = MetricType,
> {
  /** Full Prometheus metric name (for counters including `_total`), before any user prefix. */
  readonly name: string;
  readonly type: T;
  readonly help: string;
  /** Base unit: `seconds`, `bytes`, `ratio`, `requests`, ... (informs dashboards' panel units). */
  readonly unit: string;
  /**
   * Label names, in exposition order. The first is the one the series cap replaces with
   * `__overflow__` (the label with the most values: `route`, `table`).
   */
  readonly labels: L;
  /**
   * The complete set of values of labels that take fixed values (`outcome`: `success`, `error`),
   * for docs, dashboards and alert rules. Labels not listed here take open-ended (but bounded)
   * values, such as route templates.
   */
  readonly labelValues?: Readonly<Partial<Record<L[number], readonly string[]>>>;
  /** Histogram bucket upper bounds, ascending. Only for histograms. */
  readonly buckets?: readonly number[];
  readonly source: MetricSource;
  /** Which Vigil feature emits it, for docs and generated dashboards. */
  readonly group:
    | 'http'
    | 'database'
    | 'runtime'
    | 'internal'
    | 'health'
    | 'resilience'
    | 'http_client'
    | 'tracing'
    | 'logging'
    | 'messaging';
  /**
   * Its semantic-conventions name, for an OTLP export with `semconv: true` (@vigil/metrics/otlp);
   * `false` leaves it out of such an export (its data is another metric's, e.g. a histogram's count).
   */
  readonly semconv?: SemconvName<L> | false;
}

/** Define a metric, validating its shape once at module load of the catalog (pure, no I/O). */
export function defineMetric<const L extends readonly string[], const T extends MetricType>(
  def: MetricDefinition<L, T>,
): MetricDefinition<L, T> {
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(def.name)) {
    throw new Error(`Invalid metric name "${def.name}"`);
  }
  if (def.type === 'counter' && !def.name.endsWith('_total')) {
    throw new Error(`Counter "${def.name}" must end with _total`);
  }
  if (def.type === 'histogram') {
    const b = def.buckets;
    if (!b || b.length === 0) throw new Error(`Histogram "${def.name}" needs buckets`);
    for (let i = 1; i < b.length; i++) {
      if (!((b[i] as number) > (b[i - 1] as number))) {
        throw new Error(`Histogram "${def.name}" buckets must be strictly ascending`);
      }
    }
  }
  for (const [label, values] of Object.entries(def.labelValues ?? {}) as [string, readonly string[]][]) {
    if (!def.labels.includes(label)) {
      throw new Error(`Metric "${def.name}" lists values for "${label}", which is not one of its labels`);
    }
    if (values.length === 0) throw new Error(`Metric "${def.name}": no values for "${label}"`);
  }
  return Object.freeze({
    ...def,
    labels: Object.freeze([...def.labels]) as unknown as L,
    ...(def.labelValues
      ? {
          labelValues: Object.freeze(
            Object.fromEntries(
              Object.entries(def.labelValues).map(([k, v]) => [k, Object.freeze([...(v as string[])])]),
            ),
          ) as MetricDefinition<L>['labelValues'],
        }
      : {}),
    ...(def.buckets ? { buckets: Object.freeze([...def.buckets]) } : {}),
  });
}
