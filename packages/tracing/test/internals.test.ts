import { describe, expect, it } from 'vitest';
import { inRange, installedVersion } from '../../../test/helpers/versions.js';
import { OTLP_TRANSFORMER_SUPPORTED, SERIALIZER_PATHS } from '../src/internal/exporter.js';

describe('OpenTelemetry transformer internals (src/internal/exporter.ts)', () => {
  it(`runs against a supported @opentelemetry/otlp-transformer (${OTLP_TRANSFORMER_SUPPORTED})`, () => {
    const v = installedVersion('@opentelemetry/otlp-transformer', import.meta.filename);
    expect(inRange(v, OTLP_TRANSFORMER_SUPPORTED)).toBe(true);
  });

  for (const [protocol, [path, name]] of Object.entries(SERIALIZER_PATHS)) {
    it(`finds the ${protocol} trace serializer at its deep path`, async () => {
      const mod = (await import(path)) as Record<string, unknown>;
      const s = (mod[name] ?? (mod.default as Record<string, unknown>)?.[name]) as
        | { serializeRequest?: unknown; deserializeResponse?: unknown }
        | undefined;
      expect(typeof s?.serializeRequest).toBe('function');
      expect(typeof s?.deserializeResponse).toBe('function');
    });
  }
});
