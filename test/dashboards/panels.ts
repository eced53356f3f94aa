import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricDefinition } from '../../packages/catalog/dist/index.js';
import type { RuleFile } from '../../packages/mixin/src/alerts/model.js';
import { referencedMetrics } from '../../packages/mixin/src/alerts/promql.js';
import type { JsonDashboardFile } from '../../packages/mixin/src/dashboards/grafana.js';

// The committed dashboards as data, and which catalog metrics each panel needs.

export const root = join(import.meta.dirname, '..', '..');

export interface PanelInfo {
  dashboard: string;
  title: string;
  type: string;
  exprs: string[];
  /** The queries that ask for exemplars. */
  exemplars: string[];
  /** Catalog metrics the panel's queries need (through recording rules too). */
  needs: MetricDefinition[];
}

export function loadDashboards(): Map<string, JsonDashboardFile> {
  const dir = join(root, 'dashboards');
  const out = new Map<string, JsonDashboardFile>();
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    out.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as JsonDashboardFile);
  }
  return out;
}

/** Recording rule name -> the catalog metrics its expression reads (transitively). */
export function recordedFrom(
  files: readonly RuleFile[],
  catalog: readonly MetricDefinition[],
): Map<string, MetricDefinition[]> {
  const rules = files.flatMap((f) => f.groups.flatMap((g) => g.recording ?? []));
  const out = new Map<string, MetricDefinition[]>();
  const resolve = (name: string, seen: Set<string>): MetricDefinition[] => {
    const cached = out.get(name);
    if (cached) return cached;
    const found = new Map<string, MetricDefinition>();
    for (const r of rules.filter((x) => x.record === name)) {
      for (const m of referencedMetrics(r.expr, catalog)) found.set(m.name, m);
      for (const other of new Set(rules.map((x) => x.record))) {
        if (!seen.has(other) && r.expr.includes(other)) {
          for (const m of resolve(other, new Set([...seen, other]))) found.set(m.name, m);
        }
      }
    }
    const list = [...found.values()];
    out.set(name, list);
    return list;
  };
  for (const r of rules) resolve(r.record, new Set([r.record]));
  return out;
}

export function panelsOf(
  file: string,
  d: JsonDashboardFile,
  catalog: readonly MetricDefinition[],
  recorded: Map<string, MetricDefinition[]>,
): PanelInfo[] {
  return d.panels
    .filter((p) => p.type !== 'row')
    .map((p) => {
      const targets = (p as { targets?: { expr: string; exemplar?: boolean }[] }).targets ?? [];
      const exprs = targets.map((t) => t.expr);
      const exemplars = targets.filter((t) => t.exemplar === true).map((t) => t.expr);
      const needs = new Map<string, MetricDefinition>();
      for (const e of exprs) {
        for (const m of referencedMetrics(e, catalog)) needs.set(m.name, m);
        for (const [record, ms] of recorded) if (e.includes(record)) for (const m of ms) needs.set(m.name, m);
      }
      return {
        dashboard: file,
        title: p.title ?? '',
        type: p.type,
        exprs,
        exemplars,
        needs: [...needs.values()],
      };
    });
}

/** Metric names a PromQL expression selects (`name{` or `name[`), plus `__name__=~"a|b"` alternatives. */
export function selectedNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/(?<![\w:"$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)) names.add(m[1]!);
  for (const m of expr.matchAll(/__name__=~"([^"]+)"/g)) for (const n of m[1]!.split('|')) names.add(n);
  return [...names];
}

/** The queries of a dashboard's Prometheus annotations (Grafana's built-in one has none). */
export function annotationExprs(d: JsonDashboardFile): string[] {
  return (d.annotations.list as { target?: { expr?: unknown } }[])
    .map((a) => a.target?.expr)
    .filter((e): e is string => typeof e === 'string');
}
