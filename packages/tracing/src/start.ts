import {
  type TracerProvider as ApiTracerProvider,
  type ContextManager,
  context,
  propagation,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  createAlwaysRecordSampler,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { getTracingHook, RESOURCE_ORDER, registerProcessResource, setTracingHook } from '@vigil/core';
import { TracingAlreadyStartedError } from './errors.js';
import { apiRegistered, flushProvider, interceptRegistration, SwitchProvider } from './internal/attach.js';
import { resolveConfig, resolveLogger, type SamplerConfig, samplerRatio } from './internal/config.js';
import { installExitFlush } from './internal/exit.js';
import { createExporter, stopRetrying } from './internal/exporter.js';
import { instrumentFetch } from './internal/fetch.js';
import { createHook } from './internal/hook.js';
import { IdPool } from './internal/ids.js';
import { BatchProcessor } from './internal/processor.js';
import { resourceAttributes, VIGIL_TRACING_VERSION } from './internal/resource.js';
import type { Tracing, TracingOptions, TracingStats } from './types.js';

/** The running instance, shared by every copy of this package in the process (ESM and CommonJS). */
const INSTANCE = Symbol.for('vigil.tracing.instance');
type Globals = { [INSTANCE]?: Tracing };
const g = globalThis as Globals;

/** Resolves when `p` settles or after `ms`. */
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

const NO_STATS: TracingStats = Object.freeze({
  exported: 0,
  dropped: Object.freeze({ queue_full: 0, export_failed: 0, shutdown: 0, rejected: 0 }),
  queued: 0,
});

function buildSampler(s: SamplerConfig): Sampler {
  switch (s.type) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) });
  }
}

/** Spans that never reached the collector, whatever the reason. */
function lost(s: TracingStats): number {
  let n = 0;
  for (const v of Object.values(s.dropped)) n += v ?? 0;
  return n;
}

/** The tracing instance running in this process, if any (started in code or by the register entry). */
export function getTracing(): Tracing | undefined {
  return g[INSTANCE];
}

/**
 * Start tracing for this process: an OpenTelemetry tracer provider with Vigil's batch processor
 * and OTLP/HTTP exporter, the AsyncLocalStorage context manager, W3C trace context (and baggage)
 * propagation, and the hook through which Vigil's Express/Fastify adapters and `pg`
 * instrumentation create server and database spans. Client spans for `fetch()` come from undici's
 * diagnostics channels. Configuration: options, then the standard `OTEL_*` variables.
 *
 * Call it before creating your app (or preload `@vigil/tracing/register`). Throws
 * `VigilOptionError` for invalid options and `TracingAlreadyStartedError` if tracing already runs.
 */
export function startTracing(options?: TracingOptions): Tracing {
  if (g[INSTANCE] !== undefined) throw new TracingAlreadyStartedError();
  const log = resolveLogger(options?.logger);
  const env = process.env;
  const c = resolveConfig(options, env, log);
  const attrs = resourceAttributes(c, env);
  const serviceName = String(attrs['service.name']);

  if (!c.enabled) {
    const off: Tracing = {
      enabled: false,
      serviceName,
      url: '',
      sampleRatio: 0,
      attached: false,
      forceFlush: async () => {},
      close: async () => {
        if (g[INSTANCE] === off) delete g[INSTANCE];
      },
      stats: () => NO_STATS,
    };
    g[INSTANCE] = off;
    return off;
  }

  // NodeSDK (or any SDK) started first: its provider, sampler and exporter serve Vigil's spans.
  const sdkFirst = c.attach && apiRegistered('trace');
  if (
    sdkFirst &&
    (options?.exporter !== undefined ||
      options?.endpoint !== undefined ||
      options?.sampleRatio !== undefined ||
      c.spanProcessors.length > 0)
  ) {
    log.warn(
      {},
      'Attached to the OpenTelemetry SDK registered in this process: its sampler and exporter apply, and the options exporter, endpoint, sampleRatio and spanProcessors are not used (give span processors to that SDK)',
    );
  }
  const exporter = sdkFirst ? undefined : (options?.exporter ?? createExporter(c, log));
  let failures = 0;
  const processor =
    exporter === undefined
      ? undefined
      : new BatchProcessor(exporter, {
          maxQueueSize: c.maxQueueSize,
          maxExportBatchSize: c.maxExportBatchSize,
          scheduledDelayMs: c.scheduledDelayMs,
          exportTimeoutMs: c.exportTimeoutMs,
          onExportFailure(error, spans) {
            // Once per process: a collector that is down would otherwise fill the logs.
            if (failures++ > 0) return;
            log.warn(
              {
                url: options?.exporter ? undefined : c.url,
                spans,
                error: String((error as Error)?.message ?? error),
              },
              'Span export failed; spans are dropped and counted in vigil_tracing_spans_dropped_total (logged once)',
            );
          },
        });
  const stats = (): TracingStats => processor?.stats() ?? NO_STATS;
  const ids = new IdPool();
  const provider =
    processor === undefined
      ? undefined
      : new TracerProvider({
          resource: resourceFromAttributes(attrs),
          idGenerator: ids,
          // Extra processors (the span-to-metrics bridge) must see unsampled spans too: recorded
          // for them, while Vigil's batch processor exports only sampled ones.
          sampler:
            c.spanProcessors.length > 0
              ? createAlwaysRecordSampler(buildSampler(c.sampler))
              : buildSampler(c.sampler),
          spanProcessors: [processor, ...c.spanProcessors],
        });

  // Context: Vigil's AsyncLocalStorage manager, unless the process registered one already.
  // (Checked first: a failed registration logs an error through the other SDK's diag logger.)
  const manager = new AsyncLocalStorageContextManager();
  const ownContext = !apiRegistered('context') && context.setGlobalContextManager(manager);
  const contexts: ContextManager = ownContext ? manager : (context as unknown as ContextManager);
  const propagators: TextMapPropagator[] = c.propagators.map((p) =>
    p === 'tracecontext' ? new W3CTraceContextPropagator() : new W3CBaggagePropagator(),
  );
  const ownPropagator =
    !apiRegistered('propagation') &&
    propagation.setGlobalPropagator(new CompositePropagator({ propagators }));
  // Registered through a switch, so that an SDK started later can take over (attach mode).
  const switcher = provider === undefined ? undefined : new SwitchProvider(provider);
  const ownProvider =
    switcher !== undefined && !apiRegistered('trace') && trace.setGlobalTracerProvider(switcher);
  /** The other SDK's provider while attached. */
  let adopted: ApiTracerProvider | undefined = sdkFirst ? trace.getTracerProvider() : undefined;
  if (!sdkFirst && (!ownProvider || !ownContext)) {
    log.warn(
      { tracerProvider: ownProvider, contextManager: ownContext },
      'Another OpenTelemetry SDK is registered in this process; Vigil exports its own spans, but instrumentations use the other SDK',
    );
  }
  const tracerOf = (p: ApiTracerProvider) => p.getTracer('@vigil/tracing', VIGIL_TRACING_VERSION);
  const tracer = tracerOf(adopted ?? (provider as ApiTracerProvider));

  for (const i of c.instrumentations) {
    i.setTracerProvider(adopted ?? switcher);
    i.enable();
  }

  const hook = createHook({
    tracer,
    contexts,
    dbQueryText: c.dbQueryText,
    stats,
    ids,
    sampler: c.sampler,
    checkActive: c.instrumentations.length > 0 || !ownContext || !ownProvider,
  });
  if (sdkFirst) hook.attach(tracer);
  setTracingHook(hook);
  // fetch spans follow a later switch of provider too.
  const unfetch = c.fetchSpans
    ? instrumentFetch(switcher ? tracerOf(switcher) : tracer, contexts)
    : undefined;

  // An SDK started after Vigil: its provider becomes the one (spans, sampler, exporter); Vigil's
  // own pipeline only exports the spans already started, and is flushed at close().
  const unintercept =
    c.attach && switcher !== undefined && ownProvider
      ? interceptRegistration((p) => {
          if (adopted !== undefined || p === switcher || closing !== undefined) return false;
          adopted = p;
          switcher.switchTo(p);
          hook.attach(tracerOf(p));
          if (c.spanProcessors.length > 0) {
            log.warn(
              {},
              'An OpenTelemetry SDK registered its tracer provider after Vigil; Vigil now uses it, and the spanProcessors given to startTracing see no new spans (give them to that SDK)',
            );
          }
          return true;
        })
      : undefined;

  let closing: Promise<void> | undefined;
  let removeExitFlush: (() => void) | undefined;
  let unregister: (() => void) | undefined;
  const bounded = (p: Promise<unknown>): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, c.shutdownTimeoutMs);
      p.then(
        () => {
          clearTimeout(t);
          resolve();
        },
        () => {
          clearTimeout(t);
          resolve();
        },
      );
    });
  /** Vigil's queue, and the adopted SDK's (flushed, never shut down: that SDK owns it). */
  const flushAll = (): Promise<void> =>
    Promise.all([processor?.forceFlush(), flushProvider(adopted).catch(() => {})]).then(() => {});
  /** Flush (within `timeoutMs`, whatever the collector does), stop exporting, unregister. */
  const closeWithin = (timeoutMs: number): Promise<void> => {
    closing ??= (async () => {
      removeExitFlush?.();
      unregister?.();
      unintercept?.();
      if (getTracingHook() === hook) setTracingHook(undefined);
      unfetch?.();
      if (exporter !== undefined) stopRetrying(exporter);
      const flushAdopted = adopted === undefined ? undefined : raceTimer(flushProvider(adopted), timeoutMs);
      await processor?.shutdownWithin(timeoutMs);
      await flushAdopted;
      if (provider !== undefined) {
        await raceTimer(Promise.allSettled(c.spanProcessors.map((p) => p.shutdown())), timeoutMs);
      }
      for (const i of c.instrumentations) {
        try {
          i.disable();
        } catch {}
      }
      if (ownProvider) {
        trace.disable();
        // The SDK that took over stays registered for whoever uses it after Vigil.
        if (adopted !== undefined && !sdkFirst) trace.setGlobalTracerProvider(adopted);
      }
      if (ownPropagator) propagation.disable();
      if (ownContext) context.disable();
      if (g[INSTANCE] === handle) delete g[INSTANCE];
    })();
    return closing;
  };

  const handle: Tracing = {
    enabled: true,
    serviceName,
    url: options?.exporter || sdkFirst ? '' : c.url,
    sampleRatio: samplerRatio(c.sampler),
    get attached() {
      return adopted !== undefined;
    },
    forceFlush: () => bounded(flushAll()),
    close: () => closeWithin(c.shutdownTimeoutMs),
    stats,
  };
  // @vigil/shutdown flushes tracing by itself after the hooks, within the time it has left.
  unregister = registerProcessResource({
    name: 'tracing',
    order: RESOURCE_ORDER.telemetry,
    async close({ timeoutMs }) {
      const before = lost(stats());
      await closeWithin(Math.min(timeoutMs, c.shutdownTimeoutMs));
      return {
        dropped: lost(stats()) - before,
        unit: 'spans',
        countedIn: 'vigil_tracing_spans_dropped_total',
      };
    },
  });
  g[INSTANCE] = handle;
  if (c.flushOnExit) removeExitFlush = installExitFlush(handle);
  return handle;
}
