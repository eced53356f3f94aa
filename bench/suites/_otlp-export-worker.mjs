#!/usr/bin/env node
// One exporter of the otlp-export suite: `node _otlp-export-worker.mjs <variant> <sinkUrl> <batches>`.
// Makes `batches` (+ warm-up) batches of BATCH server spans shaped like Vigil's (same attributes),
// and measures this process's CPU (user + system, process.cpuUsage) while each batch is exported
// to the sink: encoding, HTTP request and response. Span creation is outside the window.
// Prints one JSON line: { usPerSpan: [per batch], bytesPerSpan }.
import { SpanKind, trace } from '@opentelemetry/api';

const [variant, sinkUrl, batchesArg] = process.argv.slice(2);
const BATCH = 512;
const WARMUP = 5;
const batches = Number(batchesArg);

let tracer;
let flush;
if (variant === 'vigil-json' || variant === 'vigil-protobuf') {
  const { startTracing } = await import('@vigil/tracing');
  const tracing = startTracing({
    endpoint: sinkUrl,
    protocol: variant === 'vigil-json' ? 'http/json' : 'http/protobuf',
    serviceName: 'bench',
    sampleRatio: 1,
    // A batch limit above the batch: no export starts by itself when the 512th span ends (it would
    // run inside span.end(), outside the measured window); the flush exports the 512 in one request.
    maxQueueSize: BATCH * 4,
    maxExportBatchSize: BATCH * 2,
    scheduledDelayMs: 3_600_000,
    fetchSpans: false,
    logger: false,
  });
  tracer = trace.getTracer('@vigil/tracing');
  flush = () => tracing.forceFlush();
} else if (variant === 'otel-json') {
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` }), {
        maxQueueSize: BATCH * 4,
        maxExportBatchSize: BATCH * 2,
        scheduledDelayMillis: 3_600_000,
      }),
    ],
  });
  tracer = provider.getTracer('bench');
  flush = () => provider.forceFlush();
} else {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

function makeBatch(n) {
  for (let i = 0; i < BATCH; i++) {
    const s = tracer.startSpan('GET', { kind: SpanKind.SERVER });
    s.setAttribute('http.request.method', 'GET');
    s.setAttribute('url.path', `/users/${(n * BATCH + i) * 7919}`);
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

const usPerSpan = [];
for (let b = 0; b < WARMUP + batches; b++) {
  makeBatch(b);
  const c0 = process.cpuUsage();
  await flush();
  const c = process.cpuUsage(c0);
  if (b >= WARMUP) usPerSpan.push((c.user + c.system) / BATCH);
}
process.stdout.write(`${JSON.stringify({ usPerSpan })}\n`);
process.exit(0);
