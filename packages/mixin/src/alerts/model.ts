// The in-memory model of the generated rules: groups of recording and alerting rules, each alert
// with its runbook and its promtool unit tests. generate.ts turns it into files; the integration
// test reads it to know which groups and rules Prometheus must have loaded.

import type { AlertSeverity } from '@vigil/catalog';
import type { Catalog, GenConfig } from './config.js';
import { durationSeconds } from './config.js';
import { num, quote, sel } from './promql.js';

/** Where the generated files go, relative to the output directory, and how they name their origin. */
export interface Layout {
  /** Grafana dashboards (`<dir>/<name>.json`). */
  readonly dashboards: string;
  /** Prometheus rule files; their promtool tests go to `<rules>/tests`. */
  readonly rules: string;
  /** One markdown runbook per alert, plus README.md. */
  readonly runbooks: string;
  /** The PrometheusRule manifest (Prometheus Operator) wrapping every rule group. */
  readonly prometheusRule: string;
  /** The config file as generated files name it. */
  readonly configFile: string;
  /** The command generated files tell readers to rerun. */
  readonly command: string;
}

export interface GenContext {
  readonly catalog: Catalog;
  readonly config: GenConfig;
  readonly layout: Layout;
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** One rule of an alert (an alert name may have several, e.g. one per burn-rate tier). */
export interface AlertVariant {
  readonly expr: string;
  readonly for?: string;
  readonly severity: AlertSeverity;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface Runbook {
  /** What the alert means, in a sentence or two. */
  readonly meaning: string;
  /** Who or what is affected while it fires. */
  readonly impact: string;
  /** Steps to confirm it (markdown; the alert's query is added automatically). */
  readonly confirm: readonly string[];
  /** What to do (markdown list items, most likely cause first). */
  readonly actions: readonly string[];
  /** Config keys (dotted paths in the generation config) that tune this alert. */
  readonly tuning: readonly string[];
  /** The dashboard to open first. */
  readonly dashboard: DashboardKey;
}

export interface TestSeries {
  readonly series: string;
  readonly values: string;
}

export interface ExpectedAlert {
  /** Labels of the alert's series (rule labels such as severity are added from the variant). */
  readonly labels: Readonly<Record<string, string>>;
  /** Which variant fires (index into `variants`), for its static labels. */
  readonly variant?: number;
  /** The alert's `$value` at evaluation time, for the rendered annotations. */
  readonly value: number;
}

export interface AlertTest {
  readonly name: string;
  readonly series: readonly TestSeries[];
  /** Minutes after the start of the series. */
  readonly evalMinutes: number;
  /** Alerts firing at that time; empty asserts that nothing fires. */
  readonly expect: readonly ExpectedAlert[];
}

export interface AlertDef {
  readonly alert: string;
  readonly variants: readonly AlertVariant[];
  /** Go templates; only `{{ $labels.x }}` and `{{ $value | humanize* }}`. */
  readonly summary: string;
  readonly description: string;
  /** One line for docs: when it fires, with the thresholds. */
  readonly firesWhen: string;
  readonly runbook: Runbook;
  readonly tests: readonly AlertTest[];
}

export interface ExprTest {
  readonly name: string;
  readonly series: readonly TestSeries[];
  readonly evalMinutes: number;
  readonly expr: string;
  readonly samples: readonly { labels: string; value: number }[];
}

export interface RuleGroup {
  readonly name: string;
  /** Evaluation interval, when not the global one. */
  readonly interval?: string;
  readonly recording?: readonly RecordingRule[];
  readonly alerts?: readonly AlertDef[];
}

export interface RuleFile {
  /** File name without extension, e.g. `vigil-http`. */
  readonly name: string;
  readonly title: string;
  readonly groups: readonly RuleGroup[];
  readonly exprTests?: readonly ExprTest[];
  /** Other rule files whose records this one reads: its unit tests load and evaluate them first. */
  readonly reads?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the rule definitions
// ---------------------------------------------------------------------------------------------

/** Matchers every selector of a Vigil metric starts with (the configured extra selector). */
export function baseMatchers(ctx: GenContext): string[] {
  return ctx.config.selector ? [ctx.config.selector] : [];
}

/** Recorded per Vigil target and per service (vigil-service.yaml); the availability SLI reads them too. */
export const TARGET_RECORDS = Object.freeze({
  targetUp: 'vigil_target:up',
  serviceUp: 'vigil_service:up:max',
});

/**
 * A series only a Vigil metrics handle exposes, on every target that uses one: the series-cap
 * counter of its HTTP family, created at 0. Rules on generic names (`up`, `http_*`, `nodejs_*`,
 * `process_*`) join on it, so Prometheus itself and non-Vigil jobs never match.
 */
export function vigilMarker(ctx: GenContext): string {
  return sel(ctx.catalog.seriesOverflowTotal, '', baseMatchers(ctx));
}

/**
 * Labels that match the series of one scrape target in joins (a metric with the marker, `up` with
 * the marker): the instance label, within `job` when `job` is a service label (default
 * `job, instance`). Without it the series need not carry `job` (see README, "Label mapping").
 */
export function targetLabels(ctx: GenContext): string[] {
  return [...(ctx.config.serviceLabels.includes('job') ? ['job'] : []), ctx.config.instanceLabel];
}

/** `on (job, instance)`, or the configured labels (see `targetLabels`). */
export function onTarget(ctx: GenContext): string {
  return `on (${targetLabels(ctx).join(', ')})`;
}

/** `vector` restricted to Vigil targets (the same target exposes the marker). */
export function onVigil(ctx: GenContext, vector: string): string {
  return `(${vector} and ${onTarget(ctx)} ${vigilMarker(ctx)})`;
}

/** The marker series of the unit tests' target, present for `length + 1` minutes. */
export function markerSeries(
  ctx: GenContext,
  labels: Readonly<Record<string, string>>,
  values: string,
): TestSeries {
  return testSeries(
    ctx.catalog.seriesOverflowTotal.name,
    { ...labels, metric: ctx.catalog.httpRequestDuration.name },
    values,
  );
}

export function minutes(d: string): number {
  return durationSeconds(d) / 60;
}

/** `name{a="b", ...}` for a test series. */
export function testSeries(
  name: string,
  labels: Readonly<Record<string, string>>,
  values: string,
): TestSeries {
  const ls = Object.entries(labels).map(([k, v]) => `${k}=${quote(v)}`);
  return { series: `${name}{${ls.join(', ')}}`, values };
}

/** A counter growing by `perMinute` every minute for `length` minutes (`length + 1` samples). */
export function growing(perMinute: number, length: number): string {
  return `0+${num(perMinute)}x${length}`;
}

/** A constant series of `length + 1` samples. */
export function constant(value: number, length: number): string {
  return `${num(value)}x${length}`;
}

/**
 * Labels that identify the synthetic service of the unit tests, adjusted so they satisfy the
 * configured extra selector (equality and simple alternations; anything else is refused).
 */
export function testTarget(ctx: GenContext): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of ctx.config.serviceLabels) labels[l] = 'checkout';
  labels[ctx.config.instanceLabel] = testInstance(ctx, 0);
  const sel = ctx.config.selector;
  if (!sel) return labels;
  for (const m of sel.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    const [, name, op, raw] = m as unknown as [string, string, string, string];
    const value = raw.replace(/\\(.)/g, '$1');
    const re = (s: string) => new RegExp(`^(?:${value})$`).test(s);
    let v = labels[name] ?? 'checkout';
    if (op === '=') v = value;
    else if (op === '=~' && !re(v)) {
      const first = value.split('|')[0] ?? '';
      if (!/^[\w.:-]+$/.test(first) || !re(first)) {
        throw new Error(
          `cannot derive unit-test series matching selector ${sel}: use = or a|b alternations of plain values for ${name}`,
        );
      }
      v = first;
    } else if ((op === '!=' && v === value) || (op === '!~' && re(v))) v = `${v}-test`;
    labels[name] = v;
  }
  return labels;
}

/** Scrape addresses of the unit tests' targets (the `instance` Prometheus gives them). */
const TEST_ADDRESSES = ['10.0.0.7:3000', '10.0.0.8:3000'] as const;

/** Value of the instance label of the unit tests' `i`-th target: its address, or a pod-like name. */
export function testInstance(ctx: GenContext, i: 0 | 1): string {
  return ctx.config.instanceLabel === 'instance'
    ? TEST_ADDRESSES[i]
    : `checkout-${TEST_ADDRESSES[i].split(/[.:]/)[3]}`;
}

/**
 * Labels of `up` for a test target: Prometheus gives every target `job` and `instance`, whatever
 * the metrics carry; the join labels (`targetLabels`) come from the target, as relabelling sets them.
 */
export function upLabels(ctx: GenContext, target: Readonly<Record<string, string>>): Record<string, string> {
  const i = target[ctx.config.instanceLabel] === testInstance(ctx, 1) ? 1 : 0;
  return {
    job: target.job ?? 'kubernetes-pods',
    instance: target.instance ?? TEST_ADDRESSES[i],
    ...pick(target, targetLabels(ctx)),
  };
}

/** Picks labels by name (in the order given). */
export function pick(
  labels: Readonly<Record<string, string>>,
  names: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (labels[n] !== undefined) out[n] = labels[n];
  return out;
}

/** Percent for prose: 0.05 -> "5%". */
export function pct(r: number): string {
  return `${Number((r * 100).toPrecision(6))}%`;
}

/** The generated dashboards (runbooks link to them; dashboards link to each other by tag). */
export const DASHBOARDS = Object.freeze({
  overview: {
    uid: 'vigil-service-overview',
    title: 'Vigil / Service overview',
    file: 'service-overview.json',
  },
  database: { uid: 'vigil-database', title: 'Vigil / Database', file: 'database.json' },
  resilience: { uid: 'vigil-resilience', title: 'Vigil / Resilience', file: 'resilience.json' },
  runtime: { uid: 'vigil-nodejs-runtime', title: 'Vigil / Node.js runtime', file: 'nodejs-runtime.json' },
  slo: { uid: 'vigil-slo', title: 'Vigil / SLO', file: 'slo.json' },
  fleet: { uid: 'vigil-slo-fleet', title: 'Vigil / SLO fleet', file: 'slo-fleet.json' },
  health: { uid: 'vigil-health', title: 'Vigil / Health', file: 'health.json' },
} as const);
export type DashboardKey = keyof typeof DASHBOARDS;

/**
 * How annotations name the service: `{{ $labels.service }} (job {{ $labels.job }})` with the default
 * service labels, built from the configured ones (plus `extra`, e.g. instance) so templates never
 * reference a label the expression aggregated away.
 */
export function who(ctx: GenContext, extra: readonly string[] = []): string {
  const sl = ctx.config.serviceLabels;
  const named = (ls: readonly string[]) => ls.map((l) => `${l} {{ $labels.${l} }}`).join(', ');
  const rest = [...sl.filter((l) => l !== 'service'), ...extra.filter((l) => !sl.includes(l))];
  if (!sl.includes('service')) return named(rest);
  return rest.length ? `{{ $labels.service }} (${named(rest)})` : '{{ $labels.service }}';
}
