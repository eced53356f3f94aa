// Synthetic classic-histogram series for the promtool tests, and Prometheus' histogram_quantile
// (2.x, classic buckets) to know the value an alert will report for them.

import type { MetricDefinition } from '@vigil/catalog';
import { growing, type TestSeries, testSeries } from './model.js';
import { seriesName } from './promql.js';

/** Prometheus' `bucketQuantile`: linear interpolation inside the bucket that holds the rank. */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const bs = [...buckets].sort((a, b) => a.le - b.le);
  const last = bs[bs.length - 1];
  if (!last || last.le !== Number.POSITIVE_INFINITY || bs.length < 2 || last.count === 0) return Number.NaN;
  let rank = q * last.count;
  let b = bs.findIndex((x, i) => i < bs.length - 1 && x.count >= rank);
  if (b === -1) b = bs.length - 1;
  if (b === bs.length - 1) return bs[bs.length - 2]!.le;
  if (b === 0 && bs[0]!.le <= 0) return bs[0]!.le;
  let start = 0;
  let count = bs[b]!.count;
  if (b > 0) {
    start = bs[b - 1]!.le;
    count -= bs[b - 1]!.count;
    rank -= bs[b - 1]!.count;
  }
  return start + (bs[b]!.le - start) * (rank / count);
}

export interface HistogramCase {
  readonly series: TestSeries[];
  /** p99 Prometheus computes for these series. */
  readonly p99: number;
}

/**
 * Series of a histogram whose observations (`perMinute` of them, for `length` minutes) all fall in
 * one bucket: the first one whose lower bound is at least `above` (or +Inf), or, with
 * `above === undefined`, the first bucket.
 */
export function histogramCase(
  metric: MetricDefinition,
  labels: Readonly<Record<string, string>>,
  perMinute: number,
  length: number,
  above?: number,
): HistogramCase {
  const bounds = metric.buckets ?? [];
  // Index of the bucket (in bounds, or bounds.length for +Inf) receiving every observation.
  let target = 0;
  if (above !== undefined) {
    target = bounds.length;
    for (let i = 1; i < bounds.length; i++) {
      if (bounds[i - 1]! >= above) {
        target = i;
        break;
      }
    }
  }
  const series: TestSeries[] = [];
  const model: { le: number; count: number }[] = [];
  const all = [...bounds, Number.POSITIVE_INFINITY];
  all.forEach((le, i) => {
    const count = i >= target ? perMinute : 0;
    model.push({ le, count });
    const leText = Number.isFinite(le) ? String(le) : '+Inf';
    series.push(testSeries(seriesName(metric, '_bucket'), { ...labels, le: leText }, growing(count, length)));
  });
  series.push(testSeries(seriesName(metric, '_count'), labels, growing(perMinute, length)));
  const mid = target < bounds.length ? bounds[target]! : bounds[bounds.length - 1]! * 2;
  series.push(testSeries(seriesName(metric, '_sum'), labels, growing(perMinute * mid, length)));
  return { series, p99: histogramQuantile(0.99, model) };
}
