// The research's "lean" OpenTelemetry preload: NodeSDK with only the http instrumentation (and the
// express one for Express; instrumentation-fastify is deprecated and auto-instrumentations-node no
// longer ships it), OTLP/HTTP JSON exporter, ParentBased(TraceIdRatio(OTEL_TRACES_SAMPLER_ARG)).
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
const { ParentBasedSampler, TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base');

const ratio = Number(process.env.OTEL_TRACES_SAMPLER_ARG ?? '0.1');
const instrumentations = [new HttpInstrumentation()];
if (process.env.LEAN_FW === 'express') instrumentations.push(new ExpressInstrumentation());
const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
  instrumentations,
});
sdk.start();
