import { totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { eventLoopUtilization, heapSizeLimitBytes, processMemoryLimitBytes } from '@vigil/catalog';
import type { Instruments } from './instruments.js';
import { collectDefaultMetrics } from './internal/prom.js';

/**
 * Node.js runtime metrics: prom-client's default collectors plus event-loop utilization, V8's heap
 * limit and the container's memory limit (where there is one).
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
  // Both limits are fixed for the life of the process.
  ins.instrument(heapSizeLimitBytes).labels().set(getHeapStatistics().heap_size_limit);
  const memory = ins.instrument(processMemoryLimitBytes, { hideWhenEmpty: true });
  const limit = memoryLimit();
  if (limit !== undefined) memory.labels().set(limit);
}

/** The cgroup memory limit, if there is one below the machine's memory (no limit reads as 0 or 2^64). */
export function memoryLimit(
  constrained: number | undefined = process.constrainedMemory?.(),
  machine: number = totalmem(),
): number | undefined {
  return constrained !== undefined && constrained > 0 && constrained < machine ? constrained : undefined;
}
