import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as catalog from '../../packages/catalog/dist/index.js';
import { generate, write } from '../../packages/mixin/dist/index.js';
import type { RuleFile } from '../../packages/mixin/src/alerts/model.js';
import type { JsonDashboardFile } from '../../packages/mixin/src/dashboards/grafana.js';
import {
  labelValuesCall,
  type Prometheus,
  SLOW_GROUP_WAIT_MS,
  startPrometheus,
  startTraffic,
  substitute,
  type VariableValues,
  waitFor,
} from '../../scripts/dashboards/harness.js';
import { type PanelInfo, panelsOf, recordedFrom } from '../dashboards/panels.js';
import { haveTool } from '../helpers/env.js';
import { type Running, startService } from '../helpers/spawn.js';

// A user's mixin output against a real Prometheus: two services instrumented with
// createMetrics({ prefix: "shop_", defaultLabels: { app } }), scraped as jobs checkout and payments
// next to Prometheus itself, with the rules generated for that prefix, label and their two SLOs.
// Each target carries a `pod` target label (what Kubernetes relabelling gives) and the output maps
// the per-process label to it (`instanceLabel: "pod"`).
// Every rule group evaluates healthy, the objectives are recorded per service, and every panel
// whose metrics the services emit returns data.

const SERVICES = ['checkout', 'payments'] as const;
const CONFIG = {
  selector: 'job=~"checkout|payments"',
  prefix: 'shop_',
  serviceLabels: ['job', 'app'],
  instanceLabel: 'pod',
  slo: {
    window: '30d',
    availability: { objective: 0.999 },
    latency: { objective: 0.99, thresholdSeconds: 0.5 },
  },
  services: {
    checkout: { availability: { objective: 0.9995 }, latency: { objective: 0.995 } },
    payments: { availability: { objective: 0.99 }, latency: { objective: 0.95 } },
  },
  routeGroups: { users: { routes: ['/users/:id'], latency: { objective: 0.98, thresholdSeconds: 0.1 } } },
};
const prometheusInstalled = haveTool('prometheus', ['--version']);
const prefixed = catalog.CATALOG.map((m) => ({ ...m, name: `shop_${m.name}` }));
/** What the services must emit before the checks start (no memory limit without a cgroup limit). */
const MUST_EMIT = prefixed.filter(
  (m) =>
    (m.group === 'http' || m.group === 'runtime') &&
    m.name !== `shop_${catalog.processMemoryLimitBytes.name}`,
);
const ALL: VariableValues = {
  rateInterval: '1m',
  // `.+`: a panel that filters by the per-process label finds data only where the series carry `pod`.
  vars: { job: '.*', service: '.*', instance: '.+', route: '.*', datasource: '' },
};

describe.runIf(prometheusInstalled)('mixin output for prefix shop_ against a real Prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mixin-prom-'));
  const files = generate(CONFIG);
  write(files, dir);
  const ruleFiles = readdirSync(join(dir, 'rules')).filter((f) => f.endsWith('.yaml'));
  const model = ruleFiles.map((f) => ({
    name: f,
    ...parse(readFileSync(join(dir, 'rules', f), 'utf8')),
  })) as unknown as {
    name: string;
    groups: { name: string; interval?: string; rules: { record?: string; alert?: string; expr: string }[] }[];
  }[];
  const asRuleFiles = model.map((f) => ({
    name: f.name,
    title: '',
    groups: f.groups.map((g) => ({
      name: g.name,
      recording: g.rules.filter((r) => r.record).map((r) => ({ record: r.record!, expr: r.expr })),
    })),
  })) as RuleFile[];
  const recorded = recordedFrom(asRuleFiles, prefixed);
  const slowRecords = model
    .flatMap((f) => f.groups.filter((g) => g.interval !== undefined))
    .flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : [])));
  const panels: PanelInfo[] = files
    .filter((f) => f.path.startsWith('dashboards/') && f.path.endsWith('.json'))
    .flatMap((f) => panelsOf(f.path, JSON.parse(f.content) as JsonDashboardFile, prefixed, recorded));

  const services: Running[] = [];
  let prom: Prometheus | undefined;
  let traffic: { stop(): Promise<number> } | undefined;
  let emitted = new Set<string>();

  beforeAll(async () => {
    services.push(
      ...(await Promise.all(
        SERVICES.map((app) => startService(join(import.meta.dirname, 'shop-service.mjs'), { APP: app })),
      )),
    );
    traffic = startTraffic(
      services.map((s) => s.port),
      { maxMs: 50_000 },
    );
    prom = await startPrometheus({
      rules: ruleFiles.map((f) => join(dir, 'rules', f)),
      targets: SERVICES.map((job, i) => ({
        job,
        address: `127.0.0.1:${services[i]!.port}`,
        labels: { pod: `${job}-6d4f9b7c8-x${i}` },
      })),
      interval: '1s',
      scrapeSelf: true,
    });
    emitted = await waitFor(
      'both services scraped with every HTTP and runtime metric',
      async () => {
        const names = new Set(await prom!.api<string[]>('/api/v1/label/__name__/values'));
        const jobs = await prom!.api<string[]>('/api/v1/label/job/values', {
          'match[]': 'shop_http_requests_total',
        });
        const missing = MUST_EMIT.map((m) => (m.type === 'histogram' ? `${m.name}_bucket` : m.name)).filter(
          (n) => !names.has(n),
        );
        if (missing.length || jobs.length < SERVICES.length)
          throw new Error(`missing ${missing.join(', ')}; jobs ${jobs}`);
        return names;
      },
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await traffic?.stop();
    await prom?.stop();
    await Promise.all(services.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('every rule group loads and evaluates with health ok', async () => {
    type ApiGroup = { name: string; rules: { name: string; health: string; lastError?: string }[] };
    const expected = model.flatMap((f) => f.groups.map((g) => ({ name: g.name, rules: g.rules.length })));
    const groups = await waitFor(
      'every rule evaluated',
      async () => {
        const g = (await prom!.api<{ groups: ApiGroup[] }>('/api/v1/rules')).groups;
        const pending = g.flatMap((x) => x.rules).filter((r) => r.health === 'unknown');
        return g.length === expected.length && pending.length === 0 ? g : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(
      groups
        .map((g) => ({ name: g.name, rules: g.rules.length }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual(expected.sort((a, b) => a.name.localeCompare(b.name)));
    for (const g of groups)
      for (const r of g.rules)
        expect({ group: g.name, rule: r.name, health: r.health, error: r.lastError ?? '' }).toMatchObject({
          health: 'ok',
          error: '',
        });
  });

  it('records each service with its own objective, and only the Vigil targets', async () => {
    const objectives = await waitFor('objectives recorded for both services', async () => {
      const r = await prom!.query('vigil_slo:objective:ratio');
      return r.length === 3 * SERVICES.length ? r : undefined;
    });
    const got = Object.fromEntries(
      objectives.map((s) => [`${s.metric.app}/${s.metric.slo}`, Number(s.value?.[1])]),
    );
    expect(got).toEqual({
      'checkout/availability': 0.9995,
      'checkout/latency': 0.995,
      'payments/availability': 0.99,
      'payments/latency': 0.95,
      'checkout/latency:users': 0.98,
      'payments/latency:users': 0.98,
    });
    const targets = await prom!.query('vigil_target:up');
    expect([...new Set(targets.map((t) => t.metric.job))].sort()).toEqual([...SERVICES]);
    for (const t of targets) {
      expect(t.metric.app).toBe(t.metric.job);
      expect(t.metric.pod).toMatch(new RegExp(`^${t.metric.job}-`));
    }
  });

  it(
    'every panel whose metrics the services emit returns data; every variable query is accepted',
    async () => {
      const withData = panels.filter((p) =>
        p.needs.every((m) => emitted.has(m.type === 'histogram' ? `${m.name}_bucket` : m.name)),
      );
      expect(withData.length).toBeGreaterThan(40);
      for (const p of panels)
        for (const e of p.exprs)
          await expect(prom!.query(substitute(e, ALL)), `${p.dashboard}: ${p.title}`).resolves.toBeInstanceOf(
            Array,
          );
      for (const p of withData) {
        for (const e of p.exprs) {
          await waitFor(
            `data for "${p.title}" (${p.dashboard}): ${e}`,
            async () => ((await prom!.query(substitute(e, ALL))).length > 0 ? true : undefined),
            { timeoutMs: slowRecords.some((r) => e.includes(r)) ? SLOW_GROUP_WAIT_MS : 20_000 },
          );
        }
      }
      const overview = JSON.parse(
        files.find((f) => f.path === 'dashboards/service-overview.json')!.content,
      ) as JsonDashboardFile;
      const service = overview.templating.list.find((v) => v.name === 'service')!;
      const call = labelValuesCall(substitute(String(service.query), ALL));
      expect((await prom!.api<string[]>(call.path, call.params)).sort()).toEqual([...SERVICES]);
      // The $instance variable lists the pods.
      const instance = overview.templating.list.find((v) => v.name === 'instance')!;
      const pods = labelValuesCall(substitute(String(instance.query), ALL));
      expect(pods.path).toBe('/api/v1/label/pod/values');
      expect((await prom!.api<string[]>(pods.path, pods.params)).map((p) => p.split('-')[0]).sort()).toEqual([
        ...SERVICES,
      ]);
    },
    SLOW_GROUP_WAIT_MS + 60_000,
  );
});
