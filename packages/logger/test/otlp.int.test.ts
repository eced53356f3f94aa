import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { type Running, startService } from '../../../test/helpers/spawn.js';
import { createLogger, isVigilOptionError, type Logger } from '../src/index.js';

// The pino -> OTLP logs bridge (`otlp` option) against a small OTLP/HTTP receiver in its own
// process: records with body, severity, attributes, resource, and the trace context of the line.

const RECEIVER = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'otlp-logs-receiver.mjs');

interface Rec {
  resource: Record<string, unknown>;
  scope: string;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: Record<string, unknown>;
  traceId?: string;
  spanId?: string;
  flags?: number;
}

let receiver: Running | undefined;
let log: Logger | undefined;
afterEach(async () => {
  await log?.close();
  log = undefined;
  await receiver?.stop();
  receiver = undefined;
  trace.disable();
  context.disable();
});

async function records(r: Running): Promise<Rec[]> {
  return (await (await fetch(`http://127.0.0.1:${r.port}/records`)).json()) as Rec[];
}

function capture() {
  const lines: Record<string, any>[] = [];
  return { lines, stream: { write: (l: string) => void lines.push(JSON.parse(l)) } };
}

describe('otlp: pino lines as OpenTelemetry log records', () => {
  it('exports each line (redacted) with severity, attributes and the trace context; close() flushes', async () => {
    receiver = await startService(RECEIVER);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const tracer = new BasicTracerProvider().getTracer('test');
    const { lines, stream } = capture();
    log = createLogger({
      service: 'orders',
      destination: stream,
      otlp: { endpoint: `http://127.0.0.1:${receiver.port}` },
    });
    const span = tracer.startSpan('request');
    context.with(trace.setSpan(context.active(), span), () => {
      log!.info({ orderId: 7, password: 'hunter2', nested: { a: 1 } }, 'order placed');
      log!.error(new Error('card declined'));
    });
    span.end();
    log.warn('outside any span');
    log.debug('below the level');
    await log.close();

    // The destination still gets every line.
    expect(lines.map((l) => l.msg)).toEqual(['order placed', 'card declined', 'outside any span']);
    const got = await records(receiver);
    expect(got.map((r) => r.body)).toEqual(['order placed', 'card declined', 'outside any span']);
    const [placed, declined, outside] = got as [Rec, Rec, Rec];
    const sc = span.spanContext();
    expect(placed).toMatchObject({
      scope: '@vigil/logger',
      severityNumber: 9,
      severityText: 'INFO',
      traceId: sc.traceId,
      spanId: sc.spanId,
      flags: 1,
    });
    expect(placed.resource['service.name']).toBe('orders');
    expect(placed.attributes).toMatchObject({
      orderId: 7,
      service: 'orders',
      password: '[REDACTED]',
      nested: { a: 1 },
    });
    expect(placed.attributes).not.toHaveProperty('trace_id');
    expect(placed.attributes).not.toHaveProperty('msg');
    expect(declined).toMatchObject({ severityNumber: 17, severityText: 'ERROR', traceId: sc.traceId });
    expect((declined.attributes.err as { message?: string }).message).toBe('card declined');
    expect(outside.severityNumber).toBe(13);
    expect(outside.traceId ?? '').toBe('');
  });

  it('a receiver that never answers costs close() at most flushTimeoutMs', async () => {
    receiver = await startService(RECEIVER, { RECEIVER_MODE: 'hang' });
    const { stream } = capture();
    log = createLogger({
      destination: stream,
      flushTimeoutMs: 300,
      otlp: { endpoint: `http://127.0.0.1:${receiver.port}` },
    });
    for (let i = 0; i < 10; i++) log.info({ i }, 'line');
    const t0 = performance.now();
    await log.close();
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('emits into a LoggerProvider you give it (flushed at close, never shut down)', async () => {
    const emitted: Record<string, unknown>[] = [];
    let flushed = 0;
    let shut = 0;
    const provider = {
      getLogger: () => ({ emit: (r: Record<string, unknown>) => void emitted.push(r) }),
      forceFlush: async () => void flushed++,
      shutdown: async () => void shut++,
    };
    const { stream } = capture();
    log = createLogger({ destination: stream, otlp: { loggerProvider: provider } });
    log.info({ k: 'v' }, 'hello');
    await log.close();
    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({ body: 'hello', severityNumber: 9, attributes: { k: 'v' } });
    expect([flushed, shut]).toEqual([1, 0]);
  });

  it('rejects bad otlp options, naming the option', () => {
    for (const [otlp, name] of [
      ['yes', 'otlp'],
      [{ endpoint: 'ftp://x' }, 'otlp.endpoint'],
      [{ headers: { a: 1 } }, 'otlp.headers'],
      [{ loggerProvider: {} }, 'otlp.loggerProvider'],
      [{ url: 'http://x' }, 'otlp.url'],
    ] as const) {
      let err: unknown;
      try {
        createLogger({ destination: capture().stream, otlp: otlp as never });
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), String(err)).toBe(true);
      expect((err as Error).message).toContain(`"${name}"`);
    }
  });
});
