import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { OtlpJsonEncoder } from './otlp-json.js';

/**
 * OTLP/HTTP span exporter: Vigil's JSON encoder (otlp-json.ts, byte for byte what OpenTelemetry's
 * JSON serializer writes) or OpenTelemetry's protobuf serializer (`@opentelemetry/otlp-transformer`,
 * the code inside `@opentelemetry/exporter-trace-otlp-proto`), with a transport built so that a
 * collector that is down, slow or failing can never hold the process:
 *
 * - sockets are `unref()`d and retry timers too, so a pending export never keeps the process alive;
 * - every request has a timeout, and `shutdown()` aborts whatever is in flight at once;
 * - a failed request is retried (connection errors, 408/429/502/503/504) with backoff, only while
 *   the export's own deadline allows, and never after shutdown.
 *
 * The upstream exporter schedules its retries on ref'd timers and cannot abort a request, so a
 * process whose collector is down could wait up to the export timeout before exiting.
 */
export interface OtlpHttpExporterOptions {
  /** Full URL of the traces endpoint (`…/v1/traces`). */
  readonly url: string;
  readonly protocol: 'http/json' | 'http/protobuf';
  readonly headers: Readonly<Record<string, string>>;
  /** Per export, retries included. */
  readonly timeoutMs: number;
}

const RETRYABLE_STATUS = new Set([408, 429, 502, 503, 504]);
const MAX_RESPONSE_BYTES = 64 * 1024;

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

/** A request body: one buffer (protobuf), or UTF-8 chunks sent one after the other (JSON). */
type Body = Uint8Array | readonly Buffer[];
type Serialize = (spans: ReadableSpan[]) => Body | undefined;
interface TraceSerializer {
  serializeRequest: Serialize;
}

/**
 * OpenTelemetry's protobuf serializer, loaded on the first export rather than at start-up: the package's
 * index also loads the logs and metrics SDKs (about 95 of the 230 files tracing used to load, the
 * largest part of its start-up cost). Deep paths: the package has no `exports` map, and only the
 * trace serializers are needed.
 */
export const OTLP_TRANSFORMER_SUPPORTED = '>=0.200.0 <0.300.0';
export const PROTOBUF_SERIALIZER_PATH = '@opentelemetry/otlp-transformer/build/src/trace/protobuf/index.js';

async function loadProtobufSerializer(): Promise<Serialize> {
  const mod: Record<string, unknown> = await import(PROTOBUF_SERIALIZER_PATH);
  // CommonJS imported from ESM: named exports are detected; `default` is the exports object.
  const exportsObject = (mod.default ?? mod) as Record<string, TraceSerializer | undefined>;
  const name = 'ProtobufTraceSerializer';
  const serializer = (mod[name] as TraceSerializer | undefined) ?? exportsObject[name];
  if (serializer === undefined) throw new Error(`@opentelemetry/otlp-transformer: ${name} not found`);
  return (spans) => serializer.serializeRequest(spans);
}

function isChunks(body: Body): body is readonly Buffer[] {
  return Array.isArray(body);
}

function byteLength(body: Body): number {
  if (!isChunks(body)) return body.byteLength;
  let n = 0;
  for (const chunk of body) n += chunk.byteLength;
  return n;
}

export class OtlpHttpExporter implements SpanExporter {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private serialize: Serialize | undefined;
  private readonly headers: Record<string, string>;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;
  private retries = true;

  constructor(private readonly o: OtlpHttpExporterOptions) {
    this.url = new URL(o.url);
    const secure = this.url.protocol === 'https:';
    const AgentClass = secure ? https.Agent : http.Agent;
    this.agent = new AgentClass({ keepAlive: true, maxSockets: 2 });
    // A keep-alive socket to the collector must not keep the process alive between exports.
    this.agent.on('free', (socket: Socket) => socket.unref());
    this.request = secure ? https.request : http.request;
    const json = o.protocol === 'http/json';
    if (json) {
      // Vigil's own JSON encoder (same output as upstream's, at about a third of the CPU per span).
      const encoder = new OtlpJsonEncoder();
      this.serialize = (spans) => encoder.encodeChunks(spans);
    }
    this.headers = {
      ...o.headers,
      'content-type': json ? 'application/json' : 'application/x-protobuf',
      'user-agent': 'vigil-tracing (OTLP/HTTP)',
    };
  }

  get endpoint(): string {
    return this.url.href;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new ExportError('exporter is shut down', false),
      });
      return;
    }
    if (this.serialize === undefined) {
      loadProtobufSerializer().then(
        (serialize) => {
          this.serialize = serialize;
          this.export(spans, resultCallback);
        },
        (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
      );
      return;
    }
    let body: Body | undefined;
    try {
      body = this.serialize(spans);
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: err as Error });
      return;
    }
    if (body === undefined) {
      resultCallback({ code: ExportResultCode.FAILED, error: new ExportError('nothing to send', false) });
      return;
    }
    this.sendWithRetries(body, Date.now() + this.o.timeoutMs).then(
      () => resultCallback({ code: ExportResultCode.SUCCESS }),
      (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
    );
  }

  private async sendWithRetries(body: Body, deadline: number): Promise<void> {
    let backoff = 250;
    for (;;) {
      try {
        await this.send(body, deadline - Date.now());
        return;
      } catch (err) {
        const e = err as ExportError;
        const wait = Math.min(e.retryAfterMs ?? backoff * (0.8 + Math.random() * 0.4), 5_000);
        if (!e.retryable || !this.retries || this.closed || Date.now() + wait >= deadline) throw err;
        backoff *= 2;
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

  private send(body: Body, timeoutMs: number): Promise<void> {
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
        headers: { ...this.headers, 'content-length': String(byteLength(body)) },
      });
      this.inFlight.add(req);
      let settled = false;
      const finish = (err?: ExportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight.delete(req);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        finish(new ExportError(`no answer from ${this.url.host} within the export timeout`, false));
        req.destroy();
      }, timeoutMs);
      timer.unref();
      req.on('socket', (socket: Socket) => socket.unref());
      req.on('error', (err: NodeJS.ErrnoException) => {
        finish(new ExportError(`${err.code ?? err.name}: ${err.message}`, true));
      });
      req.on('response', (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('error', () => {});
        res.on('close', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish();
          else {
            const ra = Number(res.headers['retry-after']);
            finish(
              new ExportError(
                `collector answered HTTP ${status}`,
                RETRYABLE_STATUS.has(status),
                Number.isFinite(ra) && ra >= 0 ? ra * 1000 : undefined,
              ),
            );
          }
        });
      });
      if (isChunks(body)) {
        for (const chunk of body) req.write(chunk);
        req.end();
      } else req.end(body);
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
