// Thresholds, selectors and SLO method constants shared by Vigil's generated dashboards and alert
// rules (`@vigil/mixin`). Dashboards draw their threshold lines from the same
// values the alerts fire on, so the two cannot disagree.
//
// The SLO *targets* (objectives, latency threshold, window) are a deployment decision with no
// default here: they live in the mixin config (`alert-rules/slo.config.json` in the Vigil
// repository), which may also override any value below.

/** Severities used by Vigil's alert rules, most urgent first. */
export const ALERT_SEVERITIES = Object.freeze(['critical', 'warning', 'info'] as const);
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Name of the label that tells burn-rate tiers apart, so Alertmanager can inhibit `ticket` by `page`. */
export const BURN_RATE_TIER_LABEL = 'burn_rate_tier';

export interface BurnRateTier {
  /** Value of the `burn_rate_tier` label: `page` wakes someone up, `ticket` can wait for office hours. */
  readonly tier: 'page' | 'ticket';
  readonly severity: AlertSeverity;
  /** Window the burn rate is averaged over (a Prometheus duration). */
  readonly longWindow: string;
  /** Confirmation window (1/12 of the long one): the alert stops soon after the burn stops. */
  readonly shortWindow: string;
  /** Share of the whole error budget this tier tolerates spending within `longWindow`. */
  readonly budgetConsumed: number;
}

/**
 * Multi-window, multi-burn-rate tiers of the Google SRE workbook (chapter "Alerting on SLOs").
 * The burn-rate factor of a tier is `budgetConsumed * sloWindow / longWindow`: for a 30-day SLO
 * that is 14.4 (2 % in 1 h), 6 (5 % in 6 h), 3 (10 % in 1 d) and 1 (10 % in 3 d).
 */
export const BURN_RATE_TIERS: readonly BurnRateTier[] = Object.freeze([
  Object.freeze({
    tier: 'page',
    severity: 'critical',
    longWindow: '1h',
    shortWindow: '5m',
    budgetConsumed: 0.02,
  }),
  Object.freeze({
    tier: 'page',
    severity: 'critical',
    longWindow: '6h',
    shortWindow: '30m',
    budgetConsumed: 0.05,
  }),
  Object.freeze({
    tier: 'ticket',
    severity: 'warning',
    longWindow: '1d',
    shortWindow: '2h',
    budgetConsumed: 0.1,
  }),
  Object.freeze({
    tier: 'ticket',
    severity: 'warning',
    longWindow: '3d',
    shortWindow: '6h',
    budgetConsumed: 0.1,
  }),
] as const);

/** Settings of the alert and dashboard generators besides the SLO targets (see `ALERT_DEFAULTS`). */
export interface AlertDefaults {
  readonly selector: string;
  readonly serviceLabels: readonly string[];
  readonly instanceLabel: string;
  readonly longWindowInterval: string;
  readonly runbookBaseUrl: string;
  readonly grafanaBaseUrl: string;
  readonly traceUrl: string;
  readonly http: {
    readonly errorRatio: number;
    readonly errorRatioFor: string;
    readonly p99LatencySeconds: number;
    readonly p99LatencyFor: string;
    readonly minRequestRate: number;
  };
  readonly database: {
    readonly p99LatencySeconds: number;
    readonly p99LatencyFor: string;
    readonly errorRatio: number;
    readonly errorRatioFor: string;
    readonly minQueryRate: number;
    readonly poolWaitingFor: string;
  };
  readonly messaging: {
    readonly errorRatio: number;
    readonly errorRatioFor: string;
    readonly minProcessRate: number;
    readonly queueBacklog: number;
    readonly queueBacklogFor: string;
  };
  readonly runtime: {
    readonly eventLoopLagSeconds: number;
    readonly eventLoopLagFor: string;
    readonly eventLoopUtilization: number;
    readonly eventLoopUtilizationFor: string;
    readonly heapUsedRatio: number;
    readonly memoryUsedRatio: number;
    readonly gcTimeRatio: number;
    readonly heapFor: string;
    readonly restarts: number;
    readonly restartsWindow: string;
  };
  readonly targets: {
    readonly downFor: string;
    readonly serviceDownFor: string;
    readonly absentWindow: string;
    readonly overflowWindow: string;
    readonly spansDroppedFor: string;
    readonly logLinesDroppedFor: string;
  };
  readonly resilience: {
    readonly breakerOpenWindow: string;
    readonly breakerOpenRatio: number;
    readonly loadSheddingFor: string;
  };
  readonly health: {
    readonly readinessFailingFor: string;
    readonly readinessFlaps: number;
    readonly readinessFlapWindow: string;
  };
}

/**
 * Defaults for everything the alert and dashboard generators read besides the SLO targets. The
 * generation config overrides any key (objects merge key by key). Durations are Prometheus
 * durations (`5m`, `1h`).
 */
export const ALERT_DEFAULTS: AlertDefaults = Object.freeze({
  /**
   * Extra PromQL matchers added to every selector of Vigil's metrics, for example
   * `job=~"api|worker"`. Empty: every Vigil target (rules on `up`, `http_*`, `nodejs_*` and
   * `process_*` only match targets that also expose `vigil_metrics_series_overflow_total`).
   * Required in a @vigil/mixin config (`""` included), so that choosing every target is a decision.
   */
  selector: '',
  /** Labels that identify one service: alerts and SLIs aggregate to these (and keep `instanceLabel` where it matters). */
  serviceLabels: Object.freeze(['job', 'service']),
  /**
   * Label that tells the processes of one service apart (per-instance panels, the `$instance`
   * variable, per-instance alerts), e.g. `pod` where relabelling sets it. Not one of `serviceLabels`.
   */
  instanceLabel: 'instance',
  /**
   * Evaluation interval of the rule group of SLO windows of a day or more (1d, 3d, the SLO window):
   * each evaluation reads days of samples, and a minute's delay does not matter to them.
   */
  longWindowInterval: '1m',
  /** Where runbooks live; each alert's `runbook_url` is `<runbookBaseUrl>/<AlertName>.md`. */
  runbookBaseUrl: 'https://github.com/vigil-observability/vigil/blob/main/docs/runbooks',
  /**
   * The Grafana that serves the dashboards; each alert's `dashboard_url` opens the panel that
   * explains it there (`<grafanaBaseUrl>/d/<uid>?viewPanel=...`, its service filled in).
   */
  grafanaBaseUrl: 'http://localhost:3000',
  /**
   * Default of the dashboards' `trace_url` variable: a trace id appended to it opens the trace
   * (Jaeger: `<ui>/trace/`; Tempo through Grafana: an Explore URL ending in the id's place).
   */
  traceUrl: 'http://localhost:16686/trace/',
  http: Object.freeze({
    /** Share of 5xx responses per service above which `HttpServerErrorRatioHigh` fires. */
    errorRatio: 0.05,
    /** How long the 5xx ratio must stay above `errorRatio` (Prometheus `for`). */
    errorRatioFor: '5m',
    /** p99 request duration (seconds) per service above which `HttpLatencyP99High` fires. */
    p99LatencySeconds: 1,
    /** How long the p99 must stay above `p99LatencySeconds`. */
    p99LatencyFor: '10m',
    /** Requests per second a service needs before ratio and latency alerts may fire (a few requests are noise). */
    minRequestRate: 0.1,
  }),
  database: Object.freeze({
    /** p99 query duration (seconds) per operation and table above which `DatabaseQueriesSlow` fires. */
    p99LatencySeconds: 0.5,
    /** How long the p99 must stay above `p99LatencySeconds`. */
    p99LatencyFor: '10m',
    /** Share of failed queries per operation and table above which `DatabaseErrorRatioHigh` fires. */
    errorRatio: 0.05,
    /** How long the failure ratio must stay above `errorRatio`. */
    errorRatioFor: '10m',
    /** Queries per second an operation and table need before these alerts may fire. */
    minQueryRate: 0.1,
    /** How long requests must keep waiting for a pool connection before `DatabasePoolExhausted` fires. */
    poolWaitingFor: '5m',
  }),
  messaging: Object.freeze({
    /** Share of a queue's messages whose processing fails (`outcome="error"`) above which `MessageProcessingFailing` fires. */
    errorRatio: 0.05,
    /** How long the failure ratio must stay above `errorRatio`. */
    errorRatioFor: '10m',
    /** Messages per second a queue's consumers need before `MessageProcessingFailing` may fire. */
    minProcessRate: 0.05,
    /** Messages ready in a watched queue (`messaging_queue_messages`) above which `MessageQueueBacklog` fires. */
    queueBacklog: 1000,
    /** How long the backlog must stay above `queueBacklog`. */
    queueBacklogFor: '15m',
  }),
  runtime: Object.freeze({
    /** p99 event-loop delay (seconds, prom-client's per-scrape sample) above which `NodejsEventLoopLagHigh` fires. */
    eventLoopLagSeconds: 0.2,
    /** How long the delay must stay above `eventLoopLagSeconds`. */
    eventLoopLagFor: '10m',
    /** Event-loop utilization (0..1, averaged over 5 minutes) above which `NodejsEventLoopUtilizationHigh` fires. */
    eventLoopUtilization: 0.9,
    /** How long utilization must stay above `eventLoopUtilization`. */
    eventLoopUtilizationFor: '10m',
    /** Heap used / V8's heap limit (`nodejs_heap_size_limit_bytes`) above which `NodejsHeapNearLimit` fires. */
    heapUsedRatio: 0.9,
    /** Resident memory / the container's memory limit above which `NodejsMemoryNearLimit` fires. */
    memoryUsedRatio: 0.9,
    /** Share of wall time in garbage collection drawn as the dashed line of the runtime dashboard's GC panel. */
    gcTimeRatio: 0.1,
    /** How long the heap or memory ratio must stay above its threshold. */
    heapFor: '10m',
    /** Process restarts within `restartsWindow` at which `NodejsRestartingFrequently` fires. */
    restarts: 3,
    /** Window in which restarts are counted. */
    restartsWindow: '1h',
  }),
  targets: Object.freeze({
    /** How long a Vigil scrape target must be down before `ServiceTargetDown` fires. */
    downFor: '5m',
    /** How long every target of a service must be down (`ServiceDown`), or gone from discovery (`ServiceAbsent`), before the page. */
    serviceDownFor: '2m',
    /** How long a service whose targets all left discovery keeps `ServiceAbsent` firing (silence it when retiring a service). */
    absentWindow: '1d',
    /** Window in which any observation going to an overflow label set fires `VigilMetricsSeriesOverflow`. */
    overflowWindow: '15m',
    /** How long spans must keep being dropped (for one reason) before `VigilTracingSpansDropped` fires. */
    spansDroppedFor: '15m',
    /** How long log lines must keep being dropped (for one reason) before `VigilLogLinesDropped` fires. */
    logLinesDroppedFor: '10m',
  }),
  resilience: Object.freeze({
    /** Window over which `CircuitBreakerOpen` measures the share of time a breaker is open or half-open. */
    breakerOpenWindow: '10m',
    /** Share of `breakerOpenWindow` away from closed at which `CircuitBreakerOpen` fires (stuck open, or cycling). */
    breakerOpenRatio: 0.5,
    /** How long a process must keep shedding requests (answering 503 from its load shedder) before `LoadSheddingSustained` fires. */
    loadSheddingFor: '5m',
  }),
  health: Object.freeze({
    /** How long readiness must fail before `ReadinessFailing` fires. */
    readinessFailingFor: '5m',
    /** Readiness changes between fail (503) and pass or warn (200) within `readinessFlapWindow` at which `ReadinessFlapping` fires. */
    readinessFlaps: 6,
    /** Window in which readiness changes are counted. */
    readinessFlapWindow: '30m',
  }),
});

/** SLO targets: required in the generation config (no defaults). */
export interface SloTargets {
  /** SLO period the error budget refers to, e.g. `30d` or `28d`. */
  readonly window: string;
  /** Share of requests that must not fail with 5xx (0 < objective < 1), e.g. 0.999. */
  readonly availability: { readonly objective: number };
  /**
   * Share of non-5xx requests that must complete within `thresholdSeconds`. The threshold must be a
   * bucket boundary of `http_request_duration_seconds`: a histogram cannot count requests below a
   * value between boundaries, and interpolating would make the SLI lie.
   */
  readonly latency: { readonly objective: number; readonly thresholdSeconds: number };
  /**
   * Share of the error budget each burn-rate tier tolerates spending within its long window, keyed
   * by that window (`"1h"`, `"6h"`, `"1d"`, `"3d"`). Optional: defaults to the tiers'
   * `budgetConsumed`. The factor `share × window / long window` must be at least 1, so SLO windows
   * shorter than 30 days need larger shares for the ticket tiers.
   */
  readonly budgetShare?: Readonly<Record<string, number>>;
}
