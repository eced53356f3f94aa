// Small dashboard builders: variables, rows, and three panel kinds (time series, stat, state
// timeline), laid out left to right on Grafana's 24-column grid. Every panel must be given a unit,
// a description and thresholds; ids and refIds are assigned here.

import type {
  JsonAnnotation,
  JsonDashboardFile,
  JsonDataSourceRef,
  JsonMapping,
  JsonPanel,
  JsonRow,
  JsonThresholds,
  JsonVariable,
  PromTarget,
} from './grafana.js';

/** Grafana's dashboard schema version these files are written for (@grafana/schema's default). */
export const SCHEMA_VERSION = 42;
/**
 * The first Grafana release that writes each dashboard schema version, for `__requires`: an older
 * Grafana does not know the newer schema's migrations. 42 (hideFrom.tooltip, grafana/grafana#110517)
 * shipped in 12.2. A schema version missing here fails generation, so a @grafana/schema upgrade
 * cannot leave `__requires` wrong.
 */
export const GRAFANA_FOR_SCHEMA: Readonly<Record<number, string>> = Object.freeze({ 42: '12.2.0' });

export function requiredGrafana(schemaVersion: number): string {
  const v = GRAFANA_FOR_SCHEMA[schemaVersion];
  if (v === undefined)
    throw new Error(`no minimum Grafana version known for dashboard schemaVersion ${schemaVersion}`);
  return v;
}

/** Version of the panel plugins the options were typed against (@grafana/schema's pluginVersion). */
export const PLUGIN_VERSION = '13.2.2';

export const DS_INPUT = 'DS_PROMETHEUS';
/** Every panel and query uses the `datasource` template variable (Grafana syntax, not a JS template). */
export const DATASOURCE: JsonDataSourceRef = { type: 'prometheus', uid: `${'$'}{datasource}` };
export const TAG = 'vigil';

export const COLORS = { ok: 'green', warn: 'orange', bad: 'red', info: 'blue', neutral: 'text' } as const;

/** A query whose result is a histogram quantile: its exemplars are the observations behind it. */
export function isQuantile(expr: string): boolean {
  return /^\s*histogram_quantile\(/.test(expr);
}

/** Thresholds with a base colour and steps `[value, colour]`, ascending. */
export function thresholds(base: string, ...steps: [number, string][]): JsonThresholds {
  return {
    mode: 'absolute',
    steps: [{ color: base, value: null }, ...steps.map(([value, color]) => ({ color, value }))],
  };
}

/** No meaningful alert level (rates, counts): one neutral step, so the panel still states its thresholds. */
export const NEUTRAL = thresholds(COLORS.ok);

export interface QuerySpec {
  expr: string;
  legend?: string;
}

interface PanelBase {
  title: string;
  description: string;
  unit: string;
  thresholds: JsonThresholds;
  queries: QuerySpec[];
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  decimals?: number;
  mappings?: JsonMapping[];
}

export interface TimeSeriesSpec extends PanelBase {
  stack?: boolean;
  /** Draw thresholds as dashed lines (for alert levels). */
  showThresholds?: boolean;
  /** Legend as a table with these calcs (e.g. mean, max, lastNotNull). */
  legendCalcs?: string[];
  fill?: number;
  stepped?: boolean;
}

export type StatSpec = PanelBase;

/** A table: one instant query per column, merged into one row per service (label columns first). */
export interface TableSpec extends Omit<PanelBase, 'queries' | 'unit' | 'thresholds'> {
  /** Label columns shown first, in order. */
  labels: string[];
  /** Label columns hidden. */
  hide: string[];
  columns: {
    title: string;
    expr: string;
    unit: string;
    decimals?: number;
    thresholds: JsonThresholds;
  }[];
  /** Unit of the table as a whole (columns override it). */
  unit: string;
  thresholds: JsonThresholds;
}

export interface StateTimelineSpec extends PanelBase {
  mappings: JsonMapping[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** `label_values(...)` query. */
  query: string;
  description: string;
}

/** The dashboard variable holding the trace UI URL a trace id is appended to (exemplar links). */
export const TRACE_URL_VAR = 'trace_url';

/**
 * The exemplar's trace id field (Vigil's exemplars carry `trace_id` and `span_id`) links to the
 * trace. Grafana also links it through the data source's exemplar settings, where configured.
 */
export const TRACE_LINK = Object.freeze({
  field: 'trace_id',
  title: 'Open trace',
  url: `\${${TRACE_URL_VAR}}\${__value.raw}`,
});

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  /** Prometheus annotations, after Grafana's built-in one. */
  annotations?: AnnotationSpec[];
  /** Default of the `trace_url` variable (added when a panel shows exemplars). */
  traceUrl?: string;
  /** Start of the default time range (Grafana relative time); `now-1h` when absent. */
  from?: string;
  /** Data source selected by default (name or uid); empty: the one chosen on import. */
  datasource?: string;
  /** Tags besides `vigil`. */
  tags?: readonly string[];
}

/** A Prometheus annotation: an event while the query's value is non-zero, per series. */
export interface AnnotationSpec {
  name: string;
  expr: string;
  /** Grafana colour name. */
  color: string;
  /** Legend-style templates: `{{breaker}} opened`. */
  title: string;
  text: string;
  /** Labels whose values become the event's tags. */
  tags: readonly string[];
}

export function annotation(a: AnnotationSpec): JsonAnnotation {
  return {
    name: a.name,
    datasource: DATASOURCE,
    enable: true,
    hide: false,
    iconColor: a.color,
    target: { refId: 'Anno', expr: a.expr, range: true, instant: false },
    titleFormat: a.title,
    textFormat: a.text,
    tagKeys: a.tags.join(','),
    useValueForTime: false,
  };
}

/** Builds one dashboard. Panels are placed in reading order; a row always starts a new line. */
export class DashboardBuilder {
  private readonly panels: (JsonPanel | JsonRow)[] = [];
  private nextId = 1;
  private x = 0;
  private y = 0;
  private lineHeight = 0;
  private readonly types = new Set<string>();
  private exemplars = false;

  constructor(private readonly spec: DashboardSpec) {}

  row(title: string): this {
    this.newLine();
    this.panels.push({
      type: 'row',
      id: this.nextId++,
      title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y: this.y },
      panels: [],
    });
    this.y += 1;
    return this;
  }

  private newLine(): void {
    if (this.x > 0) {
      this.y += this.lineHeight;
      this.x = 0;
      this.lineHeight = 0;
    }
  }

  private place(w: number, h: number) {
    if (this.x + w > 24) this.newLine();
    const pos = { h, w, x: this.x, y: this.y };
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
    if (this.x >= 24) this.newLine();
    return pos;
  }

  private targets(queries: QuerySpec[], instant = false, exemplars = false): PromTarget[] {
    if (!queries.length) throw new Error('a panel needs at least one query');
    return queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend ?? '__auto',
      editorMode: 'code',
      range: !instant,
      instant,
      ...(exemplars && isQuantile(q.expr) ? { exemplar: true } : {}),
    }));
  }

  private check(p: PanelBase): void {
    if (!p.title || !p.description || !p.unit)
      throw new Error(`panel "${p.title}" needs a title, a description and a unit`);
  }

  private defaults(p: PanelBase) {
    return {
      unit: p.unit,
      thresholds: p.thresholds,
      color: { mode: 'thresholds' as const },
      ...(p.min !== undefined ? { min: p.min } : {}),
      ...(p.max !== undefined ? { max: p.max } : {}),
      ...(p.decimals !== undefined ? { decimals: p.decimals } : {}),
      ...(p.mappings ? { mappings: p.mappings } : { mappings: [] }),
    };
  }

  timeseries(p: TimeSeriesSpec): this {
    this.check(p);
    this.types.add('timeseries');
    const d = this.defaults(p);
    // Latency over time: the exemplars of the buckets, each a link to its trace.
    const exemplars = p.queries.some((q) => isQuantile(q.expr));
    if (exemplars) this.exemplars = true;
    this.panels.push({
      type: 'timeseries',
      id: this.nextId++,
      title: p.title,
      description: p.description,
      datasource: DATASOURCE,
      pluginVersion: PLUGIN_VERSION,
      gridPos: this.place(p.w ?? 12, p.h ?? 8),
      fieldConfig: {
        defaults: {
          ...d,
          color: { mode: 'palette-classic' },
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: p.fill ?? (p.stack ? 25 : 10),
            gradientMode: 'none',
            showPoints: 'never',
            spanNulls: false,
            lineInterpolation: p.stepped ? 'stepAfter' : 'linear',
            stacking: { mode: p.stack ? 'normal' : 'none', group: 'A' },
            axisPlacement: 'auto',
            axisSoftMin: 0,
            scaleDistribution: { type: 'linear' },
            thresholdsStyle: { mode: p.showThresholds ? 'dashed' : 'off' },
          },
        },
        overrides: exemplars
          ? [
              {
                matcher: { id: 'byName', options: TRACE_LINK.field },
                properties: [
                  {
                    id: 'links',
                    value: [{ title: TRACE_LINK.title, url: TRACE_LINK.url, targetBlank: true }],
                  },
                ],
              },
            ]
          : [],
      },
      options: {
        legend: {
          showLegend: true,
          displayMode: p.legendCalcs ? 'table' : 'list',
          placement: 'bottom',
          calcs: p.legendCalcs ?? [],
        },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
      targets: this.targets(p.queries, false, exemplars),
    });
    return this;
  }

  table(p: TableSpec): this {
    this.check({ ...p, queries: [] });
    this.types.add('table');
    const refs = p.columns.map((_, i) => String.fromCharCode(65 + i));
    const targets = this.targets(
      p.columns.map((c) => ({ expr: c.expr })),
      true,
    ).map((t) => ({ ...t, format: 'table' as const }));
    const renameByName: Record<string, string> = {};
    const indexByName: Record<string, number> = {};
    p.labels.forEach((l, i) => {
      indexByName[l] = i;
    });
    p.columns.forEach((c, i) => {
      renameByName[`Value #${refs[i]}`] = c.title;
      indexByName[`Value #${refs[i]}`] = p.labels.length + i;
    });
    this.panels.push({
      type: 'table',
      id: this.nextId++,
      title: p.title,
      description: p.description,
      datasource: DATASOURCE,
      pluginVersion: PLUGIN_VERSION,
      gridPos: this.place(p.w ?? 24, p.h ?? 8),
      fieldConfig: {
        defaults: {
          unit: p.unit,
          thresholds: p.thresholds,
          color: { mode: 'thresholds' },
          mappings: [],
          custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false },
        },
        overrides: p.columns.map((c) => ({
          matcher: { id: 'byName', options: c.title },
          properties: [
            { id: 'unit', value: c.unit },
            { id: 'thresholds', value: c.thresholds },
            { id: 'custom.cellOptions', value: { type: 'color-text' } },
            ...(c.decimals !== undefined ? [{ id: 'decimals', value: c.decimals }] : []),
          ],
        })),
      },
      options: {
        showHeader: true,
        cellHeight: 'sm',
        frameIndex: 0,
        footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      },
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: Object.fromEntries(['Time', ...p.hide].map((l) => [l, true])),
            indexByName,
            renameByName,
            includeByName: {},
          },
        },
      ],
      targets,
    });
    return this;
  }

  stat(p: StatSpec): this {
    this.check(p);
    this.types.add('stat');
    this.panels.push({
      type: 'stat',
      id: this.nextId++,
      title: p.title,
      description: p.description,
      datasource: DATASOURCE,
      pluginVersion: PLUGIN_VERSION,
      gridPos: this.place(p.w ?? 4, p.h ?? 4),
      fieldConfig: { defaults: this.defaults(p), overrides: [] },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        orientation: 'auto',
        textMode: 'auto',
        colorMode: 'value',
        graphMode: 'area',
        justifyMode: 'auto',
        wideLayout: true,
        showPercentChange: false,
        percentChangeColorMode: 'standard',
      },
      targets: this.targets(p.queries),
    });
    return this;
  }

  stateTimeline(p: StateTimelineSpec): this {
    this.check(p);
    this.types.add('state-timeline');
    this.panels.push({
      type: 'state-timeline',
      id: this.nextId++,
      title: p.title,
      description: p.description,
      datasource: DATASOURCE,
      pluginVersion: PLUGIN_VERSION,
      gridPos: this.place(p.w ?? 12, p.h ?? 8),
      fieldConfig: {
        defaults: { ...this.defaults(p), custom: { fillOpacity: 80, lineWidth: 0 } },
        overrides: [],
      },
      options: {
        showValue: 'auto',
        rowHeight: 0.9,
        mergeValues: true,
        alignValue: 'left',
        legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
        tooltip: { mode: 'single', sort: 'none' },
      },
      targets: this.targets(p.queries),
    });
    return this;
  }

  build(): JsonDashboardFile {
    const s = this.spec;
    const variables: JsonVariable[] = [
      {
        type: 'datasource',
        name: 'datasource',
        label: 'Data source',
        description:
          'Prometheus that scrapes the services (import: chosen on the import screen; provisioning: the default one).',
        query: 'prometheus',
        current: s.datasource
          ? { selected: true, text: s.datasource, value: s.datasource }
          : { selected: true, text: `\${${DS_INPUT}}`, value: `\${${DS_INPUT}}` },
        hide: 0,
        includeAll: false,
        multi: false,
        options: [],
        refresh: 1,
        regex: '',
        skipUrlSync: false,
      },
      ...s.variables.map(
        (v): JsonVariable => ({
          type: 'query',
          name: v.name,
          label: v.label,
          description: v.description,
          datasource: DATASOURCE,
          query: v.query,
          current: { selected: true, text: ['All'], value: ['$__all'] },
          includeAll: true,
          allValue: '.*',
          multi: true,
          options: [],
          refresh: 2,
          regex: '',
          sort: 1,
          hide: 0,
          skipUrlSync: false,
        }),
      ),
    ];
    if (this.exemplars) {
      const url = s.traceUrl ?? '';
      if (!url) throw new Error(`dashboard ${s.uid} shows exemplars: give it a traceUrl`);
      variables.push({
        type: 'textbox',
        name: TRACE_URL_VAR,
        label: 'Trace UI',
        description:
          'URL a trace id is appended to, for the exemplar links of the latency panels (Jaeger: http://<jaeger>/trace/).',
        query: url,
        current: { selected: false, text: url, value: url },
        options: [{ selected: true, text: url, value: url }],
        hide: 0,
        skipUrlSync: false,
      });
    }
    const panelTypes = [...this.types].sort();
    return {
      __inputs: [
        {
          name: DS_INPUT,
          label: 'Prometheus',
          description: 'The Prometheus data source that scrapes the Vigil services.',
          type: 'datasource',
          pluginId: 'prometheus',
          pluginName: 'Prometheus',
        },
      ],
      __requires: [
        { type: 'grafana', id: 'grafana', name: 'Grafana', version: requiredGrafana(SCHEMA_VERSION) },
        { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
        ...panelTypes.map((t) => ({ type: 'panel' as const, id: t, name: t, version: '' })),
      ],
      uid: s.uid,
      title: s.title,
      description: s.description,
      tags: [TAG, ...(s.tags ?? []).filter((t) => t !== TAG)],
      timezone: 'browser',
      editable: true,
      graphTooltip: 1,
      fiscalYearStartMonth: 0,
      liveNow: false,
      refresh: '30s',
      schemaVersion: SCHEMA_VERSION,
      version: 1,
      time: { from: s.from ?? 'now-1h', to: 'now' },
      timepicker: {},
      annotations: {
        list: [
          {
            builtIn: 1,
            datasource: { type: 'grafana', uid: '-- Grafana --' },
            enable: true,
            hide: true,
            iconColor: 'rgba(0, 211, 255, 1)',
            name: 'Annotations & Alerts',
            type: 'dashboard',
          },
          ...(s.annotations ?? []).map(annotation),
        ],
      },
      links: [
        {
          title: 'Vigil dashboards',
          type: 'dashboards',
          tags: [TAG],
          asDropdown: true,
          includeVars: true,
          keepTime: true,
          icon: 'external link',
          targetBlank: false,
          tooltip: 'Other Vigil dashboards, with the same variables and time range',
        },
      ],
      templating: { list: variables },
      panels: this.panels,
    };
  }
}
