// Grafana dashboard types from @grafana/schema, as JSON: string enums become their literal values
// (`ThresholdsMode.Absolute` -> `'absolute'`), so the builders write plain JSON and the compiler
// still checks every field, enum value and panel option against Grafana's own schema types. The
// test in test/dashboards checks the committed JSON files against the same types.

import type {
  AnnotationQuery,
  Dashboard,
  DashboardLink,
  DataSourceRef,
  FieldConfigSource,
  Panel,
  RowPanel,
  ThresholdsConfig,
  ValueMapping,
  VariableModel,
} from '@grafana/schema';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type {
  FieldConfig as StateTimelineFieldConfig,
  Options as StateTimelineOptions,
} from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type {
  FieldConfig as TableFieldConfig,
  Options as TableOptions,
} from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** A type as it appears in JSON: string enums as their literal values, recursively. */
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends readonly (infer U)[]
      ? Json<U>[]
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

/** A Prometheus query target (the Prometheus data source's query model; a type alias so it fits Panel's record type). */
export type PromTarget = {
  refId: string;
  datasource: DataSourceRef;
  expr: string;
  legendFormat: string;
  editorMode: 'code';
  range: boolean;
  instant: boolean;
  /** Minimum step, for stat panels whose query window is fixed. */
  interval?: string;
  /** Also fetch the exemplars (trace ids) of the histogram buckets the query reads. */
  exemplar?: boolean;
  /** `table`: one row per series with its labels as columns (table panels). */
  format?: 'table';
};

type Typed<TType extends string, TOptions, TField> = Omit<
  Panel,
  'type' | 'options' | 'fieldConfig' | 'targets'
> & {
  type: TType;
  options: TOptions & Record<string, unknown>;
  fieldConfig: FieldConfigSource<TField & Record<string, unknown>>;
  targets: PromTarget[];
};

export type TimeSeriesPanel = Typed<'timeseries', TimeSeriesOptions, TimeSeriesFieldConfig>;
export type StatPanel = Typed<'stat', StatOptions, Record<string, unknown>>;
export type StateTimelinePanel = Typed<'state-timeline', StateTimelineOptions, StateTimelineFieldConfig>;
export type TablePanel = Typed<'table', TableOptions, TableFieldConfig>;
export type AnyPanel = TimeSeriesPanel | StatPanel | StateTimelinePanel | TablePanel;
export type Row = Omit<RowPanel, 'panels'> & { panels: [] };

/** What `__inputs` / `__requires` add for Grafana's import screen. */
export interface ImportInput {
  name: string;
  label: string;
  description: string;
  type: 'datasource';
  pluginId: 'prometheus';
  pluginName: 'Prometheus';
}
export interface ImportRequire {
  type: 'grafana' | 'datasource' | 'panel';
  id: string;
  name: string;
  version: string;
}

/** The query of a Prometheus annotation (Grafana moves a legacy top-level `expr`/`step` here). */
export type PromAnnotationTarget = {
  refId: string;
  expr: string;
  range: boolean;
  instant: boolean;
  /** Minimum step of the query. */
  interval?: string;
};

/**
 * A Prometheus annotation: every series of the query is an event while its value is non-zero
 * (consecutive steps merge into one region); title, text and tags from its labels.
 */
export type PromAnnotation = Omit<AnnotationQuery, 'target'> & {
  target: PromAnnotationTarget;
  titleFormat: string;
  textFormat: string;
  /** Comma-separated label names whose values become the event's tags. */
  tagKeys: string;
  useValueForTime: boolean;
};

export type VigilDashboard = Omit<Dashboard, 'panels' | 'templating' | 'links' | 'annotations'> & {
  panels: (AnyPanel | Row)[];
  templating: { list: VariableModel[] };
  links: DashboardLink[];
  annotations: { list: (AnnotationQuery | PromAnnotation)[] };
};

/** The file as committed: a dashboard plus the import-screen envelope. */
export type DashboardFile = { __inputs: ImportInput[]; __requires: ImportRequire[] } & VigilDashboard;

// Compile-time proof that a VigilDashboard is a Grafana Dashboard.
export const isDashboard = (d: VigilDashboard): Dashboard => d;

export type JsonDashboardFile = Json<DashboardFile>;
export type JsonPanel = Json<AnyPanel>;
export type JsonRow = Json<Row>;
export type JsonThresholds = Json<ThresholdsConfig>;
export type JsonMapping = Json<ValueMapping>;
export type JsonVariable = Json<VariableModel>;
export type JsonAnnotation = Json<PromAnnotation>;
export type JsonLink = Json<DashboardLink>;
export type JsonDataSourceRef = Json<DataSourceRef>;
