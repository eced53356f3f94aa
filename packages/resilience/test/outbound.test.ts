import { execFileSync } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { request as esmRequest } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createMetrics } from '@vigil/metrics';
import axios from 'axios';
import got from 'got';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpClient,
  instrumentOutbound,
  isVigilOptionError,
  type OutboundOptions,
  untrackedOutbound,
} from '../src/index.js';
import { hasCreatedChannel, outboundErrorStatus } from '../src/outbound.js';
import { type Downstream, sample, startDownstream } from './helpers.js';

const DURATION = 'http_client_request_duration_seconds';
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(extra: OutboundOptions = {}) {
  const downstream = await startDownstream();
  cleanup.push(() => downstream.close());
  const metrics = createMetrics({ runtimeMetrics: false });
  cleanup.push(() => metrics.close());
  const outbound = instrumentOutbound({ metrics, ...extra });
  cleanup.push(() => outbound.close());
  const count = (labels: Record<string, string>) =>
    sample(metrics.registry, DURATION, labels, `${DURATION}_count`);
  const total = async () => {
    const m = metrics.registry.getSingleMetric(DURATION);
    const data = (await m?.get()) as { values: { metricName?: string; value: number }[] } | undefined;
    return (data?.values ?? [])
      .filter((v) => v.metricName === `${DURATION}_count`)
      .reduce((a, v) => a + v.value, 0);
  };
  return { downstream, metrics, outbound, count, total, target: `127.0.0.1:${downstream.port}` };
}

/** A GET through node:http, resolved with the response once its body is read. */
function httpGet(url: string, options: http.RequestOptions = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get(url, options, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      })
      .on('error', reject);
  });
}

/** A port nothing listens on: one a server just released. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves on the next message of a channel (subscribed after the instrumentation, so it ran first). */
function nextMessage(name: string): Promise<unknown> {
  return new Promise((resolve) => {
    const fn = (m: unknown) => {
      diagnostics.unsubscribe(name, fn);
      resolve(m);
    };
    diagnostics.subscribe(name, fn);
  });
}

describe('instrumentOutbound: metrics', () => {
  it('records one sample per request through node:http and through fetch', async () => {
    const { downstream, count, target, total } = await setup();
    const res = await httpGet(`${downstream.url}/a?secret=1`);
    expect(res.statusCode).toBe(200);
    expect(await count({ target, method: 'GET', status_code: '200' })).toBe(1);
    const r = await fetch(`${downstream.url}/b`, { method: 'POST', body: 'x' });
    await r.text();
    expect(await count({ target, method: 'POST', status_code: '200' })).toBe(1);
    downstream.set({ kind: 'status', status: 503 });
    await (await fetch(`${downstream.url}/c`)).text();
    expect(await count({ target, method: 'GET', status_code: '503' })).toBe(1);
    expect(await total()).toBe(3);
  });

  it('sees requests made through the ESM named export', async () => {
    const { downstream, count, target } = await setup();
    await new Promise<void>((resolve, reject) => {
      const req = esmRequest(`${downstream.url}/esm`, { method: 'DELETE' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    expect(await count({ target, method: 'DELETE', status_code: '200' })).toBe(1);
  });

  it('sees https.get requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      req.resume();
      res.writeHead(201).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const { port } = server.address() as AddressInfo;
    const { count } = await setup();
    await new Promise<void>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/tls', ca: cert, agent: false }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    expect(await count({ target: `127.0.0.1:${port}`, method: 'GET', status_code: '201' })).toBe(1);
  });

  it('counts connection refused and aborted requests with an error status', async () => {
    const { downstream, count } = await setup();
    const port = await closedPort();
    const refused = `127.0.0.1:${port}`;
    await expect(httpGet(`http://${refused}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await count({ target: refused, method: 'GET', status_code: 'error' })).toBe(1);

    const undiciError = nextMessage('undici:request:error');
    await expect(fetch(`http://${refused}/`)).rejects.toThrow();
    await undiciError;
    expect(await count({ target: refused, method: 'GET', status_code: 'error' })).toBe(2);

    downstream.set({ kind: 'hang' });
    const target = `127.0.0.1:${downstream.port}`;
    const ac = new AbortController();
    const req = http.get(`${downstream.url}/hang`, { signal: ac.signal });
    await once(downstream.events, 'request');
    ac.abort();
    await once(req, 'error').catch(() => {});
    expect(await count({ target, method: 'GET', status_code: 'aborted' })).toBe(1);

    const ac2 = new AbortController();
    const aborted = nextMessage('undici:request:error');
    const pending = fetch(`${downstream.url}/hang`, { signal: ac2.signal });
    await once(downstream.events, 'request');
    ac2.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await aborted;
    expect(await count({ target, method: 'GET', status_code: 'aborted' })).toBe(2);
  });

  it('leaves WebSocket upgrades alone (a connection, not a call)', async () => {
    const { downstream, total } = await setup();
    const upgraded = new Promise<void>((resolve) => {
      const req = http.request(`${downstream.url}/ws`, {
        headers: { connection: 'upgrade', upgrade: 'websocket' },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('close', resolve);
      req.end();
    });
    await upgraded;
    expect(downstream.requests).toHaveLength(1);
    expect(await total()).toBe(0);
  });

  it('does not count the resilient client a second time, nor untracked calls', async () => {
    const { downstream, metrics, target, total } = await setup();
    const client = createHttpClient({ baseUrl: downstream.url, metrics, logger: false });
    cleanup.push(() => client.close());
    await client.json('/resilient');
    expect(downstream.requests).toHaveLength(1);
    expect(await total()).toBe(1);
    expect(await sample(metrics.registry, DURATION, { target }, `${DURATION}_count`)).toBe(1);
    await untrackedOutbound(() => fetch(`${downstream.url}/untracked`).then((r) => r.text()));
    await untrackedOutbound(() => httpGet(`${downstream.url}/untracked`));
    expect(downstream.requests).toHaveLength(3);
    expect(await total()).toBe(1);
  });

  it('keeps hostile many-hosts traffic under maxTargets and the series cap', async () => {
    const { downstream, count, total, metrics } = await setup({ maxTargets: 5 });
    for (let i = 0; i < 40; i++)
      await httpGet(`${downstream.url}/`, { headers: { host: `h${i}.example:81` } });
    expect(await total()).toBe(40);
    expect(await count({ target: 'h0.example:81', method: 'GET', status_code: '200' })).toBe(1);
    expect(await count({ target: '__overflow__', method: 'GET', status_code: '200' })).toBe(35);
    const data = (await metrics.registry.getSingleMetric(DURATION)?.get()) as {
      values: { metricName?: string }[];
    };
    expect(data.values.filter((v) => v.metricName === `${DURATION}_count`)).toHaveLength(6);
  });

  it('maps targets with a function, skips requests it returns undefined for, excluded hosts and agents', async () => {
    const seen: string[] = [];
    const quiet = new http.Agent();
    cleanup.push(async () => quiet.destroy());
    const { downstream, count, total } = await setup({
      target: (info) => {
        seen.push(`${info.protocol}${info.hostname}:${info.port}${info.path} ${info.target}`);
        return info.path.startsWith('/skip') ? undefined : 'users';
      },
      excludeHosts: ['metadata.internal'],
      excludeAgents: [quiet],
    });
    await httpGet(`${downstream.url}/u/1?x=1`);
    await (await fetch(`${downstream.url}/u/2`)).text();
    await httpGet(`${downstream.url}/skip`);
    await httpGet(`${downstream.url}/`, { headers: { host: 'metadata.internal' } });
    await httpGet(`${downstream.url}/u/3`, { agent: quiet });
    expect(await count({ target: 'users', method: 'GET', status_code: '200' })).toBe(2);
    expect(await total()).toBe(2);
    const t = `127.0.0.1:${downstream.port}`;
    expect(seen).toEqual([
      `http:127.0.0.1:${downstream.port}/u/1 ${t}`,
      `http:127.0.0.1:${downstream.port}/u/2 ${t}`,
      `http:127.0.0.1:${downstream.port}/skip ${t}`,
    ]);
  });

  it('a target function that throws leaves the request unobserved and working', async () => {
    const { downstream, total } = await setup({
      target: () => {
        throw new Error('mapping bug');
      },
    });
    expect((await httpGet(`${downstream.url}/x`)).statusCode).toBe(200);
    expect((await fetch(`${downstream.url}/y`)).status).toBe(200);
    expect(await total()).toBe(0);
  });

  it('skips requests sent under suppressTracing (exporters)', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    cleanup.push(async () => context.disable());
    const { downstream, total } = await setup();
    await context.with(suppressTracing(context.active()), () => httpGet(`${downstream.url}/export`));
    // Vigil's own exporter sends with fetch.
    await context.with(suppressTracing(context.active()), async () => {
      await (await fetch(`${downstream.url}/export`, { method: 'POST', body: 'spans' })).arrayBuffer();
    });
    expect(downstream.requests).toHaveLength(2);
    expect(await total()).toBe(0);
  });
});

describe('instrumentOutbound: lifecycle and options', () => {
  it('fails fast on invalid options, naming the option', () => {
    for (const [opts, option] of [
      [{ maxTargets: 0 }, 'maxTargets'],
      [{ http: 'yes' }, 'http'],
      [{ target: 'users' }, 'target'],
      [{ excludeHosts: 'a' }, 'excludeHosts'],
      [{ excludeAgents: ['agent'] }, 'excludeAgents'],
      [{ nope: 1 }, 'nope'],
    ] as const) {
      let err: unknown;
      try {
        instrumentOutbound(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), option).toBe(true);
      expect((err as { option: string }).option).toBe(option);
    }
  });

  it('allows one instance per process and restores node:http on close', async () => {
    const original = http.request;
    const originalGet = http.get;
    const first = instrumentOutbound();
    cleanup.push(() => first.close());
    expect(first.httpHook).toBe(hasCreatedChannel() ? 'diagnostics_channel' : 'wrap');
    expect(() => instrumentOutbound()).toThrow(/already active/);
    await first.close();
    expect(http.request).toBe(original);
    expect(http.get).toBe(originalGet);
    const second = instrumentOutbound({ http: false });
    expect(second.httpHook).toBe('off');
    expect(http.request).toBe(original);
    await second.close();
  });

  it('stops observing after close', async () => {
    const { downstream, outbound, total } = await setup();
    await httpGet(`${downstream.url}/`);
    await outbound.close();
    await httpGet(`${downstream.url}/`);
    await (await fetch(`${downstream.url}/`)).text();
    expect(await total()).toBe(1);
  });

  it('knows which Node versions publish http.client.request.created', () => {
    expect(hasCreatedChannel('20.19.0')).toBe(false);
    expect(hasCreatedChannel('22.11.0')).toBe(false);
    expect(hasCreatedChannel('22.12.0')).toBe(true);
    expect(hasCreatedChannel('23.1.0')).toBe(false);
    expect(hasCreatedChannel('23.2.0')).toBe(true);
    expect(hasCreatedChannel('24.0.0')).toBe(true);
  });

  it('classifies errors without a response', () => {
    expect(outboundErrorStatus(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('error');
    expect(outboundErrorStatus(new DOMException('t', 'TimeoutError'))).toBe('timeout');
    expect(outboundErrorStatus(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe(
      'timeout',
    );
    expect(outboundErrorStatus(new DOMException('a', 'AbortError'))).toBe('aborted');
    expect(outboundErrorStatus(undefined)).toBe('error');
  });
});

describe('instrumentOutbound: tracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  async function underParent<T>(fn: () => Promise<T>) {
    const parent = tracer.startSpan('parent');
    try {
      return {
        parent: parent.spanContext(),
        result: await context.with(trace.setSpan(context.active(), parent), fn),
      };
    } finally {
      parent.end();
    }
  }

  function clientSpans() {
    return exporter.getFinishedSpans().filter((s) => s.kind === 2);
  }

  async function check(
    downstream: Downstream,
    metrics: { scrape(accept?: string): Promise<{ body: unknown }> },
    send: () => Promise<unknown>,
  ) {
    exporter.reset();
    const { parent } = await underParent(send);
    const spans = clientSpans();
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(span.spanContext().traceId).toBe(parent.traceId);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': downstream.port,
      'url.full': `${downstream.url}/traced`,
      'http.response.status_code': 200,
    });
    const last = downstream.requests.at(-1);
    expect(last?.headers.traceparent).toBe(`00-${parent.traceId}-${span.spanContext().spanId}-01`);
    // The span is the histogram sample's exemplar.
    const om = (await metrics.scrape('application/openmetrics-text')).body as string;
    expect(om).toContain(`trace_id="${parent.traceId}",span_id="${span.spanContext().spanId}"`);
  }

  it('makes one client span per node:http request, its id in the traceparent the server sees', async () => {
    const { downstream, metrics } = await setup();
    await check(downstream, metrics, () => httpGet(`${downstream.url}/traced?token=secret`));
  });

  it('makes one client span per fetch, its id in the traceparent the server sees', async () => {
    const { downstream, metrics } = await setup();
    await check(downstream, metrics, () =>
      fetch(`${downstream.url}/traced?token=secret`).then((r) => r.text()),
    );
  });

  it('marks a refused connection on the span, and sends no header outside a trace', async () => {
    const { downstream } = await setup();
    exporter.reset();
    const port = await closedPort();
    await underParent(() => httpGet(`http://127.0.0.1:${port}/`).catch(() => {}));
    const [span] = clientSpans();
    expect(span?.attributes['error.type']).toBe('ECONNREFUSED');
    expect(span?.status.code).toBe(2);
    await httpGet(`${downstream.url}/none`);
    expect(downstream.requests.at(-1)?.headers.traceparent).toBeUndefined();
    expect(clientSpans()).toHaveLength(1);
  });

  it('leaves a caller-set traceparent alone and makes no second span for the resilient client', async () => {
    const { downstream, metrics } = await setup();
    exporter.reset();
    const own = '00-11111111111111111111111111111111-2222222222222222-01';
    await underParent(() => httpGet(`${downstream.url}/own`, { headers: { traceparent: own } }));
    expect(downstream.requests.at(-1)?.headers.traceparent).toBe(own);
    expect(clientSpans()).toHaveLength(0);
    const client = createHttpClient({ baseUrl: downstream.url, metrics, logger: false });
    cleanup.push(() => client.close());
    await underParent(() => client.text('/resilient'));
    expect(clientSpans()).toHaveLength(1); // the resilient client's own
  });

  it('axios and got, imported before instrumentOutbound(): one span each, traceparent, one sample each', async () => {
    const { downstream, count, target } = await setup();
    exporter.reset();
    const { parent } = await underParent(async () => {
      await axios.get(`${downstream.url}/axios`);
      await got(`${downstream.url}/got`).text();
    });
    const spans = clientSpans();
    expect(spans).toHaveLength(2);
    for (const [i, span] of spans.entries()) {
      expect(span.parentSpanContext?.spanId).toBe(parent.spanId);
      expect(downstream.requests[i]?.headers.traceparent).toBe(
        `00-${parent.traceId}-${span.spanContext().spanId}-01`,
      );
    }
    expect(await count({ target, method: 'GET', status_code: '200' })).toBe(2);
  });

  it('tracing: false records metrics only', async () => {
    const { downstream, total } = await setup({ tracing: false });
    exporter.reset();
    await underParent(() => httpGet(`${downstream.url}/x`));
    expect(clientSpans()).toHaveLength(0);
    expect(downstream.requests.at(-1)?.headers.traceparent).toBeUndefined();
    expect(await total()).toBe(1);
  });
});
