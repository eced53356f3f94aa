import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as G from '../../scripts/viewer/public/grafana.js';

// The dashboard viewer's reading of Grafana's JSON: what Grafana would query and show.

const ROOT = join(import.meta.dirname, '..', '..');
type Json = Record<string, any>;
const dashboards: [string, Json][] = readdirSync(join(ROOT, 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(ROOT, 'dashboards', f), 'utf8'))]);
const allPanels = (d: Json): Json[] =>
  (d.panels ?? []).flatMap((p: Json) => (p.type === 'row' ? (p.panels ?? []) : [p]));

type VarState = { values: string[]; all: boolean; options: { text: string; value: string }[] };
const vars = (entries: [Json, VarState][]) =>
  new Map(entries.map(([def, state]) => [def.name, { def, state }]));
const multi = { name: 'service', multi: true, includeAll: true, allValue: '.*' };

describe('durations, time ranges and intervals', () => {
  it('parses and formats durations', () => {
    expect(G.parseDuration('5m')).toBe(300_000);
    expect(G.parseDuration('1m30s')).toBe(90_000);
    expect(G.parseDuration('250ms')).toBe(250);
    expect(G.parseDuration('30')).toBe(30_000);
    expect(G.parseDuration('soon')).toBeUndefined();
    expect(G.formatDuration(60_000)).toBe('1m');
    expect(G.formatDuration(90_000)).toBe('90s');
    expect(G.formatDuration(1500)).toBe('1500ms');
  });

  it('resolves relative, rounded and absolute times', () => {
    const now = new Date(2026, 0, 15, 10, 30, 45).getTime();
    expect(G.parseTime('now', now)).toBe(now);
    expect(G.parseTime('now-15m', now)).toBe(now - 15 * 60_000);
    expect(G.parseTime('now/d', now)).toBe(new Date(2026, 0, 15).getTime());
    expect(G.parseTime('now/d', now, true)).toBe(new Date(2026, 0, 16).getTime() - 1);
    expect(G.parseTime('now-1d/d', now)).toBe(new Date(2026, 0, 14).getTime());
    expect(G.parseTime('1700000000000', now)).toBe(1_700_000_000_000);
    expect(G.parseTime('now-x', now)).toBeUndefined();
    expect(() => G.resolveRange({ from: 'now', to: 'now-1h' }, now)).toThrow(/not before/);
    expect(G.describeRange({ from: 'now-15m', to: 'now' })).toBe('Last 15 minutes');
  });

  it('derives $__interval, $__rate_interval and the step as Grafana does', () => {
    const hour = { from: 0, to: 3_600_000 };
    // 1 h over 1000 px: 3.6 s rounds to 5 s, but never below the scrape interval.
    expect(G.intervals({ ...hour, maxDataPoints: 1000, scrapeIntervalMs: 15_000 })).toEqual({
      intervalMs: 15_000,
      rateIntervalMs: 60_000, // max(15 s + 15 s, 4 × 15 s)
      stepMs: 15_000,
      rangeMs: 3_600_000,
    });
    const iv = G.intervals({ ...hour, maxDataPoints: 1000, scrapeIntervalMs: 1000 });
    expect(iv.intervalMs).toBe(5000);
    expect(iv.rateIntervalMs).toBe(6000); // max(5 s + 1 s, 4 s)
    // A panel's min interval wins over a finer computed one.
    expect(
      G.intervals({ ...hour, maxDataPoints: 1000, scrapeIntervalMs: 1000, minIntervalMs: 60_000 }).intervalMs,
    ).toBe(60_000);
    // Never more than 11,000 points per series (Prometheus' limit).
    const month = G.intervals({ from: 0, to: 30 * 86_400_000, maxDataPoints: 100_000, scrapeIntervalMs: 1 });
    expect((30 * 86_400_000) / month.stepMs).toBeLessThanOrEqual(11_000);
    const b = G.builtinsFor(hour, iv);
    expect(b).toMatchObject({ __interval: '5s', __rate_interval: '6s', __range: '3600s', __range_s: '3600' });
  });
});

describe('template variables', () => {
  it('parses the Prometheus data source variable queries, and every one in dashboards/', () => {
    expect(G.parseVariableQuery('label_values(http_requests_total{job=~"$job"}, service)')).toEqual({
      kind: 'label_values',
      selector: 'http_requests_total{job=~"$job"}',
      label: 'service',
    });
    expect(G.parseVariableQuery('label_values(job)')).toEqual({
      kind: 'label_values',
      selector: '',
      label: 'job',
    });
    expect(G.parseVariableQuery('query_result(topk(3, up))')).toEqual({
      kind: 'query_result',
      expr: 'topk(3, up)',
    });
    expect(G.parseVariableQuery('metrics(^http_)')).toEqual({ kind: 'metrics', regex: '^http_' });
    expect(G.parseVariableQuery('label_names()')).toEqual({ kind: 'label_names', selector: '' });
    expect(G.parseVariableQuery('SELECT 1').kind).toBe('unsupported');
    for (const [file, d] of dashboards) {
      for (const v of d.templating?.list ?? []) {
        if (v.type !== 'query') continue;
        expect(G.parseVariableQuery(G.variableQuery(v)).kind, `${file}: $${v.name}`).not.toBe('unsupported');
      }
    }
  });

  it('turns a variable query into the Prometheus API call Grafana makes', () => {
    const range = { from: 1_700_000_000_000, to: 1_700_000_900_000 };
    expect(G.variableCall(G.parseVariableQuery('label_values(up{job="a"}, instance)'), range)).toEqual({
      path: '/api/v1/label/instance/values',
      params: { 'match[]': 'up{job="a"}', start: '1700000000', end: '1700000900' },
    });
    const q = G.variableCall(G.parseVariableQuery('query_result(up)'), range);
    expect(q).toMatchObject({ path: '/api/v1/query', extract: true });
    expect(G.seriesText({ metric: { __name__: 'up', job: 'a' }, value: [1_700_000_000, '1'] })).toBe(
      'up{job="a"} 1 1700000000000',
    );
  });

  it('applies the regex and sort of a variable', () => {
    expect(G.applyVariableRegex(['a-1', 'b-2', 'c'], '/(\\w)-\\d/')).toEqual([
      { text: 'a', value: 'a' },
      { text: 'b', value: 'b' },
    ]);
    expect(G.applyVariableRegex(['x=1'], '/(?<text>\\w)=(?<value>\\d)/')).toEqual([
      { text: 'x', value: '1' },
    ]);
    const opts = ['b10', 'a2', 'C1'].map((t) => ({ text: t, value: t }));
    expect(G.sortOptions(opts, 1).map((o) => o.text)).toEqual(['C1', 'a2', 'b10']);
    expect(G.sortOptions(opts, 3).map((o) => o.text)).toEqual(['C1', 'a2', 'b10']);
    expect(G.sortOptions(opts, 4).map((o) => o.text)).toEqual(['b10', 'a2', 'C1']);
    expect(G.sortOptions(opts, 5).map((o) => o.text)).toEqual(['a2', 'b10', 'C1']);
    expect(G.customOptions('a, b\\,c, label : v')).toEqual([
      { text: 'a', value: 'a' },
      { text: 'b,c', value: 'b,c' },
      { text: 'label', value: 'v' },
    ]);
  });

  it("interpolates like Grafana's Prometheus data source: All, multi-values, escaping, formats", () => {
    const opts = ['users-service', 'catalog.service'].map((v) => ({ text: v, value: v }));
    const all = vars([[multi, { values: [], all: true, options: opts }]]);
    expect(G.interpolate('x{service=~"$service"}', all)).toBe('x{service=~".*"}');
    // Without an allValue, All is every option, regex-escaped for a PromQL string.
    const noAllValue = vars([
      [
        { ...multi, allValue: null },
        { values: [], all: true, options: opts },
      ],
    ]);
    expect(G.interpolate('$service', noAllValue)).toBe('(users-service|catalog\\\\.service)');
    const one = vars([[multi, { values: ['127.0.0.1:3001'], all: false, options: opts }]]);
    expect(G.interpolate('up{instance=~"$service"}', one)).toBe('up{instance=~"127\\\\.0\\\\.0\\\\.1:3001"}');
    const two = vars([[multi, { values: ['a', 'b'], all: false, options: opts }]]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a template
    expect(G.interpolate('${service}|[[service]]|${service:pipe}|${service:csv}|${service:text}', two)).toBe(
      '(a|b)|(a|b)|a|b|a,b|a + b',
    );
    // A single-valued variable is not a regex: only quotes and backslashes are escaped.
    const single = vars([[{ name: 'le' }, { values: ['0.5'], all: false, options: [] }]]);
    expect(G.interpolate('le="$le"', single)).toBe('le="0.5"');
    // Unknown names are left as written; built-ins match whole names only.
    const b = { __rate_interval: '20s', __rate_interval_ms: '20000', __interval: '5s' };
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a template
      G.interpolate('rate(x[$__rate_interval]) $__rate_interval_ms ${__interval} $nope', new Map(), b),
    ).toBe('rate(x[20s]) 20000 5s $nope');
  });

  it('leaves no variable unresolved in any panel query of dashboards/', () => {
    for (const [file, d] of dashboards) {
      const defs = (d.templating?.list ?? []) as Json[];
      const v = vars(
        defs.map((def) => [
          def,
          { values: ['x'], all: Boolean(def.includeAll), options: [{ text: 'x', value: 'x' }] },
        ]),
      );
      const b = G.builtinsFor(
        { from: 0, to: 3_600_000 },
        G.intervals({ from: 0, to: 3_600_000, maxDataPoints: 800, scrapeIntervalMs: 5000 }),
      );
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? []) {
          const out = G.interpolate(t.expr, v, b);
          expect(out, `${file}: ${p.title}`).not.toMatch(/\$\w|\$\{|\[\[/);
        }
      }
    }
  });
});

describe('values', () => {
  it('formats the Grafana units the dashboards use', () => {
    const shown = (v: number | null, unit?: string, dec?: number) => G.display(v, unit, dec);
    expect(shown(0.0245, 's')).toBe('24.5 ms');
    expect(shown(0.000512, 's')).toBe('512 µs');
    expect(shown(2.5, 's')).toBe('2.5 s');
    expect(shown(90, 's')).toBe('1.5 min');
    expect(shown(0.1127, 'percentunit')).toBe('11.3%');
    expect(shown(0.005234, 'percentunit')).toBe('0.523%');
    expect(shown(41.42, 'reqps')).toBe('41.4 req/s');
    expect(shown(0.0667, 'ops')).toBe('0.0667 ops/s');
    expect(shown(1536, 'bytes')).toBe('1.5 KiB');
    expect(shown(52_428_800, 'bytes')).toBe('50 MiB');
    expect(shown(1500, 'decbytes')).toBe('1.5 kB');
    expect(shown(1500, 'short')).toBe('1.5 K');
    expect(shown(3, 'short')).toBe('3');
    expect(shown(2, 'none')).toBe('2');
    expect(shown(0.5, 'percentunit', 2)).toBe('50.00%');
    expect(shown(3, 'widgets')).toBe('3 widgets');
    expect(shown(3, 'suffix: rps')).toBe('3 rps');
    expect(shown(3700, 'dtdurations')).toBe('1h 1m');
    expect(shown(null, 's')).toBe('No data');
    expect(shown(Number.POSITIVE_INFINITY, 's')).toBe('+Inf');
  });

  it('colours by thresholds (absolute and percentage) and maps values', () => {
    const t = {
      mode: 'absolute',
      steps: [
        { color: 'green', value: null },
        { color: 'orange', value: 1 },
        { color: 'red', value: 5 },
      ],
    };
    expect(G.thresholdColor(0.5, t)).toBe('#73BF69');
    expect(G.thresholdColor(1, t)).toBe('#FF9830');
    expect(G.thresholdColor(7, t)).toBe('#F2495C');
    const pct = {
      mode: 'percentage',
      steps: [
        { color: 'green', value: null },
        { color: 'red', value: 80 },
      ],
    };
    expect(G.thresholdColor(0.85, pct, 0, 1)).toBe('#F2495C');
    expect(G.thresholdColor(0.5, pct, 0, 1)).toBe('#73BF69');
    const mappings = [
      { type: 'value', options: { '2': { text: 'open', color: 'red' } } },
      { type: 'range', options: { from: 10, to: 20, result: { text: 'teens' } } },
      { type: 'special', options: { match: 'null', result: { text: 'gone' } } },
    ];
    expect(G.mapValue(2, mappings)).toEqual({ text: 'open', color: 'red' });
    expect(G.mapValue(15, mappings)).toEqual({ text: 'teens' });
    expect(G.mapValue(null, mappings)).toEqual({ text: 'gone' });
    expect(G.mapValue(3, mappings)).toBeUndefined();
  });

  it('reduces series with the calculations stat panels use', () => {
    const v = [1, null, 4, 2, null];
    expect(G.reduce(v, 'lastNotNull')).toBe(2);
    expect(G.reduce(v, 'last')).toBeNull();
    expect(G.reduce(v, 'max')).toBe(4);
    expect(G.reduce(v, 'mean')).toBeCloseTo(7 / 3);
    expect(G.reduce(v, 'sum')).toBe(7);
    expect(G.reduce(v, 'diff')).toBe(1);
    expect(G.reduce([], 'lastNotNull')).toBeNull();
  });

  it('applies field overrides over the defaults', () => {
    const panel = {
      fieldConfig: {
        defaults: { unit: 's', custom: { lineWidth: 1 } },
        overrides: [
          {
            matcher: { id: 'byName', options: 'p99' },
            properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
          },
          {
            matcher: { id: 'byRegexp', options: '^err' },
            properties: [
              { id: 'unit', value: 'percentunit' },
              { id: 'custom.lineWidth', value: 3 },
            ],
          },
          {
            matcher: { id: 'byFrameRefID', options: 'B' },
            properties: [{ id: 'displayName', value: 'second' }],
          },
        ],
      },
    };
    expect(G.fieldConfig(panel, { name: 'p99', type: 'number' })).toMatchObject({
      unit: 's',
      color: { fixedColor: 'red' },
    });
    expect(G.fieldConfig(panel, { name: 'errors', type: 'number' })).toMatchObject({
      unit: 'percentunit',
      custom: { lineWidth: 3 },
    });
    expect(G.fieldConfig(panel, { name: 'x', refId: 'B', type: 'number' }).displayName).toBe('second');
    expect(panel.fieldConfig.defaults.custom.lineWidth).toBe(1); // not mutated
    // Without thresholds: Grafana's defaults for a new panel.
    expect(G.fieldConfig({}, { name: 'x', type: 'number' }).thresholds).toEqual({
      mode: 'absolute',
      steps: [
        { color: 'green', value: null },
        { color: 'red', value: 80 },
      ],
    });
  });

  it('names series from legendFormat, __auto or the labels', () => {
    const m = { __name__: 'up', job: 'a', instance: 'i:1' };
    expect(G.legendName('{{job}} {{ instance }}', m)).toBe('a i:1');
    expect(G.legendName('{{missing}}x', m)).toBe('x');
    expect(G.legendName('', m)).toBe('up{job="a", instance="i:1"}');
    expect(G.legendName('__auto', { job: 'a' })).toBe('a');
    expect(G.legendName('', {}, 'sum(up)')).toBe('sum(up)');
  });
});

describe('tables, layout, annotations', () => {
  it('builds a table from instant queries with merge and organize', () => {
    const a = {
      refId: 'A',
      samples: [
        { metric: { service: 's1' }, value: [1, '0.999'] },
        { metric: { service: 's2' }, value: [1, '0.99'] },
      ],
    };
    const b = { refId: 'B', samples: [{ metric: { service: 's1' }, value: [1, '0.5'] }] };
    const t = G.toTable(
      [a, b],
      [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true },
            indexByName: { service: 0, 'Value #B': 1, 'Value #A': 2 },
            renameByName: { 'Value #A': 'SLI', 'Value #B': 'Budget left' },
          },
        },
      ],
    );
    expect(t.columns).toEqual(['service', 'Budget left', 'SLI']);
    expect(t.rows).toEqual([
      { service: 's1', 'Budget left': 0.5, SLI: 0.999 },
      { service: 's2', 'Budget left': undefined, SLI: 0.99 },
    ]);
    expect(G.toTable([a]).columns).toEqual(['Time', 'service', 'Value']);
    // Grafana 10's includeByName keeps only the named columns.
    const only = G.toTable(
      [a],
      [{ id: 'organize', options: { includeByName: { service: true, Time: false } } }],
    );
    expect(only.columns).toEqual(['service']);
  });

  it('groups panels under rows, collapsed rows included', () => {
    const d = {
      panels: [
        { type: 'stat', gridPos: { x: 0, y: 0, w: 6, h: 4 } },
        { type: 'row', title: 'A', collapsed: false, gridPos: { y: 4 } },
        { type: 'timeseries', gridPos: { x: 0, y: 5, w: 12, h: 8 } },
        {
          type: 'row',
          title: 'B',
          collapsed: true,
          gridPos: { y: 13 },
          panels: [{ type: 'table', gridPos: { x: 0, y: 14, w: 24, h: 8 } }],
        },
      ],
    };
    expect(G.sections(d).map((s) => [s.row?.title, s.panels.map((p) => p.type)])).toEqual([
      [undefined, ['stat']],
      ['A', ['timeseries']],
      ['B', ['table']],
    ]);
  });

  it('repeats a panel per variable value', () => {
    const p = { type: 'stat', repeat: 'service', gridPos: { x: 0, y: 2, w: 8, h: 4 } };
    expect(G.repeatPanel(p, ['a', 'b', 'c']).map((r) => [r.scope?.value, r.panel.gridPos])).toEqual([
      ['a', { x: 0, y: 2, w: 8, h: 4 }],
      ['b', { x: 8, y: 2, w: 8, h: 4 }],
      ['c', { x: 16, y: 2, w: 8, h: 4 }],
    ]);
    expect(G.repeatPanel({ ...p, repeat: undefined }, [])).toEqual([
      { panel: { ...p, repeat: undefined }, scope: undefined },
    ]);
  });

  it("moves panels down that repeats would overlap, as Grafana's grid does", () => {
    const table = { panel: { title: 'table', gridPos: { x: 0, y: 4, w: 12, h: 6 } }, scope: undefined };
    const stat = { type: 'stat', repeat: 'job', gridPos: { x: 12, y: 4, w: 6, h: 6 } };
    const items = [table, ...G.repeatPanel(stat, ['a', 'b', 'c'])];
    // 24 / 3 wide each from x = 0: the copies land on the table, which moves below them.
    expect(items.map((i) => i.panel.gridPos)).toContainEqual({ x: 0, y: 4, w: 8, h: 6 });
    const out = G.resolveOverlaps(items);
    expect(out.map((i) => [i.scope?.value ?? i.panel.title, i.panel.gridPos])).toEqual([
      ['table', { x: 0, y: 10, w: 12, h: 6 }],
      ['a', { x: 0, y: 4, w: 8, h: 6 }],
      ['b', { x: 8, y: 4, w: 8, h: 6 }],
      ['c', { x: 16, y: 4, w: 8, h: 6 }],
    ]);
    expect(items[0]?.panel.gridPos?.y).toBe(4); // inputs untouched
  });

  it('turns an annotation query into regions', () => {
    const series = [
      {
        metric: { breaker: 'catalog' },
        values: [
          [10, '0'],
          [15, '1'],
          [20, '1'],
          [25, '0'],
          [40, '1'],
        ] as [number, string][],
      },
    ];
    expect(
      G.annotationRegions(series, 5000, { name: 'Breaker opened', titleFormat: '{{breaker}} opened' }),
    ).toEqual([
      { start: 15_000, end: 20_000, title: 'catalog opened', text: '' },
      { start: 40_000, end: 40_000, title: 'catalog opened', text: '' },
    ]);
  });

  it('draws every panel type dashboards/ uses', () => {
    for (const [file, d] of dashboards)
      for (const p of allPanels(d))
        expect(G.PANEL_KINDS, `${file}: ${p.title} (${p.type})`).toHaveProperty([p.type]);
  });
});
