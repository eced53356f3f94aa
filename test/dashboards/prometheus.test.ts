import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as catalog from '../../packages/catalog/dist/index.js';
import type { Catalog } from '../../packages/mixin/src/alerts/config.js';
import { buildRules } from '../../packages/mixin/src/alerts/generate.js';
import { onVigil, TARGET_RECORDS } from '../../packages/mixin/src/alerts/model.js';
import { SLO_RECORDS } from '../../packages/mixin/src/alerts/slo.js';
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
import { haveTool } from '../helpers/env.js';
import { loadContext } from '../helpers/mixin.js';
import { type Running, startService } from '../helpers/spawn.js';
import { annotationExprs, loadDashboards, type PanelInfo, panelsOf, recordedFrom, root } from './panels.js';

// The proof against a real Prometheus: both basic examples run as processes, Debian's Prometheus
// scrapes them every second with the shipped rules loaded, traffic (errors, slow requests, 404s)
// flows, and then every rule group is healthy, every panel query is accepted, and every panel
// whose metrics the examples emit returns data, for all services and for each one alone.

const EXAMPLES = ['express-basic', 'fastify-basic'] as const;
const prometheusInstalled = haveTool('prometheus', ['--version']);
const cat = catalog as unknown as Catalog;
const ctx = loadContext(root, cat);
const rules = buildRules(ctx);
const recorded = recordedFrom(rules, catalog.CATALOG);
const slowRecords = rules
  .flatMap((f) => f.groups.filter((g) => g.interval !== undefined))
  .flatMap((g) => (g.recording ?? []).map((r) => r.record));
const dashboards = loadDashboards();
const panels: PanelInfo[] = [...dashboards].flatMap(([file, d]) =>
  panelsOf(file, d, catalog.CATALOG, recorded),
);
/** Metrics the examples must emit: HTTP and runtime (no DB, health or resilience in them yet). */
const MUST_EMIT = catalog.CATALOG.filter(
  // The container memory limit exists only under a cgroup limit, which a test machine may not have.
  (m) => (m.group === 'http' || m.group === 'runtime') && m !== catalog.processMemoryLimitBytes,
);

const ALL: VariableValues = {
  rateInterval: '1m',
  vars: { job: '.*', service: '.*', instance: '.*', route: '.*', datasource: '' },
};

describe.runIf(prometheusInstalled)('dashboards and rules against a real Prometheus', () => {
  const services: Running[] = [];
  let prom: Prometheus | undefined;
  let traffic: { stop(): Promise<number> } | undefined;
  let emitted = new Set<string>();
  const started = Date.now();

  beforeAll(async () => {
    const started = await Promise.all(
      EXAMPLES.map((name) => startService(join(root, 'examples', name, 'dist', 'server.js'))),
    );
    services.push(...started);
    traffic = startTraffic(
      services.map((s) => s.port),
      { maxMs: 50_000 },
    );
    const ruleFiles = readdirSync(join(root, 'alert-rules'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(root, 'alert-rules', f));
    prom = await startPrometheus({
      rules: ruleFiles,
      targets: EXAMPLES.map((job, i) => ({ job, address: `127.0.0.1:${services[i]!.port}` })),
      interval: '1s',
      scrapeSelf: true,
      exemplars: true,
    });
    // Data is there once every metric the examples must emit has been scraped from both.
    emitted = await waitFor(
      'both examples scraped with every HTTP and runtime metric',
      async () => {
        const names = new Set(await prom!.api<string[]>('/api/v1/label/__name__/values'));
        const jobs = await prom!.api<string[]>('/api/v1/label/job/values', {
          'match[]': 'http_requests_total',
        });
        const missing = MUST_EMIT.map((m) => (m.type === 'histogram' ? `${m.name}_bucket` : m.name)).filter(
          (n) => !names.has(n),
        );
        if (missing.length || jobs.length < EXAMPLES.length)
          throw new Error(`missing ${missing.join(', ')}; jobs ${jobs}`);
        return names;
      },
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    const sent = await traffic?.stop();
    await prom?.stop();
    await Promise.all(services.map((s) => s.stop()));
    console.log(
      `prometheus integration: ${sent ?? 0} requests sent, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  it('every rule group loads and evaluates with health ok', async () => {
    const expected = rules.flatMap((f) => f.groups.map((g) => ({ name: g.name, file: `${f.name}.yaml` })));
    type ApiRule = { name: string; health: string; lastError?: string; type: string };
    type ApiGroup = { name: string; file: string; rules: ApiRule[] };
    const groups = await waitFor(
      'every rule evaluated',
      async () => {
        const g = (await prom!.api<{ groups: ApiGroup[] }>('/api/v1/rules')).groups;
        const pending = g.flatMap((x) => x.rules).filter((r) => r.health === 'unknown');
        return g.length === expected.length && pending.length === 0 ? g : undefined;
        // The long-window group runs once per longWindowInterval (1m), its first time within one.
      },
      { timeoutMs: 90_000 },
    );
    expect(
      groups
        .map((g) => ({ name: g.name, file: g.file.split('/').pop() }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual(expected.sort((a, b) => a.name.localeCompare(b.name)));
    for (const g of groups) {
      const model = rules.flatMap((f) => f.groups).find((x) => x.name === g.name)!;
      const count =
        (model.recording?.length ?? 0) + (model.alerts ?? []).reduce((n, a) => n + a.variants.length, 0);
      expect(g.rules, g.name).toHaveLength(count);
      for (const r of g.rules)
        expect({ group: g.name, rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({
          group: g.name,
          rule: r.name,
          health: 'ok',
          error: '',
        });
    }
  });

  it('rules match the Vigil targets only, not Prometheus scraping itself', async () => {
    const jobs = (samples: { metric: Record<string, string> }[]) =>
      [...new Set(samples.map((x) => x.metric.job))].sort();
    // Prometheus exposes `up` and `process_*` too: the names the rules share with other exporters.
    await waitFor('Prometheus scraped itself', async () =>
      (await prom!.query('process_start_time_seconds{job="prometheus"}')).length > 0 ? true : undefined,
    );
    expect(jobs(await prom!.query('up'))).toEqual([...EXAMPLES, 'prometheus'].sort());
    expect(jobs(await prom!.query(onVigil(ctx, 'process_start_time_seconds')))).toEqual([...EXAMPLES].sort());
    const targets = await waitFor('vigil_target:up recorded', async () => {
      const r = await prom!.query(TARGET_RECORDS.targetUp);
      return r.length >= EXAMPLES.length ? r : undefined;
    });
    expect(jobs(targets)).toEqual([...EXAMPLES].sort());
    // Both examples set `service` to their name: the record carries it from their metrics.
    for (const t of targets) expect(t.metric.service).toBe(t.metric.job);
  });

  it('every panel query and variable query is accepted', async () => {
    expect(panels.length).toBeGreaterThan(60);
    for (const p of panels) {
      for (const e of p.exprs) {
        await expect(prom!.query(substitute(e, ALL)), `${p.dashboard}: ${p.title}`).resolves.toBeInstanceOf(
          Array,
        );
      }
    }
    for (const [file, d] of dashboards) {
      for (const v of d.templating.list.slice(1).filter((x) => x.type === 'query')) {
        const call = labelValuesCall(substitute(String(v.query), ALL));
        await expect(prom!.api(call.path, call.params), `${file}: $${v.name}`).resolves.toBeInstanceOf(Array);
      }
      for (const e of annotationExprs(d)) {
        await expect(prom!.query(substitute(e, ALL)), `${file}: annotation ${e}`).resolves.toBeInstanceOf(
          Array,
        );
      }
    }
  });

  it("latency panels with exemplars get the examples' trace ids, each with a link to its trace", async () => {
    const withExemplars = panels.filter((p) => p.exemplars.length > 0);
    expect(withExemplars.length).toBeGreaterThan(5);
    const http = withExemplars.filter((p) => p.needs.includes(catalog.httpRequestDuration));
    expect(http.map((p) => p.title)).toEqual(['Latency p50 / p90 / p99', 'p99 latency by route']);
    for (const p of http) {
      for (const e of p.exemplars) {
        const found = await waitFor(`exemplars of "${p.title}": ${e}`, async () => {
          const now = Date.now() / 1000;
          const r = await prom!.api<{ exemplars: { labels: Record<string, string> }[] }[]>(
            '/api/v1/query_exemplars',
            { query: substitute(e, ALL), start: String(now - 300), end: String(now) },
          );
          const ex = r.flatMap((x) => x.exemplars);
          return ex.length > 0 ? ex : undefined;
        });
        for (const x of found) expect(x.labels.trace_id, JSON.stringify(x.labels)).toMatch(/^[0-9a-f]{32}$/);
      }
    }
  });

  it(
    'a minute of errors well above the budget spends a minute of budget, not the budget many times over',
    async () => {
      // The examples answer a share of 5xx far above the 0.1 % budget, for about a minute now.
      const { config } = ctx;
      const budget = 1 - config.slo.availability.objective;
      const rows = await waitFor(
        'SLO window coverage and budget left of both examples',
        async () => {
          const cov = await prom!.query(`${SLO_RECORDS.coverage}{slo="availability"}`);
          const left = await prom!.query(`${SLO_RECORDS.budgetRemaining}{slo="availability"}`);
          const ratio = await prom!.query(`${SLO_RECORDS.ratio(config.slo.window)}{slo="availability"}`);
          return cov.length >= EXAMPLES.length &&
            left.length >= EXAMPLES.length &&
            ratio.length >= EXAMPLES.length
            ? { cov, left, ratio }
            : undefined;
        },
        { timeoutMs: SLOW_GROUP_WAIT_MS },
      );
      for (const job of EXAMPLES) {
        const v = (r: typeof rows.cov) => Number(r.find((x) => x.metric.job === job)!.value![1]);
        expect(v(rows.ratio), job).toBeGreaterThan(budget * 5);
        expect(v(rows.cov), job).toBeGreaterThan(0);
        expect(v(rows.cov), job).toBeLessThan(0.001);
        // Unscaled, this would be 1 - ratio / budget: below -400 %.
        expect(v(rows.left), job).toBeGreaterThan(0.9);
        expect(v(rows.left), job).toBeLessThan(1);
        expect(v(rows.left), job).toBeCloseTo(1 - (v(rows.ratio) / budget) * v(rows.cov), 6);
      }
    },
    SLOW_GROUP_WAIT_MS + 30_000,
  );

  it('the Deploys annotation marks the examples, which just started, and no other job', async () => {
    const deploys = (
      dashboards.get('service-overview.json')!.annotations.list as {
        name: string;
        target?: { expr: string };
      }[]
    ).find((a) => a.name === 'Deploys')!.target!.expr;
    for (const [job, values] of [
      ['.*', ALL],
      [EXAMPLES[0], { ...ALL, vars: { ...ALL.vars, job: EXAMPLES[0], service: EXAMPLES[0] } }],
    ] as const) {
      const found = await waitFor(`deploy events (${job})`, async () => {
        const r = await prom!.query(substitute(deploys, values));
        return r.length > 0 ? r : undefined;
      });
      const want = job === '.*' ? [...EXAMPLES].sort() : [job];
      expect([...new Set(found.map((x) => x.metric.job))].sort()).toEqual(want);
      for (const x of found) expect(x.metric.version, JSON.stringify(x.metric)).toBeTruthy();
    }
  });

  it('every panel whose metrics the examples emit returns data, for all services and for each one alone', async () => {
    const withData = panels.filter((p) =>
      p.needs.every((m) => emitted.has(m.type === 'histogram' ? `${m.name}_bucket` : m.name)),
    );
    const without = panels.filter((p) => !withData.includes(p));
    const scopes: [string, VariableValues][] = [
      ['all', ALL],
      ...EXAMPLES.map((job, i): [string, VariableValues] => [
        job,
        {
          rateInterval: '1m',
          vars: { ...ALL.vars, job, service: job, instance: `127.0.0.1:${services[i]!.port}` },
        },
      ]),
    ];
    for (const [scope, values] of scopes) {
      for (const p of withData) {
        // Each query of the panel returns at least one series (legend entries of multi-query panels too).
        for (const e of p.exprs) {
          await waitFor(
            `data for "${p.title}" (${p.dashboard}, ${scope}): ${e}`,
            async () => ((await prom!.query(substitute(e, values))).length > 0 ? true : undefined),
            // Records of a group with its own, slower interval appear only after its first evaluation.
            { timeoutMs: slowRecords.some((r) => e.includes(r)) ? SLOW_GROUP_WAIT_MS : 20_000 },
          );
        }
      }
    }
    // The template variables offer the examples' own values.
    const overview = dashboards.get('service-overview.json')!;
    for (const v of overview.templating.list.filter((x) => x.name === 'job' || x.name === 'service')) {
      const call = labelValuesCall(substitute(String(v.query), ALL));
      expect(await prom!.api<string[]>(call.path, call.params)).toEqual(
        expect.arrayContaining([...EXAMPLES]),
      );
    }

    const report = without
      .map(
        (p) =>
          `  ${p.dashboard} / ${p.title}: needs ${p.needs
            .filter((m) => !emitted.has(m.type === 'histogram' ? `${m.name}_bucket` : m.name))
            .map((m) => m.name)
            .join(', ')}`,
      )
      .join('\n');
    console.log(
      `${withData.length} panels return data from the examples; ${without.length} need metrics no example emits yet:\n${report}`,
    );
    // Only panels of features the basic examples do not use (or of a container limit) may lack data.
    for (const p of without) {
      expect(
        p.needs.some(
          (m) =>
            ['database', 'messaging', 'health', 'resilience', 'http_client', 'internal'].includes(m.group) ||
            m === catalog.processMemoryLimitBytes,
        ),
        `${p.dashboard}: ${p.title}`,
      ).toBe(true);
    }
    expect(withData.length).toBeGreaterThan(30);
  });
});
