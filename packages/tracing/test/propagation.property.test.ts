import type { IncomingMessage } from 'node:http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { getTracingHook, type TracingHook } from '@vigil/core';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { huge, RUNS, runs } from '../../../test/helpers/property.js';
import { startTracing, type Tracing } from '../src/index.js';

// `traceparent` and `tracestate` arrive from any client: a well-formed traceparent continues its
// trace, anything else starts a new one, nothing throws, and the ids and the trace state that come
// out are always well formed and bounded.

/** Runs that export the span (a flush each): a fifth of the pure properties' runs. */
const EXPORT_RUNS = Math.max(200, Math.floor(RUNS / 5));

let tracing: Tracing;
let hook: TracingHook;
const exporter = new InMemorySpanExporter();
beforeAll(() => {
  // A queue that holds every span of a run that does not flush (so none is dropped as queue_full).
  tracing = startTracing({
    exporter,
    logger: false,
    sampleRatio: 1,
    fetchSpans: false,
    maxQueueSize: 100_000,
  });
  hook = getTracingHook() as TracingHook;
});
beforeEach(async () => {
  await tracing.forceFlush();
  exporter.reset();
});
afterAll(() => tracing?.close());

const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
/** W3C trace context (version 00, and later versions with their extra fields). */
const W3C = /^[ \t]?([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?[ \t]?$/;

function request(headers: Record<string, unknown>): IncomingMessage {
  return {
    headers,
    method: 'GET',
    url: '/x',
    socket: null,
    httpVersion: '1.1',
  } as unknown as IncomingMessage;
}

/** Runs one request through the hook; returns its trace and (with `flush`) its exported span. */
async function serve(headers: Record<string, unknown>, flush = true) {
  const t = hook.startServer(request(headers));
  hook.endServer(t, '/x', 200);
  if (!flush) return { t, span: undefined };
  await tracing.forceFlush();
  const spans = exporter.getFinishedSpans();
  exporter.reset();
  return { t, span: spans.find((x) => x.spanContext().spanId === t.spanId) };
}

const anyText = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
/** Traceparents close to valid ones: one field off, upper case, extra fields, whitespace. */
const nearTraceparent = fc
  .tuple(
    fc.constantFrom('00', '01', 'ff', 'FF', '0', 'zz'),
    fc.oneof(
      hex(32),
      fc.constant(ZERO32),
      hex(31),
      hex(32).map((s) => s.toUpperCase()),
    ),
    fc.oneof(hex(16), fc.constant(ZERO16), hex(15)),
    fc.constantFrom('00', '01', 'ff', '1', 'x1'),
    fc.constantFrom('', '-', '-extra', ' ', '\t'),
  )
  .map(([v, t, p, f, tail]) => `${v}-${t}-${p}-${f}${tail}`);

describe('traceparent / tracestate (property)', () => {
  it('any header: no throw, well-formed ids, and a trace is continued only from a well-formed traceparent', async () => {
    const header = fc.oneof(anyText, nearTraceparent, fc.array(anyText, { maxLength: 2 }));
    await fc.assert(
      fc.asyncProperty(header, fc.option(anyText, { nil: undefined }), async (traceparent, tracestate) => {
        const { t } = await serve({ traceparent, tracestate }, false);
        expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(t.traceId).not.toBe(ZERO32);
        expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(t.spanId).not.toBe(ZERO16);
        expect([0, 1]).toContain(t.traceFlags);
        const m = typeof traceparent === 'string' ? W3C.exec(traceparent) : null;
        if (m === null || m[1] === 'ff' || m[2] === ZERO32 || m[3] === ZERO16 || (m[1] === '00' && m[5])) {
          // Not a valid traceparent: a trace of its own (a random id equal to one in the header is
          // not a concern at 128 bits).
          expect(typeof traceparent === 'string' && traceparent.includes(t.traceId)).toBe(false);
        } else {
          expect(t.traceId).toBe(m[2]);
        }
      }),
      runs(),
    );
  });

  it('a valid traceparent is continued: same trace, parent span, sampling decision', async () => {
    const valid = fc.tuple(
      hex(32).filter((s) => s !== ZERO32),
      hex(16).filter((s) => s !== ZERO16),
      fc.boolean(),
    );
    await fc.assert(
      fc.asyncProperty(valid, async ([traceId, parent, sampled]) => {
        const { t, span } = await serve({ traceparent: `00-${traceId}-${parent}-0${sampled ? 1 : 0}` });
        expect(t.traceId).toBe(traceId);
        expect(t.traceFlags).toBe(sampled ? 1 : 0);
        if (sampled) expect(span?.parentSpanContext?.spanId).toBe(parent);
        else expect(span).toBeUndefined();
      }),
      runs(EXPORT_RUNS),
    );
  });

  it('tracestate: whatever it holds, the span carries at most 32 members in at most 512 characters', async () => {
    const member = fc.oneof(
      fc
        .tuple(
          fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,20}(@[a-z][a-z0-9_*/-]{0,10})?$/),
          fc.stringMatching(/^[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,30}$/),
        )
        .map(([k, v]) => `${k}=${v}`),
      anyText,
    );
    const tracestate = fc.array(member, { maxLength: 40 }).map((m) => m.join(','));
    await fc.assert(
      fc.asyncProperty(tracestate, async (ts) => {
        const { span } = await serve({
          traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
          tracestate: ts,
        });
        const state = span?.spanContext().traceState?.serialize() ?? '';
        expect(state.length).toBeLessThanOrEqual(512);
        expect(state === '' ? 0 : state.split(',').length).toBeLessThanOrEqual(32);
      }),
      runs(EXPORT_RUNS),
    );
  });

  it('1 MB headers complete and start a new trace', async () => {
    for (const unit of ['0', '-', '00-', 'a=b,', ' ', ',']) {
      const { t } = await serve({ traceparent: huge(unit), tracestate: huge(unit) });
      expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});
