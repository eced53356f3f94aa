import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VigilOptionError } from '../errors.js';

/** The part of an OpenTelemetry `LoggerProvider` (`@opentelemetry/sdk-logs`, NodeSDK's) the bridge uses. */
export interface LoggerProviderLike {
  getLogger(name: string, version?: string): { emit(record: Record<string, unknown>): void };
  forceFlush?(): Promise<void>;
  shutdown?(): Promise<void>;
}

export interface OtlpLogsOptions {
  /**
   * OTLP/HTTP base URL; records go to `<endpoint>/v1/logs`. Default: the standard variables
   * (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`), else `http://localhost:4318`.
   */
  endpoint?: string;
  /** Request headers (authentication). Default: `OTEL_EXPORTER_OTLP_LOGS_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string>;
  /**
   * Emit into this provider instead of building one (for example the LoggerProvider your NodeSDK
   * set up): its processors and exporter apply, and `close()` flushes it without shutting it down.
   */
  loggerProvider?: LoggerProviderLike;
}

export interface OtlpLogs {
  /** One serialized pino line (already redacted): parsed and emitted as a log record. */
  line(text: string): void;
  /** Exports what is queued and stops, within `timeoutMs`. Idempotent. */
  close(timeoutMs: number): Promise<void>;
}

/** pino level number -> OpenTelemetry SeverityNumber (TRACE=1, DEBUG=5, INFO=9, WARN=13, ERROR=17, FATAL=21). */
const SEVERITY: Readonly<Record<string, readonly [number, string]>> = {
  trace: [1, 'TRACE'],
  debug: [5, 'DEBUG'],
  info: [9, 'INFO'],
  warn: [13, 'WARN'],
  error: [17, 'ERROR'],
  fatal: [21, 'FATAL'],
};
/** Fields that become the record's own parts, not attributes. */
const OWN = new Set(['level', 'time', 'msg', 'trace_id', 'span_id', 'trace_flags']);
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

type Api = typeof import('@opentelemetry/api');

/**
 * Loads an optional peer dependency, from the application first (as pino-pretty is found), then
 * from this package; or names it in the option error.
 */
function load<T>(name: string, from?: string): T {
  const bases = from !== undefined ? [from] : [join(process.cwd(), 'index.js'), import.meta.url];
  for (const base of bases) {
    try {
      return createRequire(base)(name) as T;
    } catch {}
  }
  throw new VigilOptionError(
    'otlp',
    'the OpenTelemetry log packages installed (npm i @opentelemetry/api @opentelemetry/sdk-logs @opentelemetry/exporter-logs-otlp-http @opentelemetry/resources)',
    name,
  );
}

/** Where a package resolves from (the app, then this package). */
function resolveFrom(name: string): string | undefined {
  for (const base of [join(process.cwd(), 'index.js'), import.meta.url]) {
    try {
      return createRequire(base).resolve(name);
    } catch {}
  }
  return undefined;
}

interface RecordExporter {
  export(records: unknown[], done: (result: { code: number }) => void): void;
  shutdown(): Promise<void>;
}

const SUPPRESS_TRACING = Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const MAX_QUEUE = 2048;
const MAX_BATCH = 512;
const DELAY_MS = 1_000;

/**
 * A bounded batch of log records with one export in flight and a timer that never holds the
 * process. (OpenTelemetry's BatchLogRecordProcessor guards each export with a ref'd timer, so a
 * collector that never answers would keep the process alive for the export timeout after close().)
 */
class BatchProcessor {
  private queue: unknown[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly exporter: RecordExporter,
    private readonly api: Api,
  ) {}

  onEmit(record: unknown): void {
    // Beyond the queue the record is dropped: a collector that is down never grows the heap.
    if (this.closed || this.queue.length >= MAX_QUEUE) return;
    this.queue.push(record);
    if (this.queue.length >= MAX_BATCH) void this.exportBatch();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.exportBatch();
      }, DELAY_MS);
      this.timer.unref();
    }
  }

  private exportBatch(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return Promise.resolve();
    const { context, ROOT_CONTEXT } = this.api;
    this.inflight = new Promise<void>((resolve) => {
      try {
        // The exporter's own request is never traced (nor observed as an outbound call).
        context.with(ROOT_CONTEXT.setValue(SUPPRESS_TRACING, true), () =>
          this.exporter.export(batch, () => resolve()),
        );
      } catch {
        resolve();
      }
    }).then(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  async forceFlush(): Promise<void> {
    while (this.queue.length > 0 || this.inflight !== undefined) await (this.inflight ?? this.exportBatch());
  }

  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.forceFlush();
    this.closed = true;
    await this.exporter.shutdown().catch(() => {});
  }
}

/** An agent whose sockets never keep the process alive (one connection per export batch). */
function unrefAgent(protocol: string): http.Agent {
  const agent = new (protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: false });
  const create = agent.createConnection.bind(agent) as (
    ...a: unknown[]
  ) => { unref?: () => void } | undefined;
  (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = (...a) => {
    const socket = create(...a);
    socket?.unref?.();
    return socket;
  };
  return agent;
}

/** Validates `otlp` (true or an options object); undefined when off. */
export function checkOtlpOption(v: unknown): OtlpLogsOptions | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VigilOptionError('otlp', 'true, false or { endpoint, headers, loggerProvider }', v);
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'endpoint' && k !== 'headers' && k !== 'loggerProvider') {
      throw new VigilOptionError(
        `otlp.${k}`,
        'one of endpoint, headers, loggerProvider',
        'an unknown option',
      );
    }
  }
  if (o.endpoint !== undefined) {
    let ok = false;
    try {
      const u = new URL(String(o.endpoint));
      ok = typeof o.endpoint === 'string' && (u.protocol === 'http:' || u.protocol === 'https:');
    } catch {}
    if (!ok) throw new VigilOptionError('otlp.endpoint', 'an http(s) URL', o.endpoint);
  }
  if (
    o.headers !== undefined &&
    (typeof o.headers !== 'object' ||
      o.headers === null ||
      Object.values(o.headers).some((h) => typeof h !== 'string'))
  ) {
    throw new VigilOptionError('otlp.headers', 'an object of string values', o.headers);
  }
  if (
    o.loggerProvider !== undefined &&
    (typeof o.loggerProvider !== 'object' ||
      o.loggerProvider === null ||
      typeof (o.loggerProvider as LoggerProviderLike).getLogger !== 'function')
  ) {
    throw new VigilOptionError('otlp.loggerProvider', 'an OpenTelemetry LoggerProvider', o.loggerProvider);
  }
  return o as OtlpLogsOptions;
}

/**
 * The pino -> OTLP logs bridge: each line the logger writes (after redaction) becomes an
 * OpenTelemetry log record (body `msg`, severity from `level`, the other fields as attributes, the
 * line's trace and span ids as the record's trace context), batched and exported over OTLP/HTTP by
 * OpenTelemetry's own log SDK and exporter (loaded only when the option is on).
 */
export function createOtlpLogs(o: OtlpLogsOptions, service: string | undefined): OtlpLogs {
  let provider: LoggerProviderLike;
  let api: Api;
  const own = o.loggerProvider === undefined;
  if (o.loggerProvider !== undefined) {
    provider = o.loggerProvider;
    api = load<Api>('@opentelemetry/api');
  } else {
    const sdk = load<typeof import('@opentelemetry/sdk-logs')>('@opentelemetry/sdk-logs');
    // The API copy the log SDK uses, so the trace context it reads is the one set here.
    api = load<Api>('@opentelemetry/api', resolveFrom('@opentelemetry/sdk-logs'));
    const { OTLPLogExporter } = load<typeof import('@opentelemetry/exporter-logs-otlp-http')>(
      '@opentelemetry/exporter-logs-otlp-http',
    );
    const { resourceFromAttributes } =
      load<typeof import('@opentelemetry/resources')>('@opentelemetry/resources');
    const base = o.endpoint?.replace(/\/+$/, '');
    const exporter = new OTLPLogExporter({
      ...(base !== undefined ? { url: `${base}/v1/logs` } : {}),
      ...(o.headers !== undefined ? { headers: o.headers } : {}),
      // A collector that never answers must not hold the process after close(): its sockets are
      // unref'd (upstream's keep open until the 10 s export timeout).
      httpAgentOptions: unrefAgent,
    });
    provider = new sdk.LoggerProvider({
      resource: resourceFromAttributes(service ? { 'service.name': service } : {}),
      processors: [new BatchProcessor(exporter as unknown as RecordExporter, api)],
    }) as unknown as LoggerProviderLike;
  }
  const logger = provider.getLogger('@vigil/logger');
  let closing: Promise<void> | undefined;

  return {
    line(text) {
      if (closing !== undefined) return;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (rec === null || typeof rec !== 'object') return;
      const attributes: Record<string, unknown> = {};
      for (const k of Object.keys(rec)) if (!OWN.has(k)) attributes[k] = rec[k];
      const sev = SEVERITY[String(rec.level)];
      let context: unknown;
      const traceId = rec.trace_id;
      const spanId = rec.span_id;
      if (
        typeof traceId === 'string' &&
        HEX32.test(traceId) &&
        typeof spanId === 'string' &&
        HEX16.test(spanId)
      ) {
        context = api.trace.setSpanContext(api.ROOT_CONTEXT, {
          traceId,
          spanId,
          traceFlags: rec.trace_flags === '01' ? 1 : 0,
          isRemote: true,
        });
      }
      try {
        logger.emit({
          timestamp: typeof rec.time === 'number' ? rec.time : Date.now(),
          severityNumber: sev?.[0],
          severityText: sev?.[1] ?? (typeof rec.level === 'string' ? rec.level : undefined),
          body: typeof rec.msg === 'string' ? rec.msg : undefined,
          attributes,
          context,
        });
      } catch {
        // Logging must never throw into the application.
      }
    },
    close(timeoutMs) {
      closing ??= new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        const done = () => {
          clearTimeout(t);
          resolve();
        };
        // A provider given to us belongs to its owner: flushed, never shut down.
        const p = own ? provider.shutdown?.() : provider.forceFlush?.();
        Promise.resolve(p).then(done, done);
      });
      return closing;
    },
  };
}
