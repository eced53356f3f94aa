import { join } from 'node:path';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredRange, inRange, installedVersion, rangeWithin } from '../../../test/helpers/versions.js';
import { PINO_SUPPORTED } from '../src/internal/request-line.js';
import { activeTraceFields, OTEL_API_SUPPORTED } from '../src/internal/trace-context.js';

const packageJson = join(import.meta.dirname, '..', 'package.json');

describe('pino internals (src/internal/request-line.ts)', () => {
  it(`runs against a supported pino (${PINO_SUPPORTED}), and package.json accepts no other`, () => {
    expect(inRange(installedVersion('pino', import.meta.filename), PINO_SUPPORTED)).toBe(true);
    expect(rangeWithin(declaredRange(packageJson, 'pino'), PINO_SUPPORTED)).toBe(true);
  });
});

describe('OpenTelemetry API internals (src/internal/trace-context.ts)', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it(`runs against a supported @opentelemetry/api (${OTEL_API_SUPPORTED})`, () => {
    expect(inRange(installedVersion('@opentelemetry/api', import.meta.filename), OTEL_API_SUPPORTED)).toBe(
      true,
    );
  });

  it("reads the active span's ids through the API's global slot", () => {
    const sc = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    expect(activeTraceFields()).toBeUndefined();
    context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () => {
      expect(activeTraceFields()).toEqual({ trace_id: sc.traceId, span_id: sc.spanId, trace_flags: '01' });
    });
  });
});
