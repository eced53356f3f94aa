import {
  checkFunction,
  checkObject,
  compileExclude,
  type ExcludeRule,
  type RequestLogOptions,
  type RequestLogWriter,
  type RouteLabel,
  requestLogWriter,
  VigilOptionError,
} from '@vigil/core';
import { createMetrics, type Metrics, type MetricsOptions } from './create-metrics.js';

/** The options every framework adapter's metrics take (Express, Koa, `node:http`), beside `createMetrics`'. */
export interface AdapterMetricsOptions extends MetricsOptions {
  /** An existing Vigil metrics handle to record into (then the other metric options are ignored). */
  metrics?: Metrics;
  /**
   * Paths not recorded: exact (`/internal/ping`), prefixes (`/static/*`), RegExps or predicates on
   * the URL's path. Vigil's own endpoints (`/metrics`, the probes) are never recorded, whatever
   * this list says, unless `includeVigilEndpoints` is true.
   */
  exclude?: readonly ExcludeRule[];
  /** Record Vigil's own endpoints like any other route. Default false. */
  includeVigilEndpoints?: boolean;
  /**
   * A logger from `@vigil/logger`'s `createLogger()`: writes one line per request from the same
   * observer (no second middleware).
   */
  logger?: unknown;
  /** Options of the request line (with `logger`). */
  requestLog?: RequestLogOptions;
  /**
   * Overrides the `route` label: `(req, template) => label | undefined`, called when the request
   * completes with the template the adapter found (`__unmatched__` when none). A string replaces
   * it, `undefined` keeps it; its values count against `maxSeries` like routes, and one that
   * throws keeps the template.
   */
  routeLabel?: RouteLabel;
}

export const ADAPTER_METRICS_DEFAULTS = Object.freeze({
  exclude: Object.freeze([]) as readonly ExcludeRule[],
  includeVigilEndpoints: false,
});

/** What an adapter records into, resolved from its options. */
export interface AdaptedMetrics<Extra> {
  readonly metrics: Metrics;
  readonly owned: boolean;
  readonly log: RequestLogWriter | undefined;
  readonly exclude: readonly ExcludeRule[] | undefined;
  readonly includeVigilEndpoints: boolean | undefined;
  readonly routeLabel: RouteLabel | undefined;
  /** The adapter's own options (`extraKeys`), left out of `createMetrics`. */
  readonly extra: Extra;
}

/**
 * The one option check and set-up behind every framework's metrics adapter: the request line
 * writer, the exclusions (checked before anything is created), and a given or new metrics handle.
 */
export function adaptMetrics<Extra extends object = Record<never, never>>(
  options: unknown,
  extraKeys: readonly (keyof Extra & string)[] = [],
): AdaptedMetrics<Extra> {
  const o = checkObject('options', options) as AdapterMetricsOptions & Record<string, unknown>;
  const { metrics: given, exclude, includeVigilEndpoints, logger, requestLog, routeLabel, ...rest } = o;
  if (given !== undefined && (typeof given !== 'object' || given === null || !given.http)) {
    throw new VigilOptionError('metrics', 'a handle from createMetrics()', given);
  }
  const extra = {} as Record<string, unknown>;
  for (const k of extraKeys) {
    extra[k] = rest[k];
    delete rest[k];
  }
  const log = logger === undefined ? undefined : requestLogWriter(logger, requestLog);
  compileExclude(exclude, includeVigilEndpoints);
  checkFunction('routeLabel', routeLabel);
  const metrics = given ?? createMetrics(rest as MetricsOptions);
  return {
    metrics,
    owned: given === undefined,
    log,
    exclude,
    includeVigilEndpoints,
    routeLabel,
    extra: extra as Extra,
  };
}

/**
 * An adapter's handle: inherits the metrics handle's methods and getters, adds the adapter's own
 * properties and a `close()` that closes the metrics only if the adapter created them.
 */
export function adapterHandle<H>(
  adapted: { readonly metrics: Metrics; readonly owned: boolean },
  props: Record<string, unknown>,
  close?: () => Promise<void>,
): H {
  const { metrics, owned } = adapted;
  const descriptors: PropertyDescriptorMap = {};
  for (const [k, v] of Object.entries(props)) descriptors[k] = { value: v, enumerable: true };
  descriptors.close = {
    value: close ?? (() => (owned ? metrics.close() : Promise.resolve())),
    enumerable: true,
  };
  return Object.create(metrics, descriptors) as H;
}
