import { HEALTH_STATUS_VALUES, healthCheckDuration, healthCheckStatus, healthStatus } from '@vigil/catalog';
import { VigilOptionError } from '@vigil/core';
import type { Registry } from 'prom-client';
import type { HealthStatus, Probe } from '../types.js';
import { Gauge, Histogram } from './prom.js';

type ProbeSource = () => Record<Probe, HealthStatus>;

interface Shared {
  refs: number;
  status: Pick<Gauge<string>, 'set' | 'remove'>;
  duration: Pick<Histogram<string>, 'observe' | 'remove'>;
  sources: Set<ProbeSource>;
  /** Names this package registered (and unregisters when the last handle detaches). */
  owned: string[];
}

// Several health handles may share one registry (one per test, or one per sub-app): they share
// the instruments instead of failing with "already registered".
const shared = new WeakMap<Registry, Shared>();

const PROBES: readonly Probe[] = ['liveness', 'readiness', 'startup'];
const ORDER: Record<HealthStatus, number> = { fail: 0, warn: 1, pass: 2 };

export interface HealthMetrics {
  record(check: string, status: HealthStatus, seconds: number): void;
  detach(checks: readonly string[]): void;
}

/** Register (or join) the `vigil_health_*` instruments of the catalog in `registry`. */
export function attachHealthMetrics(registry: Registry, source: ProbeSource): HealthMetrics {
  let s = shared.get(registry);
  if (!s) {
    const owned: string[] = [];
    const sources = new Set<ProbeSource>();
    const status = reuse(registry, healthCheckStatus.name, ['set', 'remove']) as Shared['status'] | undefined;
    const duration = reuse(registry, healthCheckDuration.name, ['observe', 'remove']) as
      | Shared['duration']
      | undefined;
    const next: Shared = {
      refs: 0,
      sources,
      owned,
      status:
        status ??
        own(
          registry,
          owned,
          new Gauge({
            name: healthCheckStatus.name,
            help: healthCheckStatus.help,
            labelNames: healthCheckStatus.labels,
            registers: [],
          }),
        ),
      duration:
        duration ??
        own(
          registry,
          owned,
          new Histogram({
            name: healthCheckDuration.name,
            help: healthCheckDuration.help,
            labelNames: healthCheckDuration.labels,
            buckets: [...(healthCheckDuration.buckets ?? [])],
            registers: [],
          }),
        ),
    };
    if (!registry.getSingleMetric(healthStatus.name)) {
      own(
        registry,
        owned,
        new Gauge({
          name: healthStatus.name,
          help: healthStatus.help,
          labelNames: healthStatus.labels,
          registers: [],
          // Computed at scrape time from the last known results: a scrape never runs a check.
          collect() {
            this.reset();
            for (const probe of PROBES) {
              let worst: HealthStatus | undefined;
              for (const src of sources) {
                const v = src()[probe];
                if (worst === undefined || ORDER[v] < ORDER[worst]) worst = v;
              }
              if (worst !== undefined) this.set({ probe }, HEALTH_STATUS_VALUES[worst]);
            }
          },
        }),
      );
    }
    s = next;
    shared.set(registry, s);
  }
  const state = s;
  state.refs++;
  state.sources.add(source);
  let detached = false;
  return {
    record(check, status, seconds) {
      if (detached) return;
      state.status.set({ check }, HEALTH_STATUS_VALUES[status]);
      state.duration.observe({ check }, seconds);
    },
    detach(checks) {
      if (detached) return;
      detached = true;
      state.sources.delete(source);
      for (const check of checks) {
        state.status.remove({ check });
        state.duration.remove({ check });
      }
      if (--state.refs === 0) {
        for (const name of state.owned) registry.removeSingleMetric(name);
        shared.delete(registry);
      }
    },
  };
}

function own<T extends Gauge<string> | Histogram<string>>(registry: Registry, owned: string[], m: T): T {
  registry.registerMetric(m);
  owned.push(healthNameOf(m));
  return m;
}

function healthNameOf(m: Gauge<string> | Histogram<string>): string {
  return (m as unknown as { name: string }).name;
}

/**
 * A metric of that name registered by someone else (another copy of this package, say) is reused
 * when it has the methods we call; anything else is a configuration error.
 */
function reuse(registry: Registry, name: string, methods: readonly string[]): unknown {
  const m = registry.getSingleMetric(name) as unknown as Record<string, unknown> | undefined;
  if (!m) return undefined;
  if (methods.every((k) => typeof m[k] === 'function')) return m;
  throw new VigilOptionError('registry', `a registry where "${name}" is free or a compatible metric`, m);
}
