'use strict';
// (f) Attach mode: an Express app with OpenTelemetry's NodeSDK and its HTTP instrumentation next to
// @vigil/tracing, in both start orders (each in its own process: the instrumentation patches
// node:http process-wide). Each gives exactly one server span per request, all spans in the SDK's
// pipeline, Vigil's request span nested under the instrumentation's, and the log line's and the
// exemplar's ids those of the active span. Packed tarballs, CommonJS; on Node.js 22.15+ the same
// file runs in the project of the current OpenTelemetry lines (api 1.10, sdk-node 0.30x).

const { spawnSync } = require('node:child_process');
const { check, ok, runMain, watchdog } = require('./helpers.cjs');

const ORDERS = ['sdk-first', 'vigil-first'];
const SERVER = 1;
const INTERNAL = 0;

if (!ORDERS.includes(process.argv[2])) {
  // The parent: one child per order.
  let failed = false;
  for (const order of ORDERS) {
    const r = spawnSync(process.execPath, [__filename, order], {
      stdio: 'inherit',
      // Only traces: this SDK exports no metrics or logs here.
      env: {
        ...process.env,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_TRACES_EXPORTER: 'none',
      },
    });
    if (r.status !== 0) failed = true;
  }
  process.exitCode = failed ? 1 : 0;
} else {
  watchdog(20_000, `attach app (${process.argv[2]})`);
  runMain(() => attach(process.argv[2]));
}

async function attach(order) {
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { startTracing, activeTrace } = require('@vigil/tracing');

  const spans = [];
  // A span processor by shape: ended spans stay in memory.
  const processor = {
    onStart() {},
    onEnd: (s) => void spans.push(s),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const sdk = new NodeSDK({
    serviceName: 'attach',
    autoDetectResources: false,
    spanProcessors: [processor],
    instrumentations: [new HttpInstrumentation()],
  });
  let tracing;
  if (order === 'sdk-first') {
    sdk.start();
    tracing = startTracing({ logger: false });
  } else {
    tracing = startTracing({ logger: false });
    sdk.start();
  }
  check(tracing.attached, `${order}: tracing.attached is false`);

  const express = require('express');
  const { createExpressMetrics } = require('@vigil/express');
  const { createLogger } = require('@vigil/logger');
  const lines = [];
  const logger = createLogger({
    service: 'attach',
    destination: { write: (l) => void lines.push(JSON.parse(l)) },
  });
  const metrics = createExpressMetrics({ runtimeMetrics: false });
  const app = express();
  app.use(metrics.middleware);
  app.get('/metrics', metrics.handler);
  app.get('/users/:id', (req, res) => {
    logger.info({ user: req.params.id }, 'handler');
    res.json(activeTrace() ?? null);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const seen = [];
    for (const id of ['1', '2', '3']) {
      const r = await fetch(`${base}/users/${id}`);
      check(r.status === 200, `${order}: GET /users/${id} answered ${r.status}`);
      seen.push(await r.json());
    }
    const om = await (
      await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } })
    ).text();
    await tracing.forceFlush();

    for (const [i, id] of ['1', '2', '3'].entries()) {
      const servers = spans.filter((s) => s.kind === SERVER && s.attributes['url.path'] === `/users/${id}`);
      check(servers.length === 1, `${order}: ${servers.length} server spans for /users/${id}, expected 1`);
      const server = servers[0];
      const sc = server.spanContext();
      const vigil = spans.filter((s) => s.parentSpanContext?.spanId === sc.spanId);
      check(
        vigil.length === 1 && vigil[0].kind === INTERNAL && vigil[0].name === 'GET /users/:id',
        `${order}: Vigil's request span is not nested under the server span of /users/${id}`,
      );
      const active = { traceId: sc.traceId, spanId: vigil[0].spanContext().spanId };
      check(
        seen[i].traceId === active.traceId && seen[i].spanId === active.spanId,
        `${order}: activeTrace() in the handler is not Vigil's span`,
      );
      const line = lines.find((l) => l.user === id);
      check(
        line?.trace_id === active.traceId && line?.span_id === active.spanId,
        `${order}: the log line's ids are not the active span's`,
      );
    }
    const exemplars = [...om.matchAll(/route="\/users\/:id"[^\n]*# \{trace_id="(\w+)",span_id="(\w+)"\}/g)];
    check(exemplars.length > 0, `${order}: no exemplar on http_request_duration_seconds`);
    for (const [, traceId, spanId] of exemplars) {
      check(
        seen.some((t) => t.traceId === traceId && t.spanId === spanId),
        `${order}: an exemplar points at no request's span`,
      );
    }
    ok(`${order}: one server span per request, one pipeline; logs and exemplars carry the active span`);
  } finally {
    server.close();
    server.closeAllConnections();
    await tracing.close();
    await metrics.close();
    await logger.close();
    await sdk.shutdown();
  }
}
