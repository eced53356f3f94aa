import { validateHeaderName, validateHeaderValue } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { huge, runs } from '../../../test/helpers/property.js';
import { isVigilOptionError } from '../src/errors.js';
import { parseKeyValues, resolveConfig } from '../src/internal/config.js';
import { OtlpHttpExporter } from '../src/internal/exporter.js';

// The OTEL_* variables come from a deployment, typed by people: whatever they hold, tracing starts
// (a bad value is reported once and ignored), and every setting lands in its documented range.

const VARIABLES = [
  'OTEL_SDK_DISABLED',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'VIGIL_TRACING_SHUTDOWN_TIMEOUT_MS',
  'OTEL_PROPAGATORS',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_EXPORTER_OTLP_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
] as const;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Values people type, and values nobody should. */
const value = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    'true',
    'TRUE',
    'false',
    '0',
    '1',
    '-1',
    '0.5',
    '1e3',
    '1e308',
    '0x10',
    '99999999999',
    'NaN',
    'Infinity',
    'http/json',
    'grpc',
    ' GRPC ',
    'gzip',
    'none',
    'console',
    'otlp,console',
    'zipkin',
    'http://collector:4318',
    'https://collector:4318/v1/traces',
    'http://[bad',
    'http://',
    'http:// x',
    'ftp://x',
    'always_on',
    'parentbased_traceidratio',
    'tracecontext,baggage',
    'b3,none,,tracecontext',
    'a=b,c=d',
    'x=a%0d%0aInjected: 1',
    'bad key=v',
    '__proto__=x,constructor=y',
    'k=%E0%A4%A',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer().map(String),
  fc.double().map(String),
);
const env = fc.dictionary(fc.constantFrom(...VARIABLES), value, { maxKeys: VARIABLES.length });

describe('OTEL_* variables (property)', () => {
  it('never throw (but for a gRPC protocol, named); every setting is in range; each bad variable is reported once', () => {
    fc.assert(
      fc.property(env, (e) => {
        const warned: string[] = [];
        const protocolVar = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
          ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
          : 'OTEL_EXPORTER_OTLP_PROTOCOL';
        const resolve = () =>
          resolveConfig(undefined, e, { warn: (f) => warned.push((f as { variable: string }).variable) });
        if (e[protocolVar]?.trim().toLowerCase() === 'grpc') {
          let err: unknown;
          try {
            resolve();
          } catch (x) {
            err = x;
          }
          expect(isVigilOptionError(err) && err.option).toBe(protocolVar);
          return;
        }
        const c = resolve();
        // The exporter accepts what came out (a URL that parses, headers Node will send).
        if (!c.exporters.includes('otlp')) expect(c.url).toBe('');
        else {
          const url = new URL(c.url);
          expect(['http:', 'https:']).toContain(url.protocol);
          new OtlpHttpExporter({ url: c.url, protocol: c.protocol, headers: c.headers, timeoutMs: 1 });
        }
        expect(['gzip', 'none']).toContain(c.compression);
        for (const x of c.exporters) expect(['otlp', 'console']).toContain(x);
        for (const [k, v] of Object.entries(c.headers)) {
          expect(() => validateHeaderName(k)).not.toThrow();
          expect(() => validateHeaderValue(k, v)).not.toThrow();
        }
        expect(['http/protobuf', 'http/json']).toContain(c.protocol);
        if ('ratio' in c.sampler) expect(c.sampler.ratio >= 0 && c.sampler.ratio <= 1).toBe(true);
        for (const n of [c.maxQueueSize, c.maxExportBatchSize, c.scheduledDelayMs, c.exportTimeoutMs]) {
          expect(Number.isInteger(n) && n >= 1 && n <= MAX_TIMER_MS).toBe(true);
        }
        expect(Number.isInteger(c.shutdownTimeoutMs) && c.shutdownTimeoutMs >= 0).toBe(true);
        expect(c.shutdownTimeoutMs).toBeLessThanOrEqual(MAX_TIMER_MS);
        expect(c.maxExportBatchSize).toBeLessThanOrEqual(c.maxQueueSize);
        expect(new Set(c.propagators).size).toBe(c.propagators.length);
        for (const p of c.propagators) expect(['tracecontext', 'baggage']).toContain(p);
        expect(new Set(warned).size).toBe(warned.length);
      }),
      runs(),
    );
  });

  it('k=v lists: every pair with a key comes back, its value percent-decoded', () => {
    const key = fc.oneof(
      fc.stringMatching(/^[a-z][a-z0-9._-]{0,15}$/),
      fc.constantFrom('__proto__', 'constructor'),
    );
    const pairs = fc.array(fc.tuple(key, fc.string({ maxLength: 20 })), { maxLength: 6 });
    fc.assert(
      fc.property(pairs, (list) => {
        const raw = list.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(',');
        const expected = new Map(list);
        const got = parseKeyValues(raw);
        expect(new Map(Object.entries(got))).toEqual(expected);
      }),
      runs(),
    );
  });

  it('1 MB values complete', () => {
    const log = { warn() {} };
    for (const unit of [',', '=', 'a=b,', '%', ' ']) {
      const e = Object.fromEntries(VARIABLES.map((v) => [v, huge(unit)]));
      expect(() => resolveConfig(undefined, e, log)).not.toThrow();
    }
  });
});
