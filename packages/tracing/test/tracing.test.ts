import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SamplingDecision,
  trace,
} from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { getTracingHook } from '@vigil/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  activeTrace,
  createSpan,
  getTracing,
  isTracingAlreadyStartedError,
  isVigilOptionError,
  startTracing,
  TRACING_DEFAULTS,
  type Tracing,
  withSpan,
} from '../src/index.js';

// In-process tests with OpenTelemetry's in-memory exporter. Tracing is process-wide: each test
// starts its own instance and closes it (vitest runs each test file in its own worker).

let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.close();
  tracing = undefined;
});

function start(extra: Parameters<typeof startTracing>[0] = {}) {
  const exporter = new InMemorySpanExporter();
  tracing = startTracing({ exporter, scheduledDelayMs: 1, logger: false, ...extra });
  const spans = async (): Promise<ReadableSpan[]> => {
    await tracing!.forceFlush();
    return exporter.getFinishedSpans();
  };
  return { exporter, spans };
}

describe('startTracing options', () => {
  it('rejects invalid options, naming the option', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ sampleRatio: 2 }, 'sampleRatio'],
      [{ endpoint: 'ftp://collector' }, 'endpoint'],
      [{ protocol: 'grpc' }, 'protocol'],
      [{ maxQueueSize: 0 }, 'maxQueueSize'],
      [{ maxQueueSize: 10, maxExportBatchSize: 20 }, 'maxExportBatchSize'],
      [{ headers: { a: 1 } }, 'headers.a'],
      [{ instrumentations: [{}] }, 'instrumentations'],
      [{ exporter: {} }, 'exporter'],
      [{ serviceNam: 'typo' }, 'serviceNam'],
    ];
    for (const [opts, name] of bad) {
      let err: unknown;
      try {
        startTracing({ logger: false, ...opts } as never);
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), name).toBe(true);
      expect((err as Error).message).toContain(`"${name}"`);
    }
    expect(getTracing()).toBeUndefined();
  });

  it('one instance per process: a second start throws until the first is closed', async () => {
    start();
    let err: unknown;
    try {
      startTracing({ logger: false });
    } catch (e) {
      err = e;
    }
    expect(isTracingAlreadyStartedError(err)).toBe(true);
    expect(getTracing()).toBe(tracing);
    await tracing!.close();
    expect(getTracing()).toBeUndefined();
    expect(getTracingHook()).toBeUndefined();
    start(); // and again
    expect(getTracing()?.enabled).toBe(true);
  });

  it('reports an invalid environment value once and uses the default', () => {
    const warnings: string[] = [];
    const before = { ...process.env };
    process.env.OTEL_TRACES_SAMPLER = 'sometimes';
    process.env.OTEL_BSP_MAX_QUEUE_SIZE = '-3';
    try {
      tracing = startTracing({
        exporter: new InMemorySpanExporter(),
        logger: { warn: (_f, m) => warnings.push(m) },
      });
    } finally {
      process.env = before;
    }
    expect(tracing.sampleRatio).toBe(TRACING_DEFAULTS.sampleRatio);
    expect(warnings.join('\n')).toMatch(/OTEL_TRACES_SAMPLER/);
    expect(warnings.join('\n')).toMatch(/OTEL_BSP_MAX_QUEUE_SIZE/);
  });

  it('enabled: false records nothing and registers no hook', async () => {
    tracing = startTracing({ enabled: false, logger: false });
    expect(tracing.enabled).toBe(false);
    expect(getTracingHook()).toBeUndefined();
    expect(withSpan('x', (s) => s.recording)).toBe(false);
  });
});

describe('withSpan / createSpan', () => {
  it('sync and async, nested, with attributes; returns what fn returns', async () => {
    const { spans } = start();
    const v = withSpan('outer', (outer) => {
      outer.setAttribute('a', 1);
      return withSpan('inner', () => activeTrace());
    });
    expect(v?.sampled).toBe(true);
    const w = await createSpan('async', async (s) => {
      s.setAttributes({ b: 'x', skipped: undefined });
      await new Promise((r) => setImmediate(r));
      return 7;
    });
    expect(w).toBe(7);
    const all = await spans();
    const outer = all.find((s) => s.name === 'outer')!;
    const inner = all.find((s) => s.name === 'inner')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(outer.attributes).toEqual({ a: 1 });
    expect(all.find((s) => s.name === 'async')!.attributes).toEqual({ b: 'x' });
  });

  it('records a throw or a rejection, sets status error, and passes the error through', async () => {
    const { spans } = start();
    const boom = new Error('boom');
    expect(() =>
      withSpan('sync-fail', () => {
        throw boom;
      }),
    ).toThrow(boom);
    await expect(
      withSpan('async-fail', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    for (const name of ['sync-fail', 'async-fail']) {
      const s = (await spans()).find((x) => x.name === name)!;
      expect(s.status.code).toBe(2);
      expect(s.status.message).toBe('boom');
      expect(s.events.map((e) => e.name)).toEqual(['exception']);
      expect(s.attributes['error.type']).toBe('Error');
    }
  });

  it('without tracing started it just runs fn', async () => {
    expect(withSpan('noop', (s) => s.recording)).toBe(false);
    expect(await withSpan('noop', async () => 3)).toBe(3);
  });
});

describe('server spans through the hook', () => {
  const fakeReq = (headers: Record<string, string>) =>
    ({ method: 'GET', url: '/x?secret=1', headers, socket: {}, httpVersion: '1.1' }) as never;

  it('a malformed or invalid traceparent starts a fresh trace; a valid one is continued', async () => {
    const { spans } = start();
    const hook = getTracingHook()!;
    const bad = [
      'garbage',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331', // missing flags
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', // forbidden version
      '00-00000000000000000000000000000000-b7ad6b7169203331-01', // all-zero trace id
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', // all-zero span id
      `00-${'a'.repeat(4000)}`, // huge
    ];
    for (const traceparent of bad) {
      const t = hook.startServer(fakeReq({ traceparent }));
      hook.endServer(t, '/x', 200);
      expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(t.traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
    }
    const good = hook.startServer(
      fakeReq({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    );
    hook.endServer(good, '/x', 200);
    expect(good.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const all = await spans();
    expect(all.filter((s) => s.parentSpanContext === undefined)).toHaveLength(bad.length);
    // The query string never reaches the span.
    expect(all.every((s) => s.attributes['url.path'] === '/x')).toBe(true);
  });

  it('unsampled requests (ratio 0) have ids but record and queue nothing', async () => {
    const { spans } = start({ sampleRatio: 0 });
    const hook = getTracingHook()!;
    const t = hook.startServer(fakeReq({}));
    expect(t.exemplar).toBeUndefined();
    expect(t.traceFlags & 1).toBe(0);
    hook.run(t, () => expect(activeTrace()?.traceId).toBe(t.traceId));
    hook.endServer(t, '/x', 200);
    expect(await spans()).toEqual([]);
    expect(tracing!.stats().queued).toBe(0);
  });

  it("a request's context behaves as an OpenTelemetry context: values set on it keep the span, the span can be removed", async () => {
    const { spans } = start({ sampleRatio: 1 });
    const hook = getTracingHook()!;
    const t = hook.startServer(fakeReq({}));
    const key = createContextKey('vigil.test');
    hook.run(t, () => {
      const active = context.active();
      expect(trace.getSpan(active)?.spanContext().spanId).toBe(t.spanId);
      expect(active.getValue(key)).toBeUndefined();
      const withValue = active.setValue(key, 42);
      expect(withValue.getValue(key)).toBe(42);
      expect(trace.getSpan(withValue)?.spanContext().spanId).toBe(t.spanId);
      expect(active.getValue(key)).toBeUndefined(); // contexts are immutable
      expect(trace.getSpan(trace.deleteSpan(active))).toBeUndefined();
      expect(trace.getSpan(active.deleteValue(key))?.spanContext().spanId).toBe(t.spanId);
      // A span started in it is the request span's child; baggage rides along.
      const child = trace
        .getTracer('test')
        .startSpan(
          'child',
          {},
          propagation.setBaggage(active, propagation.createBaggage({ a: { value: '1' } })),
        );
      child.end();
    });
    hook.endServer(t, '/x', 200);
    const all = await spans();
    const child = all.find((s) => s.name === 'child');
    expect(child?.parentSpanContext?.spanId).toBe(t.spanId);
    expect(child?.spanContext().traceId).toBe(t.traceId);
  });

  // The hook takes the sampling decision for requests itself (unsampled ones never enter the
  // SDK); it must be the decision the SDK's samplers would take.
  it("ratio sampling: the same decision as OpenTelemetry's TraceIdRatioBasedSampler for every trace id", async () => {
    const { spans } = start({ sampleRatio: 0.5 });
    const hook = getTracingHook()!;
    const reference = new TraceIdRatioBasedSampler(0.5);
    const ids = new Set<string>();
    let sampled = 0;
    for (let i = 0; i < 400; i++) {
      const t = hook.startServer(fakeReq({}));
      hook.endServer(t, '/x', 200);
      const expected =
        reference.shouldSample(ROOT_CONTEXT, t.traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
      expect((t.traceFlags & 1) === 1, t.traceId).toBe(expected);
      expect(t.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      expect(t.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
      ids.add(t.traceId);
      if (expected) sampled++;
    }
    expect(ids.size).toBe(400);
    // 400 draws at p = 0.5: 200 ± 10 (one standard deviation); these bounds are five.
    expect(sampled).toBeGreaterThan(150);
    expect(sampled).toBeLessThan(250);
    const recorded = await spans();
    expect(recorded).toHaveLength(sampled);
    expect(new Set(recorded.map((s) => s.spanContext().traceId)).size).toBe(sampled);
  });

  it('a remote parent decides under the parent-based default: sampled → recorded, not sampled → same trace, nothing recorded', async () => {
    const { spans } = start({ sampleRatio: 0 });
    const hook = getTracingHook()!;
    const tid = '4bf92f3577b34da6a3ce929d0e0e4736';
    const on = hook.startServer(fakeReq({ traceparent: `00-${tid}-00f067aa0ba902b7-01` }));
    const off = hook.startServer(
      fakeReq({ traceparent: `00-${tid}-00f067aa0ba902b7-00`, tracestate: 'vendor=abc' }),
    );
    hook.run(off, () => {
      expect(activeTrace()).toMatchObject({ traceId: tid, sampled: false });
      expect(activeTrace()?.spanId).not.toBe('00f067aa0ba902b7');
    });
    hook.endServer(on, '/x', 200);
    hook.endServer(off, '/x', 200);
    expect(on.traceFlags & 1).toBe(1);
    expect(off.traceFlags & 1).toBe(0);
    expect(off.traceId).toBe(tid);
    const all = await spans();
    expect(all).toHaveLength(1);
    expect(all[0]!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it("OTEL_TRACES_SAMPLER=traceidratio (not parent-based) ignores the parent's flag; always_off records nothing", async () => {
    const saved = { s: process.env.OTEL_TRACES_SAMPLER, a: process.env.OTEL_TRACES_SAMPLER_ARG };
    try {
      process.env.OTEL_TRACES_SAMPLER = 'traceidratio';
      process.env.OTEL_TRACES_SAMPLER_ARG = '1';
      const first = start();
      const hook = getTracingHook()!;
      const t = hook.startServer(
        fakeReq({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' }),
      );
      hook.endServer(t, '/x', 200);
      expect(t.traceFlags & 1).toBe(1);
      expect(await first.spans()).toHaveLength(1);
      await tracing!.close();

      process.env.OTEL_TRACES_SAMPLER = 'always_off';
      const second = start();
      const hook2 = getTracingHook()!;
      const cases: Record<string, string>[] = [
        {},
        { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      ];
      for (const headers of cases) {
        const u = hook2.startServer(fakeReq(headers));
        hook2.endServer(u, '/x', 200);
        expect(u.traceFlags & 1).toBe(0);
      }
      expect(await second.spans()).toEqual([]);
    } finally {
      for (const [k, v] of [
        ['OTEL_TRACES_SAMPLER', saved.s],
        ['OTEL_TRACES_SAMPLER_ARG', saved.a],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('batch processor', () => {
  it('bounded queue: spans beyond maxQueueSize are dropped and counted while an export is stuck', async () => {
    let release: (() => void) | undefined;
    const exporter = {
      export(_spans: unknown[], cb: (r: { code: number }) => void) {
        release = () => cb({ code: 0 });
      },
      shutdown: async () => {},
    };
    tracing = startTracing({
      exporter: exporter as never,
      maxQueueSize: 3,
      maxExportBatchSize: 1,
      logger: false,
      scheduledDelayMs: 1,
      shutdownTimeoutMs: 10,
    });
    for (let i = 0; i < 10; i++) withSpan(`s${i}`, () => 0);
    // One span in the stuck export, three queued, six dropped.
    expect(tracing.stats()).toMatchObject({ queued: 3, dropped: { queue_full: 6 } });
    release?.();
  });

  it('close() ends within shutdownTimeoutMs, everything included, with an export that never ends', async () => {
    vi.useFakeTimers();
    try {
      const exporter = { export() {}, shutdown: async () => {} }; // never calls back (a hung collector)
      tracing = startTracing({ exporter: exporter as never, logger: false, shutdownTimeoutMs: 1000 });
      for (let i = 0; i < 3; i++) withSpan(`s${i}`, () => 0);
      await vi.advanceTimersByTimeAsync(TRACING_DEFAULTS.scheduledDelayMs); // the export starts, and hangs
      let closed = false;
      void tracing.close().then(() => {
        closed = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(closed).toBe(true);
      // The abandoned batch is counted, so the counters are final when close() resolves.
      expect(tracing.stats()).toMatchObject({ exported: 0, queued: 0, dropped: { shutdown: 3 } });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('fetch client spans (undici diagnostics channels)', () => {
  it('a client span under the active span, and traceparent pointing at it; none for an already propagated call', async () => {
    const { spans } = start();
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await withSpan('caller', async () => {
        expect(await (await fetch(`http://127.0.0.1:${port}/a?q=secret`)).text()).toBe('ok');
        const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        await (await fetch(`http://127.0.0.1:${port}/b`, { headers: { traceparent: own } })).text();
      });
      // Outside any span: no span, no header.
      await (await fetch(`http://127.0.0.1:${port}/c`)).text();
    } finally {
      server.close();
    }
    const all = await spans();
    const caller = all.find((s) => s.name === 'caller')!;
    const clients = all.filter((s) => s.kind === 2 /* CLIENT in the API enum */);
    expect(clients).toHaveLength(1);
    const client = clients[0]!;
    expect(client.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `http://127.0.0.1:${port}/a`,
      'http.response.status_code': 200,
    });
    expect(seen[0]).toBe(`00-${client.spanContext().traceId}-${client.spanContext().spanId}-01`);
    expect(seen[1]).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(seen[2]).toBeUndefined();
  });
});
