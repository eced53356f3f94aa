import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { MAX_TIMER_MS } from '@vigil/core';
import { TRACING_DEFAULTS } from '../defaults.js';
import { describe, VigilOptionError } from '../errors.js';
import type { InstrumentationLike, TracingLogger, TracingOptions } from '../types.js';

/** Options after validation and environment variables, with defaults applied. */
export interface ResolvedConfig {
  readonly enabled: boolean;
  readonly serviceName: string | undefined;
  readonly serviceVersion: string | undefined;
  readonly environment: string | undefined;
  readonly resourceAttributes: Record<string, string | number | boolean>;
  readonly envResourceAttributes: Record<string, string>;
  /** The OTLP traces URL; empty when `OTEL_TRACES_EXPORTER` leaves OTLP out. */
  readonly url: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly headers: Record<string, string>;
  /** `OTEL_TRACES_EXPORTER`: the exporters to run (empty for `none`). */
  readonly exporters: readonly ('otlp' | 'console')[];
  readonly compression: 'gzip' | 'none';
  /** CA and client certificate files for an https collector, read at start. */
  readonly tls: TlsFiles | undefined;
  readonly sampler: SamplerConfig;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly fetchSpans: boolean;
  readonly dbQueryText: boolean;
  readonly flushOnExit: boolean;
  readonly attach: boolean;
  readonly propagators: readonly ('tracecontext' | 'baggage')[];
  readonly instrumentations: readonly InstrumentationLike[];
  readonly spanProcessors: readonly SpanProcessor[];
}

/** PEM contents from `OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE`, `…CLIENT_KEY`, `…CLIENT_CERTIFICATE`. */
export interface TlsFiles {
  readonly ca?: Buffer;
  readonly key?: Buffer;
  readonly cert?: Buffer;
}

export type SamplerConfig =
  | { readonly type: 'always_on' | 'always_off' | 'parentbased_always_on' | 'parentbased_always_off' }
  | { readonly type: 'traceidratio' | 'parentbased_traceidratio'; readonly ratio: number };

const KNOWN = [
  'enabled',
  'serviceName',
  'serviceVersion',
  'environment',
  'resourceAttributes',
  'endpoint',
  'protocol',
  'headers',
  'sampleRatio',
  'maxQueueSize',
  'maxExportBatchSize',
  'scheduledDelayMs',
  'exportTimeoutMs',
  'shutdownTimeoutMs',
  'fetchSpans',
  'dbQueryText',
  'flushOnExit',
  'attach',
  'instrumentations',
  'spanProcessors',
  'exporter',
  'logger',
];

type Env = Readonly<Record<string, string | undefined>>;

/** A logger for configuration problems: the user's, or one JSON line on stderr. */
export function resolveLogger(v: unknown): TracingLogger {
  if (v === false) return { warn() {} };
  if (v !== undefined) {
    if (typeof v !== 'object' || v === null || typeof (v as TracingLogger).warn !== 'function') {
      throw new VigilOptionError('logger', 'an object with a warn(fields, message) method, or false', v);
    }
    return v as TracingLogger;
  }
  return {
    warn(fields, message) {
      process.stderr.write(
        `${JSON.stringify({ level: 'warn', time: Date.now(), name: '@vigil/tracing', ...fields, msg: message })}\n`,
      );
    },
  };
}

function str(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new VigilOptionError(name, 'a non-empty string', v);
  return v;
}

function bool(name: string, v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new VigilOptionError(name, 'a boolean', v);
  return v;
}

function int(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_TIMER_MS) {
    throw new VigilOptionError(name, `an integer from ${min} to ${MAX_TIMER_MS}`, v);
  }
  return v;
}

/** An http(s) URL that parses; undefined otherwise. */
function httpUrl(v: string): string | undefined {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether Node would send this header (a token for a name, no CR, LF or NUL in the value). */
function validHeader(k: string, v: string): boolean {
  try {
    validateHeaderName(k);
    validateHeaderValue(k, v);
    return true;
  } catch {
    return false;
  }
}

function record(name: string, v: unknown, values: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VigilOptionError(name, `an object of ${values}`, v);
  }
  return v as Record<string, unknown>;
}

function url(name: string, v: string): string {
  if (httpUrl(v) === undefined) throw new VigilOptionError(name, 'an http(s) URL', v);
  return v;
}

/**
 * `k=v,k2=v2` with percent-encoded values (the OTLP headers and resource attribute syntax). Every
 * key is kept as written, `__proto__` too (a null-prototype object).
 */
export function parseKeyValues(raw: string | undefined): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {}
    if (k) out[k] = v;
  }
  return out;
}

/**
 * Validate options (throwing `VigilOptionError` naming the option) and merge them with the standard
 * environment variables. Invalid environment values are reported once and ignored, so a typo in a
 * deployment never stops the service from starting.
 */
export function resolveConfig(
  options: TracingOptions | undefined,
  env: Env,
  log: TracingLogger,
): ResolvedConfig {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new VigilOptionError('options', 'an options object', options);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k)) throw new VigilOptionError(k, `one of ${KNOWN.join(', ')}`, 'an unknown option');
  }

  // Once per variable: a list with many bad entries is still one line.
  const reported = new Set<string>();
  const badEnv = (name: string, expected: string) => {
    if (reported.has(name)) return;
    reported.add(name);
    log.warn(
      { variable: name, value: describe(env[name]) },
      `Ignoring ${name}=${describe(env[name])}: expected ${expected}`,
    );
  };
  const envInt = (name: string, min: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > MAX_TIMER_MS) {
      badEnv(name, `an integer from ${min} to ${MAX_TIMER_MS}`);
      return undefined;
    }
    return n;
  };
  /** A k=v list from the environment, without the pairs Node could not send as headers. */
  const envHeaders = (name: string): Record<string, string> => {
    const out = parseKeyValues(env[name]);
    for (const [k, v] of Object.entries(out)) {
      if (validHeader(k, v)) continue;
      delete out[k];
      badEnv(name, 'header names that are tokens and values without control characters');
    }
    return out;
  };
  const envFirst = (...names: string[]) => {
    for (const n of names) {
      const v = env[n];
      if (v !== undefined && v.trim() !== '') return v.trim();
    }
    return undefined;
  };

  // enabled
  const enabledOpt = bool('enabled', o.enabled);
  const sdkDisabled = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
  const enabled = enabledOpt ?? !sdkDisabled;

  // endpoint and protocol
  let traceUrl: string;
  const endpointOpt = str('endpoint', o.endpoint);
  if (endpointOpt !== undefined) traceUrl = `${url('endpoint', endpointOpt).replace(/\/+$/, '')}/v1/traces`;
  else {
    const full = envFirst('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    const base = envFirst('OTEL_EXPORTER_OTLP_ENDPOINT');
    const baseUrl = base === undefined ? undefined : httpUrl(`${base.replace(/\/+$/, '')}/v1/traces`);
    if (full !== undefined && httpUrl(full) !== undefined) traceUrl = full;
    else if (baseUrl !== undefined) traceUrl = baseUrl;
    else {
      if (full !== undefined) badEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'an http(s) URL');
      else if (base !== undefined) badEnv('OTEL_EXPORTER_OTLP_ENDPOINT', 'an http(s) URL');
      traceUrl = `${TRACING_DEFAULTS.endpoint}/v1/traces`;
    }
  }
  let protocol: 'http/protobuf' | 'http/json' = TRACING_DEFAULTS.protocol;
  if (o.protocol !== undefined) {
    if (o.protocol !== 'http/protobuf' && o.protocol !== 'http/json') {
      throw new VigilOptionError('protocol', '"http/protobuf" or "http/json"', o.protocol);
    }
    protocol = o.protocol;
  } else {
    const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    const p = envFirst(name);
    if (p === 'http/protobuf' || p === 'http/json') protocol = p;
    else if (p?.toLowerCase() === 'grpc') {
      // Not a typo to warn about: every span would be posted to a port that does not speak HTTP.
      throw new VigilOptionError(
        name,
        '"http/protobuf" or "http/json" (@vigil/tracing exports over OTLP/HTTP only, not gRPC: point the endpoint at the collector\'s OTLP/HTTP port, 4318 by default)',
        p,
      );
    } else if (p !== undefined) badEnv(name, '"http/protobuf" or "http/json" (gRPC is not supported)');
  }
  const headersOpt = record('headers', o.headers, 'header strings');
  if (headersOpt) {
    for (const [k, v] of Object.entries(headersOpt)) {
      if (typeof v !== 'string') throw new VigilOptionError(`headers.${k}`, 'a string', v);
      if (!validHeader(k, v)) {
        throw new VigilOptionError(`headers.${k}`, 'a header a request can carry (no control characters)', v);
      }
    }
  }
  const headers = {
    ...envHeaders('OTEL_EXPORTER_OTLP_HEADERS'),
    ...envHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
    ...(headersOpt as Record<string, string> | undefined),
  };

  // OTEL_TRACES_EXPORTER, compression, TLS files (the TRACES_ variable first, as for every OTLP setting)
  const exporters: ('otlp' | 'console')[] = [];
  const rawExporters = envFirst('OTEL_TRACES_EXPORTER') ?? 'otlp';
  const names = rawExporters.split(',').map((x) => x.trim().toLowerCase());
  for (const x of names) {
    if (x === 'otlp' || x === 'console') {
      if (!exporters.includes(x)) exporters.push(x);
    } else if (x !== 'none' && x !== '') badEnv('OTEL_TRACES_EXPORTER', 'otlp, console or none');
  }
  // Only unknown names: keep exporting over OTLP rather than silently drop every span.
  if (exporters.length === 0 && !names.includes('none')) exporters.push('otlp');
  const pick = (suffix: string): [string, string | undefined] => {
    const traces = `OTEL_EXPORTER_OTLP_TRACES_${suffix}`;
    const v = envFirst(traces);
    return v !== undefined
      ? [traces, v]
      : [`OTEL_EXPORTER_OTLP_${suffix}`, envFirst(`OTEL_EXPORTER_OTLP_${suffix}`)];
  };
  const [compressionVar, rawCompression] = pick('COMPRESSION');
  let compression: 'gzip' | 'none' = 'none';
  if (rawCompression !== undefined) {
    const v = rawCompression.toLowerCase();
    if (v === 'gzip' || v === 'none') compression = v;
    else badEnv(compressionVar, 'gzip or none');
  }
  const readPem = (suffix: string): Buffer | undefined => {
    const [name, file] = pick(suffix);
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      badEnv(name, `a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      return undefined;
    }
  };
  const ca = readPem('CERTIFICATE');
  let key = readPem('CLIENT_KEY');
  let cert = readPem('CLIENT_CERTIFICATE');
  if ((key === undefined) !== (cert === undefined)) {
    // One without the other cannot authenticate; the handshake would fail on every export.
    badEnv(
      pick(key === undefined ? 'CLIENT_CERTIFICATE' : 'CLIENT_KEY')[0],
      'both OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or their TRACES_ variants)',
    );
    key = undefined;
    cert = undefined;
  }
  const tls =
    ca === undefined && key === undefined
      ? undefined
      : { ...(ca && { ca }), ...(key && cert && { key, cert }) };

  // sampling
  let sampler: SamplerConfig;
  if (o.sampleRatio !== undefined) {
    const r = o.sampleRatio;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1))
      throw new VigilOptionError('sampleRatio', 'a number from 0 to 1', r);
    sampler = { type: 'parentbased_traceidratio', ratio: r };
  } else sampler = samplerFromEnv(env, badEnv);

  // batching and timeouts
  const maxQueueSize =
    int('maxQueueSize', o.maxQueueSize, 1) ??
    envInt('OTEL_BSP_MAX_QUEUE_SIZE', 1) ??
    TRACING_DEFAULTS.maxQueueSize;
  let maxExportBatchSize =
    int('maxExportBatchSize', o.maxExportBatchSize, 1) ??
    envInt('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1) ??
    TRACING_DEFAULTS.maxExportBatchSize;
  if (maxExportBatchSize > maxQueueSize) {
    if (o.maxExportBatchSize !== undefined) {
      throw new VigilOptionError(
        'maxExportBatchSize',
        `at most maxQueueSize (${maxQueueSize})`,
        maxExportBatchSize,
      );
    }
    maxExportBatchSize = maxQueueSize;
  }
  const scheduledDelayMs =
    int('scheduledDelayMs', o.scheduledDelayMs, 1) ??
    envInt('OTEL_BSP_SCHEDULE_DELAY', 1) ??
    TRACING_DEFAULTS.scheduledDelayMs;
  const exportTimeoutMs =
    int('exportTimeoutMs', o.exportTimeoutMs, 1) ??
    envInt(
      env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT
        ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
        : 'OTEL_EXPORTER_OTLP_TIMEOUT',
      1,
    ) ??
    TRACING_DEFAULTS.exportTimeoutMs;
  const shutdownTimeoutMs =
    int('shutdownTimeoutMs', o.shutdownTimeoutMs, 0) ??
    envInt('VIGIL_TRACING_SHUTDOWN_TIMEOUT_MS', 0) ??
    TRACING_DEFAULTS.shutdownTimeoutMs;

  // resource
  const attrs = record('resourceAttributes', o.resourceAttributes, 'string, number or boolean values') ?? {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new VigilOptionError(`resourceAttributes.${k}`, 'a string, number or boolean', v);
    }
  }

  // propagators
  const propagators: ('tracecontext' | 'baggage')[] = [];
  const rawProp = envFirst('OTEL_PROPAGATORS') ?? 'tracecontext,baggage';
  for (const p of rawProp.split(',').map((s) => s.trim().toLowerCase())) {
    if (p === 'tracecontext' || p === 'baggage') {
      if (!propagators.includes(p)) propagators.push(p);
    } else if (p !== 'none' && p !== '')
      badEnv('OTEL_PROPAGATORS', 'tracecontext, baggage or none (others are not supported)');
  }

  const spanProcessors = o.spanProcessors ?? [];
  if (
    !Array.isArray(spanProcessors) ||
    spanProcessors.some(
      (p) => typeof p !== 'object' || p === null || typeof (p as SpanProcessor).onEnd !== 'function',
    )
  ) {
    throw new VigilOptionError('spanProcessors', 'an array of OpenTelemetry span processors', spanProcessors);
  }
  const instrumentations = o.instrumentations ?? [];
  if (
    !Array.isArray(instrumentations) ||
    instrumentations.some(
      (i) =>
        typeof i !== 'object' ||
        i === null ||
        typeof (i as InstrumentationLike).setTracerProvider !== 'function',
    )
  ) {
    throw new VigilOptionError(
      'instrumentations',
      'an array of OpenTelemetry instrumentations',
      instrumentations,
    );
  }
  if (o.exporter !== undefined) {
    const e = o.exporter as { export?: unknown; shutdown?: unknown } | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.export !== 'function' ||
      typeof e.shutdown !== 'function'
    ) {
      throw new VigilOptionError('exporter', 'an OpenTelemetry SpanExporter', o.exporter);
    }
  }

  return {
    enabled,
    serviceName: str('serviceName', o.serviceName),
    serviceVersion: str('serviceVersion', o.serviceVersion),
    environment: str('environment', o.environment),
    resourceAttributes: attrs as Record<string, string | number | boolean>,
    envResourceAttributes: parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES),
    url: exporters.includes('otlp') ? traceUrl : '',
    protocol,
    headers,
    exporters,
    compression,
    tls,
    sampler,
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMs,
    exportTimeoutMs,
    shutdownTimeoutMs,
    fetchSpans: bool('fetchSpans', o.fetchSpans) ?? TRACING_DEFAULTS.fetchSpans,
    dbQueryText: bool('dbQueryText', o.dbQueryText) ?? TRACING_DEFAULTS.dbQueryText,
    flushOnExit: bool('flushOnExit', o.flushOnExit) ?? TRACING_DEFAULTS.flushOnExit,
    attach: bool('attach', o.attach) ?? TRACING_DEFAULTS.attach,
    propagators,
    instrumentations: instrumentations as InstrumentationLike[],
    spanProcessors: spanProcessors as SpanProcessor[],
  };
}

function samplerFromEnv(env: Env, badEnv: (name: string, expected: string) => void): SamplerConfig {
  const name = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  const argRaw = env.OTEL_TRACES_SAMPLER_ARG;
  const ratio = (): number => {
    if (argRaw === undefined || argRaw.trim() === '') return TRACING_DEFAULTS.sampleRatio;
    const r = Number(argRaw);
    if (!(r >= 0 && r <= 1)) {
      badEnv('OTEL_TRACES_SAMPLER_ARG', 'a number from 0 to 1');
      return TRACING_DEFAULTS.sampleRatio;
    }
    return r;
  };
  switch (name) {
    case '':
      // Vigil's default is the parent-based ratio sampler; the ratio may still come from the ARG.
      return { type: 'parentbased_traceidratio', ratio: ratio() };
    case 'always_on':
    case 'always_off':
    case 'parentbased_always_on':
    case 'parentbased_always_off':
      return { type: name };
    case 'traceidratio':
    case 'parentbased_traceidratio':
      return { type: name, ratio: ratio() };
    default:
      badEnv(
        'OTEL_TRACES_SAMPLER',
        'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
      );
      return { type: 'parentbased_traceidratio', ratio: ratio() };
  }
}

/** The effective ratio of new traces a sampler records. */
export function samplerRatio(s: SamplerConfig): number {
  if ('ratio' in s) return s.ratio;
  return s.type === 'always_off' || s.type === 'parentbased_always_off' ? 0 : 1;
}
