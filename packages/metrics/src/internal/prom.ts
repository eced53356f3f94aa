import type * as PromClient from 'prom-client';
import collectDefaultMetricsJs from 'prom-client/lib/defaultMetrics.js';
import RegistryJs from 'prom-client/lib/registry.js';

/**
 * Everything Vigil takes from prom-client's internals, in one place (pinned by
 * test/prom-internals.test.ts):
 *  - the Registry and default collectors from its `lib/` files rather than its index, which also
 *    loads its Pushgateway (`node:https`), Summary (tdigest) and cluster aggregator, none of which
 *    Vigil uses, at start-up. They are the very modules the index re-exports, so a Registry made
 *    with `new (require('prom-client').Registry)()` is an instance of this class;
 *  - a registry's default labels, which prom-client keeps in a private field.
 */
export const PROM_CLIENT_SUPPORTED = '>=15.1.0 <16.0.0';

export const Registry: typeof PromClient.Registry = RegistryJs;
export type Registry = PromClient.Registry;
export const collectDefaultMetrics: typeof PromClient.collectDefaultMetrics = collectDefaultMetricsJs;

/** The default labels a registry applies to its metrics (`registry.setDefaultLabels`). */
export function registryDefaultLabels(registry: Registry): Readonly<Record<string, string>> {
  return (registry as unknown as { _defaultLabels?: Record<string, string> })._defaultLabels ?? {};
}
