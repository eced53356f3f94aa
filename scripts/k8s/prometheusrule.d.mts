/** Path of the generated PrometheusRule, relative to the repository root. */
export declare const PROMETHEUS_RULE_FILE: string;
/** The PrometheusRule document wrapping the groups of `alert-rules/*.yaml` under `root`. */
export declare function renderPrometheusRule(root: string): string;
/** Writes the file, or with `check` reports it when stale; returns the number of stale files. */
export declare function syncPrometheusRule(options: { root: string; check: boolean }): number;
