import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import * as catalog from '../../packages/catalog/dist/index.js';
import { type Catalog, resolveConfig } from '../../packages/mixin/src/alerts/config.js';
import {
  allAlerts,
  buildRules,
  dashboardUrl,
  generateAlertFiles,
  runbookUrl,
} from '../../packages/mixin/src/alerts/generate.js';
import { renderTemplate } from '../../packages/mixin/src/alerts/humanize.js';
import { DASHBOARDS } from '../../packages/mixin/src/alerts/model.js';
import { haveTool } from '../helpers/env.js';
import { generateFiles, loadContext, REPO_LAYOUT, sync } from '../helpers/mixin.js';

// Generated alert rules: promtool accepts them and their unit tests pass, generation is
// deterministic and committed, and the generation config is validated (latency SLO thresholds
// must be bucket boundaries).

const root = join(import.meta.dirname, '..', '..');
const cat = catalog as unknown as Catalog;
const promtool = haveTool('promtool', ['--version']);
const rulesDir = join(root, 'alert-rules');
const ruleFiles = () => readdirSync(rulesDir).filter((f) => f.endsWith('.yaml'));
const testFiles = () => readdirSync(join(rulesDir, 'tests')).filter((f) => f.endsWith('.yaml'));

const SLO = {
  window: '30d',
  availability: { objective: 0.999 },
  latency: { objective: 0.99, thresholdSeconds: 0.5 },
};

describe('promtool', () => {
  it.runIf(promtool)('check rules accepts every rule file', () => {
    const files = ruleFiles();
    expect(files.length).toBeGreaterThanOrEqual(7);
    const out = execFileSync('promtool', ['check', 'rules', ...files], { cwd: rulesDir, encoding: 'utf8' });
    expect(out.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it.runIf(promtool)('test rules passes every unit test file', () => {
    const files = testFiles();
    expect(files.map((f) => f.replace('.test.yaml', '.yaml')).sort()).toEqual(ruleFiles().sort());
    const out = execFileSync('promtool', ['test', 'rules', ...files], {
      cwd: join(rulesDir, 'tests'),
      encoding: 'utf8',
    });
    expect(out.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it.runIf(promtool)('the generated rules and tests also hold for a different config', () => {
    // Another window, objectives, threshold, service labels and selector: the unit tests are
    // generated from the config too, so they must still pass (and still test something).
    const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
    try {
      const config = resolveConfig(
        {
          slo: {
            window: '28d',
            availability: { objective: 0.995 },
            latency: { objective: 0.95, thresholdSeconds: 1 },
            // 10 % in 3 days is a factor of 0.933 for 28 days: below 1, refused.
            budgetShare: { '3d': 0.11 },
          },
          // A label of the service's own metrics, which `up` does not carry.
          selector: 'job=~"api|checkout", service=~"api|checkout"',
          serviceLabels: ['job'],
          http: { errorRatio: 0.02, p99LatencySeconds: 2.5 },
          runtime: { restarts: 5 },
        },
        cat,
      );
      const files = generateAlertFiles({ catalog: cat, config, layout: REPO_LAYOUT });
      for (const [rel, content] of files) {
        if (!rel.startsWith('alert-rules/')) continue;
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), content);
      }
      const slo = files.get('alert-rules/vigil-slo.yaml')!;
      expect(slo).toContain(
        `(${Number(((0.02 * 28) / (1 / 24)).toPrecision(6))} * (1 - vigil_slo:objective:ratio{slo="availability"}))`,
      );
      expect(slo).toContain('0.995 + 0 * max by (job) (vigil_slo:sli_requests:rate5m{slo="availability"})');
      expect(slo).toContain('le=~"1(\\\\.0)?"');
      expect(slo).toContain('sum by (job) (');
      expect(files.get('alert-rules/vigil-http.yaml')).toContain(
        'job=~"api|checkout", service=~"api|checkout"',
      );
      expect(files.get('alert-rules/vigil-service.yaml')).toContain(
        'group by (job, instance) (vigil_metrics_series_overflow_total{job=~"api|checkout", service=~"api|checkout"})',
      );
      const tests = join(dir, 'alert-rules', 'tests');
      const out = execFileSync('promtool', ['test', 'rules', ...readdirSync(tests)], {
        cwd: tests,
        encoding: 'utf8',
      });
      expect(out.match(/SUCCESS/g)).toHaveLength(readdirSync(tests).length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('generated rules', () => {
  const ctx = loadContext(root, cat);
  const files = buildRules(ctx);
  const alerts = allAlerts(files);

  it('cover the alerts the issue asks for', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'AvailabilityBudgetBurn',
        'CircuitBreakerOpen',
        'DatabaseErrorRatioHigh',
        'DatabasePoolExhausted',
        'DatabaseQueriesSlow',
        'HttpLatencyP99High',
        'HttpServerErrorRatioHigh',
        'LatencyBudgetBurn',
        'LoadSheddingSustained',
        'MessageProcessingFailing',
        'MessageQueueBacklog',
        'NodejsEventLoopLagHigh',
        'NodejsEventLoopUtilizationHigh',
        'NodejsHeapNearLimit',
        'NodejsMemoryNearLimit',
        'NodejsRestartingFrequently',
        'ReadinessFailing',
        'ReadinessFlapping',
        'ServiceAbsent',
        'ServiceDown',
        'ServiceTargetDown',
        'VigilLogLinesDropped',
        'VigilMetricsSeriesOverflow',
        'VigilTracingSpansDropped',
      ].sort(),
    );
  });

  it('every alert has severity, summary, description, a runbook in the repo, and firing and silent unit tests', () => {
    for (const a of alerts) {
      for (const v of a.variants) expect(catalog.ALERT_SEVERITIES).toContain(v.severity);
      expect(a.summary).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      expect(a.description).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      expect(runbookUrl(ctx, a.alert)).toBe(`${catalog.ALERT_DEFAULTS.runbookBaseUrl}/${a.alert}.md`);
      const runbook = readFileSync(join(root, 'docs/runbooks', `${a.alert}.md`), 'utf8');
      for (const section of ['## What it means', '## How to confirm', '## What to do'])
        expect(runbook).toContain(section);
      expect(a.tests.some((t) => t.expect.length > 0)).toBe(true);
      expect(a.tests.some((t) => t.expect.length === 0)).toBe(true);
    }
  });

  it('every alert links to the Grafana panel that explains it, with the service of the alert filled in', () => {
    const dashboards = new Map<
      string,
      { panels: { id: number; title: string; type: string }[]; templating: { list: { name: string }[] } }
    >(
      Object.values(DASHBOARDS).map((d) => [
        d.uid,
        JSON.parse(readFileSync(join(root, 'dashboards', d.file), 'utf8')) as {
          panels: { id: number; title: string; type: string }[];
          templating: { list: { name: string }[] };
        },
      ]),
    );
    const titles = new Map<string, string>();
    for (const f of ruleFiles()) {
      const doc = parseYaml(readFileSync(join(rulesDir, f), 'utf8')) as {
        groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
      };
      for (const r of doc.groups.flatMap((g) => g.rules).filter((x) => x.alert)) {
        const url = r.annotations?.dashboard_url ?? '';
        const m = /^http:\/\/localhost:3000\/d\/([\w-]+)(?:\?(.*))?$/.exec(url);
        expect(m, `${r.alert}: ${url}`).not.toBeNull();
        const d = dashboards.get(m![1]!)!;
        expect(d, `${r.alert}: ${url}`).toBeDefined();
        const params = (m![2] ?? '').split('&').filter(Boolean);
        const vars = d.templating.list.map((v) => v.name);
        for (const p of params) {
          const view = /^viewPanel=panel-(\d+)$/.exec(p);
          if (view) {
            const panel = d.panels.find((x) => x.id === Number(view[1]));
            expect(panel?.type, `${r.alert}: ${p}`).not.toBe('row');
            titles.set(r.alert!, panel!.title);
            continue;
          }
          const v = /^var-(\w+)=\{\{ \$labels\.(\w+) \| urlquery \}\}$/.exec(p);
          expect(v, `${r.alert}: ${p}`).not.toBeNull();
          expect(v![1]).toBe(v![2]);
          expect(vars, `${r.alert}: ${p}`).toContain(v![1]);
        }
      }
    }
    expect(titles.get('HttpServerErrorRatioHigh')).toBe('Error ratio by route (5xx)');
    expect(titles.get('AvailabilityBudgetBurn')).toBe('availability burn rate by window');
    expect(titles.get('LatencyBudgetBurn')).toBe('latency burn rate by window');
    expect(titles.get('DatabaseQueriesSlow')).toBe('p99 by operation and table');
    expect(titles.get('NodejsMemoryNearLimit')).toBe('Resident memory of container limit');
    // All but ServiceAbsent (a service gone from Prometheus has no panel of its own).
    expect(titles.size).toBe(alerts.length - 1);
    // Label values are query-escaped as Go's urlquery does (what promtool's rendering checks).
    expect(
      renderTemplate('{{ $labels.instance | urlquery }}', { instance: "10.0.0.7:3000 a/b&c'é" }, 0),
    ).toBe('10.0.0.7%3A3000+a%2Fb%26c%27%C3%A9');
    // The base URL comes from the config, without a trailing slash.
    const other = {
      catalog: cat,
      layout: REPO_LAYOUT,
      config: resolveConfig({ selector: '', slo: SLO, grafanaBaseUrl: 'https://grafana.example.com/' }, cat),
    };
    const a = allAlerts(buildRules(other)).find((x) => x.alert === 'HttpServerErrorRatioHigh')!;
    expect(dashboardUrl(other, a)).toMatch(
      /^https:\/\/grafana\.example\.com\/d\/vigil-service-overview\?viewPanel=panel-\d+&var-job=.*&var-service=\{\{ \$labels\.service \| urlquery \}\}$/,
    );
    // Another service label: the dashboards' $service variable filters it, so the URL fills it from it.
    const app = {
      ...other,
      config: resolveConfig({ selector: '', slo: SLO, serviceLabels: ['job', 'app'] }, cat),
    };
    const b = allAlerts(buildRules(app)).find((x) => x.alert === 'HttpServerErrorRatioHigh')!;
    expect(dashboardUrl(app, b)).toContain('&var-service={{ $labels.app | urlquery }}');
  });

  it('burn-rate alerts have a page and a ticket tier told apart by a label', () => {
    for (const name of ['AvailabilityBudgetBurn', 'LatencyBudgetBurn']) {
      const a = alerts.find((x) => x.alert === name)!;
      expect(a.variants.map((v) => [v.severity, v.labels?.[catalog.BURN_RATE_TIER_LABEL]])).toEqual([
        ['critical', 'page'],
        ['warning', 'ticket'],
      ]);
    }
    const yaml = readFileSync(join(rulesDir, 'vigil-slo.yaml'), 'utf8');
    // SRE workbook factors for 30 days: 14.4 (1h/5m) and 6 (6h/30m) page, 3 (1d/2h) and 1 (3d/6h)
    // ticket, times each service's budget read from the recorded objective (not a constant).
    for (const f of ['14.4', '6', '3', '1'])
      expect(yaml).toContain(
        `on (job, service, slo) (${f} * (1 - vigil_slo:objective:ratio{slo="availability"}))`,
      );
    expect(yaml).not.toContain('* 0.001)');
    // Windows of a day or more in their own, slower group; no window reads raw counters over days.
    const groups = buildRules(ctx).find((f) => f.name === 'vigil-slo')!.groups;
    const long = groups.find((g) => g.name === 'vigil-slo-sli-long')!;
    expect(long.interval).toBe(catalog.ALERT_DEFAULTS.longWindowInterval);
    expect(long.recording!.map((r) => r.record)).toEqual(
      expect.arrayContaining(['vigil_slo:sli_error:ratio_rate1d', 'vigil_slo:sli_error:ratio_rate3d']),
    );
    const short = groups.find((g) => g.name === 'vigil-slo-sli')!.recording!.map((r) => r.record);
    expect(short).not.toContain('vigil_slo:sli_error:ratio_rate3d');
    expect(short).toContain('vigil_slo:sli_error:ratio_rate6h');
    expect(yaml).not.toMatch(/rate\(http_request[^\]]*\[(1d|3d|30d)\]/);
  });

  it('generation is deterministic and the committed files are up to date', () => {
    const a = generateFiles(loadContext(root, cat));
    const b = generateFiles(loadContext(root, cat));
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, v] of a) expect(b.get(k), k).toBe(v);
    const r = sync(root, loadContext(root, cat), true);
    expect(r.stale, 'run `pnpm gen` and commit the result').toEqual([]);
    for (const rel of a.keys()) expect(existsSync(join(root, rel)), rel).toBe(true);
  });
});

describe('generation config', () => {
  it('refuses a latency SLO threshold that is not a bucket boundary, naming the option and the boundaries', () => {
    const bad = { selector: '', slo: { ...SLO, latency: { objective: 0.99, thresholdSeconds: 0.3 } } };
    expect(() => resolveConfig(bad, cat, 'x.json')).toThrow(
      /Invalid option "slo\.latency\.thresholdSeconds" in x\.json: expected one of the bucket boundaries of http_request_duration_seconds \(0\.005, .*, 10\).*got 0\.3/,
    );
    for (const b of catalog.httpRequestDuration.buckets!) {
      const ok = { selector: '', slo: { ...SLO, latency: { objective: 0.99, thresholdSeconds: b } } };
      expect(resolveConfig(ok, cat).slo.latency.thresholdSeconds).toBe(b);
    }
  });

  it('`pnpm gen` fails with that message for a non-bucket threshold', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-slo-config-'));
    try {
      const file = join(dir, 'slo.json');
      writeFileSync(
        file,
        JSON.stringify({
          selector: '',
          slo: { ...SLO, latency: { objective: 0.99, thresholdSeconds: 0.75 } },
        }),
      );
      const r = spawnSync(process.execPath, ['scripts/gen.mjs', '--check', `--slo-config=${file}`], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('Invalid option "slo.latency.thresholdSeconds"');
      expect(r.stderr).toContain('got 0.75');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses burn-rate factors below 1, naming the window or the budget share and the share needed', () => {
    // 7 days with the 30-day shares: 10 % of the budget in 1 day is a factor of 0.7.
    expect(() => resolveConfig({ selector: '', slo: { ...SLO, window: '7d' } }, cat, 'x.json')).toThrow(
      /Invalid option "slo\.window" in x\.json: the ticket tier over 1d spends 10 % of the budget, a burn-rate factor of 0\.7 for a 7d SLO window.*"slo\.budgetShare\.1d" to at least 0\.1429/,
    );
    expect(() =>
      resolveConfig(
        { selector: '', slo: { ...SLO, window: '7d', budgetShare: { '1d': 0.15, '3d': 0.4 } } },
        cat,
      ),
    ).toThrow(/Invalid option "slo\.budgetShare\.3d".*factor of 0\.933333.*at least 0\.4286/);
    const ok = resolveConfig(
      { selector: '', slo: { ...SLO, window: '7d', budgetShare: { '1d': 0.15, '3d': 0.43 } } },
      cat,
    );
    expect(ok.slo.budgetShare).toEqual({ '1h': 0.02, '6h': 0.05, '1d': 0.15, '3d': 0.43 });
    expect(() => resolveConfig({ selector: '', slo: { ...SLO, budgetShare: { '2d': 0.1 } } }, cat)).toThrow(
      /"slo\.budgetShare\.2d".*one of 1h, 6h, 1d, 3d/,
    );
    expect(() => resolveConfig({ selector: '', slo: { ...SLO, budgetShare: { '1h': 2 } } }, cat)).toThrow(
      /"slo\.budgetShare\.1h".*\(0, 1\]/,
    );
  });

  it('names the option for other mistakes', () => {
    expect(() => resolveConfig({}, cat)).toThrow(/Missing option "slo"/);
    expect(() => resolveConfig({ slo: SLO }, cat)).toThrow(/Missing option "selector".*job=~/);
    expect(() => resolveConfig({ selector: '', slo: SLO, http: { errorRatoi: 0.1 } }, cat)).toThrow(
      /"http\.errorRatoi".*one of errorRatio/,
    );
    expect(() =>
      resolveConfig({ selector: '', slo: SLO, http: { errorRatioFor: '5 minutes' } }, cat),
    ).toThrow(/"http\.errorRatioFor".*duration/);
    expect(() =>
      resolveConfig({ selector: '', slo: { ...SLO, availability: { objective: 99.9 } } }, cat),
    ).toThrow(/"slo\.availability\.objective".*between 0 and 1/);
    // 14.4 x a 10 % budget would need 144 % errors: the page tier could never fire.
    expect(() =>
      resolveConfig({ selector: '', slo: { ...SLO, availability: { objective: 0.9 } } }, cat),
    ).toThrow(/"slo\.availability\.objective".*could never fire/);
    expect(() => resolveConfig({ slo: SLO, selector: 'job=api' }, cat)).toThrow(/"selector"/);
    expect(() => resolveConfig({ selector: '', slo: SLO, grafanaBaseUrl: 'grafana:3000' }, cat)).toThrow(
      /"grafanaBaseUrl".*http\(s\) URL/,
    );
    expect(() => resolveConfig({ selector: '', slo: SLO, traceUrl: 'http://jaeger/trace/"x' }, cat)).toThrow(
      /"traceUrl"/,
    );
    expect(() =>
      resolveConfig({ selector: '', slo: SLO, http: { p99LatencySeconds: 20 } }, cat),
    ).not.toThrow();
    expect(() =>
      generateAlertFiles({
        catalog: cat,
        layout: REPO_LAYOUT,
        config: resolveConfig({ selector: '', slo: SLO, http: { p99LatencySeconds: 20 } }, cat),
      }),
    ).toThrow(/"http\.p99LatencySeconds".*cannot be measured/);
  });
});
