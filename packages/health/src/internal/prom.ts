import type * as PromClient from 'prom-client';
import GaugeJs from 'prom-client/lib/gauge.js';
import HistogramJs from 'prom-client/lib/histogram.js';

/**
 * prom-client's Gauge and Histogram from its `lib/` files, not its index (which also loads its
 * Pushgateway, Summary and cluster aggregator at start-up; see @vigil/metrics' internal/prom.ts).
 * The same modules the index re-exports.
 */
export const Gauge: typeof PromClient.Gauge = GaugeJs;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram: typeof PromClient.Histogram = HistogramJs;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
