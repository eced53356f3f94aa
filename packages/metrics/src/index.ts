export { CATALOG, LABEL_VALUES } from '@vigil/catalog';
export type { TraceIds } from '@vigil/core';
export {
  ADAPTER_METRICS_DEFAULTS,
  type AdaptedMetrics,
  type AdapterMetricsOptions,
  adapterHandle,
  adaptMetrics,
} from './adapter.js';
export {
  AMQPLIB_DEFAULTS,
  type AmqpChannelLike,
  type AmqpConnectionLike,
  type AmqplibOptions,
} from './amqplib.js';
export type {
  BuildInfoOptions,
  HttpLabelOptions,
  Metrics,
  MetricsOptions,
  MetricsServerOptions,
} from './create-metrics.js';
export { createMetrics, METRICS_DEFAULTS } from './create-metrics.js';
export type { DbMetrics, QueryOutcome } from './db.js';
export { INVALID_OPTION, isVigilOptionError, VigilOptionError } from './errors.js';
export {
  acceptsOpenMetrics,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  serializeRegistry,
} from './exposition.js';
export type { ScrapeResult } from './handler.js';
export type { HttpMetrics } from './http.js';
export { createHttpObserver, type HttpObserver, type HttpObserverOptions } from './http-observer.js';
export {
  acquireInstruments,
  createInstruments,
  INSTRUMENTS_DEFAULTS,
  type InstrumentOptions,
  type Instruments,
  type InstrumentsOptions,
  type LabelTuple,
} from './instruments.js';
export type {
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
  Instrument,
} from './internal/families.js';
export { Registry } from './internal/prom.js';
export type { Exemplar, Series } from './internal/store.js';
export type { PgClientLike, PgPoolLike } from './pg.js';
export type { PoolOptions } from './pools.js';
export type { MetricsServer } from './server.js';
export {
  type BridgeSpan,
  createSpanMetricsBridge,
  SPAN_BRIDGE_DEFAULTS,
  type SpanMetricsBridge,
  type SpanMetricsBridgeOptions,
} from './span-bridge.js';
export type { SqlSummary } from './sql.js';
export { parseSql } from './sql.js';
