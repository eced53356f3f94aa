import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { ConsoleSpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { TracingLogger } from '../types.js';
import type { ResolvedConfig, TlsFiles } from './config.js';

/**
 * OTLP/HTTP span exporter: OpenTelemetry's serializers (`@opentelemetry/otlp-transformer`, the code
 * inside `exporter-trace-otlp-http` / `-proto`) in a transport built so that a collector that is
 * down, slow or failing can never hold the process:
 *
 * - sockets are `unref()`d and retry timers too, so a pending export never keeps the process alive;
 * - every request has a timeout, and `shutdown()` aborts whatever is in flight at once;
 * - a failed request is retried as the OTLP spec says (connection errors, 429/502/503/504, after
 *   `Retry-After` or an exponential backoff with jitter), only while the export's own deadline
 *   allows, and never after shutdown.
 *
 * The upstream exporter schedules its retries on ref'd timers and cannot abort a request, so a
 * process whose collector hangs waits for the export timeout before exiting (bench/results/exporter.md).
 */
export interface OtlpHttpExporterOptions {
  /** Full URL of the traces endpoint (`…/v1/traces`). */
  readonly url: string;
  readonly protocol: 'http/json' | 'http/protobuf';
  readonly headers: Readonly<Record<string, string>>;
  /** Per export, retries included. */
  readonly timeoutMs: number;
  readonly compression?: 'gzip' | 'none';
  /** CA and client certificate for an https collector (PEM). */
  readonly tls?: TlsFiles;
  /** Told once when the collector rejects spans (OTLP partial success). */
  readonly log?: TracingLogger;
}

/** What the processor needs beyond success or failure: spans the collector accepted the request but rejected. */
export interface PartialExportResult extends ExportResult {
  readonly rejected?: number;
}

/** Retryable answers (OTLP/HTTP spec, "Retryable Response Codes"). */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** Network errors that may heal (a collector restarting, DNS settling); a certificate refused will not. */
const RETRYABLE_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Backoff: first wait, growth per attempt, longest wait; ±20 % jitter. The same as OpenTelemetry JS's exporters. */
const BACKOFF = { initialMs: 1_000, multiplier: 1.5, maxMs: 5_000, jitter: 0.2 };

const gzipAsync = promisify(gzip);

export class ExportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

interface PartialSuccess {
  readonly rejectedSpans?: number | string | bigint;
  readonly errorMessage?: string;
}
interface TraceSerializer {
  serializeRequest(spans: ReadableSpan[]): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): { partialSuccess?: PartialSuccess };
}

/**
 * OpenTelemetry's trace serializers, loaded on the first export rather than at start-up: the
 * package's index also loads the logs and metrics SDKs (about 95 of the 230 files tracing used to
 * load, the largest part of its start-up cost). Deep paths: the package has no `exports` map, and
 * only the trace serializers are needed.
 */
export const OTLP_TRANSFORMER_SUPPORTED = '>=0.200.0 <0.300.0';
export const SERIALIZER_PATHS = {
  'http/protobuf': [
    '@opentelemetry/otlp-transformer/build/src/trace/protobuf/index.js',
    'ProtobufTraceSerializer',
  ],
  'http/json': ['@opentelemetry/otlp-transformer/build/src/trace/json/index.js', 'JsonTraceSerializer'],
} as const;

async function loadSerializer(protocol: OtlpHttpExporterOptions['protocol']): Promise<TraceSerializer> {
  const [path, name] = SERIALIZER_PATHS[protocol];
  const mod: Record<string, unknown> = await import(path);
  // CommonJS imported from ESM: named exports are detected; `default` is the exports object.
  const exportsObject = (mod.default ?? mod) as Record<string, TraceSerializer | undefined>;
  const serializer = (mod[name] as TraceSerializer | undefined) ?? exportsObject[name];
  if (serializer === undefined) throw new Error(`@opentelemetry/otlp-transformer: ${name} not found`);
  return serializer;
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date starts with the day's name; Date.parse alone would take "-1" for a year.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The wait before retry number `attempt` (0-based): exponential, capped, with jitter. */
export function backoffMs(attempt: number, random = Math.random): number {
  const base = Math.min(BACKOFF.initialMs * BACKOFF.multiplier ** attempt, BACKOFF.maxMs);
  return base * (1 - BACKOFF.jitter + 2 * BACKOFF.jitter * random());
}

export class OtlpHttpExporter implements SpanExporter {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private serializer: TraceSerializer | undefined;
  private readonly headers: Record<string, string>;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;
  private retries = true;
  private warnedRejected = false;

  constructor(private readonly o: OtlpHttpExporterOptions) {
    this.url = new URL(o.url);
    const secure = this.url.protocol === 'https:';
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 2, ...o.tls })
      : new http.Agent({ keepAlive: true, maxSockets: 2 });
    // A keep-alive socket to the collector must not keep the process alive between exports.
    this.agent.on('free', (socket: Socket) => socket.unref());
    this.request = secure ? https.request : http.request;
    this.headers = {
      ...o.headers,
      'content-type': o.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
      'user-agent': 'vigil-tracing (OTLP/HTTP)',
      ...(o.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
  }

  get endpoint(): string {
    return this.url.href;
  }

  export(spans: ReadableSpan[], resultCallback: (result: PartialExportResult) => void): void {
    if (this.closed) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new ExportError('exporter is shut down', false),
      });
      return;
    }
    if (this.serializer === undefined) {
      loadSerializer(this.o.protocol).then(
        (serializer) => {
          this.serializer = serializer;
          this.export(spans, resultCallback);
        },
        (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
      );
      return;
    }
    let body: Uint8Array | undefined;
    try {
      body = this.serializer.serializeRequest(spans);
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: err as Error });
      return;
    }
    if (body === undefined) {
      resultCallback({ code: ExportResultCode.FAILED, error: new ExportError('nothing to send', false) });
      return;
    }
    const deadline = Date.now() + this.o.timeoutMs;
    (this.o.compression === 'gzip' ? gzipAsync(body) : Promise.resolve(body))
      .then((b) => this.sendWithRetries(b, deadline))
      .then(
        (response) => resultCallback(this.partialSuccess(response, spans.length)),
        (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
      );
  }

  /** Success, with the spans a partial success rejected (counted, told once, never retried: the spec says so). */
  private partialSuccess(response: Buffer, sent: number): PartialExportResult {
    if (response.length === 0 || this.serializer === undefined) return { code: ExportResultCode.SUCCESS };
    let ps: PartialSuccess | undefined;
    try {
      ps = this.serializer.deserializeResponse(response).partialSuccess;
    } catch {}
    if (ps === undefined) return { code: ExportResultCode.SUCCESS };
    const n = Number(ps.rejectedSpans ?? 0);
    const rejected = Number.isFinite(n) ? Math.min(Math.max(0, Math.trunc(n)), sent) : 0;
    const message = typeof ps.errorMessage === 'string' ? ps.errorMessage.slice(0, 1000) : '';
    if ((rejected > 0 || message !== '') && !this.warnedRejected) {
      this.warnedRejected = true;
      this.o.log?.warn(
        { url: this.url.href, rejected, sent, error: message },
        'The collector rejected spans (OTLP partial success); they are counted in vigil_tracing_spans_dropped_total{reason="rejected"} (logged once)',
      );
    }
    return { code: ExportResultCode.SUCCESS, rejected };
  }

  private async sendWithRetries(body: Uint8Array, deadline: number): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(body, deadline - Date.now());
      } catch (err) {
        const e = err as ExportError;
        const wait = e.retryAfterMs ?? backoffMs(attempt);
        // A wait that would end past the deadline fails now rather than later.
        if (!e.retryable || !this.retries || this.closed || Date.now() + wait >= deadline) throw err;
        await this.sleep(wait);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      t.unref();
      this.timers.set(t, resolve);
    });
  }

  /** One POST; resolves with the response body of a 2xx answer. */
  private send(body: Uint8Array, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new ExportError('exporter is shut down', false));
        return;
      }
      if (timeoutMs <= 0) {
        reject(new ExportError('export timed out', false));
        return;
      }
      const req = this.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-length': String(body.byteLength) },
      });
      this.inFlight.add(req);
      let settled = false;
      const finish = (err: ExportError | undefined, response?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(req);
        if (err) reject(err);
        else resolve(response ?? Buffer.alloc(0));
      };
      const timer = setTimeout(() => {
        finish(new ExportError(`no answer from ${this.url.host} within the export timeout`, false));
        req.destroy();
      }, timeoutMs);
      timer.unref();
      req.on('socket', (socket: Socket) => socket.unref());
      req.on('error', (err: NodeJS.ErrnoException) => {
        finish(
          new ExportError(`${err.code ?? err.name}: ${err.message}`, RETRYABLE_ERRORS.has(err.code ?? '')),
        );
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) res.destroy();
          else chunks.push(chunk);
        });
        res.on('error', () => {});
        res.on('close', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish(undefined, Buffer.concat(chunks));
          else {
            const ra = parseRetryAfter(res.headers['retry-after']);
            finish(new ExportError(`collector answered HTTP ${status}`, RETRYABLE_STATUS.has(status), ra));
          }
        });
      });
      req.end(body);
    });
  }

  async forceFlush(): Promise<void> {}

  /** From now on each export is tried once: at shutdown a collector that refuses gets no second chance. */
  stopRetrying(): void {
    this.retries = false;
  }

  /** Aborts requests in flight and pending retries; idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [t, wake] of this.timers) {
      clearTimeout(t);
      wake();
    }
    this.timers.clear();
    for (const req of this.inFlight) req.destroy(new Error('exporter shut down'));
    this.agent.destroy();
  }
}

/** `OTEL_TRACES_EXPORTER=none`: spans are still made (ids in logs, exemplars, propagation), never queued or sent. */
export class NoExporter implements SpanExporter {
  export(_spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    resultCallback({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

/** Several exporters (`OTEL_TRACES_EXPORTER=otlp,console`): the batch succeeds when every one did. */
class FanOutExporter implements SpanExporter {
  constructor(private readonly exporters: readonly SpanExporter[]) {}

  export(spans: ReadableSpan[], resultCallback: (result: PartialExportResult) => void): void {
    let left = this.exporters.length;
    let failed: ExportResult | undefined;
    let rejected = 0;
    for (const e of this.exporters) {
      e.export(spans, (r: PartialExportResult) => {
        if (r.code !== ExportResultCode.SUCCESS) failed ??= r;
        rejected = Math.max(rejected, r.rejected ?? 0);
        if (--left === 0) resultCallback(failed ?? { code: ExportResultCode.SUCCESS, rejected });
      });
    }
  }

  stopRetrying(): void {
    for (const e of this.exporters) if (e instanceof OtlpHttpExporter) e.stopRetrying();
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.shutdown()));
  }
}

/** The exporter(s) `OTEL_TRACES_EXPORTER` names (default `otlp`), built from the resolved configuration. */
export function createExporter(c: ResolvedConfig, log: TracingLogger): SpanExporter {
  const built: SpanExporter[] = c.exporters.map((name) =>
    name === 'console'
      ? new ConsoleSpanExporter()
      : new OtlpHttpExporter({
          url: c.url,
          protocol: c.protocol,
          headers: c.headers,
          timeoutMs: c.exportTimeoutMs,
          compression: c.compression,
          tls: c.tls,
          log,
        }),
  );
  if (built.length === 0) return new NoExporter();
  return built.length === 1 ? (built[0] as SpanExporter) : new FanOutExporter(built);
}

/** At shutdown: one attempt per export, no retries (whatever the exporter is made of). */
export function stopRetrying(exporter: SpanExporter): void {
  if (exporter instanceof OtlpHttpExporter || exporter instanceof FanOutExporter) exporter.stopRetrying();
}
