import { DB_DURATION_BUCKETS, HTTP_DURATION_BUCKETS, seriesOverflowTotal } from '@vigil/catalog';
import {
  checkBoolean,
  checkBuckets,
  checkKnownKeys,
  checkLabels,
  checkObject,
  checkPort,
  checkPositiveInt,
  checkString,
  METRIC_PREFIX,
  VigilOptionError,
} from '@vigil/core';
import { createDbMetrics, type DbMetrics, trackQuery } from './db.js';
import { createNodeHandler, type ScrapeResult, scrape } from './handler.js';
import { createHttpMetrics, type HttpMetrics } from './http.js';
import { register, SmallCounter } from './internal/collectors.js';
import { Registry } from './internal/prom.js';
import { instrumentPgWith, type PgClientLike, type PgPoolLike } from './pg.js';
import { registerRuntimeMetrics } from './runtime.js';
import { type MetricsServer, startMetricsServerFor } from './server.js';
import { registerTracingStats } from './tracing-stats.js';

/** Defaults for `createMetrics`; the README's options table is generated from this object. */
export const METRICS_DEFAULTS = Object.freeze({
  /** Prefix for every metric name (Vigil's and prom-client's defaults). Dashboards assume none. */
  prefix: '',
  /** Labels added to every series (for example `{ service: 'users' }`). */
  defaultLabels: Object.freeze({}) as Readonly<Record<string, string>>,
  /** Bucket upper bounds (seconds) for `http_request_duration_seconds`. */
  buckets: HTTP_DURATION_BUCKETS,
  /** Bucket upper bounds (seconds) for `database_query_duration_seconds`. */
  dbBuckets: DB_DURATION_BUCKETS,
  /**
   * Label sets per metric before new ones go to the overflow set. 1,000 keeps a scrape of a full
   * HTTP histogram around 10 ms (see the benchmark) and Prometheus' load small.
   */
  maxSeries: 1000,
  /** prom-client's default Node.js metrics plus event-loop utilization. */
  runtimeMetrics: true,
  /** Sampling resolution (ms) of prom-client's event-loop delay monitor. */
  eventLoopMonitoringPrecision: 10,
  /** Compress `/metrics` with gzip when the scraper accepts it. */
  gzip: true,
  /** Serve OpenMetrics (and exemplars) when the scraper negotiates it. */
  openMetrics: true,
});

export interface MetricsOptions {
  /** Registry to register into. Default: a new private Registry (never prom-client's global one). */
  registry?: Registry;
  prefix?: string;
  defaultLabels?: Record<string, string>;
  buckets?: readonly number[];
  dbBuckets?: readonly number[];
  maxSeries?: number;
  runtimeMetrics?: boolean;
  eventLoopMonitoringPrecision?: number;
  gzip?: boolean;
  openMetrics?: boolean;
}

export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one. Default 9464. */
  port?: number;
  /** Interface to bind. Default `0.0.0.0` (scrapers connect from outside the pod). */
  host?: string;
  /** Path to serve. Default `/metrics`. */
  path?: string;
}

export interface Metrics {
  /** The registry holding every metric of this handle. */
  readonly registry: Registry;
  /** HTTP RED metrics, for framework adapters. */
  readonly http: HttpMetrics;
  /** Database query metrics. */
  readonly db: DbMetrics;
  /** Time an async database call: `trackDatabaseQuery('SELECT', 'users', () => pool.query(...))`. */
  trackDatabaseQuery<T>(operation: string, table: string, fn: () => Promise<T> | T): Promise<T>;
  /** Time every query of a `pg` Pool or Client; returns a function that undoes it. */
  instrumentPg(target: PgPoolLike | PgClientLike): () => void;
  /** Serialise the registry (OpenMetrics when `accept` asks for it and the option allows). */
  scrape(accept?: string, acceptEncoding?: string): Promise<ScrapeResult>;
  /** A `node:http` handler for `/metrics` (also works as Express middleware). */
  readonly handler: ReturnType<typeof createNodeHandler>;
  /** Serve `/metrics` on a separate port. Closed by `close()`. */
  startServer(options?: MetricsServerOptions): Promise<MetricsServer>;
  /** Count of observations that went to an overflow label set, per metric name. */
  overflowCount(metricName: string): number;
  /** Stops servers, removes pg instrumentation and unregisters Vigil's metrics. Idempotent. */
  close(): Promise<void>;
}

const KNOWN = Object.keys(METRICS_DEFAULTS).concat('registry');

/**
 * Create Vigil's metrics: HTTP RED, database timing and runtime metrics in one registry.
 * Invalid options throw a `VigilOptionError` naming the option.
 */
export function createMetrics(options?: MetricsOptions): Metrics {
  const input = checkObject('options', options);
  checkKnownKeys('', input, KNOWN);
  const registryIn = input.registry;
  if (
    registryIn !== undefined &&
    (typeof registryIn !== 'object' ||
      registryIn === null ||
      typeof (registryIn as Registry).registerMetric !== 'function' ||
      typeof (registryIn as Registry).getMetricsAsArray !== 'function')
  ) {
    throw new VigilOptionError('registry', 'a prom-client Registry', registryIn);
  }
  const o = {
    prefix:
      checkString('prefix', input.prefix, METRIC_PREFIX, 'a valid metric name prefix') ??
      METRICS_DEFAULTS.prefix,
    defaultLabels: checkLabels('defaultLabels', input.defaultLabels) ?? METRICS_DEFAULTS.defaultLabels,
    buckets: checkBuckets('buckets', input.buckets) ?? METRICS_DEFAULTS.buckets,
    dbBuckets: checkBuckets('dbBuckets', input.dbBuckets) ?? METRICS_DEFAULTS.dbBuckets,
    maxSeries: checkPositiveInt('maxSeries', input.maxSeries) ?? METRICS_DEFAULTS.maxSeries,
    runtimeMetrics: checkBoolean('runtimeMetrics', input.runtimeMetrics) ?? METRICS_DEFAULTS.runtimeMetrics,
    eventLoopMonitoringPrecision:
      checkPositiveInt('eventLoopMonitoringPrecision', input.eventLoopMonitoringPrecision) ??
      METRICS_DEFAULTS.eventLoopMonitoringPrecision,
    gzip: checkBoolean('gzip', input.gzip) ?? METRICS_DEFAULTS.gzip,
    openMetrics: checkBoolean('openMetrics', input.openMetrics) ?? METRICS_DEFAULTS.openMetrics,
  };

  const registry = (registryIn as Registry | undefined) ?? new Registry();
  const nameOf = (m: unknown) => (m as { name: string }).name;
  const preexisting = new Set(registry.getMetricsAsArray().map(nameOf));
  if (Object.keys(o.defaultLabels).length > 0) {
    registry.setDefaultLabels({
      ...(registry as unknown as { _defaultLabels?: object })._defaultLabels,
      ...o.defaultLabels,
    });
  }
  const overflow = new SmallCounter(o.prefix + seriesOverflowTotal.name, seriesOverflowTotal.help, 'metric');
  register(registry, overflow);
  const onOverflow = (metric: string) => overflow.inc(metric);
  const http = createHttpMetrics({
    registry,
    prefix: o.prefix,
    buckets: o.buckets,
    maxSeries: o.maxSeries,
    onOverflow,
  });
  const db = createDbMetrics({
    registry,
    prefix: o.prefix,
    buckets: o.dbBuckets,
    maxSeries: o.maxSeries,
    onOverflow,
  });
  if (o.runtimeMetrics) registerRuntimeMetrics(registry, o.prefix, {}, o.eventLoopMonitoringPrecision);
  registerTracingStats(registry, o.prefix); // vigil_tracing_* while @vigil/tracing runs; nothing otherwise
  // Only what this handle registered is removed on close(); the user's own metrics stay.
  const ownNames = registry
    .getMetricsAsArray()
    .map(nameOf)
    .filter((n) => !preexisting.has(n));

  const scrapeOpts = { gzip: o.gzip, openMetrics: o.openMetrics };
  const servers = new Set<MetricsServer>();
  const undo = new Set<() => void>();
  let closed: Promise<void> | undefined;

  return {
    registry,
    http,
    db,
    trackDatabaseQuery: (operation, table, fn) => trackQuery(db, operation, table, fn),
    instrumentPg(target) {
      if (!target || typeof (target as PgClientLike).query !== 'function') {
        throw new VigilOptionError('instrumentPg(target)', 'a pg Pool or Client', target);
      }
      const off = instrumentPgWith(db, target);
      undo.add(off);
      return () => {
        undo.delete(off);
        off();
      };
    },
    scrape: (accept, acceptEncoding) => scrape(registry, accept, acceptEncoding, scrapeOpts),
    handler: createNodeHandler(registry, scrapeOpts),
    async startServer(so) {
      const s = checkObject('startServer(options)', so);
      checkKnownKeys('startServer(options)', s, ['port', 'host', 'path']);
      const server = await startMetricsServerFor(registry, {
        ...scrapeOpts,
        port: checkPort('port', s.port) ?? 9464,
        host: checkString('host', s.host) ?? '0.0.0.0',
        path: checkString('path', s.path, /^\//, 'a path starting with "/"') ?? '/metrics',
      });
      servers.add(server);
      return server;
    },
    overflowCount: (name) => overflow.value(name),
    close() {
      closed ??= (async () => {
        for (const off of undo) off();
        undo.clear();
        await Promise.all([...servers].map((s) => s.close()));
        for (const name of ownNames) registry.removeSingleMetric(name);
      })();
      return closed;
    },
  };
}
