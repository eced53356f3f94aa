import { type Context, context, ROOT_CONTEXT, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { TracingStats } from '../types.js';
import { NoExporter, type PartialExportResult } from './exporter.js';

export interface BatchOptions {
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
  /** Called once per failed export, with the number of spans lost. */
  readonly onExportFailure: (error: unknown, spans: number) => void;
}

const SUPPRESSED: Context = suppressTracing(ROOT_CONTEXT);

/**
 * The batch span processor: a bounded queue, one export in flight at a time, a timer that never
 * keeps the process alive, and counters for every span that does not reach the collector.
 *
 * OpenTelemetry's BatchSpanProcessor drops spans the same way when its queue is full, but only
 * says so in a debug log; Vigil counts them (`vigil_tracing_spans_dropped_total{reason}`), since a
 * silent gap in traces is what people lose days over. Memory is bounded by `maxQueueSize` spans
 * plus one batch in flight, whatever the collector does.
 */
export class BatchProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private closed = false;
  /** Counts the batch in flight as dropped (shutdown) and stops waiting for it. */
  private abandonInFlight: (() => void) | undefined;
  private exported = 0;
  private readonly dropped = { queue_full: 0, export_failed: 0, shutdown: 0, rejected: 0 };
  /** `OTEL_TRACES_EXPORTER=none`: nothing to queue, nothing to count. */
  private readonly discard: boolean;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly o: BatchOptions,
  ) {
    this.discard = exporter instanceof NoExporter;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.discard || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.closed) {
      this.dropped.shutdown++;
      return;
    }
    if (this.queue.length >= this.o.maxQueueSize) {
      this.dropped.queue_full++;
      return;
    }
    this.queue.push(span);
    if (this.current !== undefined) return;
    if (this.queue.length >= this.o.maxExportBatchSize) this.exportBatch();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.current === undefined) this.exportBatch();
      }, this.o.scheduledDelayMs);
      this.timer.unref();
    }
  }

  /** Starts exporting one batch now; when it completes, schedules whatever is left. */
  private exportBatch(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue.splice(0, this.o.maxExportBatchSize);
    if (batch.length === 0) return Promise.resolve();
    const run = new Promise<void>((resolve) => {
      let done = false;
      const finish = (result: PartialExportResult) => {
        if (done) return;
        done = true;
        this.abandonInFlight = undefined;
        clearTimeout(guard);
        if (result.code === ExportResultCode.SUCCESS) {
          // OTLP partial success: the collector took the request but refused some spans.
          const rejected = Math.min(result.rejected ?? 0, batch.length);
          this.exported += batch.length - rejected;
          this.dropped.rejected += rejected;
        } else {
          this.dropped.export_failed += batch.length;
          this.o.onExportFailure(result.error, batch.length);
        }
        resolve();
      };
      // shutdownWithin() gives up on this batch at its deadline: counted as dropped at shutdown,
      // and a late answer from the exporter changes nothing.
      this.abandonInFlight = () => {
        if (done) return;
        done = true;
        this.abandonInFlight = undefined;
        clearTimeout(guard);
        this.dropped.shutdown += batch.length;
        resolve();
      };
      // A custom exporter that never calls back must not stall the queue forever.
      const guard = setTimeout(
        () => finish({ code: ExportResultCode.FAILED, error: new Error('export did not complete in time') }),
        this.o.exportTimeoutMs + 1_000,
      );
      guard.unref();
      try {
        // The exporter's own HTTP requests must not be traced (no spans about exporting spans).
        context.with(SUPPRESSED, () => this.exporter.export(batch, finish));
      } catch (error) {
        finish({ code: ExportResultCode.FAILED, error: error as Error });
      }
    }).then(() => {
      this.current = undefined;
      if (this.closed) return;
      if (this.queue.length >= this.o.maxExportBatchSize) this.exportBatch();
      else if (this.queue.length > 0 && this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          if (this.current === undefined) this.exportBatch();
        }, this.o.scheduledDelayMs);
        this.timer.unref();
      }
    });
    this.current = run;
    return run;
  }

  /** Exports everything queued, batch after batch, then resolves. */
  async forceFlush(): Promise<void> {
    for (;;) {
      if (this.current !== undefined) await this.current;
      else if (this.queue.length > 0) await this.exportBatch();
      else return;
    }
  }

  /**
   * Flush with a deadline, then stop, all within `timeoutMs`: spans still queued are counted as
   * dropped (`shutdown`), the exporter is shut down (aborting a request in flight), and a batch
   * whose request has not ended by the deadline is counted as dropped too, so the counters are
   * final when this resolves. The timers are ref'd, so a process exiting naturally waits for the
   * flush, but never longer than the deadline.
   */
  async shutdownWithin(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    // The last part of the time is kept for the exporter to abort its request and report.
    const abortMs = Math.min(250, Math.floor(timeoutMs / 4));
    await raceTimer(this.forceFlush(), timeoutMs - abortMs);
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.dropped.shutdown += this.queue.length;
    this.queue = [];
    await raceTimer(
      Promise.resolve()
        .then(() => this.exporter.shutdown())
        .catch(() => {})
        .then(() => this.current),
      abortMs,
    );
    this.abandonInFlight?.();
  }

  shutdown(): Promise<void> {
    return this.shutdownWithin(0);
  }

  stats(): TracingStats {
    return { exported: this.exported, dropped: { ...this.dropped }, queued: this.queue.length };
  }
}

/** Resolves when `p` settles or after `ms`, whichever comes first; the timer never outlives it. */
function raceTimer(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}
