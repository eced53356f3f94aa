import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { CATALOG, type MetricDefinition } from '@vigil/catalog';
import {
  checkBoolean,
  checkKnownKeys,
  checkMs,
  checkObject,
  checkString,
  isRegistry,
  RESOURCE_ORDER,
  registerProcessResource,
  VigilOptionError,
} from '@vigil/core';
import { type Registry, registryDefaultLabels } from './internal/prom.js';
import type { Series } from './internal/store.js';

/**
 * The same series as `/metrics`, pushed over OTLP/HTTP for OpenTelemetry-first backends:
 * `startOtlpMetrics(metrics, { url })`. What the registry holds is what is sent (the series cap
 * applies alike); the Prometheus endpoint keeps working beside it.
 */
export interface OtlpMetricsOptions {
  /**
   * The collector's metrics URL. Default: OpenTelemetry's environment
   * (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`), else
   * `http://localhost:4318/v1/metrics`.
   */
  url?: string;
  /** Extra request headers (also from `OTEL_EXPORTER_OTLP_METRICS_HEADERS`). */
  headers?: Record<string, string>;
  /** Export period. Default `OTEL_METRIC_EXPORT_INTERVAL` or 60,000 ms. */
  intervalMs?: number;
  /** Bound of one export (and of the last one at `close()`). Default `OTEL_METRIC_EXPORT_TIMEOUT` or 10,000 ms. */
  timeoutMs?: number;
  /**
   * Use OpenTelemetry's semantic-conventions names where the catalog gives one
   * (`http.server.request.duration` with `http.route`, `http.request.method`,
   * `http.response.status_code`; `db.client.operation.duration`; `http.client.request.duration`),
   * and leave out what they make redundant (`http_requests_total`). Default false: the Prometheus
   * names, counters without `_total` (a Prometheus OTLP receiver adds it back).
   */
  semconv?: boolean;
  /** `service.name`. Default `OTEL_SERVICE_NAME`, else OpenTelemetry's `unknown_service:node`. */
  serviceName?: string;
  /** More resource attributes (beside `OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes?: Record<string, string>;
}

export interface OtlpMetrics {
  /** Exports now; resolves when the collector answered or the export gave up. */
  flush(): Promise<void>;
  /** Exports a last time (bounded by `timeoutMs`), then stops. Idempotent. */
  close(): Promise<void>;
  /** Exports that succeeded / failed so far. */
  readonly exported: number;
  readonly failed: number;
}

interface JsonValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}
interface JsonMetric {
  name: string;
  help: string;
  type: string;
  values: JsonValue[];
}

const BY_NAME = new Map<string, MetricDefinition>(CATALOG.map((d) => [d.name, d]));
const UNITS: Record<string, string> = { seconds: 's', bytes: 'By', ratio: '1' };
const ucum = (unit: string | undefined): string =>
  unit === undefined ? '' : (UNITS[unit] ?? (unit === '' ? '' : `{${unit}}`));

type Hr = [number, number];
const hr = (ms: number): Hr => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** Attributes of one sample: labels renamed by the semconv mapping; a numeric status as a number. */
function attributesOf(
  labels: Record<string, string | number>,
  rename: Readonly<Record<string, string | undefined>> | undefined,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k in labels) {
    if (k === 'le' || k === 'quantile') continue;
    const v = labels[k] as string | number;
    const to = rename?.[k];
    if (to === undefined) out[k] = v;
    else out[to] = to === 'http.response.status_code' && /^\d{3}$/.test(String(v)) ? Number(v) : v;
  }
  return out;
}

const keyOf = (a: Record<string, string | number>): string => JSON.stringify(a);

/** The OTLP name, description and unit of a metric, and its label renames (undefined: left out). */
function describe(
  name: string,
  type: string,
  help: string,
  prefix: string,
  semconv: boolean,
):
  | { descriptor: MetricData['descriptor']; rename: Readonly<Record<string, string | undefined>> | undefined }
  | undefined {
  const def = name.startsWith(prefix) ? BY_NAME.get(name.slice(prefix.length)) : undefined;
  const sc = semconv ? def?.semconv : undefined;
  if (sc === false) return undefined;
  return {
    descriptor: {
      name: sc !== undefined ? sc.name : type === 'counter' ? name.replace(/_total$/, '') : name,
      description: help,
      unit: sc !== undefined ? sc.unit : ucum(def?.unit),
      valueType: ValueType.DOUBLE,
    },
    rename: sc === undefined ? undefined : (sc.attributes as Record<string, string | undefined>),
  };
}

/** prom-client's JSON for one metric as OTLP metric data (undefined: left out). */
function toMetricData(
  m: JsonMetric,
  prefix: string,
  semconv: boolean,
  start: Hr,
  end: Hr,
): MetricData | undefined {
  const d = describe(m.name, m.type, m.help, prefix, semconv);
  if (d === undefined) return undefined;
  const { descriptor: base, rename } = d;
  const point = (v: JsonValue) => ({
    startTime: start,
    endTime: end,
    attributes: attributesOf(v.labels, rename),
    value: v.value,
  });
  if (m.type === 'counter') {
    return {
      descriptor: base,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: m.values.map(point),
    };
  }
  if (m.type === 'gauge') {
    return {
      descriptor: base,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: m.values.map(point),
    };
  }
  if (m.type !== 'histogram') return undefined; // summaries: no OTLP equivalent kept here
  // prom-client gives cumulative `_bucket` samples (with `le`), `_sum` and `_count` per label set.
  const sets = new Map<
    string,
    { attributes: Record<string, string | number>; les: [number, number][]; sum: number; count: number }
  >();
  for (const v of m.values) {
    const attributes = attributesOf(v.labels, rename);
    const k = keyOf(attributes);
    let s = sets.get(k);
    if (s === undefined) {
      s = { attributes, les: [], sum: 0, count: 0 };
      sets.set(k, s);
    }
    const name = v.metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = v.labels.le;
      s.les.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v.value]);
    } else if (name.endsWith('_sum')) s.sum = v.value;
    else if (name.endsWith('_count')) s.count = v.value;
  }
  const dataPoints = [...sets.values()].map((s) => {
    s.les.sort((a, b) => a[0] - b[0]);
    const boundaries: number[] = [];
    const counts: number[] = [];
    let prev = 0;
    for (const [le, cum] of s.les) {
      if (le !== Number.POSITIVE_INFINITY) boundaries.push(le);
      counts.push(cum - prev);
      prev = cum;
    }
    if (counts.length === boundaries.length) counts.push(s.count - prev);
    return {
      startTime: start,
      endTime: end,
      attributes: s.attributes,
      value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count },
    };
  });
  return {
    descriptor: base,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}

/** What Vigil's own families offer (duck-typed: the CommonJS build has its own copy of the classes). */
interface VigilFamilyLike {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly store?: { readonly buckets: readonly number[] | undefined };
  /** A count view (`http_requests_total`) reads its histogram's store. */
  readonly of?: { readonly store: { readonly buckets: readonly number[] | undefined } };
  snapshot(): { labels: Record<string, string>; series: Series }[];
}

/** A Vigil family as OTLP metric data, straight from its series (no prom-client JSON in between). */
function familyData(
  f: VigilFamilyLike,
  prefix: string,
  semconv: boolean,
  registryLabels: Readonly<Record<string, string>>,
  start: Hr,
  end: Hr,
): MetricData | undefined {
  const d = describe(f.name, f.type, f.help, prefix, semconv);
  if (d === undefined) return undefined;
  const { descriptor, rename } = d;
  const hasRegistryLabels = Object.keys(registryLabels).length > 0;
  const snap = f.snapshot();
  const attributes = (labels: Record<string, string>) =>
    attributesOf(hasRegistryLabels ? { ...registryLabels, ...labels } : labels, rename);
  if (f.type === 'histogram') {
    const boundaries = [...(f.store?.buckets ?? [])];
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: snap.map(({ labels, series }) => ({
        startTime: start,
        endTime: end,
        attributes: attributes(labels),
        value: {
          buckets: { boundaries, counts: Array.from(series.counts as Float64Array) },
          sum: series.sum,
          count: series.count,
        },
      })),
    };
  }
  const countView = f.of !== undefined;
  const dataPoints = snap.map(({ labels, series }) => ({
    startTime: start,
    endTime: end,
    attributes: attributes(labels),
    value: countView ? series.count : series.value,
  }));
  return f.type === 'counter'
    ? {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints,
      }
    : {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints,
      };
}

const KNOWN = ['url', 'headers', 'intervalMs', 'timeoutMs', 'semconv', 'serviceName', 'resourceAttributes'];

/** An object of string values (header names and resource keys are not label names). */
function checkStrings(name: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const o = checkObject(name, v);
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') throw new VigilOptionError(`${name}.${k}`, 'a string', val);
  }
  return { ...(o as Record<string, string>) };
}

function envMs(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new VigilOptionError(name, 'a whole number of milliseconds >= 1', raw);
  return n;
}

/**
 * Pushes a metrics handle's registry over OTLP/HTTP every `intervalMs`:
 * `startOtlpMetrics(metrics, { url: 'http://collector:4318/v1/metrics' })`. Needs
 * `@opentelemetry/exporter-metrics-otlp-http` (and its `sdk-metrics`, `resources`) installed.
 * Registered as a process resource: `@vigil/shutdown` sends the last export on SIGTERM.
 */
export function startOtlpMetrics(
  metrics: { readonly registry: Registry; readonly prefix?: string },
  options?: OtlpMetricsOptions,
): OtlpMetrics {
  if (typeof metrics !== 'object' || metrics === null || !isRegistry(metrics.registry)) {
    throw new VigilOptionError('metrics', 'a metrics handle (createMetrics())', metrics);
  }
  const input = checkObject('options', options);
  checkKnownKeys('', input, KNOWN);
  const url = checkString('url', input.url, /^https?:\/\//, 'an http(s) URL');
  const headers = checkStrings('headers', input.headers);
  const intervalMs =
    checkMs('intervalMs', input.intervalMs, 100) ?? envMs('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const timeoutMs = checkMs('timeoutMs', input.timeoutMs, 1) ?? envMs('OTEL_METRIC_EXPORT_TIMEOUT') ?? 10_000;
  const semconv = checkBoolean('semconv', input.semconv) ?? false;
  const serviceName = checkString('serviceName', input.serviceName);
  const extra = checkStrings('resourceAttributes', input.resourceAttributes) ?? {};
  const { registry } = metrics;
  const prefix = metrics.prefix ?? '';

  const exporter = new OTLPMetricExporter({
    ...(url !== undefined ? { url } : {}),
    ...(headers !== undefined ? { headers: { ...headers } } : {}),
    timeoutMillis: timeoutMs,
    temporalityPreference: AggregationTemporality.CUMULATIVE,
  });
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({
      ...extra,
      ...(serviceName !== undefined ? { 'service.name': serviceName } : {}),
    }),
  );
  const scope = { name: '@vigil/metrics' };
  // Cumulative series count from process start, as their Prometheus counterparts do.
  const start = hr(performance.timeOrigin);

  let exported = 0;
  let failed = 0;
  let warned = false;
  let running: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  const collect = async (): Promise<ResourceMetrics> => {
    const end = hr(Date.now());
    const registryLabels = registryDefaultLabels(registry);
    const list: MetricData[] = [];
    for (const metric of registry.getMetricsAsArray()) {
      const f = metric as unknown as Partial<VigilFamilyLike> & { get(): Promise<JsonMetric> | JsonMetric };
      let d: MetricData | undefined;
      if (typeof f.snapshot === 'function') {
        d = familyData(f as VigilFamilyLike, prefix, semconv, registryLabels, start, end);
      } else {
        // prom-client's own metrics (runtime defaults, yours): their JSON (default labels applied).
        const json = await f.get();
        if (Object.keys(registryLabels).length > 0) {
          for (const v of json.values) v.labels = { ...registryLabels, ...v.labels };
        }
        d = toMetricData(json, prefix, semconv, start, end);
      }
      if (d !== undefined && d.dataPoints.length > 0) list.push(d);
    }
    return { resource, scopeMetrics: [{ scope, metrics: list }] };
  };

  const once = async (): Promise<void> => {
    const data = await collect();
    await new Promise<void>((resolve) => {
      // The exporter bounds its request by timeoutMillis; this bound also covers a stuck callback.
      const t = setTimeout(() => done(false, new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 100);
      t.unref();
      let settled = false;
      function done(ok: boolean, error?: Error): void {
        if (settled) return;
        settled = true;
        clearTimeout(t);
        if (ok) exported++;
        else {
          failed++;
          if (!warned) {
            warned = true;
            process.emitWarning(`Vigil could not export metrics over OTLP: ${error?.message ?? 'failed'}`, {
              code: 'VIGIL_OTLP_METRICS_EXPORT',
            });
          }
        }
        resolve();
      }
      // ExportResultCode.SUCCESS is 0 (@opentelemetry/core's enum).
      exporter.export(data, (r) => done(r.code === 0, r.error));
    });
  };

  const flush = (): Promise<void> => {
    // One export at a time: a slow collector never stacks them up.
    running ??= once()
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void flush(), intervalMs);
  timer.unref();

  /** The last export and the exporter's shutdown, within `bound` ms whatever the collector does. */
  const close = (bound = timeoutMs): Promise<void> => {
    closed ??= (async () => {
      clearInterval(timer);
      unregister();
      const last = (async () => {
        await (running ?? Promise.resolve());
        await flush();
        await exporter.shutdown().catch(() => undefined);
      })();
      await Promise.race([last, new Promise<void>((r) => setTimeout(r, bound).unref())]);
    })();
    return closed;
  };
  const unregister = registerProcessResource({
    name: 'otlp metrics',
    order: RESOURCE_ORDER.telemetry,
    close: (budget) => close(budget.timeoutMs),
  });

  return {
    flush,
    close: () => close(),
    get exported() {
      return exported;
    },
    get failed() {
      return failed;
    },
  };
}
