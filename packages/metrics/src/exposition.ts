import { FAST_WRITE, type FastWritable } from './internal/families.js';
import { Registry, registryDefaultLabels } from './internal/prom.js';
import { escapeLabelValue } from './internal/store.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Media ranges of an `Accept` header looked at; a longer list is not what a scraper sends. */
const MAX_ACCEPT_RANGES = 32;

/**
 * True when an `Accept` header asks for OpenMetrics (as Prometheus does when exemplars are on): it
 * lists `application/openmetrics-text` (any case, any parameters) with a quality above 0 and at
 * least that of `text/plain`. Wildcards do not count: without an explicit ask the answer stays the
 * Prometheus text format. At most the first 32 media ranges are read.
 */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (typeof accept !== 'string') return false;
  let om = -1;
  let text = -1;
  let start = 0;
  for (let n = 0; n < MAX_ACCEPT_RANGES && start <= accept.length; n++) {
    let end = accept.indexOf(',', start);
    if (end < 0) end = accept.length;
    const range = accept.slice(start, end);
    start = end + 1;
    const semi = range.indexOf(';');
    const type = (semi < 0 ? range : range.slice(0, semi)).trim().toLowerCase();
    if (type !== 'application/openmetrics-text' && type !== 'text/plain') continue;
    const q = semi < 0 ? 1 : quality(range.slice(semi + 1));
    if (type === 'text/plain') text = Math.max(text, q);
    else om = Math.max(om, q);
  }
  return om > 0 && om >= text;
}

/** The `q` parameter of a media range's parameters (`version=1.0.0;q=0.5`): 1 when absent, 0 when invalid. */
function quality(params: string): number {
  for (const p of params.split(';')) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const v = p.slice(eq + 1).trim();
    // RFC 9110 qvalue: 0, 0.xxx or 1, 1.000.
    return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v) ? Number(v) : 0;
  }
  return 1;
}

const defaultsCache = new WeakMap<object, { src: object; str: string }>();

function defaultLabelString(registry: Registry): string {
  const d = registryDefaultLabels(registry);
  const hit = defaultsCache.get(registry);
  if (hit && hit.src === d) return hit.str;
  const str = Object.entries(d)
    .map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`)
    .join(',');
  defaultsCache.set(registry, { src: d, str });
  return str;
}

/**
 * Serialise a registry in the Prometheus text format or OpenMetrics.
 *
 * Vigil's own families are written by their fast writers (precomputed label strings, no sample
 * objects); any other metric in the registry (yours, prom-client's defaults) goes through
 * prom-client's own formatter, so the output is the same registry `registry.metrics()` sees.
 * Unlike `registry.metrics()` in OpenMetrics mode, this never renames the registry's counters.
 */
export async function serializeRegistry(registry: Registry, openMetrics: boolean): Promise<string> {
  const defaults = defaultLabelString(registry);
  const helper = new Registry();
  if (openMetrics) helper.setContentType(OPENMETRICS_CONTENT_TYPE as never);
  const d = registryDefaultLabels(registry);
  if (Object.keys(d).length > 0) helper.setDefaultLabels({ ...d });
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray() as unknown[]) {
    const fast = (metric as Partial<FastWritable>)[FAST_WRITE];
    if (typeof fast === 'function') {
      const out: string[] = [];
      fast.call(metric, defaults, openMetrics, out);
      // A family may have nothing to write (the tracing counters while tracing is off).
      if (out.length > 0) parts.push(out.join('\n'));
      continue;
    }
    const m = metric as { get(): unknown; type: string };
    const data = (await m.get()) as { name: string; type: string };
    const view =
      openMetrics && data.type === 'counter' ? { ...data, name: data.name.replace(/_total$/, '') } : data;
    parts.push(
      await (
        helper as unknown as { getMetricsAsString(m: { get(): unknown }): Promise<string> }
      ).getMetricsAsString({ get: () => view }),
    );
  }
  return openMetrics ? `${parts.join('\n')}\n# EOF\n` : `${parts.join('\n\n')}\n`;
}
