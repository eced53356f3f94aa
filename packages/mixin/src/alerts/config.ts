// The generation config: SLO targets (required) plus overrides of the catalog's ALERT_DEFAULTS.
// Validated here, once, before anything is generated; every message names the offending option.

import { readFileSync } from 'node:fs';
import type { AlertDefaults, BurnRateTier, MetricDefinition, SloTargets } from '@vigil/catalog';
import { METRIC_PREFIX, VigilOptionError } from '@vigil/core';

/** The parts of `@vigil/catalog` the generators use (passed in, so tests can vary it). */
export type Catalog = typeof import('@vigil/catalog');

/** Objectives of one service, overriding `slo` (the latency threshold and window stay shared). */
export interface ServiceSlo {
  readonly availability: { readonly objective: number };
  readonly latency: { readonly objective: number };
}

/** A latency SLO over some routes of every service (its own threshold and objective). */
export interface RouteGroupSlo {
  /** Route templates (the `route` label's values), e.g. `/checkout`, `/orders/:id`. */
  readonly routes: readonly string[];
  readonly latency: { readonly objective: number; readonly thresholdSeconds: number };
}

export interface GenConfig extends AlertDefaults {
  readonly slo: SloTargets;
  /** Metric name prefix, as given to `createMetrics({ prefix })`. */
  readonly prefix: string;
  /** Per-service objectives, keyed by the value of the last service label (e.g. `service`). */
  readonly services: Readonly<Record<string, ServiceSlo>>;
  /** Per-route latency SLOs, recorded as `slo="latency:<name>"`. */
  readonly routeGroups: Readonly<Record<string, RouteGroupSlo>>;
  readonly grafana: {
    /** Data source the dashboards' `datasource` variable selects by default (name or uid); empty: chosen on import. */
    readonly datasource: string;
    /** Folder the generated Grafana provisioning file puts the dashboards in; empty: no provisioning file. */
    readonly folder: string;
    /** Tags added to every dashboard (besides `vigil`, which the dashboards' links use). */
    readonly tags: readonly string[];
  };
  readonly kubernetes: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
  };
}

/** A config mistake: a VigilOptionError (code VIGIL_INVALID_OPTION) naming the field, with the file in its message. */
export class ConfigError extends VigilOptionError {
  constructor(option: string, message: string) {
    super(option, '', undefined);
    this.message = message;
  }
}

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_536_000,
};

/** Seconds in a Prometheus duration such as `5m`, `1h30m` or `30d`. */
export function durationSeconds(d: string): number {
  if (!DURATION.test(d)) throw new ConfigError('(duration)', `"${d}" is not a Prometheus duration`);
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * (UNIT_SECONDS[m[2]!] ?? 0);
  return total;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// One or more `label<op>"value"` matchers separated by commas (what fits inside `{...}`).
const MATCHERS =
  /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"(?:\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*")*\s*$/;

function fail(where: string, option: string, expected: string, got: unknown): never {
  const shown = typeof got === 'string' ? `"${got}"` : JSON.stringify(got);
  throw new ConfigError(option, `Invalid option "${option}" in ${where}: expected ${expected}, got ${shown}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Merge `input` over `defaults`, key by key, validating each value against the default's type:
 * numbers stay finite and positive, durations stay durations, unknown keys are typos.
 */
function mergeChecked(where: string, path: string, defaults: unknown, input: unknown): unknown {
  const option = path || '(root)';
  if (input === undefined) return defaults;
  if (Array.isArray(defaults)) {
    if (
      !Array.isArray(input) ||
      input.some((x) => typeof x !== 'string' || !LABEL_NAME.test(x)) ||
      !input.length
    )
      fail(where, option, 'a non-empty array of label names', input);
    return Object.freeze([...input]);
  }
  if (isPlainObject(defaults)) {
    if (!isPlainObject(input)) fail(where, option, 'an object', input);
    for (const key of Object.keys(input)) {
      if (key.startsWith('$')) continue; // `$comment`, `$schema`
      if (!(key in defaults)) {
        fail(where, path ? `${path}.${key}` : key, `one of ${Object.keys(defaults).join(', ')}`, key);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(defaults)) {
      out[key] = mergeChecked(where, path ? `${path}.${key}` : key, value, input[key]);
    }
    return Object.freeze(out);
  }
  if (typeof defaults === 'number') {
    if (typeof input !== 'number' || !Number.isFinite(input) || input <= 0) {
      fail(where, option, 'a positive number', input);
    }
    return input;
  }
  if (typeof defaults === 'string') {
    if (typeof input !== 'string') fail(where, option, 'a string', input);
    if (DURATION.test(defaults) && !DURATION.test(input))
      fail(where, option, 'a Prometheus duration (e.g. "5m")', input);
    return input;
  }
  return input;
}

function ratio(where: string, option: string, v: unknown, { open }: { open: boolean }): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (open ? v >= 1 : v > 1)) {
    fail(where, option, open ? 'a number between 0 and 1 (exclusive), e.g. 0.999' : 'a number in (0, 1]', v);
  }
  return v;
}

/**
 * Checks the SLO targets. The latency threshold must be one of the histogram's bucket boundaries,
 * and every burn-rate tier must be reachable: a factor times the error budget at or above 1 would
 * need more than 100 % errors.
 */
export function checkSlo(where: string, input: unknown, catalog: Catalog): SloTargets {
  if (!isPlainObject(input)) fail(where, 'slo', 'an object with window, availability and latency', input);
  for (const key of Object.keys(input)) {
    if (!key.startsWith('$') && !['window', 'availability', 'latency', 'budgetShare'].includes(key)) {
      fail(where, `slo.${key}`, 'one of window, availability, latency, budgetShare', key);
    }
  }
  const window = input.window;
  if (typeof window !== 'string' || !DURATION.test(window)) {
    fail(where, 'slo.window', 'a Prometheus duration such as "30d"', window);
  }
  const av = input.availability;
  if (!isPlainObject(av)) fail(where, 'slo.availability', 'an object with objective', av);
  const lat = input.latency;
  if (!isPlainObject(lat)) fail(where, 'slo.latency', 'an object with objective and thresholdSeconds', lat);
  const availability = {
    objective: ratio(where, 'slo.availability.objective', av.objective, { open: true }),
  };
  const latencyObjective = ratio(where, 'slo.latency.objective', lat.objective, { open: true });
  const metric: MetricDefinition = catalog.httpRequestDuration;
  const buckets = metric.buckets ?? [];
  const threshold = lat.thresholdSeconds;
  if (typeof threshold !== 'number' || !buckets.includes(threshold)) {
    fail(
      where,
      'slo.latency.thresholdSeconds',
      `one of the bucket boundaries of ${metric.name} (${buckets.join(', ')}): a histogram cannot count requests faster than a value between two boundaries`,
      threshold,
    );
  }
  const shares = input.budgetShare ?? {};
  const longWindows = catalog.BURN_RATE_TIERS.map((t) => t.longWindow);
  if (!isPlainObject(shares))
    fail(where, 'slo.budgetShare', `an object keyed by ${longWindows.join(', ')}`, shares);
  for (const key of Object.keys(shares)) {
    if (!longWindows.includes(key))
      fail(where, `slo.budgetShare.${key}`, `one of ${longWindows.join(', ')}`, key);
  }
  const budgetShare: Record<string, number> = {};
  for (const tier of catalog.BURN_RATE_TIERS) {
    const v = shares[tier.longWindow];
    budgetShare[tier.longWindow] =
      v === undefined
        ? tier.budgetConsumed
        : ratio(where, `slo.budgetShare.${tier.longWindow}`, v, { open: false });
  }
  const slo: SloTargets = Object.freeze({
    window,
    availability: Object.freeze(availability),
    latency: Object.freeze({ objective: latencyObjective, thresholdSeconds: threshold }),
    budgetShare: Object.freeze(budgetShare),
  });
  const windowSeconds = durationSeconds(window);
  for (const tier of catalog.BURN_RATE_TIERS) {
    const longSeconds = durationSeconds(tier.longWindow);
    if (longSeconds >= windowSeconds) {
      fail(where, 'slo.window', `a window longer than the ${tier.longWindow} burn-rate window`, window);
    }
    const share = budgetShare[tier.longWindow]!;
    const factor = burnRateFactor(tier, slo);
    if (factor < 1) {
      // Below 1 the tier fires while the budget lasts the whole window: an alert on a met SLO.
      const option =
        shares[tier.longWindow] === undefined ? 'slo.window' : `slo.budgetShare.${tier.longWindow}`;
      const need = Math.ceil((longSeconds / windowSeconds) * 1e4) / 1e4;
      throw new ConfigError(
        option,
        `Invalid option "${option}" in ${where}: the ${tier.tier} tier over ${tier.longWindow} spends ${pctOf(share)} of the budget, a burn-rate factor of ${factor} for a ${window} SLO window (${share} × ${window} / ${tier.longWindow}); below 1 it fires while the SLO is met. Set "slo.budgetShare.${tier.longWindow}" to at least ${need}, or use a longer "slo.window".`,
      );
    }
    for (const [name, objective] of [
      ['availability', slo.availability.objective],
      ['latency', slo.latency.objective],
    ] as const) {
      const threshold = burnRateFactor(tier, slo) * (1 - objective);
      if (threshold >= 1) {
        fail(
          where,
          `slo.${name}.objective`,
          `an objective whose error budget times the ${tier.longWindow} burn rate (${burnRateFactor(tier, slo)}) stays below 1 (the alert could never fire)`,
          objective,
        );
      }
    }
  }
  return slo;
}

/** Burn-rate factor of a tier: the budget share it may spend in its long window, scaled to the SLO window. */
export function burnRateFactor(tier: BurnRateTier, slo: SloTargets): number {
  const share = slo.budgetShare?.[tier.longWindow] ?? tier.budgetConsumed;
  return round((share * durationSeconds(slo.window)) / durationSeconds(tier.longWindow));
}

function pctOf(r: number): string {
  return `${Number((r * 100).toPrecision(6))} %`;
}

/** Rounds to 6 significant digits so generated numbers stay readable and stable. */
export function round(n: number): number {
  return Number(n.toPrecision(6));
}

/** Defaults of the Kubernetes PrometheusRule's metadata (kube-prometheus-stack's default ruleSelector). */
export const KUBERNETES_DEFAULTS = Object.freeze({
  name: 'vigil-rules',
  namespace: '',
  labels: Object.freeze({ 'app.kubernetes.io/name': 'vigil-rules', release: 'kube-prometheus-stack' }),
});

function checkKeys(where: string, path: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(v)) {
    if (!key.startsWith('$') && !known.includes(key))
      fail(where, `${path}.${key}`, `one of ${known.join(', ')}`, key);
  }
}

function checkGrafana(where: string, v: unknown): GenConfig['grafana'] {
  if (v === undefined) return Object.freeze({ datasource: '', folder: '', tags: Object.freeze([]) });
  if (!isPlainObject(v)) fail(where, 'grafana', 'an object with datasource, folder, tags', v);
  checkKeys(where, 'grafana', v, ['datasource', 'folder', 'tags']);
  for (const k of ['datasource', 'folder'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'string') fail(where, `grafana.${k}`, 'a string', v[k]);
  }
  const tags = v.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t === '' || t.length > 50))
    fail(where, 'grafana.tags', 'an array of non-empty strings (at most 50 characters)', tags);
  return Object.freeze({
    datasource: (v.datasource as string | undefined) ?? '',
    folder: (v.folder as string | undefined) ?? '',
    tags: Object.freeze([...new Set(tags as string[])]),
  });
}

function checkKubernetes(where: string, v: unknown): GenConfig['kubernetes'] {
  if (v === undefined) return KUBERNETES_DEFAULTS;
  if (!isPlainObject(v)) fail(where, 'kubernetes', 'an object with name, namespace, labels', v);
  checkKeys(where, 'kubernetes', v, ['name', 'namespace', 'labels']);
  const DNS = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
  if (v.name !== undefined && (typeof v.name !== 'string' || !DNS.test(v.name)))
    fail(where, 'kubernetes.name', 'a Kubernetes object name (lower case, digits, - and .)', v.name);
  if (
    v.namespace !== undefined &&
    (typeof v.namespace !== 'string' || (v.namespace !== '' && !DNS.test(v.namespace)))
  )
    fail(where, 'kubernetes.namespace', 'a Kubernetes namespace name', v.namespace);
  const labels = v.labels ?? KUBERNETES_DEFAULTS.labels;
  if (!isPlainObject(labels) || Object.values(labels).some((x) => typeof x !== 'string'))
    fail(where, 'kubernetes.labels', 'an object of string labels', labels);
  return Object.freeze({
    name: (v.name as string | undefined) ?? KUBERNETES_DEFAULTS.name,
    namespace: (v.namespace as string | undefined) ?? '',
    labels: Object.freeze({ ...(labels as Record<string, string>) }),
  });
}

function checkServices(where: string, v: unknown, slo: SloTargets): GenConfig['services'] {
  if (v === undefined) return Object.freeze({});
  if (!isPlainObject(v)) fail(where, 'services', 'an object keyed by service name', v);
  const out: Record<string, ServiceSlo> = {};
  for (const [name, s] of Object.entries(v)) {
    if (name.startsWith('$')) continue;
    const at = `services.${name}`;
    if (!isPlainObject(s)) fail(where, at, 'an object with availability and/or latency', s);
    checkKeys(where, at, s, ['availability', 'latency']);
    const objective = (k: 'availability' | 'latency'): number => {
      const x = s[k];
      if (x === undefined) return slo[k].objective;
      if (!isPlainObject(x)) fail(where, `${at}.${k}`, 'an object with objective', x);
      checkKeys(where, `${at}.${k}`, x, ['objective']);
      return ratio(where, `${at}.${k}.objective`, x.objective, { open: true });
    };
    out[name] = Object.freeze({
      availability: Object.freeze({ objective: objective('availability') }),
      latency: Object.freeze({ objective: objective('latency') }),
    });
  }
  return Object.freeze(out);
}

function checkRouteGroups(
  where: string,
  v: unknown,
  slo: SloTargets,
  catalog: Catalog,
): GenConfig['routeGroups'] {
  if (v === undefined) return Object.freeze({});
  if (!isPlainObject(v)) fail(where, 'routeGroups', 'an object keyed by route group name', v);
  const buckets = catalog.httpRequestDuration.buckets ?? [];
  const out: Record<string, RouteGroupSlo> = {};
  for (const [name, g] of Object.entries(v)) {
    if (name.startsWith('$')) continue;
    const at = `routeGroups.${name}`;
    // The name becomes part of a label value (slo="latency:<name>") and of alert text.
    if (!/^[a-zA-Z0-9_-]{1,40}$/.test(name))
      fail(where, at, 'a name of letters, digits, _ and - (at most 40)', name);
    if (!isPlainObject(g)) fail(where, at, 'an object with routes and latency', g);
    checkKeys(where, at, g, ['routes', 'latency']);
    const routes = g.routes;
    if (!Array.isArray(routes) || !routes.length || routes.some((r) => typeof r !== 'string' || r === ''))
      fail(where, `${at}.routes`, 'a non-empty array of route templates such as "/orders/:id"', routes);
    const lat = g.latency;
    if (!isPlainObject(lat))
      fail(where, `${at}.latency`, 'an object with objective and thresholdSeconds', lat);
    checkKeys(where, `${at}.latency`, lat, ['objective', 'thresholdSeconds']);
    const objective = ratio(where, `${at}.latency.objective`, lat.objective, { open: true });
    if (typeof lat.thresholdSeconds !== 'number' || !buckets.includes(lat.thresholdSeconds))
      fail(
        where,
        `${at}.latency.thresholdSeconds`,
        `one of the bucket boundaries of ${catalog.httpRequestDuration.name} (${buckets.join(', ')})`,
        lat.thresholdSeconds,
      );
    for (const tier of catalog.BURN_RATE_TIERS) {
      const factor = burnRateFactor(tier, slo);
      if (factor * (1 - objective) >= 1)
        fail(
          where,
          `${at}.latency.objective`,
          `an objective whose error budget times the ${tier.longWindow} burn rate (${factor}) stays below 1 (the alert could never fire)`,
          objective,
        );
    }
    out[name] = Object.freeze({
      routes: Object.freeze([...new Set(routes as string[])]),
      latency: Object.freeze({ objective, thresholdSeconds: lat.thresholdSeconds }),
    });
  }
  return Object.freeze(out);
}

/** Options that become links (alert annotations, dashboard variables): http(s), nothing to break a template. */
export const URL_OPTIONS = ['grafanaBaseUrl', 'traceUrl'] as const;
export const HTTP_URL = /^https?:\/\/[^\s"'<>]+$/;

/** Labels `instanceLabel` cannot be: the dashboards' other variables, and labels Vigil's metrics and rules use. */
export function reservedInstanceLabels(catalog: Catalog): string[] {
  const taken = new Set(['job', 'service', 'le', 'quantile', 'slo', 'alertname', 'alertstate', 'severity']);
  taken.add(catalog.BURN_RATE_TIER_LABEL);
  for (const v of Object.values(catalog)) {
    const labels = (v as { labels?: unknown } | null)?.labels;
    if (typeof (v as { name?: unknown } | null)?.name === 'string' && Array.isArray(labels))
      for (const x of labels) taken.add(String(x));
  }
  return [...taken];
}

/**
 * The instance label must be a label of its own: not a service label (an alert would keep it twice),
 * not reserved (`__*`), not `job` or `service` (the dashboards' other variables filter those) and not
 * a label of the catalog's metrics or of the generated rules. `instance` is never a service label.
 */
function checkLabels(where: string, merged: AlertDefaults, catalog: Catalog): void {
  const sl = merged.serviceLabels;
  if (sl.includes('instance'))
    fail(
      where,
      'serviceLabels',
      'labels that identify a service, not "instance" (one process: see instanceLabel)',
      sl,
    );
  const l = merged.instanceLabel;
  if (!LABEL_NAME.test(l) || l.startsWith('__'))
    fail(where, 'instanceLabel', 'a Prometheus label name such as "pod"', l);
  if (sl.includes(l))
    fail(where, 'instanceLabel', `a label that is not one of serviceLabels (${sl.join(', ')})`, l);
  if (reservedInstanceLabels(catalog).includes(l))
    fail(
      where,
      'instanceLabel',
      'a label of its own, such as "pod" (not job, service, or a label Vigil\'s metrics or rules use)',
      l,
    );
}

/** Validates a parsed config object and merges it over the catalog's defaults. */
export function resolveConfig(input: unknown, catalog: Catalog, where = 'the generation config'): GenConfig {
  if (!isPlainObject(input)) fail(where, '(root)', 'a JSON object', input);
  const { slo, prefix, services, routeGroups, grafana, kubernetes, ...rest } = input;
  if (slo === undefined) {
    throw new ConfigError(
      'slo',
      `Missing option "slo" in ${where}: SLO targets have no defaults; set slo.window, slo.availability.objective, slo.latency.objective and slo.latency.thresholdSeconds`,
    );
  }
  if (rest.selector === undefined) {
    // Deliberately no default: "" (every target exposing Vigil's metrics) must be a choice.
    throw new ConfigError(
      'selector',
      `Missing option "selector" in ${where}: set PromQL matchers for your services' targets, e.g. job=~"api|worker", or "" for every target that exposes Vigil's metrics`,
    );
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix)))
    fail(where, 'prefix', 'a metric name prefix such as "shop_" (the one given to createMetrics)', prefix);
  const merged = mergeChecked(where, '', catalog.ALERT_DEFAULTS, rest) as AlertDefaults;
  if (merged.selector !== '' && !MATCHERS.test(merged.selector)) {
    fail(where, 'selector', 'PromQL label matchers such as job=~"api|worker"', merged.selector);
  }
  for (const key of URL_OPTIONS) {
    if (!HTTP_URL.test(merged[key])) fail(where, key, 'an http(s) URL', merged[key]);
  }
  checkLabels(where, merged, catalog);
  for (const [key, value] of [
    ['http.errorRatio', merged.http.errorRatio],
    ['database.errorRatio', merged.database.errorRatio],
    ['messaging.errorRatio', merged.messaging.errorRatio],
    ['runtime.eventLoopUtilization', merged.runtime.eventLoopUtilization],
    ['runtime.heapUsedRatio', merged.runtime.heapUsedRatio],
    ['runtime.memoryUsedRatio', merged.runtime.memoryUsedRatio],
    ['runtime.gcTimeRatio', merged.runtime.gcTimeRatio],
  ] as const) {
    ratio(where, key, value, { open: true });
  }
  ratio(where, 'resilience.breakerOpenRatio', merged.resilience.breakerOpenRatio, { open: false });
  for (const [key, value] of [
    ['runtime.restarts', merged.runtime.restarts],
    ['health.readinessFlaps', merged.health.readinessFlaps],
  ] as const) {
    if (!Number.isInteger(value)) fail(where, key, 'a positive integer', value);
  }
  const targets = checkSlo(where, slo, catalog);
  const perService = checkServices(where, services, targets);
  // Every service's objectives must leave its burn-rate alerts reachable, like the shared ones.
  for (const [name, s] of Object.entries(perService)) {
    for (const tier of catalog.BURN_RATE_TIERS) {
      const factor = burnRateFactor(tier, targets);
      for (const k of ['availability', 'latency'] as const) {
        if (factor * (1 - s[k].objective) >= 1)
          fail(
            where,
            `services.${name}.${k}.objective`,
            `an objective whose error budget times the ${tier.longWindow} burn rate (${factor}) stays below 1 (the alert could never fire)`,
            s[k].objective,
          );
      }
    }
  }
  return Object.freeze({
    ...merged,
    slo: targets,
    prefix: (prefix as string | undefined) ?? '',
    services: perService,
    routeGroups: checkRouteGroups(where, routeGroups, targets, catalog),
    grafana: checkGrafana(where, grafana),
    kubernetes: checkKubernetes(where, kubernetes),
  });
}

/** Reads and parses a config file (JSON), without validating it. */
export function loadConfigFile(file: string, shownAs = file): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      '(file)',
      `Cannot read the generation config ${shownAs}: ${(cause as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('(file)', `${shownAs} is not valid JSON: ${(cause as Error).message}`);
  }
  return parsed;
}

/** Reads and resolves a config file (JSON). */
export function loadConfig(file: string, catalog: Catalog, shownAs = file): GenConfig {
  return resolveConfig(loadConfigFile(file, shownAs), catalog, shownAs);
}
