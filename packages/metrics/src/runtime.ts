import { performance } from 'node:perf_hooks';
import { eventLoopUtilization } from '@vigil/catalog';
import { FunctionGauge, register } from './internal/collectors.js';
import { collectDefaultMetrics, type Registry } from './internal/prom.js';

/**
 * Node.js runtime metrics: prom-client's default collectors plus event-loop utilization.
 *
 * prom-client's `nodejs_eventloop_lag_*` gauges sample a delay histogram that is reset at every
 * scrape, so they mostly measure the scrape itself; utilization (busy share of wall time since the
 * previous scrape) shows a saturated loop directly.
 */
export function registerRuntimeMetrics(
  registry: Registry,
  prefix: string,
  labels: Readonly<Record<string, string>>,
  eventLoopMonitoringPrecision: number,
): void {
  collectDefaultMetrics({ register: registry, prefix, labels, eventLoopMonitoringPrecision });
  let last = performance.eventLoopUtilization();
  register(
    registry,
    new FunctionGauge(prefix + eventLoopUtilization.name, eventLoopUtilization.help, () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    }),
  );
}
