import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Attribute values OpenTelemetry accepts. */
export type AttributeValue =
  | string
  | number
  | boolean
  | readonly string[]
  | readonly number[]
  | readonly boolean[];
export type Attributes = Record<string, AttributeValue | undefined>;

/** pino-compatible `(fields, message)` logger; Vigil logs configuration problems and export trouble once. */
export interface TracingLogger {
  warn(fields: object, message: string): void;
}

/**
 * An OpenTelemetry instrumentation (any `@opentelemetry/instrumentation-*` instance), for
 * libraries Vigil does not cover. Its spans nest under Vigil's.
 */
export interface InstrumentationLike {
  readonly instrumentationName: string;
  setTracerProvider(provider: unknown): void;
  enable(): void;
  disable(): void;
}

export interface TracingOptions {
  /** Default: on, unless `OTEL_SDK_DISABLED=true`. An explicit `true` wins over the variable. */
  enabled?: boolean;
  /** `service.name`. Default: `OTEL_SERVICE_NAME`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, the app's package.json name. */
  serviceName?: string;
  /** `service.version`. Default: from `OTEL_RESOURCE_ATTRIBUTES`, else the app's package.json version. */
  serviceVersion?: string;
  /** `deployment.environment.name`. Default: from `OTEL_RESOURCE_ATTRIBUTES`, else `NODE_ENV` when set. */
  environment?: string;
  /** More resource attributes (win over `OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** Collector base URL. Env: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (full URL), `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint?: string;
  /** Env: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`. */
  protocol?: 'http/protobuf' | 'http/json';
  /** Request headers (authentication). Env: `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string>;
  /** 0 to 1, parent-based. Env: `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG`). */
  sampleRatio?: number;
  /** Env: `OTEL_BSP_MAX_QUEUE_SIZE`. */
  maxQueueSize?: number;
  /** Env: `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`. */
  maxExportBatchSize?: number;
  /** Env: `OTEL_BSP_SCHEDULE_DELAY`. */
  scheduledDelayMs?: number;
  /** Env: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, `OTEL_EXPORTER_OTLP_TIMEOUT`. */
  exportTimeoutMs?: number;
  /** Env: `VIGIL_TRACING_SHUTDOWN_TIMEOUT_MS`. */
  shutdownTimeoutMs?: number;
  fetchSpans?: boolean;
  dbQueryText?: boolean;
  flushOnExit?: boolean;
  /** Use an OpenTelemetry SDK's tracer provider when one is registered, before or after Vigil starts. */
  attach?: boolean;
  /** OpenTelemetry instrumentations to run with Vigil's tracer provider. Create them before the libraries load. */
  instrumentations?: readonly InstrumentationLike[];
  /**
   * More span processors on Vigil's provider, for example `createSpanMetricsBridge()` from
   * `@vigil/metrics`. They see every span made through the SDK, unsampled ones included (which are
   * recorded for them, never exported). Attached to another SDK: add them to that SDK instead.
   */
  spanProcessors?: readonly SpanProcessor[];
  /** Replaces the OTLP/HTTP exporter (for example OpenTelemetry's `InMemorySpanExporter` in tests). */
  exporter?: SpanExporter;
  /** Where configuration problems and the first export failure are reported. Default: JSON lines on stderr. */
  logger?: TracingLogger | false;
}

import type { TracingStats } from '@vigil/core';

export type { TracingStats };

/** The running tracing pipeline (one per process). */
export interface Tracing {
  /** False when disabled (`OTEL_SDK_DISABLED=true` or `enabled: false`): nothing is recorded. */
  readonly enabled: boolean;
  /** The resolved `service.name`. */
  readonly serviceName: string;
  /** The resolved traces URL (empty when a custom exporter is used or tracing is disabled). */
  readonly url: string;
  /** The sampling ratio of Vigil's own provider (when attached, the other SDK's sampler decides). */
  readonly sampleRatio: number;
  /**
   * True while Vigil's spans go through another OpenTelemetry SDK's tracer provider (registered
   * before Vigil started, or after: then it turns true when that SDK starts). See `attach`.
   */
  readonly attached: boolean;
  /** Export everything queued now; resolves when done or after `shutdownTimeoutMs`. */
  forceFlush(): Promise<void>;
  /**
   * Flush, stop exporting, and unregister Vigil's tracer provider, context manager, propagator and
   * hooks, all within `shutdownTimeoutMs` whatever the collector does. Idempotent. `@vigil/shutdown`
   * calls it by itself after its hooks.
   */
  close(): Promise<void>;
  /** Export counters (also exposed as `vigil_tracing_*` metrics by every Vigil metrics registry). */
  stats(): TracingStats;
}

export interface SpanOptions {
  /** Span kind; default internal. */
  kind?: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  attributes?: Attributes;
}

/** The handle passed to `withSpan`'s function: a small view of the OpenTelemetry span. */
export interface ActiveSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** False for unsampled spans: then attributes and events are discarded cheaply. */
  readonly recording: boolean;
  setAttribute(key: string, value: AttributeValue): void;
  setAttributes(attributes: Attributes): void;
  addEvent(name: string, attributes?: Attributes): void;
  recordException(error: unknown): void;
  /** Mark the span failed without throwing (thrown errors are recorded automatically). */
  setError(message?: string): void;
}
