import type * as PromClient from 'prom-client';
import collectDefaultMetricsJs from 'prom-client/lib/defaultMetrics.js';
import RegistryJs from 'prom-client/lib/registry.js';

/**
 * prom-client's Registry and default collectors, loaded from its `lib/` files rather than its
 * index. The index also loads its Pushgateway (`node:https` and `node:url`), Summary (tdigest) and
 * cluster aggregator, none of which Vigil uses: measured on Node.js 20, `require('prom-client')`
 * took 38 ms and these files 29 ms (a whole server's start-up, paired: 4–15 ms shorter). They are
 * the very modules the index re-exports, so a Registry made with `new (require('prom-client').Registry)()`
 * is an instance of this class.
 */
export const Registry: typeof PromClient.Registry = RegistryJs;
export type Registry = PromClient.Registry;
export const collectDefaultMetrics: typeof PromClient.collectDefaultMetrics = collectDefaultMetricsJs;
