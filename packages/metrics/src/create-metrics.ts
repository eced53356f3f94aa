import type { IncomingMessage } from 'node:http';
import {
  buildInfo,
  DB_DURATION_BUCKETS,
  dbQueryDuration,
  HTTP_DURATION_BUCKETS,
  httpRequestDuration,
} from '@vigil/catalog';
import {
  checkBoolean,
  checkBuckets,
  checkFunction,
  checkKnownKeys,
  checkLabels,
  checkObject,
  checkPort,
  checkPositiveInt,
  checkRegistry,
  checkString,
  LABEL_NAME,
  LABEL_VALUES,
  METRIC_PREFIX,
  VigilOptionError,
} from '@vigil/core';
import { type AmqplibOptions, instrumentAmqplibWith } from './amqplib.js';
import { observeIoredis, observeMysql2, observeRedis } from './datastores.js';
import { createDbMetrics, type DbMetrics, trackQuery } from './db.js';
import { createNodeHandler, type ScrapeResult, scrape } from './handler.js';
import { createHttpMetrics, type HttpLabel, type HttpMetrics } from './http.js';
import { type Instruments, instrumentsFor } from './instruments.js';
import { Registry } from './internal/prom.js';
import { registerLoggerStats } from './logger-stats.js';
import { instrumentPgWith, type PgClientLike, type PgPoolLike } from './pg.js';
import { createPoolGauges, type PoolOptions } from './pools.js';
import { registerRuntimeMetrics } from './runtime.js';
import { type MetricsServer, startMetricsServerFor } from './server.js';
import { registerTracingStats } from './tracing-stats.js';

/** Defaults for `createMetrics`; the README's options table is generated from this object. */
export const METRICS_DEFAULTS = Object.freeze({
  /**
   * Prefix of every metric name of this handle: Vigil's (health and resilience metrics recorded
   * through it included) and prom-client's defaults. Generate the dashboards with the same prefix.
   */
  prefix: '',
  /**
   * Labels added to every series of this handle (for example `{ service: 'users' }`); on a
   * registry Vigil made, to every metric in it. A registry you pass is not modified.
   */
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
  /**
   * Extra labels of the HTTP request metrics, each with a declared set of values and a function of
   * the request: `{ tier: { values: ['free', 'pro'], from: (req) => req.headers['x-tier'] } }`.
   * Any other value is recorded as `_OTHER`, so the series stay bounded. At most 4.
   */
  httpLabels: Object.freeze({}) as Readonly<Record<string, HttpLabelOptions>>,
  /**
   * Labels of `vigil_build_info{version, commit}` (value 1; the dashboards mark a change as a
   * deploy). Each unset field comes from the environment: `VIGIL_BUILD_VERSION` (else
   * `npm_package_version`) and `VIGIL_BUILD_COMMIT`, else `unknown`. Printable ASCII, at most 64
   * characters. `false` leaves the series out.
   */
  buildInfo: Object.freeze({}) as Readonly<BuildInfoOptions> | false,
});

/** The build a process runs (see `buildInfo`). */
export interface BuildInfoOptions {
  /** Release version, e.g. `1.4.2`. */
  readonly version?: string;
  /** Source commit, e.g. a git SHA. */
  readonly commit?: string;
}

/** Printable ASCII, 1 to 64 characters, not starting with a space: one bounded label value. */
const BUILD_VALUE = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;
const BUILD_UNKNOWN = 'unknown';

/** `vigil_build_info`'s labels: the option, else the environment, else `unknown`; undefined when off. */
export function resolveBuildInfo(
  v: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { version: string; commit: string } | undefined {
  if (v === false) return undefined;
  const o = checkObject('buildInfo', v);
  checkKnownKeys('buildInfo', o, ['version', 'commit']);
  const pick = (key: 'version' | 'commit', vars: string[]): string => {
    const expected = 'printable ASCII, 1 to 64 characters';
    const given = checkString(`buildInfo.${key}`, o[key], BUILD_VALUE, expected);
    if (given !== undefined) return given;
    for (const name of vars) {
      const value = env[name];
      if (value === undefined || value === '') continue;
      // A bad value from the deploy fails here, naming the variable, instead of becoming a label.
      return checkString(`buildInfo.${key} (from ${name})`, value, BUILD_VALUE, expected) ?? BUILD_UNKNOWN;
    }
    return BUILD_UNKNOWN;
  };
  return {
    version: pick('version', ['VIGIL_BUILD_VERSION', 'npm_package_version']),
    commit: pick('commit', ['VIGIL_BUILD_COMMIT']),
  };
}

/** One declared label of the HTTP request metrics (see `httpLabels`). */
export interface HttpLabelOptions {
  /** The values the label can take (1 to 50); anything else `from` returns is recorded as `_OTHER`. */
  readonly values: readonly string[];
  /**
   * The value for a request, called once when it completes. `req` is Node's request (Express'
   * `req`, Fastify's `request.raw`, Koa's `ctx.req`). A function that throws records `_OTHER`.
   */
  readonly from: (req: IncomingMessage) => string | undefined;
}

/** Label names the HTTP metrics already have (or Prometheus reserves). */
const HTTP_LABEL_RESERVED = new Set(['route', 'method', 'status_code', 'le']);
const MAX_HTTP_LABELS = 4;
const MAX_HTTP_LABEL_VALUES = 50;

function checkHttpLabels(v: unknown, defaultLabels: Readonly<Record<string, string>>): HttpLabel[] {
  const o = checkObject('httpLabels', v);
  const names = Object.keys(o);
  if (names.length > MAX_HTTP_LABELS) {
    throw new VigilOptionError('httpLabels', `at most ${MAX_HTTP_LABELS} labels`, `${names.length} labels`);
  }
  return names.map((name) => {
    const at = `httpLabels.${name}`;
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new VigilOptionError(at, 'a valid Prometheus label name', name);
    }
    if (HTTP_LABEL_RESERVED.has(name) || name in defaultLabels) {
      throw new VigilOptionError(
        at,
        'a label name not already used (route, method, status_code, defaultLabels)',
        name,
      );
    }
    const l = checkObject(at, o[name]);
    checkKnownKeys(at, l, ['values', 'from']);
    const values = l.values;
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      values.length > MAX_HTTP_LABEL_VALUES ||
      values.some((x) => typeof x !== 'string' || x === '' || x.length > 100 || x === LABEL_VALUES.otherValue)
    ) {
      throw new VigilOptionError(
        `${at}.values`,
        `an array of 1 to ${MAX_HTTP_LABEL_VALUES} non-empty strings (other than "${LABEL_VALUES.otherValue}")`,
        values,
      );
    }
    const from = checkFunction<HttpLabel['from']>(`${at}.from`, l.from);
    if (from === undefined) throw new VigilOptionError(`${at}.from`, 'a function of the request', from);
    return { name, values: new Set(values as string[]), from };
  });
}

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
  httpLabels?: Record<string, HttpLabelOptions>;
  buildInfo?: BuildInfoOptions | false;
}

export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one. Default 9464. */
  port?: number;
  /** Interface to bind. Default `0.0.0.0` (scrapers connect from outside the pod). */
  host?: string;
  /** Path to serve. Default `/metrics`. */
  path?: string;
}

export interface Metrics extends Instruments {
  /** HTTP RED metrics, for framework adapters. */
  readonly http: HttpMetrics;
  /** Database query metrics. */
  readonly db: DbMetrics;
  /** Time an async database call: `trackDatabaseQuery('SELECT', 'users', () => pool.query(...))`. */
  trackDatabaseQuery<T>(operation: string, table: string, fn: () => Promise<T> | T): Promise<T>;
  /** Time every query of a `pg` Pool or Client; returns a function that undoes it. */
  instrumentPg(target: PgPoolLike | PgClientLike): () => void;
  /**
   * Time every `mysql2` (3.20+) query and execute of the process, from the driver's diagnostics
   * channels (no patching); returns a function that undoes it. Calling it again returns the same.
   */
  instrumentMysql2(): () => void;
  /**
   * Time every `ioredis` (5.11+) command of the process, labelled by command name (never by key),
   * from the driver's diagnostics channels; returns a function that undoes it.
   */
  instrumentIoredis(): () => void;
  /**
   * Time every node-redis (`redis` 5.11+, `createClient`) command of the process, labelled by
   * command name (never by key), from the driver's diagnostics channels; returns a function that undoes it.
   */
  instrumentRedis(): () => void;
  /**
   * Report a connection pool's size and waiting requests at every scrape
   * (`database_pool_connections`, `database_pool_waiting_requests`): a `pg` Pool or a `mysql2`
   * pool (callback or promise API). Returns a function that stops it.
   */
  instrumentPool(pool: object, options?: PoolOptions): () => void;
  /**
   * Instrument an `amqplib` connection (every channel created on it afterwards) or one channel:
   * published messages counted and carrying the trace context, consumed messages timed from
   * delivery to ack/nack/failure under a consumer span. Returns a function that undoes it.
   */
  instrumentAmqplib(target: object, options?: AmqplibOptions): () => void;
  /** Serialise the registry (OpenMetrics when `accept` asks for it and the option allows). */
  scrape(accept?: string, acceptEncoding?: string): Promise<ScrapeResult>;
  /** A `node:http` handler for `/metrics` (also works as Express middleware). */
  readonly handler: ReturnType<typeof createNodeHandler>;
  /** Serve `/metrics` on a separate port. Closed by `close()`. */
  startServer(options?: MetricsServerOptions): Promise<MetricsServer>;
  /** Stops servers, removes database instrumentation and unregisters Vigil's metrics. Idempotent. */
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
  checkRegistry('registry', registryIn);
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
  const httpLabels = checkHttpLabels(input.httpLabels, o.defaultLabels);
  const build = resolveBuildInfo(input.buildInfo);

  const registry = (registryIn as Registry | undefined) ?? new Registry();
  // A registry Vigil made carries the default labels itself (your metrics in it get them too); a
  // registry you passed is left as it is, and only this handle's metrics get them.
  const labelsOnRegistry = registryIn === undefined && Object.keys(o.defaultLabels).length > 0;
  if (labelsOnRegistry) registry.setDefaultLabels({ ...o.defaultLabels });
  const handleLabels = labelsOnRegistry ? {} : o.defaultLabels;
  const runtimeNames: string[] = [];
  const ins = instrumentsFor({
    registry,
    prefix: o.prefix,
    defaultLabels: handleLabels,
    maxSeries: o.maxSeries,
    buckets: new Map([
      [httpRequestDuration.name, o.buckets],
      [dbQueryDuration.name, o.dbBuckets],
    ]),
  });
  const http = createHttpMetrics(ins, httpLabels);
  const db = createDbMetrics(ins);
  const poolGauges = createPoolGauges(ins);
  registerTracingStats(ins); // vigil_tracing_* while @vigil/tracing runs; nothing otherwise
  registerLoggerStats(ins); // vigil_log_lines_dropped_total once a Vigil logger exists
  if (build) ins.instrument(buildInfo).labels(build.version, build.commit).set(1);
  if (o.runtimeMetrics) {
    const before = new Set(registry.getMetricsAsArray().map((m) => (m as { name: string }).name));
    registerRuntimeMetrics(ins, handleLabels, o.eventLoopMonitoringPrecision);
    // prom-client's collectors: removed with the rest on close().
    for (const m of registry.getMetricsAsArray() as { name: string }[]) {
      if (!before.has(m.name)) runtimeNames.push(m.name);
    }
  }

  const scrapeOpts = { gzip: o.gzip, openMetrics: o.openMetrics };
  const servers = new Set<MetricsServer>();
  const undo = new Set<() => void>();
  let closed: Promise<void> | undefined;
  // Channel-based drivers: one subscription per driver and handle (a second would count twice).
  const observed = new Map<string, () => void>();
  const observeOnce = (driver: string, observe: (d: DbMetrics) => () => void): (() => void) => {
    let off = observed.get(driver);
    if (off === undefined) {
      const stop = observe(db);
      off = () => {
        observed.delete(driver);
        undo.delete(off as () => void);
        stop();
      };
      observed.set(driver, off);
      undo.add(off);
    }
    return off;
  };

  return {
    registry,
    prefix: ins.prefix,
    instrument: ins.instrument,
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
    instrumentPool(pool, poolOptions) {
      const off = poolGauges.add(pool, poolOptions);
      undo.add(off);
      return () => {
        undo.delete(off);
        off();
      };
    },
    instrumentAmqplib(target, amqpOptions) {
      const off = instrumentAmqplibWith(ins, target, amqpOptions);
      undo.add(off);
      return () => {
        undo.delete(off);
        off();
      };
    },
    instrumentMysql2: () => observeOnce('mysql2', observeMysql2),
    instrumentIoredis: () => observeOnce('ioredis', observeIoredis),
    instrumentRedis: () => observeOnce('redis', observeRedis),
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
    overflowCount: ins.overflowCount,
    close() {
      closed ??= (async () => {
        for (const off of undo) off();
        undo.clear();
        await Promise.all([...servers].map((s) => s.close()));
        for (const name of runtimeNames) {
          if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name);
        }
        await ins.close();
      })();
      return closed;
    },
  };
}
