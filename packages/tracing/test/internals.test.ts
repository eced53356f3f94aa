import { describe, expect, it } from 'vitest';
import { inRange, installedVersion } from '../../../test/helpers/versions.js';
import { OTLP_TRANSFORMER_SUPPORTED, PROTOBUF_SERIALIZER_PATH } from '../src/internal/exporter.js';

describe('OpenTelemetry transformer internals (src/internal/exporter.ts)', () => {
  it(`runs against a supported @opentelemetry/otlp-transformer (${OTLP_TRANSFORMER_SUPPORTED})`, () => {
    const v = installedVersion('@opentelemetry/otlp-transformer', import.meta.filename);
    expect(inRange(v, OTLP_TRANSFORMER_SUPPORTED)).toBe(true);
  });

  it('finds the protobuf trace serializer at its deep path', async () => {
    const mod = (await import(PROTOBUF_SERIALIZER_PATH)) as Record<string, unknown>;
    const s = (mod.ProtobufTraceSerializer ??
      (mod.default as Record<string, unknown>)?.ProtobufTraceSerializer) as
      | { serializeRequest?: unknown }
      | undefined;
    expect(typeof s?.serializeRequest).toBe('function');
  });
});
