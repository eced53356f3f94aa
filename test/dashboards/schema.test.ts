import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { defaultDashboard } from '@grafana/schema';
import { pluginVersion } from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import { afterAll, describe, expect, it } from 'vitest';
import * as catalog from '../../packages/catalog/dist/index.js';
import type { Catalog } from '../../packages/mixin/src/alerts/config.js';
import { allAlerts, buildRules } from '../../packages/mixin/src/alerts/generate.js';
import { DASHBOARDS } from '../../packages/mixin/src/alerts/model.js';
import { SLO_RECORDS, tierThresholds } from '../../packages/mixin/src/alerts/slo.js';
import {
  DATASOURCE,
  DS_INPUT,
  isQuantile,
  PLUGIN_VERSION,
  requiredGrafana,
  SCHEMA_VERSION,
  TAG,
  TRACE_LINK,
  TRACE_URL_VAR,
} from '../../packages/mixin/src/dashboards/builder.js';
import { alertNames } from '../../packages/mixin/src/dashboards/dashboards.js';
import { loadContext } from '../helpers/mixin.js';
import { annotationExprs, loadDashboards, panelsOf, recordedFrom, root, selectedNames } from './panels.js';

// The committed dashboard JSON, checked against Grafana's dashboard types (@grafana/schema) as
// written, and against the conventions every Vigil dashboard follows.

const cat = catalog as unknown as Catalog;
const dashboards = loadDashboards();
const rules = buildRules(loadContext(root, cat));
const recorded = recordedFrom(rules, catalog.CATALOG);

const scratch = join(root, '.tmp', 'dashboard-typecheck');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Type-checks dashboard JSON texts as object literals against `Json<Dashboard>` (excess properties included). */
function typecheck(files: Record<string, string>): { ok: boolean; output: string } {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const [name, json] of Object.entries(files)) {
    writeFileSync(
      join(scratch, `${name}.ts`),
      `import type { JsonDashboardFile } from '../../packages/mixin/src/dashboards/grafana.js';\nexport const dashboard = ${json.trim()} satisfies JsonDashboardFile;\n`,
    );
  }
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig.base.json',
      compilerOptions: { noEmit: true, skipLibCheck: true },
      include: ['./*.ts'],
    }),
  );
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', scratch], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (e) {
    return { ok: false, output: `${(e as { stdout?: string }).stdout ?? ''}` };
  }
}

describe('dashboards against Grafana schema types', () => {
  it('the generated set is the six dashboards', () => {
    expect([...dashboards.keys()].sort()).toEqual(
      Object.values(DASHBOARDS)
        .map((d) => d.file)
        .sort(),
    );
  });

  it('every committed dashboard type-checks as JSON against @grafana/schema (and a broken one does not)', () => {
    const sources: Record<string, string> = {};
    for (const [file, d] of dashboards)
      sources[file.replace('.json', '').replace(/-/g, '_')] = JSON.stringify(d, null, 2);
    const good = typecheck(sources);
    expect(good.output).toBe('');
    expect(good.ok).toBe(true);

    // The check has teeth: a misspelt enum value and an unknown property are both refused.
    const d = structuredClone(dashboards.get('service-overview.json')!) as unknown as {
      panels: {
        type: string;
        options: { legend?: { displayMode: string } };
        fieldConfig: { defaults: Record<string, unknown> };
      }[];
    };
    const ts = d.panels.find((p) => p.type === 'timeseries')!;
    ts.options.legend!.displayMode = 'tabel';
    const stat = d.panels.find((p) => p.type === 'stat')!;
    stat.fieldConfig.defaults.unitt = 's';
    const bad = typecheck({ broken: JSON.stringify(d, null, 2) });
    expect(bad.ok).toBe(false);
    expect(bad.output).toContain('"tabel"');
    expect(bad.output).toContain('unitt');
  });

  it('schema and plugin versions match the @grafana/schema release the types come from', () => {
    expect(SCHEMA_VERSION).toBe(defaultDashboard.schemaVersion);
    expect(PLUGIN_VERSION).toBe(pluginVersion);
    for (const d of dashboards.values()) expect(d.schemaVersion).toBe(SCHEMA_VERSION);
    // __requires names the Grafana that writes this schema version (not an older one that cannot read it).
    for (const d of dashboards.values()) {
      expect(d.__requires.find((r) => r.type === 'grafana')?.version).toBe(requiredGrafana(SCHEMA_VERSION));
    }
    expect(requiredGrafana(42)).toBe('12.2.0');
    expect(() => requiredGrafana(43)).toThrow(/schemaVersion 43/);
  });
});

describe('dashboard conventions', () => {
  it('are importable (a datasource input) and provisionable (a datasource variable every query uses)', () => {
    for (const [file, d] of dashboards) {
      expect(d.__inputs, file).toEqual([
        expect.objectContaining({ name: DS_INPUT, type: 'datasource', pluginId: 'prometheus' }),
      ]);
      const ds = d.templating.list[0]!;
      expect(ds).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus' });
      expect(ds.current?.value).toBe(`\${${DS_INPUT}}`);
      const text = JSON.stringify(d.panels);
      // Panels never reference the import input directly (it would break file provisioning).
      expect(text, file).not.toContain(DS_INPUT);
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        expect((p as { datasource?: unknown }).datasource, `${file}: ${p.title}`).toEqual(DATASOURCE);
      }
    }
  });

  it('have job, service and instance variables (route where routes exist) and link to each other', () => {
    const uids = new Set<string>();
    for (const [file, d] of dashboards) {
      const names = d.templating.list.map((v) => v.name);
      expect(names.slice(0, 3), file).toEqual(['datasource', 'job', 'service']);
      // SLOs are per service: the SLO dashboards have no instance variable.
      if (file !== DASHBOARDS.slo.file && file !== DASHBOARDS.fleet.file)
        expect(names, file).toContain('instance');
      if (file === DASHBOARDS.overview.file) expect(names).toContain('route');
      for (const v of d.templating.list.slice(1).filter((x) => x.name !== TRACE_URL_VAR)) {
        expect(v).toMatchObject({ type: 'query', includeAll: true, allValue: '.*', multi: true });
        expect(String(v.query)).toMatch(/^label_values\(.+, \w+\)$/);
      }
      expect(d.tags).toContain(TAG);
      expect(d.links).toEqual([
        expect.objectContaining({ type: 'dashboards', tags: [TAG], includeVars: true, keepTime: true }),
      ]);
      expect(uids.has(d.uid!)).toBe(false);
      uids.add(d.uid!);
    }
  });

  it('every panel has a unit, a description, thresholds, unique ids and refIds, and fits the grid', () => {
    for (const [file, d] of dashboards) {
      const ids = new Set<number>();
      const cells = new Set<string>();
      for (const p of d.panels) {
        const where = `${file}: ${p.title}`;
        expect(ids.has(p.id!), where).toBe(false);
        ids.add(p.id!);
        const g = p.gridPos!;
        expect(g.x + g.w, where).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`), `${where} overlaps another panel`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
        if (p.type === 'row') continue;
        expect(p.description, where).toBeTruthy();
        const defaults = (
          p as { fieldConfig: { defaults: { unit?: string; thresholds?: { steps: unknown[] } } } }
        ).fieldConfig.defaults;
        expect(defaults.unit, where).toBeTruthy();
        expect(defaults.thresholds?.steps.length, where).toBeGreaterThan(0);
        const targets = (p as { targets: { refId: string; expr: string }[] }).targets;
        expect(targets.length, where).toBeGreaterThan(0);
        expect(new Set(targets.map((t) => t.refId)).size, where).toBe(targets.length);
      }
    }
  });

  it('every latency panel over a histogram quantile asks for exemplars and links their trace ids to the trace UI', () => {
    const { config } = loadContext(root, cat);
    let count = 0;
    for (const [file, d] of dashboards) {
      let any = false;
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        const where = `${file}: ${p.title}`;
        const targets = (p as { targets: { expr: string; exemplar?: boolean }[] }).targets;
        const overrides = (p as { fieldConfig: { overrides: unknown[] } }).fieldConfig.overrides;
        const quantile = p.type === 'timeseries' && targets.some((t) => isQuantile(t.expr));
        for (const t of targets) {
          expect(t.exemplar === true, `${where}: ${t.expr}`).toBe(quantile && isQuantile(t.expr));
        }
        if (!quantile) {
          expect(JSON.stringify(overrides), where).not.toContain(TRACE_LINK.field);
          continue;
        }
        any = true;
        count++;
        expect(overrides, where).toEqual([
          {
            matcher: { id: 'byName', options: 'trace_id' },
            properties: [
              {
                id: 'links',
                // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a template
                value: [{ title: 'Open trace', url: '${trace_url}${__value.raw}', targetBlank: true }],
              },
            ],
          },
        ]);
      }
      const v = d.templating.list.find((x) => x.name === TRACE_URL_VAR);
      if (!any) expect(v, file).toBeUndefined();
      else
        expect(v, file).toMatchObject({
          type: 'textbox',
          query: config.traceUrl,
          current: { value: config.traceUrl },
        });
    }
    // HTTP (2), database (2), message processing, guarded calls, outbound, GC pauses and health checks.
    expect(count).toBe(9);
    expect(isQuantile('histogram_quantile(0.9, x)')).toBe(true);
    expect(isQuantile('sum(rate(x_bucket[5m]))')).toBe(false);
  });

  it('mark deploys, restarts, breaker opens and firing Vigil alerts, scoped by the dashboard variables', () => {
    const names = alertNames(loadContext(root, cat));
    for (const [file, d] of dashboards) {
      const list = d.annotations.list as unknown as {
        name: string;
        builtIn?: number;
        datasource: unknown;
        target?: { expr: string };
        titleFormat?: string;
      }[];
      expect(list[0]?.builtIn, file).toBe(1);
      const byName = new Map(list.slice(1).map((a) => [a.name, a]));
      expect([...byName.keys()], file).toEqual(['Deploys', 'Restarts', 'Breaker opens', 'Firing alerts']);
      const vars = d.templating.list.map((v) => v.name);
      for (const a of byName.values()) {
        expect(a.datasource, `${file}: ${a.name}`).toEqual(DATASOURCE);
        expect(a.titleFormat, `${file}: ${a.name}`).toBeTruthy();
        const expr = a.target!.expr;
        expect(expr, `${file}: ${a.name}`).toContain('job=~"$job"');
        expect(expr, `${file}: ${a.name}`).toContain('service=~"$service"');
        if (vars.includes('instance') && a.name !== 'Deploys')
          expect(expr, `${file}: ${a.name}`).toMatch(/instance=~"\$instance\|?"/);
      }
      expect(byName.get('Deploys')!.target!.expr).toContain(catalog.buildInfo.name);
      expect(byName.get('Restarts')!.target!.expr).toContain(
        `changes(${catalog.processStartTimeSeconds.name}{`,
      );
      expect(byName.get('Breaker opens')!.target!.expr).toContain(catalog.circuitBreakerOpens.name);
      const alerts = byName.get('Firing alerts')!.target!.expr;
      expect(alerts).toContain('ALERTS{alertstate="firing"');
      // Exactly the generated alerts: not Prometheus' or another mixin's.
      expect(/alertname=~"([^"]+)"/.exec(alerts)?.[1]?.split('|').sort()).toEqual(
        allAlerts(rules)
          .map((a) => a.alert)
          .sort(),
      );
      expect(names.length).toBeGreaterThan(15);
    }
  });

  it('queries use only defined variables and only metrics of the catalog (or rules generated from it)', () => {
    const known = new Set<string>(['up', 'ALERTS', ...recorded.keys()]);
    for (const m of catalog.CATALOG) {
      if (m.type === 'histogram') for (const s of ['_bucket', '_count', '_sum']) known.add(m.name + s);
      else known.add(m.name);
    }
    for (const [file, d] of dashboards) {
      const vars = new Set(['__rate_interval', ...d.templating.list.map((v) => v.name)]);
      const exprs = [
        ...d.panels.flatMap((p) =>
          ((p as { targets?: { expr: string }[] }).targets ?? []).map((t) => t.expr),
        ),
        ...d.templating.list
          .slice(1)
          .filter((v) => v.type === 'query')
          .map((v) => String(v.query)),
        ...annotationExprs(d),
      ];
      for (const e of exprs) {
        for (const v of e.matchAll(/\$\{?(\w+)/g))
          expect(vars.has(v[1]!), `${file}: $${v[1]} in ${e}`).toBe(true);
        for (const n of selectedNames(e))
          expect(known.has(n), `${file}: unknown metric ${n} in ${e}`).toBe(true);
      }
    }
  });

  it('every metric of the catalog is shown on some panel', () => {
    const shown = new Set<string>();
    for (const [file, d] of dashboards)
      for (const p of panelsOf(file, d, catalog.CATALOG, recorded))
        for (const m of p.needs) shown.add(m.name);
    const missing = catalog.CATALOG.map((m) => m.name).filter((n) => !shown.has(n));
    expect(
      missing,
      'metrics without a panel: add one in packages/mixin/src/dashboards/dashboards.ts',
    ).toEqual([]);
  });

  it('threshold lines come from the same config values the alerts fire on', () => {
    const { config } = loadContext(root, cat);
    const overview = dashboards.get(DASHBOARDS.overview.file)!;
    const errPanel = overview.panels.find((p) => p.title === 'Error ratio by route (5xx)') as unknown as {
      fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] } } };
    };
    expect(errPanel.fieldConfig.defaults.thresholds.steps.map((s) => s.value)).toContain(
      config.http.errorRatio,
    );
    const text = JSON.stringify(overview);
    expect(text).toContain(`le=\\"${config.slo.latency.thresholdSeconds}\\"`);
  });

  it("the error stat is coloured by the availability SLO's burn-rate tiers, not fixed ratios", () => {
    const ctx = loadContext(root, cat);
    const tiers = tierThresholds(ctx, 'availability');
    const stat = dashboards
      .get(DASHBOARDS.overview.file)!
      .panels.find((p) => p.title === 'Error ratio (5xx)') as unknown as {
      fieldConfig: { defaults: { thresholds: { steps: { value: number | null; color: string }[] } } };
    };
    const steps = stat.fieldConfig.defaults.thresholds.steps;
    // 30d, 99.9 %: 1x, 6x and 14.4x the 0.1 % budget.
    expect(steps).toEqual([
      { color: 'green', value: null },
      { color: 'yellow', value: 0.001 },
      { color: 'orange', value: 0.006 },
      { color: 'red', value: 0.0144 },
    ]);
    expect(steps.slice(1).map((s) => s.value)).toEqual(
      [
        Math.min(...tiers.filter((t) => t.tier === 'ticket').map((t) => t.threshold)),
        Math.min(...tiers.filter((t) => t.tier === 'page').map((t) => t.threshold)),
        Math.max(...tiers.filter((t) => t.tier === 'page').map((t) => t.threshold)),
      ].map((x) => Number(x.toPrecision(12))),
    );
    expect(steps.map((s) => s.value)).not.toContain(ctx.config.http.errorRatio);
  });

  it('the SLO dashboard opens on the SLO window and shows how much of it has data', () => {
    const { config } = loadContext(root, cat);
    const slo = dashboards.get(DASHBOARDS.slo.file)!;
    expect(slo.time).toEqual({ from: `now-${config.slo.window}`, to: 'now' });
    for (const name of ['availability', 'latency']) {
      const p = slo.panels.find((x) => x.title === `${name} window coverage`) as unknown as {
        targets: { expr: string }[];
        fieldConfig: { defaults: { unit: string; max: number } };
      };
      expect(p.targets[0]!.expr).toBe(
        `${SLO_RECORDS.coverage}{slo="${name}", job=~"$job", service=~"$service"}`,
      );
      expect(p.fieldConfig.defaults).toMatchObject({ unit: 'percentunit', max: 1 });
    }
    // The other dashboards keep the last hour.
    for (const [file, d] of dashboards)
      if (file !== DASHBOARDS.slo.file) expect(d.time?.from, file).toBe('now-1h');
  });
});
