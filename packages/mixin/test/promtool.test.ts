// The CLI on a user's config: metric prefix "shop_", service label "app", two services with their
// own SLOs, written to a temp folder; promtool accepts the rules and their generated unit tests
// pass (they exercise the prefixed names, the label and the per-service objectives).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveTool } from '../../../test/helpers/env.js';

const promtool = haveTool('promtool');
const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');

export const SHOP_CONFIG = {
  $schema: './node_modules/@vigil/mixin/schema/vigil-mixin.schema.json',
  selector: 'job=~"checkout|payments"',
  prefix: 'shop_',
  serviceLabels: ['job', 'app'],
  slo: {
    window: '30d',
    availability: { objective: 0.999 },
    latency: { objective: 0.99, thresholdSeconds: 0.5 },
  },
  services: {
    checkout: { availability: { objective: 0.9995 }, latency: { objective: 0.995 } },
    payments: { availability: { objective: 0.99 }, latency: { objective: 0.95 } },
  },
  routeGroups: {
    'checkout-api': {
      routes: ['/checkout', '/cart/:id'],
      latency: { objective: 0.99, thresholdSeconds: 0.25 },
    },
  },
  runbookBaseUrl: 'https://runbooks.shop.example/vigil',
  grafana: { datasource: 'Shop Prometheus', folder: 'Shop SLOs', tags: ['shop'] },
  kubernetes: { name: 'shop-vigil', namespace: 'monitoring', labels: { release: 'prometheus' } },
};

let dir = '';
let out = '';
beforeAll(() => {
  if (!existsSync(cli))
    throw new Error(`${cli} missing: build the package first (pnpm --filter @vigil/mixin build)`);
  dir = mkdtempSync(join(tmpdir(), 'vigil-mixin-'));
  out = join(dir, 'observability');
  writeFileSync(join(dir, 'vigil-mixin.json'), JSON.stringify(SHOP_CONFIG, null, 2));
  const r = spawnSync(
    process.execPath,
    [cli, 'generate', '--config', 'vigil-mixin.json', '--out', 'observability'],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const read = (rel: string) => readFileSync(join(out, rel), 'utf8');
const ruleFiles = () => readdirSync(join(out, 'rules')).filter((f) => f.endsWith('.yaml'));

describe('vigil-mixin generate (prefix shop_, label app, two services)', () => {
  it('writes dashboards, rules, tests, runbooks, the PrometheusRule and Grafana provisioning into --out only', () => {
    expect(readdirSync(dir).sort()).toEqual(['observability', 'vigil-mixin.json']);
    expect(readdirSync(out).sort()).toEqual(['dashboards', 'kubernetes', 'rules', 'runbooks']);
    expect(ruleFiles().length).toBeGreaterThanOrEqual(7);
    expect(readdirSync(join(out, 'rules', 'tests')).length).toBe(ruleFiles().length);
    expect(readdirSync(join(out, 'dashboards'))).toEqual(
      expect.arrayContaining(['slo-fleet.json', 'grafana-provisioning.yaml']),
    );
    expect(read('runbooks/README.md')).toContain('AvailabilityBudgetBurn');
    const k8s = read('kubernetes/prometheusrule.yaml');
    expect(k8s).toContain('name: shop-vigil');
    expect(k8s).toContain('namespace: monitoring');
    expect(read('dashboards/grafana-provisioning.yaml')).toContain('folder: Shop SLOs');
  });

  it('every metric carries the prefix, every service aggregation the app label', () => {
    const slo = read('rules/vigil-slo.yaml');
    expect(slo).toContain('shop_http_requests_total{');
    expect(slo).not.toMatch(/(?<![\w:])http_requests_total/);
    expect(slo).toContain('sum by (job, app) (');
    expect(read('rules/vigil-service.yaml')).toContain(
      'shop_vigil_metrics_series_overflow_total{job=~"checkout|payments"}',
    );
    // Per-service objectives as series: the shared one for other services, each service's own.
    expect(slo).toContain(
      '0.999 + 0 * max by (job, app) (vigil_slo:sli_requests:rate5m{slo="availability", app!~"checkout|payments"})',
    );
    expect(slo).toContain(
      '0.9995 + 0 * max by (job, app) (vigil_slo:sli_requests:rate5m{slo="availability", app="checkout"})',
    );
    expect(slo).toContain(
      '0.95 + 0 * max by (job, app) (vigil_slo:sli_requests:rate5m{slo="latency", app="payments"})',
    );
    const overview = JSON.parse(read('dashboards/service-overview.json'));
    const exprs: string[] = overview.panels.flatMap((p: { targets?: { expr: string }[] }) =>
      (p.targets ?? []).map((t) => t.expr),
    );
    expect(exprs.some((e) => e.includes('shop_http_request_duration_seconds_bucket'))).toBe(true);
    expect(exprs.join('\n')).not.toMatch(/(?<![$\w:.])service(?![\w:])/);
    expect(exprs.join('\n')).toContain('app=~"$service"');
    // Annotations follow the label too: queries, texts and tags; the alerts' links fill $service from it.
    const annotations: { target?: { expr: string }; textFormat?: string; tagKeys?: string }[] =
      overview.annotations.list.slice(1);
    const annotationText = JSON.stringify(annotations);
    expect(annotations.map((a) => a.target!.expr).join('\n')).not.toMatch(/(?<![$\w:.])service(?![\w:])/);
    expect(annotationText).not.toContain('{{service}}');
    expect(annotations.find((a) => a.tagKeys?.startsWith('job,'))?.tagKeys).toBe('job,app,version');
    expect(read('rules/vigil-http.yaml')).toContain('&var-service={{ $labels.app | urlquery }}');
    expect(overview.tags).toEqual(['vigil', 'shop']);
    expect(overview.templating.list[0].current.value).toBe('Shop Prometheus');
    expect(read('runbooks/ServiceDown.md')).toContain(
      'Set these in `vigil-mixin.json`, then run `npx @vigil/mixin generate`',
    );
  });

  it.runIf(promtool)('promtool check rules accepts every rule file', () => {
    const files = ruleFiles();
    const o = execFileSync('promtool', ['check', 'rules', ...files], {
      cwd: join(out, 'rules'),
      encoding: 'utf8',
    });
    expect(o.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  it.runIf(promtool)('promtool test rules passes every generated unit test', () => {
    const tests = readdirSync(join(out, 'rules', 'tests'));
    const o = execFileSync('promtool', ['test', 'rules', ...tests], {
      cwd: join(out, 'rules', 'tests'),
      encoding: 'utf8',
    });
    expect(o.match(/SUCCESS/g)).toHaveLength(tests.length);
    // The per-service objective tests ran: both services' own objectives as series; and the route
    // group's: its SLI counts only its routes, and it pages on its own slo label.
    expect(read('rules/tests/vigil-slo.test.yaml')).toContain(
      'the objective is recorded per service (payments: its own, checkout: its own)',
    );
  });

  it('--check reports nothing stale after generate, and a changed file after an edit', () => {
    const run = () =>
      spawnSync(
        process.execPath,
        [cli, 'generate', '--config', 'vigil-mixin.json', '--out', 'observability', '--check'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
    expect(run().status).toBe(0);
    writeFileSync(join(out, 'rules', 'vigil-slo.yaml'), 'groups: []\n');
    writeFileSync(join(out, 'dashboards', 'retired.json'), '{}\n');
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('stale: rules/vigil-slo.yaml');
    expect(r.stderr).toContain('stale: dashboards/retired.json');
  });

  it('an invalid config exits 1 naming the field, and writes nothing; --out in node_modules is refused', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        ...SHOP_CONFIG,
        slo: { ...SHOP_CONFIG.slo, latency: { objective: 0.99, thresholdSeconds: 0.3 } },
      }),
    );
    const r = spawnSync(process.execPath, [cli, 'generate', '--config', bad, '--out', join(dir, 'never')], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: Invalid option "slo\.latency\.thresholdSeconds" in .*bad\.json/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const nm = spawnSync(
      process.execPath,
      [cli, 'generate', '--config', 'vigil-mixin.json', '--out', 'node_modules/@vigil/mixin/out'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(nm.status).toBe(2);
    expect(nm.stderr).toContain('inside node_modules');
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    const usage = spawnSync(process.execPath, [cli, 'generate', '--config', bad], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('Usage: vigil-mixin generate');
  });
});
