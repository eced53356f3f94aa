// Small PromQL builders. Metric names come only from catalog definitions (never literals), so a
// renamed metric changes every query, and a query cannot name a metric the catalog lacks.

import type { MetricDefinition } from '@vigil/catalog';

export type SeriesSuffix = '' | '_bucket' | '_count' | '_sum';

/** The series name of a catalog metric, with a histogram suffix where asked (checked against the type). */
export function seriesName(metric: MetricDefinition, suffix: SeriesSuffix = ''): string {
  if (suffix !== '' && metric.type !== 'histogram') {
    throw new Error(`${metric.name} is a ${metric.type}: it has no ${suffix} series`);
  }
  if (suffix === '' && metric.type === 'histogram') {
    throw new Error(`${metric.name} is a histogram: select its _bucket, _count or _sum series`);
  }
  return metric.name + suffix;
}

/** `name{m1, m2}`; empty matchers are dropped. */
export function select(name: string, matchers: readonly string[]): string {
  const ms = matchers.filter((m) => m.trim() !== '');
  return ms.length ? `${name}{${ms.join(', ')}}` : name;
}

/** Selector of a catalog metric. */
export function sel(metric: MetricDefinition, suffix: SeriesSuffix, matchers: readonly string[]): string {
  return select(seriesName(metric, suffix), matchers);
}

/** `by (a, b)` (or nothing for no labels). */
export function by(labels: readonly string[]): string {
  return labels.length ? ` by (${labels.join(', ')})` : '';
}

/** A label matcher value, escaped for a PromQL double-quoted string. */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Matcher for one bucket boundary. Prometheus 3 normalises classic-histogram `le` values to float
 * notation (`1` becomes `1.0`) while 2.x keeps what the client wrote, so whole numbers match both.
 */
export function leMatcher(boundary: number): string {
  return Number.isInteger(boundary) ? `le=~"${boundary}(\\\\.0)?"` : `le="${String(boundary)}"`;
}

/** Formats a number for PromQL (no exponent for the ranges used here, no float noise). */
export function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

/** `histogram_quantile(q, sum by (labels, le) (rate(x_bucket{...}[w])))`. */
export function quantile(
  q: number,
  metric: MetricDefinition,
  matchers: readonly string[],
  labels: readonly string[],
  window: string,
  scope: (vector: string) => string = (v) => v,
): string {
  return `histogram_quantile(${num(q)}, sum${by([...labels, 'le'])} (${scope(`rate(${sel(metric, '_bucket', matchers)}[${window}])`)}))`;
}

/** Metric names referenced by an expression, among the given candidates (plain and histogram series). */
export function referencedMetrics(expr: string, metrics: readonly MetricDefinition[]): MetricDefinition[] {
  return metrics.filter((m) => {
    const names =
      m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name];
    return names.some((n) => new RegExp(`(^|[^a-zA-Z0-9_:])${n}([^a-zA-Z0-9_:]|$)`).test(expr));
  });
}
