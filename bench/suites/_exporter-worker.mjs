#!/usr/bin/env node
// One process of the exporter suite (suites/exporter.mjs). Modes:
//
//   cpu <variant> <sinkUrl> <batches>   CPU (user + system) of this process while each batch of 512
//                                       server spans is exported through Vigil's batch processor
//                                       with the variant's exporter; prints { usPerSpan: [...] }
//   serialize <serializer> <iterations> CPU per span of one serializer alone, in a loop over the same
//                                       512 spans; prints { usPerSpan: [...] }
//   startup <variant>                   wall ms to import and start tracing with the variant's
//                                       exporter; prints { ms }
//   exit <variant> <url>                starts tracing (flush at exit on), ends 50 spans, prints
//                                       { ready: true } and lets the event loop run empty
//
// Variants: vigil-protobuf, vigil-json, vigil-protobuf-gzip (Vigil's transport), otel-http-json,
// otel-http-protobuf (OpenTelemetry's exporter-trace-otlp-http / -proto 0.223.0 passed as
// `exporter`, so the batch processor is the same), otel-bsp (OpenTelemetry's own
// BatchSpanProcessor + exporter-trace-otlp-http, shut down on beforeExit: the usual hand wiring).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [mode, variant, arg3, arg4] = process.argv.slice(2);
const BATCH = 512;
const WARMUP = 5;
const require = createRequire(import.meta.url);

async function otelExporter(v, url) {
  if (v === 'otel-http-json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url });
}

/** Starts tracing for a variant; returns { tracer, flush }. */
async function start(v, base, extra = {}) {
  const { trace } = await import('@opentelemetry/api');
  if (v === 'otel-bsp') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const provider = new BasicTracerProvider({
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }), {
          maxQueueSize: BATCH * 4,
          maxExportBatchSize: BATCH * 2,
          scheduledDelayMillis: 3_600_000,
        }),
      ],
    });
    process.once('beforeExit', () => provider.shutdown().catch(() => {}));
    return { tracer: provider.getTracer('bench'), flush: () => provider.forceFlush() };
  }
  if (v === 'vigil-protobuf-gzip') process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
  const { startTracing } = await import('@vigil/tracing');
  const own = v.startsWith('vigil-');
  const tracing = startTracing({
    endpoint: base,
    protocol: v === 'vigil-json' ? 'http/json' : 'http/protobuf',
    exporter: own ? undefined : await otelExporter(v, `${base}/v1/traces`),
    serviceName: 'bench',
    sampleRatio: 1,
    // A batch limit above the batch: no export starts by itself when the 512th span ends (it would
    // run inside span.end(), outside the measured window); the flush exports the 512 in one request.
    maxQueueSize: BATCH * 4,
    maxExportBatchSize: BATCH * 2,
    scheduledDelayMs: 3_600_000,
    fetchSpans: false,
    logger: false,
    ...extra,
  });
  return { tracer: trace.getTracer('@vigil/tracing'), flush: () => tracing.forceFlush(), tracing };
}

async function makeSpans(tracer, n, offset = 0) {
  const { SpanKind } = await import('@opentelemetry/api');
  for (let i = 0; i < n; i++) {
    const s = tracer.startSpan('GET', { kind: SpanKind.SERVER });
    s.setAttribute('http.request.method', 'GET');
    s.setAttribute('url.path', `/users/${(offset + i) * 7919}`);
    s.setAttribute('url.scheme', 'http');
    s.setAttribute('server.address', '127.0.0.1');
    s.setAttribute('server.port', 40123);
    s.setAttribute('client.address', '127.0.0.1');
    s.setAttribute('user_agent.original', 'autocannon/9.0.0');
    s.setAttribute('network.protocol.version', '1.1');
    s.setAttribute('http.route', '/users/:id');
    s.updateName('GET /users/:id');
    s.setAttribute('http.response.status_code', 200);
    s.end();
  }
}

const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'cpu') {
  const batches = Number(arg4);
  const { tracer, flush } = await start(variant, arg3);
  const usPerSpan = [];
  for (let b = 0; b < WARMUP + batches; b++) {
    await makeSpans(tracer, BATCH, b * BATCH);
    const c0 = process.cpuUsage();
    await flush();
    const c = process.cpuUsage(c0);
    if (b >= WARMUP) usPerSpan.push((c.user + c.system) / BATCH);
  }
  print({ usPerSpan });
  process.exit(0);
} else if (mode === 'serialize') {
  const iterations = Number(arg3);
  const captured = [];
  const { startTracing } = await import('@vigil/tracing');
  const { trace } = await import('@opentelemetry/api');
  const tracing = startTracing({
    serviceName: 'bench',
    sampleRatio: 1,
    fetchSpans: false,
    logger: false,
    maxExportBatchSize: BATCH,
    exporter: {
      export(spans, done) {
        captured.push(...spans);
        done({ code: 0 });
      },
      async shutdown() {},
    },
  });
  await makeSpans(trace.getTracer('@vigil/tracing'), BATCH);
  await tracing.forceFlush();
  // The serializers Vigil's transport loads (deep paths, resolved from @vigil/tracing).
  const fromTracing = createRequire(require.resolve('@vigil/tracing'));
  const transformer = (p) => fromTracing(`@opentelemetry/otlp-transformer/build/src/trace/${p}/index.js`);
  let serialize;
  if (variant === 'otel-json') serialize = (s) => transformer('json').JsonTraceSerializer.serializeRequest(s);
  else if (variant === 'otel-protobuf')
    serialize = (s) => transformer('protobuf').ProtobufTraceSerializer.serializeRequest(s);
  else if (variant === 'vigil-json-encoder') {
    // Vigil's former JSON encoder, compiled from the source file given as arg4 (git show <rev>:…).
    const root = createRequire(join(import.meta.dirname, '..', '..', 'package.json'));
    const esbuild = createRequire(root.resolve('tsup'))('esbuild');
    const out = join(process.env.TMPDIR ?? '/tmp', `vigil-otlp-json-${process.pid}.mjs`);
    await esbuild.build({ entryPoints: [arg4], bundle: true, format: 'esm', platform: 'node', outfile: out });
    const { OtlpJsonEncoder } = await import(out);
    const enc = new OtlpJsonEncoder();
    serialize = (s) => enc.encodeChunks(s);
  } else throw new Error(`unknown serializer ${variant}`);
  const usPerSpan = [];
  for (let i = 0; i < WARMUP + iterations; i++) {
    const c0 = process.cpuUsage();
    serialize(captured);
    const c = process.cpuUsage(c0);
    if (i >= WARMUP) usPerSpan.push((c.user + c.system) / captured.length);
  }
  print({ usPerSpan });
  process.exit(0);
} else if (mode === 'startup') {
  const t0 = performance.now();
  await start(variant, 'http://127.0.0.1:9');
  print({ ms: performance.now() - t0 });
  process.exit(0);
} else if (mode === 'exit') {
  const { tracer, tracing } = await start(variant, arg3, { flushOnExit: true, shutdownTimeoutMs: 2_000 });
  await makeSpans(tracer, 50);
  print({ ready: true, shutdownTimeoutMs: tracing ? 2_000 : undefined });
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
