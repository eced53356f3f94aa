/**
 * Defaults for `startTracing`; the README's options table is generated from this object. Each can
 * also come from the standard OpenTelemetry environment variable named in the README; options win
 * over the environment, the environment over these defaults.
 */
export const TRACING_DEFAULTS = Object.freeze({
  /** OTLP/HTTP base URL of the collector; spans go to `<endpoint>/v1/traces`. */
  endpoint: 'http://localhost:4318',
  /**
   * `http/protobuf` (OTLP's default) or `http/json`; every collector accepts both. Protobuf is
   * smaller and cheaper to send (see the tracing README); JSON suits collectors behind proxies that
   * only pass JSON, or reading the payloads.
   */
  protocol: 'http/protobuf' as 'http/protobuf' | 'http/json',
  /**
   * Share of new traces recorded (parent-based: a request continues its caller's decision). 1 is
   * OpenTelemetry's default; busy services often use 0.1. Unsampled requests still carry trace ids
   * in logs and propagate the decision downstream, at almost no cost.
   */
  sampleRatio: 1,
  /** Ended spans held for export; beyond it spans are dropped and counted, never queued without bound. */
  maxQueueSize: 2048,
  /** Spans per OTLP request. */
  maxExportBatchSize: 512,
  /** Longest a span waits in the queue before an export starts (ms). */
  scheduledDelayMs: 5_000,
  /** Limit of one export, retries included (ms). */
  exportTimeoutMs: 10_000,
  /**
   * Limit of `close()` and of the flush at exit (ms), everything included; what is still queued
   * then is dropped and counted. Below a shutdown hook's default timeout (5 s), so a hook that
   * calls `close()` never times out; `@vigil/shutdown`, which flushes tracing by itself, gives it at
   * most what is left of its `flushTimeoutMs`.
   */
  shutdownTimeoutMs: 4_000,
  /** Client spans and `traceparent` for `fetch()` and undici (Node's diagnostics channels, no patching). */
  fetchSpans: true,
  /** Record the SQL text as `db.query.text` (off: literals in SQL can carry personal data or secrets). */
  dbQueryText: false,
  /** Flush on `beforeExit`, and on SIGTERM/SIGINT when nothing else handles them (on with the register entry). */
  flushOnExit: false,
  /**
   * Attach to an OpenTelemetry SDK (NodeSDK) registered before or after Vigil: its tracer
   * provider, sampler and exporter serve Vigil's spans too (one pipeline, one server span per
   * request). false: Vigil keeps its own provider and warns.
   */
  attach: true,
});
