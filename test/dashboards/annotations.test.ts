import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import * as catalog from '../../packages/catalog/dist/index.js';
import { substitute, type VariableValues } from '../../scripts/dashboards/harness.js';
import { haveTool } from '../helpers/env.js';
import { loadDashboards } from './panels.js';

// What the dashboards' annotation queries mark, on synthetic series evaluated by promtool: a
// restart of a Vigil target (not of another job), a new build of a service (and no longer once it
// is 5 minutes old), a breaker opening, and Vigil's firing alerts only (not pending ones, not other
// rules'), service-level alerts too when one instance is selected.

const promtool = haveTool('promtool', ['--version']);
const overview = loadDashboards().get('service-overview.json')!;
const exprs = new Map(
  (overview.annotations.list as { name: string; target?: { expr: string } }[])
    .filter((a) => a.target)
    .map((a) => [a.name, a.target!.expr]),
);

const T = { job: 'checkout', service: 'checkout' };
const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`,
  values,
});
const ALL: VariableValues = {
  rateInterval: '5m',
  vars: { job: '.*', service: '.*', instance: '.*', route: '.*' },
};
// Grafana regex-escapes a selected value inside a PromQL string: `10\\.0\\.0\\.1:3000`.
const ONE: VariableValues = { ...ALL, vars: { ...ALL.vars, instance: '10\\\\.0\\\\.0\\\\.1:3000' } };

/** `count by (labels) (expr)` at `at` minutes, expecting one event per listed label set. */
function check(
  name: string,
  values: VariableValues,
  by: string[],
  at: number,
  expect: Record<string, string>[],
) {
  return {
    expr: `count by (${by.join(', ')}) (${substitute(exprs.get(name)!, values)})`,
    eval_time: `${at}m`,
    exp_samples: expect.map((l) => ({
      labels: `{${Object.entries(l)
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ')}}`,
      value: 1,
    })),
  };
}

describe.runIf(promtool)('dashboard annotations, evaluated by promtool', () => {
  it('mark restarts, deploys, breaker opens and firing Vigil alerts, and nothing else', () => {
    const a = { ...T, instance: '10.0.0.1:3000' };
    const b = { ...T, instance: '10.0.0.2:3000' };
    const marker = catalog.seriesOverflowTotal.name;
    const tests = [
      {
        interval: '1m',
        input_series: [
          // The Vigil target restarts at minute 10; Prometheus itself (no marker) at minute 10 too.
          series(catalog.processStartTimeSeconds.name, a, '100x9 700x20'),
          series(
            catalog.processStartTimeSeconds.name,
            { job: 'prometheus', instance: 'localhost:9090' },
            '100x9 700x20',
          ),
          series(marker, { ...a, metric: 'http_request_duration_seconds' }, '0x30'),
          // Build 1.0.0 on a, then 1.1.0 rolled out on b at minute 12.
          series(catalog.buildInfo.name, { ...a, version: '1.0.0', commit: 'aaa' }, '1x30'),
          series(catalog.buildInfo.name, { ...b, version: '1.1.0', commit: 'bbb' }, '_x11 1x19'),
          // The catalog breaker opens once at minute 10 (the counter exists at 0 from the start).
          series(
            catalog.circuitBreakerOpens.name,
            { ...a, breaker: 'catalog', reason: 'error_rate' },
            '0x9 1x20',
          ),
          series(catalog.circuitBreakerOpens.name, { ...a, breaker: 'users', reason: 'consecutive' }, '0x29'),
          // Firing and pending Vigil alerts, a foreign rule's, a service-level one without instance.
          series(
            'ALERTS',
            { ...a, alertname: 'NodejsEventLoopLagHigh', alertstate: 'firing', severity: 'warning' },
            '1x30',
          ),
          series(
            'ALERTS',
            { ...T, alertname: 'HttpServerErrorRatioHigh', alertstate: 'firing', severity: 'warning' },
            '1x30',
          ),
          series(
            'ALERTS',
            { ...T, alertname: 'HttpLatencyP99High', alertstate: 'pending', severity: 'warning' },
            '1x30',
          ),
          series(
            'ALERTS',
            { job: 'node', alertname: 'NodeFilesystemAlmostFull', alertstate: 'firing', severity: 'warning' },
            '1x30',
          ),
          series(
            'ALERTS',
            { ...b, alertname: 'NodejsHeapNearLimit', alertstate: 'firing', severity: 'critical' },
            '1x30',
          ),
        ],
        promql_expr_test: [
          check('Restarts', ALL, ['job', 'instance'], 12, [{ job: 'checkout', instance: a.instance }]),
          check('Restarts', ALL, ['job', 'instance'], 20, []),
          check('Deploys', ALL, ['service', 'version', 'commit'], 14, [
            { service: 'checkout', version: '1.1.0', commit: 'bbb' },
          ]),
          check('Deploys', ALL, ['service', 'version', 'commit'], 20, []),
          check('Breaker opens', ALL, ['breaker', 'reason'], 12, [
            { breaker: 'catalog', reason: 'error_rate' },
          ]),
          check('Breaker opens', ALL, ['breaker', 'reason'], 20, []),
          check('Firing alerts', ALL, ['alertname'], 20, [
            { alertname: 'HttpServerErrorRatioHigh' },
            { alertname: 'NodejsEventLoopLagHigh' },
            { alertname: 'NodejsHeapNearLimit' },
          ]),
          // One instance selected: its own alerts and the service's, not the other instance's.
          check('Firing alerts', ONE, ['alertname'], 20, [
            { alertname: 'HttpServerErrorRatioHigh' },
            { alertname: 'NodejsEventLoopLagHigh' },
          ]),
        ],
      },
    ];
    const dir = mkdtempSync(join(tmpdir(), 'vigil-annotations-'));
    try {
      writeFileSync(
        join(dir, 'annotations.test.yaml'),
        stringify({ rule_files: [], evaluation_interval: '1m', tests }),
      );
      const out = execFileSync('promtool', ['test', 'rules', 'annotations.test.yaml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(out).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
