import { performance } from 'node:perf_hooks';
import { eventLoopUtilization } from '@vigil/catalog';
import type { Instruments } from './instruments.js';
import { collectDefaultMetrics } from './internal/prom.js';

/**
 * Node.js runtime metrics: prom-client's default collectors plus event-loop utilization.
 *
 * prom-client's `nodejs_eventloop_lag_*` gauges sample a delay histogram that is reset at every
 * scrape, so they mostly measure the scrape itself; utilization (busy share of wall time since the
 * previous scrape) shows a saturated loop directly.
 */
export function registerRuntimeMetrics(
  ins: Instruments,
  labels: Readonly<Record<string, string>>,
  eventLoopMonitoringPrecision: number,
): void {
  collectDefaultMetrics({ register: ins.registry, prefix: ins.prefix, labels, eventLoopMonitoringPrecision });
  const elu = ins.instrument(eventLoopUtilization);
  const series = elu.labels();
  let last = performance.eventLoopUtilization();
  elu.collect(() => {
    const now = performance.eventLoopUtilization();
    series.set(performance.eventLoopUtilization(now, last).utilization);
    last = now;
  });
}
