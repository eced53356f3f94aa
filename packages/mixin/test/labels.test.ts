// Label mapping: with `serviceLabels: ["app"]` and `instanceLabel: "pod"` no generated query,
// expression, legend, variable or annotation names `instance` as a label, the unit tests' series
// carry `job` and `instance` only on `up` (which Prometheus always gives them), and promtool
// accepts the rules and passes every generated unit test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { haveTool } from '../../../test/helpers/env.js';
import { generate, write } from '../src/index.js';

const promtool = haveTool('promtool');

const SLO = {
  window: '30d',
  availability: { objective: 0.999 },
  latency: { objective: 0.99, thresholdSeconds: 0.5 },
};
const MAPPED = {
  selector: '',
  prefix: 'shop_',
  serviceLabels: ['app'],
  instanceLabel: 'pod',
  slo: SLO,
  services: { checkout: { availability: { objective: 0.9995 } } },
  routeGroups: { api: { routes: ['/checkout'], latency: { objective: 0.99, thresholdSeconds: 0.25 } } },
};

/** Where a text names `label` as a label: matchers, `by (...)`-style lists, templates, legends, label_values. */
function labelUses(text: string, label: string): string[] {
  const l = label;
  const patterns = [
    new RegExp(`(?<![$\\w.])${l}\\s*(?:=~|!~|!=|=(?!=))\\s*"`, 'g'),
    new RegExp(`\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\b${l}\\b[^)]*\\)`, 'g'),
    new RegExp(`\\$labels\\.${l}\\b`, 'g'),
    new RegExp(`\\{\\{\\s*${l}\\s*\\}\\}`, 'g'),
    new RegExp(`label_values\\([^)]*,\\s*${l}\\s*\\)`, 'g'),
  ];
  return patterns.flatMap((p) => text.match(p) ?? []);
}

/** Every string of a dashboard that Grafana evaluates against labels. */
function dashboardQueries(json: string): string[] {
  const out: string[] = [];
  const keys = new Set(['expr', 'query', 'definition', 'legendFormat', 'titleFormat', 'textFormat']);
  const walk = (v: unknown, key: string) => {
    if (typeof v === 'string') {
      if (keys.has(key)) out.push(v);
      if (key === 'tagKeys') out.push(...v.split(',').map((k) => `by (${k})`));
    } else if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(JSON.parse(json), '');
  return out;
}

interface RuleYaml {
  groups: {
    rules: { expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
  }[];
}
interface TestYaml {
  tests: {
    input_series: { series: string }[];
    alert_rule_test?: { exp_alerts: { exp_labels: Record<string, string> }[] }[];
  }[];
}

describe('instanceLabel "pod", serviceLabels ["app"], prefix shop_', () => {
  const files = generate(MAPPED);
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const rules = files.filter((f) => /^rules\/[^/]+\.yaml$/.test(f.path));
  const tests = files.filter((f) => f.path.startsWith('rules/tests/'));
  const dashboards = files.filter((f) => f.path.startsWith('dashboards/') && f.path.endsWith('.json'));

  it('no dashboard query, variable, legend or annotation names instance (or service)', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(7);
    for (const d of dashboards) {
      const queries = dashboardQueries(d.content);
      expect(labelUses(queries.join('\n'), 'instance'), d.path).toEqual([]);
      expect(labelUses(queries.join('\n'), 'service'), d.path).toEqual([]);
    }
    const overview = dashboardQueries(byPath.get('dashboards/service-overview.json')!).join('\n');
    // The variable keeps its name; it filters the pod label.
    expect(overview).toContain('pod=~"$instance"');
    expect(overview).toContain('label_values(');
    expect(labelUses(overview, 'pod').some((u) => u.startsWith('label_values('))).toBe(true);
    expect(overview).toContain('{{pod}}');
  });

  it('no rule expression, label or annotation names instance; per-instance alerts keep pod', () => {
    for (const f of rules) {
      const doc = parse(f.content) as RuleYaml;
      for (const r of doc.groups.flatMap((g) => g.rules)) {
        const text = [r.expr, ...Object.values(r.labels ?? {}), ...Object.values(r.annotations ?? {})].join(
          '\n',
        );
        expect(labelUses(text, 'instance'), `${f.path}: ${r.expr}`).toEqual([]);
        expect(labelUses(text, 'job'), `${f.path}: ${r.expr}`).toEqual([]);
      }
    }
    const runtime = byPath.get('rules/vigil-runtime.yaml')!;
    expect(runtime).toContain('and on (pod) shop_vigil_metrics_series_overflow_total');
    expect(runtime).toContain('pod {{ $labels.pod }}');
    expect(runtime).toContain('var-instance={{ $labels.pod | urlquery }}');
    const service = byPath.get('rules/vigil-service.yaml')!;
    expect(service).toContain('* on (pod) group_left (app)');
    expect(service).toContain('Prometheus could not scrape {{ $labels.pod }}');
  });

  it('the unit tests give job and instance to up only; other series carry app and pod', () => {
    let up = 0;
    let other = 0;
    for (const f of tests) {
      const doc = parse(f.content) as TestYaml;
      for (const s of doc.tests.flatMap((t) => t.input_series)) {
        const labels = labelUses(s.series, 'job').concat(labelUses(s.series, 'instance'));
        if (s.series.startsWith('up{')) {
          up++;
          expect(s.series).toMatch(/\bpod="/);
        } else {
          if (s.series.includes('pod=')) other++;
          expect(labels, `${f.path}: ${s.series}`).toEqual([]);
        }
      }
    }
    expect(up).toBeGreaterThan(0);
    expect(other).toBeGreaterThan(0);
  });

  it('the runbooks name the pod label where they quote a query', () => {
    const runbooks = files.filter((f) => f.path.startsWith('runbooks/'));
    for (const f of runbooks) expect(labelUses(f.content, 'instance'), f.path).toEqual([]);
  });

  describe.runIf(promtool)('promtool', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-mixin-labels-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    write(files, dir);

    it('check rules accepts every rule file', () => {
      const names = readdirSync(join(dir, 'rules')).filter((f) => f.endsWith('.yaml'));
      const o = execFileSync('promtool', ['check', 'rules', ...names], {
        cwd: join(dir, 'rules'),
        encoding: 'utf8',
      });
      expect(o.match(/SUCCESS/g)).toHaveLength(names.length);
    });

    it('test rules passes every generated unit test', () => {
      const names = readdirSync(join(dir, 'rules', 'tests'));
      const o = execFileSync('promtool', ['test', 'rules', ...names], {
        cwd: join(dir, 'rules', 'tests'),
        encoding: 'utf8',
      });
      expect(o.match(/SUCCESS/g)).toHaveLength(names.length);
    });
  });
});

describe('default labels', () => {
  it('the default config still joins and groups on job and instance', () => {
    const files = generate({ selector: '', slo: SLO });
    const service = files.find((f) => f.path === 'rules/vigil-service.yaml')!.content;
    expect(service).toContain('* on (job, instance) group_left (service)');
    const runtime = files.find((f) => f.path === 'rules/vigil-runtime.yaml')!.content;
    expect(runtime).toContain('and on (job, instance) vigil_metrics_series_overflow_total');
  });
});
