// @vigil/mixin as a user runs it: `npx vigil-mixin generate` with a config of their own (metric
// prefix shop_, service label app, two services with their own SLOs) writes into ./observability
// only; promtool accepts the rules and their generated unit tests pass; the API gives the same files.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { generate } from '@vigil/mixin';

const require = createRequire(import.meta.url);
const { check, ok, runMain } = require('./helpers.cjs');

const here = path.dirname(new URL(import.meta.url).pathname);

function havePromtool() {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('promtool is required in CI (CI=true)');
    return false;
  }
}

runMain(async () => {
  const config = {
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
      checkout: { availability: { objective: 0.9995 } },
      payments: { availability: { objective: 0.99 }, latency: { objective: 0.95 } },
    },
    routeGroups: {
      'checkout-api': { routes: ['/checkout'], latency: { objective: 0.99, thresholdSeconds: 0.25 } },
    },
    grafana: { datasource: 'Prometheus', folder: 'Shop', tags: ['shop'] },
  };
  const work = mkdtempSync(path.join(here, 'mixin-'));
  writeFileSync(path.join(work, 'vigil-mixin.json'), JSON.stringify(config, null, 2));
  // The $schema path editors read, and the package export `@vigil/mixin/schema.json`: one file.
  const schemaFile = path.join(here, config.$schema);
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
  check(schema.required.includes('selector'), 'the packed schema does not require "selector"');
  check(
    require.resolve('@vigil/mixin/schema.json') === schemaFile,
    '@vigil/mixin/schema.json is another file',
  );
  ok(`the config's $schema (${config.$schema}) is in the package, also as @vigil/mixin/schema.json`);

  const out = execFileSync(
    'npx',
    ['--no-install', 'vigil-mixin', 'generate', '--config', 'vigil-mixin.json', '--out', './observability'],
    {
      cwd: work,
      encoding: 'utf8',
    },
  );
  check(/wrote rules\/vigil-slo\.yaml/.test(out), `npx vigil-mixin generate printed:\n${out}`);
  check(
    JSON.stringify(readdirSync(work).sort()) === JSON.stringify(['observability', 'vigil-mixin.json']),
    `generate wrote outside ./observability: ${readdirSync(work)}`,
  );
  const rules = path.join(work, 'observability', 'rules');
  const slo = readFileSync(path.join(rules, 'vigil-slo.yaml'), 'utf8');
  check(slo.includes('shop_http_requests_total{'), 'rules do not use the prefix');
  check(slo.includes('sum by (job, app) ('), 'rules do not aggregate by the app label');
  check(slo.includes("slo: 'latency:checkout-api'"), 'no records of the route group checkout-api');
  check(
    existsSync(path.join(work, 'observability', 'dashboards', 'slo-fleet.json')),
    'no SLO fleet dashboard',
  );
  check(
    existsSync(path.join(work, 'observability', 'kubernetes', 'prometheusrule.yaml')),
    'no PrometheusRule',
  );
  ok(`npx vigil-mixin generate: ${out.trim().split('\n').length - 1} files in ./observability`);

  const files = generate(config, { layout: { configFile: 'vigil-mixin.json' } });
  for (const f of files) {
    const written = readFileSync(path.join(work, 'observability', f.path), 'utf8');
    check(written === f.content, `generate() and the CLI differ on ${f.path}`);
  }
  ok(`generate() returns the same ${files.length} files`);

  if (!havePromtool()) {
    ok('promtool not installed: rule checks skipped (CI requires it)');
    return;
  }
  const ruleFiles = readdirSync(rules).filter((f) => f.endsWith('.yaml'));
  execFileSync('promtool', ['check', 'rules', ...ruleFiles], { cwd: rules, stdio: 'pipe' });
  const tests = readdirSync(path.join(rules, 'tests'));
  execFileSync('promtool', ['test', 'rules', ...tests], { cwd: path.join(rules, 'tests'), stdio: 'pipe' });
  ok(`promtool check rules (${ruleFiles.length} files) and test rules (${tests.length} files) pass`);
});
