// The generation config: SLO targets (required) plus overrides of the catalog's ALERT_DEFAULTS.
// Validated here, once, before anything is generated; every message names the offending option.

import { readFileSync } from 'node:fs';
import type { AlertDefaults, BurnRateTier, MetricDefinition, SloTargets } from '@vigil/catalog';

/** The parts of `@vigil/catalog` the generators use (passed in, so tests can vary it). */
export type Catalog = typeof import('@vigil/catalog');

export interface GenConfig extends AlertDefaults {
  readonly slo: SloTargets;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'VIGIL_INVALID_OPTION';
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
  if (!DURATION.test(d)) throw new ConfigError(`"${d}" is not a Prometheus duration`);
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
  throw new ConfigError(`Invalid option "${option}" in ${where}: expected ${expected}, got ${shown}`);
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

/** Validates a parsed config object and merges it over the catalog's defaults. */
export function resolveConfig(input: unknown, catalog: Catalog, where = 'the generation config'): GenConfig {
  if (!isPlainObject(input)) fail(where, '(root)', 'a JSON object', input);
  const { slo, ...rest } = input;
  if (slo === undefined) {
    throw new ConfigError(
      `Missing option "slo" in ${where}: SLO targets have no defaults; set slo.window, slo.availability.objective, slo.latency.objective and slo.latency.thresholdSeconds`,
    );
  }
  const merged = mergeChecked(where, '', catalog.ALERT_DEFAULTS, rest) as AlertDefaults;
  if (merged.selector !== '' && !MATCHERS.test(merged.selector)) {
    fail(where, 'selector', 'PromQL label matchers such as job=~"api|worker"', merged.selector);
  }
  for (const key of ['grafanaBaseUrl', 'traceUrl'] as const) {
    if (!/^https?:\/\/[^\s"'<>]+$/.test(merged[key])) fail(where, key, 'an http(s) URL', merged[key]);
  }
  for (const [key, value] of [
    ['http.errorRatio', merged.http.errorRatio],
    ['database.errorRatio', merged.database.errorRatio],
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
  return Object.freeze({ ...merged, slo: checkSlo(where, slo, catalog) });
}

/** Reads and resolves a config file (JSON). */
export function loadConfig(file: string, catalog: Catalog, shownAs = file): GenConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`Cannot read the generation config ${shownAs}: ${(cause as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${shownAs} is not valid JSON: ${(cause as Error).message}`);
  }
  return resolveConfig(parsed, catalog, shownAs);
}
