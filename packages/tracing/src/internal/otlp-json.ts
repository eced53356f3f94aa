import type { Attributes, AttributeValue, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * OTLP/HTTP JSON encoding of spans, written straight into strings (in chunks for sending).
 *
 * It produces what OpenTelemetry's `JsonTraceSerializer` (`@opentelemetry/otlp-transformer`)
 * produces, field for field (test/otlp-json.test.ts compares the two on every kind of span), but
 * without building the intermediate request object that the upstream serializer makes (about
 * thirty objects and two BigInts per span), then stringifies and copies again (figures:
 * bench/README.md, `otlp-export`).
 *
 * The resource is the same for almost every span, so its JSON is kept per resource object (a
 * WeakMap); a scope's is written once per scope and batch.
 */

type Scope = ReadableSpan['instrumentationScope'];

const str = JSON.stringify as (s: string) => string;

/** Characters per chunk of `encodeChunks` (UTF-8 buffers below glibc's default mmap threshold). */
const CHUNK_CHARS = 32 * 1024;

/** An hrtime as decimal nanoseconds, exactly (seconds × 1e9 exceeds 2^53), as the upstream encoder writes it. */
export function nanos(t: HrTime): string {
  const s = Math.trunc(t[0]);
  const n = Math.trunc(t[1]);
  if (s > 0 && n >= 0 && n < 1e9 && s < 1e11) {
    const ns = `${n}`;
    return `${s}${'000000000'.slice(ns.length)}${ns}`;
  }
  return (BigInt(s) * 1_000_000_000n + BigInt(n)).toString();
}

/** A number as JSON.stringify writes it (non-finite numbers become null). */
function num(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

function anyValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `{"stringValue":${str(v)}}`;
    case 'number':
      return Number.isInteger(v) ? `{"intValue":${num(v)}}` : `{"doubleValue":${num(v)}}`;
    case 'boolean':
      return v ? '{"boolValue":true}' : '{"boolValue":false}';
    case 'object': {
      if (v === null) return '{}';
      if (v instanceof Uint8Array) {
        return `{"bytesValue":${str(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'))}}`;
      }
      if (Array.isArray(v)) {
        let out = '{"arrayValue":{"values":[';
        for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + anyValue(v[i]);
        return `${out}]}}`;
      }
      const keys = Object.keys(v);
      let out = '{"kvlistValue":{"values":[';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        out += `${i === 0 ? '' : ','}{"key":${str(k)},"value":${anyValue((v as Record<string, unknown>)[k])}}`;
      }
      return `${out}]}}`;
    }
    default:
      return '{}';
  }
}

function attributes(a: Attributes | undefined): string {
  if (a === undefined) return '[]';
  const keys = Object.keys(a);
  let out = '[';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += `${i === 0 ? '' : ','}{"key":${str(k)},"value":${anyValue(a[k] as AttributeValue | undefined)}}`;
  }
  return `${out}]`;
}

/** OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (or not). */
function flags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function traceStateField(sc: SpanContext): string {
  const ts = sc.traceState?.serialize();
  return ts === undefined ? '' : `,"traceState":${str(ts)}`;
}

function span(s: ReadableSpan): string {
  const sc = s.spanContext();
  const parent = s.parentSpanContext;
  let out = `{"traceId":${str(sc.traceId)},"spanId":${str(sc.spanId)}`;
  if (parent?.spanId) out += `,"parentSpanId":${str(parent.spanId)}`;
  out += traceStateField(sc);
  out += `,"name":${str(s.name)},"kind":${s.kind == null ? 0 : s.kind + 1}`;
  out += `,"startTimeUnixNano":"${nanos(s.startTime)}","endTimeUnixNano":"${nanos(s.endTime)}"`;
  out += `,"attributes":${attributes(s.attributes)},"droppedAttributesCount":${num(s.droppedAttributesCount)}`;
  out += ',"events":[';
  const events = s.events;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ReadableSpan['events'][number];
    out += `${i === 0 ? '' : ','}{"attributes":${attributes(e.attributes)},"name":${str(e.name)}`;
    out += `,"timeUnixNano":"${nanos(e.time)}","droppedAttributesCount":${num(e.droppedAttributesCount || 0)}}`;
  }
  out += `],"droppedEventsCount":${num(s.droppedEventsCount)}`;
  const status = s.status;
  out += `,"status":{"code":${num(status.code)}`;
  if (status.message !== undefined) out += `,"message":${str(status.message)}`;
  out += '},"links":[';
  const links = s.links;
  for (let i = 0; i < links.length; i++) {
    const l = links[i] as ReadableSpan['links'][number];
    const lc = l.context;
    out += `${i === 0 ? '' : ','}{"attributes":${attributes(l.attributes)},"spanId":${str(lc.spanId)}`;
    out += `,"traceId":${str(lc.traceId)}${traceStateField(lc)}`;
    out += `,"droppedAttributesCount":${num(l.droppedAttributesCount || 0)}`;
    out += `,"flags":${flags(lc.traceFlags, lc.isRemote)}}`;
  }
  out += `],"droppedLinksCount":${num(s.droppedLinksCount)}`;
  out += `,"flags":${flags(sc.traceFlags, parent?.isRemote)}}`;
  return out;
}

function scopeJson(scope: Scope): string {
  let out = `{"name":${str(scope.name)}`;
  if (scope.version !== undefined) out += `,"version":${str(scope.version)}`;
  const a = (scope as { attributes?: Attributes }).attributes;
  if (a !== undefined && Object.keys(a).length > 0) {
    out += `,"attributes":${attributes(a)}`;
    out += `,"droppedAttributesCount":${(scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0}`;
  }
  return `${out}}`;
}

export class OtlpJsonEncoder {
  private readonly resources = new WeakMap<object, string>();

  private resourceJson(resource: ReadableSpan['resource']): string {
    let json = this.resources.get(resource);
    if (json === undefined) {
      json = `{"attributes":${attributes(resource.attributes)},"droppedAttributesCount":0`;
      if (resource.schemaUrl) json += `,"schemaUrl":${str(resource.schemaUrl)}`;
      json += '}';
      // A resource whose attributes are still being detected may change; keep only settled ones.
      if (!(resource as { asyncAttributesPending?: boolean }).asyncAttributesPending) {
        this.resources.set(resource, json);
      }
    }
    return json;
  }

  /** The `ExportTraceServiceRequest` JSON of `spans`, grouped by resource then scope as upstream does. */
  encode(spans: readonly ReadableSpan[]): string {
    return this.write(spans, undefined);
  }

  /**
   * The same JSON as UTF-8, in buffers of about `CHUNK_CHARS` each, to be written one after the
   * other. A batch of 512 server spans is about 440 KB: as one string and one buffer, both land in
   * V8's and the allocator's large-object paths (fresh pages faulted in and unmapped every export);
   * in chunks they are ordinary allocations.
   */
  encodeChunks(spans: readonly ReadableSpan[]): Buffer[] {
    const chunks: Buffer[] = [];
    const rest = this.write(spans, chunks);
    if (rest.length > 0) chunks.push(Buffer.from(rest, 'utf8'));
    return chunks;
  }

  private write(spans: readonly ReadableSpan[], chunks: Buffer[] | undefined): string {
    const byResource = new Map<ReadableSpan['resource'], Map<string, ReadableSpan[]>>();
    for (const s of spans) {
      let byScope = byResource.get(s.resource);
      if (byScope === undefined) {
        byScope = new Map();
        byResource.set(s.resource, byScope);
      }
      const sc = s.instrumentationScope;
      const key = `${sc.name}@${sc.version || ''}:${sc.schemaUrl || ''}`;
      const list = byScope.get(key);
      if (list === undefined) byScope.set(key, [s]);
      else list.push(s);
    }
    let out = '{"resourceSpans":[';
    let firstResource = true;
    for (const [resource, byScope] of byResource) {
      const resourceJson = this.resourceJson(resource);
      out += `${firstResource ? '' : ','}{"resource":${resourceJson},"scopeSpans":[`;
      firstResource = false;
      let firstScope = true;
      for (const list of byScope.values()) {
        const scope = (list[0] as ReadableSpan).instrumentationScope;
        out += `${firstScope ? '' : ','}{"scope":${scopeJson(scope)},"spans":[`;
        firstScope = false;
        for (let i = 0; i < list.length; i++) {
          out += (i === 0 ? '' : ',') + span(list[i] as ReadableSpan);
          if (chunks !== undefined && out.length >= CHUNK_CHARS) {
            chunks.push(Buffer.from(out, 'utf8'));
            out = '';
          }
        }
        out += ']';
        if (scope.schemaUrl !== undefined) out += `,"schemaUrl":${str(scope.schemaUrl)}`;
        out += '}';
      }
      out += ']';
      if (resource.schemaUrl) out += `,"schemaUrl":${str(resource.schemaUrl)}`;
      out += '}';
    }
    return `${out}]}`;
  }
}
