import { HEALTH_STATUS_VALUES, healthCheckDuration, healthCheckStatus, healthStatus } from '@vigil/catalog';
import type { Instruments } from '@vigil/metrics';
import type { HealthStatus, Probe } from '../types.js';

type ProbeSource = () => Record<Probe, HealthStatus>;

const PROBES: readonly Probe[] = ['liveness', 'readiness', 'startup'];
const ORDER: Record<HealthStatus, number> = { fail: 0, warn: 1, pass: 2 };

/** Health handles recording into the same instruments: `vigil_health_status` is their worst. */
const sourcesOf = new WeakMap<Instruments, Set<ProbeSource>>();

export interface HealthMetrics {
  record(check: string, status: HealthStatus, seconds: number): void;
  detach(checks: readonly string[]): void;
}

/** Records the `vigil_health_*` metrics of the catalog through `ins`. */
export function attachHealthMetrics(ins: Instruments, source: ProbeSource): HealthMetrics {
  const status = ins.instrument(healthCheckStatus);
  const duration = ins.instrument(healthCheckDuration);
  let sources = sourcesOf.get(ins);
  if (sources === undefined) {
    const all = new Set<ProbeSource>();
    sources = all;
    sourcesOf.set(ins, all);
    const overall = ins.instrument(healthStatus);
    // Computed at scrape time from the last known results: a scrape never runs a check.
    overall.collect(() => {
      for (const probe of PROBES) {
        let worst: HealthStatus | undefined;
        for (const src of all) {
          const v = src()[probe];
          if (worst === undefined || ORDER[v] < ORDER[worst]) worst = v;
        }
        if (worst === undefined) overall.remove(probe);
        else overall.labels(probe).set(HEALTH_STATUS_VALUES[worst]);
      }
    });
  }
  const shared = sources;
  shared.add(source);
  let detached = false;
  return {
    record(check, s, seconds) {
      if (detached) return;
      status.labels(check).set(HEALTH_STATUS_VALUES[s]);
      duration.labels(check).observe(seconds);
    },
    detach(checks) {
      if (detached) return;
      detached = true;
      shared.delete(source);
      for (const check of checks) {
        status.remove(check);
        duration.remove(check);
      }
    },
  };
}
