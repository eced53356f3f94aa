import {
  HTTP_CLIENT_STATUS,
  httpClientRequestDuration,
  MESSAGE_OUTCOMES,
  messagingProcessDuration,
  messagingPublished,
  TEMPORARY_DESTINATION,
} from '@vigil/catalog';
import {
  boundLabel,
  checkBoolean,
  checkKnownKeys,
  checkObject,
  checkPositiveInt,
  isMessagingObserved,
  isOutboundObserved,
  isRegistry,
  LABEL_VALUES,
  normalizeMethod,
  statusLabel,
  type TraceIds,
  VigilOptionError,
  watchDbCoverage,
} from '@vigil/core';
import { messagingOverflow } from './amqplib.js';
import type { Metrics } from './create-metrics.js';
import { OTHER_DB_SYSTEM } from './db.js';
import type { CounterSeries, HistogramSeries, Instrument } from './internal/families.js';
import { SummaryCache } from './sql.js';

/**
 * The parts of an OpenTelemetry `ReadableSpan` the bridge reads (SDK 1.x and 2.x): no dependency
 * on the SDK, any `@opentelemetry/sdk-trace(-base)` span fits.
 */
export interface BridgeSpan {
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** `[seconds, nanoseconds]`. */
  readonly duration: readonly [number, number];
  readonly status: { readonly code: number };
  readonly instrumentationScope?: { readonly name: string };
  /** SDK 1.x's name of `instrumentationScope`. */
  readonly instrumentationLibrary?: { readonly name: string };
  spanContext(): { readonly traceId: string; readonly spanId: string; readonly traceFlags: number };
  readonly parentSpanContext?: { readonly spanId: string } | undefined;
  /** SDK 1.x's parent id. */
  readonly parentSpanId?: string | undefined;
}

export interface SpanMetricsBridgeOptions {
  /** The metrics handle whose registry receives the series (`createMetrics()`). Required. */
  metrics: Metrics;
  /** Turn database client spans into `database_query_duration_seconds`. */
  db?: boolean;
  /** Turn HTTP client spans into `http_client_request_duration_seconds`. */
  http?: boolean;
  /** Distinct `target` values; spans to further targets are recorded as `__overflow__`. */
  maxTargets?: number;
  /** Distinct `system` values; further ones are recorded as `other_sql`. */
  maxSystems?: number;
  /** Turn messaging spans into `messaging_published_total` / `messaging_process_duration_seconds`. */
  messaging?: boolean;
  /** Distinct messaging `destination` values; further ones are recorded as `__overflow__`. */
  maxDestinations?: number;
}

/**
 * An OpenTelemetry span processor (add it to any tracer provider: NodeSDK's `spanProcessors`, or
 * `startTracing({ spanProcessors })`) that records Vigil's catalog metrics from other
 * instrumentations' spans. `close()` (or the provider's `shutdown()`) stops it.
 */
export interface SpanMetricsBridge {
  onStart(span: unknown, parentContext: unknown): void;
  onEnd(span: BridgeSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /** Stops recording. Idempotent. */
  close(): Promise<void>;
}

export const SPAN_BRIDGE_DEFAULTS = Object.freeze({
  /** Turn database client spans (`db.system.name` / `db.system`) into `database_query_duration_seconds`. */
  db: true,
  /** Turn HTTP client spans into `http_client_request_duration_seconds` (off by itself while `instrumentOutbound()` runs). */
  http: true,
  /** Distinct `target` values (`host[:port]`) recorded; further ones are `__overflow__`. */
  maxTargets: 100,
  /** Distinct database `system` values recorded; further ones are `other_sql`. */
  maxSystems: 32,
  /**
   * Turn messaging spans (`messaging.system`) into `messaging_published_total` (publish/send) and
   * `messaging_process_duration_seconds` (process); a system Vigil instruments itself is left alone.
   */
  messaging: true,
  /** Distinct messaging `destination` values recorded; further ones are `__overflow__`. */
  maxDestinations: 100,
});

const CLIENT = 2; // SpanKind.CLIENT
const PRODUCER = 3; // SpanKind.PRODUCER
const CONSUMER = 4; // SpanKind.CONSUMER
const ERROR = 2; // SpanStatusCode.ERROR
const SAMPLED = 1;
/** Parent ids remembered while waiting for the parent to end; bounded, since some never end. */
const MAX_PENDING_PARENTS = 4096;
const SYSTEM = /^[a-z][a-z0-9_.-]{0,31}$/;
const OPERATION = /^[A-Z][A-Z0-9_ ]{0,31}$/;
/** Driver names some instrumentations report (Knex: its client name) -> the semconv value Vigil's adapters use. */
const SYSTEM_ALIASES: Readonly<Record<string, string>> = {
  mysql2: 'mysql',
  pg: 'postgresql',
  postgres: 'postgresql',
  'pg-native': 'postgresql',
  sqlite3: 'sqlite',
  'better-sqlite3': 'sqlite',
  tedious: 'mssql',
};
/** Knex's method names that are not SQL verbs. */
const KNEX_OPERATIONS: Readonly<Record<string, string>> = {
  DEL: 'DELETE',
  FIRST: 'SELECT',
  PLUCK: 'SELECT',
  COUNT: 'SELECT',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v)
    ? v
    : typeof v === 'string' && /^\d{1,5}$/.test(v)
      ? Number(v)
      : undefined;

/**
 * A span processor that turns the database and HTTP client spans of any OpenTelemetry
 * instrumentation (Knex, Prisma, Sequelize, TypeORM, instrumentation-pg, -http, -undici, ...) into
 * the catalog metrics the shipped dashboards read, from the stable semantic-convention attributes
 * (and their pre-1.26 names):
 *
 * - `database_query_duration_seconds{system, operation, table, outcome}` from `db.system.name`,
 *   `db.operation.name`, `db.collection.name` (or the SQL in `db.query.text`);
 * - `http_client_request_duration_seconds{target, method, status_code}` from
 *   `http.request.method`, `server.address`, `server.port`, `http.response.status_code`.
 *
 * No double counting: Vigil's own spans are skipped (its adapters record their metrics), a span
 * with a client span of the same kind below it is skipped (Knex over instrumentation-pg counts the
 * query once), so is a span whose query one of Vigil's adapters timed (Knex over `mysql2` with
 * `instrumentMysql2()`, sampled or not), and HTTP spans are skipped while `instrumentOutbound()`
 * records every request.
 * Labels are bounded: distinct targets and systems are capped, and the metrics' series cap applies.
 *
 * It sees the spans the provider records: with a sampler below 1, use
 * `startTracing({ spanProcessors })` (which records unsampled spans for processors, exporting only
 * sampled ones) or an always-record sampler, or the counts are those of sampled spans.
 */
export function createSpanMetricsBridge(options: SpanMetricsBridgeOptions): SpanMetricsBridge {
  const input = checkObject('options', options);
  checkKnownKeys('', input, Object.keys(SPAN_BRIDGE_DEFAULTS).concat('metrics'));
  const metrics = input.metrics as Metrics | undefined;
  if (
    typeof metrics !== 'object' ||
    metrics === null ||
    !isRegistry(metrics.registry) ||
    typeof metrics.instrument !== 'function' ||
    typeof metrics.db?.observe !== 'function'
  ) {
    throw new VigilOptionError('metrics', 'a Vigil metrics handle (from createMetrics())', metrics);
  }
  const doDb = checkBoolean('db', input.db) ?? SPAN_BRIDGE_DEFAULTS.db;
  const doHttp = checkBoolean('http', input.http) ?? SPAN_BRIDGE_DEFAULTS.http;
  const maxTargets = checkPositiveInt('maxTargets', input.maxTargets) ?? SPAN_BRIDGE_DEFAULTS.maxTargets;
  const maxSystems = checkPositiveInt('maxSystems', input.maxSystems) ?? SPAN_BRIDGE_DEFAULTS.maxSystems;
  const doMessaging = checkBoolean('messaging', input.messaging) ?? SPAN_BRIDGE_DEFAULTS.messaging;
  const maxDestinations =
    checkPositiveInt('maxDestinations', input.maxDestinations) ?? SPAN_BRIDGE_DEFAULTS.maxDestinations;

  const db = metrics.db;
  let client: Instrument<HistogramSeries> | undefined;
  const sql = new SummaryCache();
  const systems = new Set<string>();
  const targets = new Set<string>();
  const messagingSystems = new Set<string>();
  const destinations = new Set<string>();
  let published: Instrument<CounterSeries> | undefined;
  let processed: Instrument<HistogramSeries> | undefined;
  /** `d<spanId>` / `h<spanId>`: spans with a database / HTTP client span below them. */
  const covered = new Set<string>();
  // Spans whose query one of Vigil's adapters timed (sampled or not: no span of Vigil's below then).
  const adapters = watchDbCoverage();
  let closed = false;

  const system = (raw: string): string => {
    const lower = raw.toLowerCase();
    const s = SYSTEM_ALIASES[lower] ?? lower;
    return admit(systems, s, maxSystems, SYSTEM.test(s), OTHER_DB_SYSTEM);
  };
  const target = (host: string, port: number | undefined, secure: boolean): string => {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    const t = boundLabel(port !== undefined && port !== (secure ? 443 : 80) ? `${h}:${port}` : h);
    return admit(targets, t, maxTargets, true, LABEL_VALUES.overflowRoute);
  };
  /** Marks the parent as covered; true when this span itself is covered (skip it). */
  const innermost = (span: BridgeSpan, kind: 'd' | 'h', spanId: string): boolean => {
    const parent = span.parentSpanContext?.spanId ?? span.parentSpanId;
    if (parent !== undefined) {
      if (covered.size >= MAX_PENDING_PARENTS) covered.clear();
      covered.add(kind + parent);
    }
    const below = covered.delete(kind + spanId);
    return (kind === 'd' && adapters.take(spanId)) || below;
  };

  const recordDb = (span: BridgeSpan, a: BridgeSpan['attributes'], sys: string, ex: TraceIds | undefined) => {
    const text = str(a['db.query.text']) ?? str(a['db.statement']);
    let operation = str(a['db.operation.name']) ?? str(a['db.operation']);
    let table = str(a['db.collection.name']) ?? str(a['db.sql.table']) ?? str(a['db.mongodb.collection']);
    if (operation !== undefined) {
      operation = operation.toUpperCase();
      operation = KNEX_OPERATIONS[operation] ?? operation;
      if (operation === 'RAW' || !OPERATION.test(operation)) operation = undefined;
    }
    if ((operation === undefined || table === undefined) && text !== undefined) {
      const s = sql.get(text);
      operation ??= s.operation;
      table ??= s.table;
    }
    db.observe(
      operation ?? LABEL_VALUES.unknownSql,
      table ?? LABEL_VALUES.unknownSql,
      span.status.code === ERROR ? 'error' : 'success',
      seconds(span),
      ex,
      system(sys),
    );
  };

  const recordHttp = (
    span: BridgeSpan,
    a: BridgeSpan['attributes'],
    method: string,
    ex: TraceIds | undefined,
  ) => {
    let host = str(a['server.address']) ?? str(a['net.peer.name']);
    let port = int(a['server.port']) ?? int(a['net.peer.port']);
    const url = str(a['url.full']) ?? str(a['http.url']);
    let secure = str(a['url.scheme']) === 'https';
    if (url !== undefined) {
      const m = /^(https?):\/\/(\[[^\]]*\]|[^:/?#]*)(?::(\d{1,5}))?/i.exec(url);
      if (m !== null) {
        secure = m[1]?.toLowerCase() === 'https';
        host ??= m[2];
        port ??= m[3] === undefined ? undefined : Number(m[3]);
      }
    }
    if (host === undefined) return;
    const code = int(a['http.response.status_code']) ?? int(a['http.status_code']);
    let status: string;
    if (code !== undefined) status = statusLabel(code);
    else {
      const type = String(a['error.type'] ?? '');
      status = /timeout/i.test(type)
        ? HTTP_CLIENT_STATUS.timeout
        : /abort/i.test(type)
          ? HTTP_CLIENT_STATUS.aborted
          : HTTP_CLIENT_STATUS.error;
    }
    client ??= metrics.instrument(httpClientRequestDuration) as unknown as Instrument<HistogramSeries>;
    let m = normalizeMethod(method);
    if (m === LABEL_VALUES.otherMethod) m = normalizeMethod(method.toUpperCase());
    client.labels(target(host, port, secure), m, status).observe(seconds(span), ex);
  };

  /** A publish (PRODUCER, or send/publish) or a process (CONSUMER) span of any messaging client. */
  const recordMessage = (span: BridgeSpan, a: BridgeSpan['attributes'], rawSystem: string): void => {
    const sys = rawSystem.toLowerCase();
    if (isMessagingObserved(sys)) return; // Vigil's own instrumentation counts it
    const op = (str(a['messaging.operation.type']) ?? str(a['messaging.operation']))?.toLowerCase();
    const publish =
      op === 'publish' || op === 'send' || op === 'create' || (op === undefined && span.kind === PRODUCER);
    const process = op === 'process' || op === 'deliver' || (op === undefined && span.kind === CONSUMER);
    if (!publish && !process) return; // receive, settle: not what the catalog counts
    const system = admit(messagingSystems, sys, maxSystems, SYSTEM.test(sys), 'other');
    const raw =
      str(a['messaging.destination.name']) ??
      str(a['messaging.destination']) ??
      str(a['messaging.rabbitmq.destination.routing_key']) ??
      str(a['messaging.rabbitmq.routing_key']) ??
      '';
    const destination =
      raw === '' || raw.startsWith('amq.gen-') || a['messaging.destination.temporary'] === true
        ? TEMPORARY_DESTINATION
        : admit(destinations, boundLabel(raw), maxDestinations, true, LABEL_VALUES.overflowRoute);
    const failed = span.status.code === ERROR;
    if (publish) {
      published ??= metrics.instrument(messagingPublished, {
        overflow: messagingOverflow,
      }) as unknown as Instrument<CounterSeries>;
      published.labels(destination, system, failed ? MESSAGE_OUTCOMES.error : MESSAGE_OUTCOMES.sent).inc();
      return;
    }
    processed ??= metrics.instrument(messagingProcessDuration, {
      overflow: messagingOverflow,
    }) as unknown as Instrument<HistogramSeries>;
    const sc = span.spanContext();
    const ex = (sc.traceFlags & SAMPLED) === SAMPLED ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
    processed
      .labels(destination, system, failed ? MESSAGE_OUTCOMES.error : MESSAGE_OUTCOMES.ack)
      .observe(seconds(span), ex);
  };

  const onEnd = (span: BridgeSpan): void => {
    if (closed) return;
    try {
      const a = span.attributes;
      const msys = doMessaging ? str(a['messaging.system']) : undefined;
      if (msys !== undefined && (span.kind === PRODUCER || span.kind === CONSUMER || span.kind === CLIENT)) {
        const scope = (span.instrumentationScope ?? span.instrumentationLibrary)?.name ?? '';
        if (!scope.startsWith('@vigil/')) recordMessage(span, a, msys);
        return;
      }
      if (span.kind !== CLIENT) return;
      const sys = doDb ? (str(a['db.system.name']) ?? str(a['db.system'])) : undefined;
      const method =
        sys === undefined && doHttp ? (str(a['http.request.method']) ?? str(a['http.method'])) : undefined;
      if (sys === undefined && method === undefined) return;
      const sc = span.spanContext();
      if (innermost(span, sys !== undefined ? 'd' : 'h', sc.spanId)) return;
      // Vigil's own adapters record their metrics already.
      const scope = (span.instrumentationScope ?? span.instrumentationLibrary)?.name ?? '';
      if (scope.startsWith('@vigil/')) return;
      const ex =
        (sc.traceFlags & SAMPLED) === SAMPLED ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
      if (sys !== undefined) recordDb(span, a, sys, ex);
      else if (!isOutboundObserved()) recordHttp(span, a, method as string, ex);
    } catch {
      // A span processor that throws breaks the application's span.end(): never.
    }
  };

  const close = async (): Promise<void> => {
    closed = true;
    covered.clear();
    adapters.release();
  };
  return {
    onStart() {},
    onEnd,
    forceFlush: async () => {},
    shutdown: close,
    close,
  };
}

/** `value` when already seen or there is room (and it is acceptable), else `fallback`. */
function admit(seen: Set<string>, value: string, max: number, ok: boolean, fallback: string): string {
  if (seen.has(value)) return value;
  if (!ok || seen.size >= max) return fallback;
  seen.add(value);
  return value;
}

function seconds(span: BridgeSpan): number {
  const d = span.duration;
  return d[0] + d[1] / 1e9;
}
