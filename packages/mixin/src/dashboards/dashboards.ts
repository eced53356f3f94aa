// The dashboards, generated from the metric catalog and the generation config: metric names,
// labels, label values and bucket boundaries come from @vigil/catalog, threshold lines from the same
// config values the alerts fire on, and SLO panels from the recording rules of ../alerts/slo.ts.

import type { MetricDefinition } from '@vigil/catalog';
import { burnRateFactor } from '../alerts/config.js';
import {
  DASHBOARDS,
  type DashboardKey,
  type GenContext,
  onVigil,
  pct,
  TARGET_RECORDS,
} from '../alerts/model.js';
import { by, leMatcher, num, quote, sel, select } from '../alerts/promql.js';
import { ruleFiles } from '../alerts/rules.js';
import {
  alertWindows,
  budgetOf,
  budgetSeries,
  objectiveOf,
  routeGroupSlo,
  SLO_NAMES,
  SLO_RECORDS,
  type SloName,
  sloRuleFile,
  sloSeries,
  tierThresholds,
} from '../alerts/slo.js';
import {
  type AnnotationSpec,
  COLORS,
  DashboardBuilder,
  NEUTRAL,
  thresholds,
  type VariableSpec,
} from './builder.js';
import type { JsonDashboardFile, JsonMapping } from './grafana.js';

const RATE = '$__rate_interval';
const V = {
  job: 'job=~"$job"',
  service: 'service=~"$service"',
  instance: 'instance=~"$instance"',
  route: 'route=~"$route"',
};

function extra(ctx: GenContext): string[] {
  return ctx.config.selector ? [ctx.config.selector] : [];
}

/** Matchers of a dashboard: the config's selector plus the dashboard's variables. */
function matchers(ctx: GenContext, vars: (keyof typeof V)[]): string[] {
  return [...extra(ctx), ...vars.map((v) => V[v])];
}

/** Anchor selector for `label_values`: any of these series (names from the catalog). */
function anchor(names: readonly string[], ms: readonly string[]): string {
  const all = names.length === 1 ? [] : [`__name__=~${quote(names.join('|'))}`];
  const head = names.length === 1 ? names[0]! : '';
  const inner = [...all, ...ms];
  return inner.length ? `${head}{${inner.join(', ')}}` : head;
}

function seriesOf(m: MetricDefinition): string {
  return m.type === 'histogram' ? `${m.name}_count` : m.name;
}

/** job / service / instance (/ route) variables, each filtered by the ones before it. */
function variables(
  ctx: GenContext,
  metrics: readonly MetricDefinition[] | readonly string[],
  withInstance = true,
  withRoute = false,
): VariableSpec[] {
  const names = metrics.map((m) => (typeof m === 'string' ? m : seriesOf(m)));
  const base = extra(ctx);
  const out: VariableSpec[] = [
    {
      name: 'job',
      label: 'Job',
      query: `label_values(${anchor(names, base)}, job)`,
      description: 'Prometheus job (scrape config) of the service.',
    },
    {
      name: 'service',
      label: 'Service',
      query: `label_values(${anchor(names, [...base, V.job])}, service)`,
      description:
        'The `service` label set with `defaultLabels: { service }` (All matches series without it too).',
    },
  ];
  if (withInstance) {
    out.push({
      name: 'instance',
      label: 'Instance',
      query: `label_values(${anchor(names, [...base, V.job, V.service])}, instance)`,
      description: 'Scrape target (one process).',
    });
  }
  if (withRoute) {
    out.push({
      name: 'route',
      label: 'Route',
      query: `label_values(${anchor(names, [...base, V.job, V.service, V.instance])}, route)`,
      description: `Route template (\`__unmatched__\` for requests no route matched).`,
    });
  }
  return out;
}

function rate(
  m: MetricDefinition,
  ms: readonly string[],
  suffix: '' | '_count' | '_sum' = '',
  window = RATE,
): string {
  return `rate(${sel(m, suffix, ms)}[${window}])`;
}

function p(q: number, m: MetricDefinition, ms: readonly string[], labels: readonly string[] = []): string {
  return `histogram_quantile(${q}, sum${by([...labels, 'le'])} (rate(${sel(m, '_bucket', ms)}[${RATE}])))`;
}

/** bad / total, where a missing numerator (no bad series at all) counts as 0 rather than no data. */
function ratioOrZero(bad: string, total: string): string {
  return `(${bad} or ${total} * 0)\n/\n${total}`;
}

function builder(
  ctx: GenContext,
  key: DashboardKey,
  description: string,
  vars: VariableSpec[],
  from?: string,
): DashboardBuilder {
  const d = DASHBOARDS[key];
  const { datasource, tags } = ctx.config.grafana;
  return new DashboardBuilder({
    uid: d.uid,
    title: d.title,
    description,
    variables: vars,
    datasource,
    tags,
    annotations: events(ctx, vars),
    traceUrl: ctx.config.traceUrl,
    ...(from ? { from } : {}),
  });
}

/**
 * Thresholds of an error ratio by the availability SLO's burn rate: green below the slowest
 * ticket tier, then yellow (ticket), orange (the slowest page tier), red (the fastest page tier).
 */
function burnThresholds(ctx: GenContext): { thresholds: ReturnType<typeof thresholds>; text: string } {
  const tiers = tierThresholds(ctx, 'availability');
  const of = (tier: string) => tiers.filter((t) => t.tier === tier);
  const steps: [number, string, string][] = [
    [Math.min(...of('ticket').map((t) => t.threshold)), 'yellow', 'ticket'],
    [Math.min(...of('page').map((t) => t.threshold)), COLORS.warn, 'slowest page'],
    [Math.max(...of('page').map((t) => t.threshold)), COLORS.bad, 'fastest page'],
  ];
  const budget = budgetOf(ctx, 'availability');
  const unique = steps.filter((x, i) => i === 0 || x[0] > steps[i - 1]![0]);
  // Grafana thresholds are constants: the shared objective's; per-service burn rates read the series.
  const own = Object.entries(ctx.config.services)
    .filter(([, o]) => o.availability.objective !== objectiveOf(ctx, 'availability'))
    .map(([n, o]) => `${n} ${pct(o.availability.objective)}`);
  const note = own.length
    ? ` (the shared objective; ${own.join(', ')} have their own, and the SLO dashboard's burn rates divide by each service's ${SLO_RECORDS.objective})`
    : '';
  return {
    thresholds: thresholds(
      COLORS.ok,
      ...unique.map(([v, color]): [number, string] => [Number(num(v)), color]),
    ),
    text: unique
      .map(
        ([v, color, what]) =>
          `${color} from ${pct(Number(num(v)))} (${num(v / budget)}× the budget, the ${what} burn rate)`,
      )
      .join(', ')
      .concat(note),
  };
}

/** How long a new version counts as just deployed (a version seen this long ago is not new). */
const DEPLOY_WINDOW = '5m';

/** Names of every generated alert (the firing-alerts annotation shows Vigil's alerts only). */
export function alertNames(ctx: GenContext): string[] {
  return [sloRuleFile(ctx), ...ruleFiles(ctx)].flatMap((f) =>
    f.groups.flatMap((g) => (g.alerts ?? []).map((a) => a.alert)),
  );
}

/**
 * Deploys, restarts, breaker opens and firing alerts on every dashboard, scoped by its variables:
 * deploys per service, the others per instance where the dashboard has one.
 */
function events(ctx: GenContext, vars: readonly VariableSpec[]): AnnotationSpec[] {
  const { catalog } = ctx;
  const has = (name: keyof typeof V) => vars.some((v) => v.name === name);
  const svc = [...extra(ctx), ...(['job', 'service'] as const).filter(has).map((v) => V[v])];
  const inst = has('instance') ? [...svc, V.instance] : svc;
  const build = sel(catalog.buildInfo, '', svc);
  const versions = 'count by (job, service, version, commit)';
  // Alerts aggregated above the instance carry none: an empty instance matches too.
  const alertScope = [
    ...(['job', 'service'] as const).filter(has).map((v) => V[v]),
    ...(has('instance') ? ['instance=~"$instance|"'] : []),
  ];
  return [
    {
      name: 'Deploys',
      color: 'blue',
      expr: `${versions} (${build})\nunless\n${versions} (${build} offset ${DEPLOY_WINDOW})`,
      title: 'Deploy {{version}}',
      text: '{{service}} ({{job}}) now runs {{version}}, commit {{commit}}',
      tags: ['job', 'service', 'version'],
    },
    {
      name: 'Restarts',
      color: 'orange',
      expr: `${onVigil(ctx, `changes(${sel(catalog.processStartTimeSeconds, '', inst)}[${RATE}])`)} > 0`,
      title: 'Restart',
      text: '{{instance}} ({{job}}) restarted',
      tags: ['job', 'service', 'instance'],
    },
    {
      name: 'Breaker opens',
      color: 'red',
      expr: `sum by (job, service, breaker, reason) (increase(${sel(catalog.circuitBreakerOpens, '', inst)}[${RATE}])) > 0`,
      title: 'Breaker {{breaker}} opened',
      text: '{{service}}: {{breaker}} opened ({{reason}})',
      tags: ['service', 'breaker', 'reason'],
    },
    {
      name: 'Firing alerts',
      color: 'purple',
      expr: select('ALERTS', [
        'alertstate="firing"',
        `alertname=~${quote(alertNames(ctx).join('|'))}`,
        ...alertScope,
      ]),
      title: '{{alertname}}',
      text: '{{severity}}: {{service}} {{instance}}',
      tags: ['alertname', 'severity', 'service'],
    },
  ];
}

// ---------------------------------------------------------------------------------------------

function serviceOverview(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const req = catalog.httpRequestsTotal;
  const dur = catalog.httpRequestDuration;
  const inflight = catalog.httpRequestsInFlight;
  const M = matchers(ctx, ['job', 'service', 'instance', 'route']);
  const MI = matchers(ctx, ['job', 'service', 'instance']);
  const err = ['status_code=~"5.."', ...M];
  const c = config.http;
  const sloT = config.slo.latency.thresholdSeconds;
  const latencyThresholds =
    sloT < c.p99LatencySeconds
      ? thresholds(COLORS.ok, [sloT, COLORS.warn], [c.p99LatencySeconds, COLORS.bad])
      : thresholds(COLORS.ok, [c.p99LatencySeconds, COLORS.bad]);
  const errThresholds = thresholds(COLORS.ok, [c.errorRatio / 2, COLORS.warn], [c.errorRatio, COLORS.bad]);
  const burn = burnThresholds(ctx);
  const b = builder(
    ctx,
    'overview',
    'RED metrics of Vigil services (Express and Fastify adapters): rate, errors, latency by route, saturation. Generated from @vigil/catalog.',
    variables(ctx, [req], true, true),
  );
  b.row('Overview')
    .stat({
      title: 'Request rate',
      description: `Requests served per second (${req.name}), all selected routes and instances.`,
      unit: 'reqps',
      thresholds: NEUTRAL,
      queries: [{ expr: `sum(${rate(req, M)})`, legend: 'requests/s' }],
    })
    .stat({
      title: 'Error ratio (5xx)',
      description: `Share of requests answered with a 5xx status, coloured by how fast it would burn the availability error budget (${pct(budgetOf(ctx, 'availability'))} of requests over ${config.slo.window}): ${burn.text}. 4xx and client aborts (499) are not errors of the service.`,
      unit: 'percentunit',
      decimals: 2,
      thresholds: burn.thresholds,
      queries: [{ expr: ratioOrZero(`sum(${rate(req, err)})`, `sum(${rate(req, M)})`), legend: '5xx ratio' }],
    })
    .stat({
      title: 'p99 latency',
      description: `99th percentile of ${dur.name}, interpolated within buckets. Orange from the latency SLO threshold (${sloT}s), red from the HttpLatencyP99High threshold (${c.p99LatencySeconds}s).`,
      unit: 's',
      thresholds: latencyThresholds,
      queries: [{ expr: p(0.99, dur, M), legend: 'p99' }],
    })
    .stat({
      title: 'In-flight requests',
      description: `Requests being served right now (${inflight.name}), summed over instances.`,
      unit: 'short',
      thresholds: NEUTRAL,
      queries: [{ expr: `sum(${sel(inflight, '', MI)})`, legend: 'in flight' }],
    })
    .stat({
      title: 'Targets up',
      description: `Vigil scrape targets Prometheus reaches (\`up\` of the targets of the selected services, from the recording rule ${TARGET_RECORDS.targetUp}). ServiceTargetDown fires when one stays down, ServiceDown when all do.`,
      unit: 'short',
      thresholds: thresholds(COLORS.bad, [1, COLORS.ok]),
      queries: [
        { expr: `sum(${select(TARGET_RECORDS.targetUp, [V.job, V.service, V.instance])})`, legend: 'up' },
      ],
    })
    .stat({
      title: 'Availability budget left',
      description: `Error budget of the availability SLO (${pct(config.slo.availability.objective)} over ${config.slo.window}) still unspent: 100 % untouched, 0 % spent, negative overspent. The part of the window without data yet counts as unspent (see the SLO dashboard's coverage). From the recording rule ${SLO_RECORDS.budgetRemaining}.`,
      unit: 'percentunit',
      decimals: 1,
      thresholds: thresholds(COLORS.bad, [0, COLORS.warn], [0.25, COLORS.ok]),
      queries: [
        {
          expr: `min(${sloSeries(SLO_RECORDS.budgetRemaining, 'availability', [...extra(ctx), V.job, V.service])})`,
          legend: 'budget left',
        },
      ],
    });

  b.row('Traffic')
    .timeseries({
      title: 'Request rate by route',
      description: `Requests per second by route template. \`${catalog.LABEL_VALUES.unmatchedRoute}\` collects requests no route matched; \`${catalog.LABEL_VALUES.overflowRoute}\` appears when the series cap is reached.`,
      unit: 'reqps',
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (route) (${rate(req, M)})`, legend: '{{route}}' }],
    })
    .timeseries({
      title: 'Responses by status code',
      description: `Responses per second by status code, stacked. \`${catalog.LABEL_VALUES.abortedStatus}\`: the client went away before the response was complete.`,
      unit: 'reqps',
      stack: true,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (status_code) (${rate(req, M)})`, legend: '{{status_code}}' }],
    });

  b.row('Errors')
    .timeseries({
      title: 'Error ratio by route (5xx)',
      description: `Share of 5xx responses per route (routes without any 5xx are not drawn). The dashed line is the HttpServerErrorRatioHigh threshold (${pct(c.errorRatio)}).`,
      unit: 'percentunit',
      showThresholds: true,
      thresholds: errThresholds,
      queries: [
        {
          expr: `sum by (route) (${rate(req, err)})\n/\nsum by (route) (${rate(req, M)})`,
          legend: '{{route}}',
        },
      ],
    })
    .timeseries({
      title: 'Client errors (4xx) and unmatched routes',
      description: `4xx responses per second by status, and requests that matched no route (\`route="${catalog.LABEL_VALUES.unmatchedRoute}"\`: scanners, stale links). Not counted against availability.`,
      unit: 'reqps',
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (status_code) (${rate(req, ['status_code=~"4.."', ...M])})`,
          legend: '{{status_code}}',
        },
        {
          expr: `sum(${rate(req, [`route=${quote(catalog.LABEL_VALUES.unmatchedRoute)}`, ...M])})`,
          legend: 'unmatched route',
        },
      ],
    });

  b.row('Latency')
    .timeseries({
      title: 'Latency p50 / p90 / p99',
      description: `Percentiles of ${dur.name} over all selected routes. Dashed: the latency SLO threshold (${sloT}s) and the HttpLatencyP99High threshold (${c.p99LatencySeconds}s). Exemplars link to the traces of slow requests.`,
      unit: 's',
      w: 8,
      showThresholds: true,
      thresholds: latencyThresholds,
      queries: [
        { expr: p(0.5, dur, M), legend: 'p50' },
        { expr: p(0.9, dur, M), legend: 'p90' },
        { expr: p(0.99, dur, M), legend: 'p99' },
      ],
    })
    .timeseries({
      title: 'p99 latency by route',
      description:
        'p99 per route template: one slow route points at its dependency, all routes slow at the process.',
      unit: 's',
      w: 8,
      showThresholds: true,
      thresholds: latencyThresholds,
      queries: [{ expr: p(0.99, dur, M, ['route']), legend: '{{route}}' }],
    })
    .timeseries({
      title: `Requests faster than ${sloT}s`,
      description: `Share of non-5xx requests completing within the latency SLO threshold (${sloT}s, a bucket boundary); the objective is ${pct(config.slo.latency.objective)}.`,
      unit: 'percentunit',
      w: 8,
      max: 1,
      showThresholds: true,
      thresholds: thresholds(COLORS.bad, [config.slo.latency.objective, COLORS.ok]),
      queries: [
        {
          expr: `sum(rate(${sel(dur, '_bucket', [leMatcher(sloT), 'status_code!~"5.."', ...M])}[${RATE}]))\n/\nsum(${rate(dur, ['status_code!~"5.."', ...M], '_count')})`,
          legend: `≤ ${sloT}s`,
        },
      ],
    });

  const elu = catalog.eventLoopUtilization;
  b.row('Saturation')
    .timeseries({
      title: 'In-flight requests by instance',
      description: 'Concurrent requests per instance; steady growth with flat throughput means queueing.',
      unit: 'short',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (instance) (${sel(inflight, '', MI)})`, legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Event-loop utilization by instance',
      description: `Share of time the event loop was busy (${elu.name}). Near 100 % the instance is saturated; NodejsEventLoopUtilizationHigh fires above ${pct(config.runtime.eventLoopUtilization)}.`,
      unit: 'percentunit',
      w: 8,
      max: 1,
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [config.runtime.eventLoopUtilization, COLORS.bad]),
      queries: [{ expr: sel(elu, '', MI), legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Series cap overflow',
      description: `Observations per second recorded under an overflow label set because a metric reached maxSeries (${catalog.seriesOverflowTotal.name}). Anything above zero loses per-route detail.`,
      unit: 'ops',
      w: 8,
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [0.000001, COLORS.bad]),
      queries: [{ expr: `sum by (metric) (${rate(catalog.seriesOverflowTotal, MI)})`, legend: '{{metric}}' }],
    });
  return b.build();
}

function database(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const m = catalog.dbQueryDuration;
  const M = matchers(ctx, ['job', 'service', 'instance']);
  const err = [`outcome=${quote(catalog.LABEL_VALUES.error)}`, ...M];
  const c = config.database;
  const latency = thresholds(
    COLORS.ok,
    [c.p99LatencySeconds / 2, COLORS.warn],
    [c.p99LatencySeconds, COLORS.bad],
  );
  const errT = thresholds(COLORS.ok, [c.errorRatio / 2, COLORS.warn], [c.errorRatio, COLORS.bad]);
  const ot = ['system', 'operation', 'table'];
  const b = builder(
    ctx,
    'database',
    `Database queries timed by Vigil (${m.name}): rate, latency and errors by operation and table; connection pools; message publishing, processing and queue depth.`,
    variables(ctx, [
      m,
      catalog.dbPoolConnections,
      catalog.messagingProcessDuration,
      catalog.messagingPublished,
    ]),
  );
  b.row('Overview')
    .stat({
      title: 'Query rate',
      description: 'Queries per second, all operations and tables.',
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum(${rate(m, M, '_count')})`, legend: 'queries/s' }],
    })
    .stat({
      title: 'Query error ratio',
      description: `Share of queries with outcome="${catalog.LABEL_VALUES.error}". DatabaseErrorRatioHigh fires above ${pct(c.errorRatio)} for one operation and table.`,
      unit: 'percentunit',
      decimals: 2,
      w: 8,
      thresholds: errT,
      queries: [
        {
          expr: ratioOrZero(`sum(${rate(m, err, '_count')})`, `sum(${rate(m, M, '_count')})`),
          legend: 'errors',
        },
      ],
    })
    .stat({
      title: 'Query p99',
      description: `99th percentile of query duration (pool wait included). DatabaseQueriesSlow fires above ${c.p99LatencySeconds}s for one operation and table.`,
      unit: 's',
      w: 8,
      thresholds: latency,
      queries: [{ expr: p(0.99, m, M), legend: 'p99' }],
    });
  b.row('By operation and table')
    .timeseries({
      title: 'Query rate by operation and table',
      description: `Queries per second by SQL operation and table (\`${catalog.LABEL_VALUES.unknownSql}\` when the SQL could not be classified).`,
      unit: 'ops',
      thresholds: NEUTRAL,
      queries: [
        { expr: `sum${by(ot)} (${rate(m, M, '_count')})`, legend: '{{system}} {{operation}} {{table}}' },
      ],
    })
    .timeseries({
      title: 'p99 by operation and table',
      description: `99th percentile query duration by operation and table. Dashed: the DatabaseQueriesSlow threshold (${c.p99LatencySeconds}s).`,
      unit: 's',
      showThresholds: true,
      thresholds: latency,
      queries: [{ expr: p(0.99, m, M, ot), legend: '{{system}} {{operation}} {{table}}' }],
    })
    .timeseries({
      title: 'Error ratio by operation and table',
      description: `Share of failed queries by operation and table (only those with failures are drawn). Dashed: the DatabaseErrorRatioHigh threshold (${pct(c.errorRatio)}).`,
      unit: 'percentunit',
      showThresholds: true,
      thresholds: errT,
      queries: [
        {
          expr: `sum${by(ot)} (${rate(m, err, '_count')})\n/\nsum${by(ot)} (${rate(m, M, '_count')})`,
          legend: '{{system}} {{operation}} {{table}}',
        },
      ],
    })
    .timeseries({
      title: 'Query latency p50 / p90 / p99',
      description: 'Percentiles over every operation and table.',
      unit: 's',
      showThresholds: true,
      thresholds: latency,
      queries: [
        { expr: p(0.5, m, M), legend: 'p50' },
        { expr: p(0.9, m, M), legend: 'p90' },
        { expr: p(0.99, m, M), legend: 'p99' },
      ],
    })
    .timeseries({
      title: 'Queries by outcome',
      description: 'Queries per second by outcome, stacked.',
      unit: 'ops',
      stack: true,
      w: 24,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (outcome) (${rate(m, M, '_count')})`, legend: '{{outcome}}' }],
    });
  const conns = catalog.dbPoolConnections;
  const waiting = catalog.dbPoolWaiting;
  const pl = ['system', 'pool'];
  b.row('Connection pools')
    .timeseries({
      title: 'Pool connections by state',
      description: `Connections of each pool (${conns.name}): used and idle, stacked; the top is the pool's size. Used at the maximum with requests waiting: the pool is exhausted.`,
      unit: 'short',
      stack: true,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (system, pool, state) (${sel(conns, '', M)})`,
          legend: '{{system}} {{pool}} {{state}}',
        },
      ],
    })
    .timeseries({
      title: 'Requests waiting for a connection',
      description: `Callers queued for a free connection (${waiting.name}). DatabasePoolExhausted fires when it stays above 0 for ${c.poolWaitingFor}.`,
      unit: 'short',
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [0.5, COLORS.bad]),
      queries: [{ expr: `sum${by(pl)} (${sel(waiting, '', M)})`, legend: '{{system}} {{pool}}' }],
    });

  const proc = catalog.messagingProcessDuration;
  const pub = catalog.messagingPublished;
  const depth = catalog.messagingQueueMessages;
  const mc = config.messaging;
  const { error: failed } = catalog.MESSAGE_OUTCOMES;
  const procErr = [`outcome=${quote(failed)}`, ...M];
  const dl = ['system', 'destination'];
  const procErrT = thresholds(COLORS.ok, [mc.errorRatio / 2, COLORS.warn], [mc.errorRatio, COLORS.bad]);
  b.row('Messaging')
    .timeseries({
      title: 'Processed messages by queue and outcome',
      description: `Messages per second the consumers finished (${proc.name}), by queue and outcome: ack, nack (rejected by the handler), error (the handler failed or its channel closed).`,
      unit: 'ops',
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (system, destination, outcome) (${rate(proc, M, '_count')})`,
          legend: '{{destination}} {{outcome}}',
        },
      ],
    })
    .timeseries({
      title: 'Processing failure ratio by queue',
      description: `Share of a queue's messages whose processing failed (outcome="${failed}"; only queues with failures are drawn). Dashed: the MessageProcessingFailing threshold (${pct(mc.errorRatio)}).`,
      unit: 'percentunit',
      showThresholds: true,
      thresholds: procErrT,
      queries: [
        {
          expr: `sum${by(dl)} (${rate(proc, procErr, '_count')})\n/\nsum${by(dl)} (${rate(proc, M, '_count')})`,
          legend: '{{system}} {{destination}}',
        },
      ],
    })
    .timeseries({
      title: 'Processing p99 by queue',
      description:
        'Time from delivery to the acknowledgement (or rejection, or failure), 99th percentile by queue.',
      unit: 's',
      thresholds: NEUTRAL,
      queries: [{ expr: p(0.99, proc, M, dl), legend: '{{system}} {{destination}}' }],
    })
    .timeseries({
      title: 'Published messages by destination and outcome',
      description: `Messages per second published (${pub.name}) by exchange (or queue, for the default exchange) and outcome: ack/nack from the broker on confirm channels, sent without confirms, error when the publish failed.`,
      unit: 'ops',
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (system, destination, outcome) (${rate(pub, M)})`,
          legend: '{{destination}} {{outcome}}',
        },
      ],
    })
    .timeseries({
      title: 'Queue depth',
      description: `Messages ready in each watched queue, as the broker reports it (${depth.name}; max over replicas, which all see the same queue). MessageQueueBacklog fires above ${mc.queueBacklog} for ${mc.queueBacklogFor}.`,
      unit: 'short',
      w: 24,
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [mc.queueBacklog, COLORS.bad]),
      queries: [{ expr: `max${by(dl)} (${sel(depth, '', M)})`, legend: '{{system}} {{destination}}' }],
    });
  return b.build();
}

function resilience(ctx: GenContext): JsonDashboardFile {
  const { catalog } = ctx;
  const M = matchers(ctx, ['job', 'service', 'instance']);
  const state = catalog.circuitBreakerState;
  const events = catalog.circuitBreakerEvents;
  const calls = catalog.circuitBreakerCallDuration;
  const client = catalog.httpClientRequestDuration;
  const S = catalog.BREAKER_STATE_VALUES;
  if (!catalog.BREAKER_EVENTS.includes('reject')) throw new Error('BREAKER_EVENTS lacks "reject"');
  const stateMappings: JsonMapping[] = [
    {
      type: 'value',
      options: {
        [String(S.closed)]: { text: 'closed', color: COLORS.ok, index: 0 },
        [String(S.half_open)]: { text: 'half-open', color: COLORS.warn, index: 1 },
        [String(S.open)]: { text: 'open', color: COLORS.bad, index: 2 },
      },
    },
  ];
  const failedStatus = `status_code=~${quote(['5..', ...Object.values(catalog.HTTP_CLIENT_STATUS)].join('|'))}`;
  const b = builder(
    ctx,
    'resilience',
    'Circuit breakers, retries, bulkheads and outbound HTTP of @vigil/resilience.',
    variables(ctx, catalog.RESILIENCE_METRICS),
  );
  b.row('Overview')
    .stat({
      title: 'Open breakers',
      description: `Breakers currently open (state ${S.open}). CircuitBreakerOpen fires when one is away from closed ${pct(ctx.config.resilience.breakerOpenRatio)} of ${ctx.config.resilience.breakerOpenWindow}.`,
      unit: 'short',
      w: 6,
      thresholds: thresholds(COLORS.ok, [1, COLORS.bad]),
      queries: [{ expr: `sum(${sel(state, '', M)} == bool ${S.open})`, legend: 'open' }],
    })
    .stat({
      title: 'Rejected calls',
      description: 'Calls per second rejected by an open breaker (event="reject").',
      unit: 'ops',
      w: 6,
      thresholds: thresholds(COLORS.ok, [0.000001, COLORS.warn]),
      queries: [{ expr: `sum(${rate(events, ['event="reject"', ...M])})`, legend: 'rejected/s' }],
    })
    .stat({
      title: 'Retries',
      description: `Retry attempts per second (${catalog.retryAttempts.name}).`,
      unit: 'ops',
      w: 6,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum(${rate(catalog.retryAttempts, M)})`, legend: 'retries/s' }],
    })
    .stat({
      title: 'Outbound p99',
      description: `99th percentile of outbound HTTP request duration (${client.name}), every target.`,
      unit: 's',
      w: 6,
      thresholds: thresholds(COLORS.ok, [1, COLORS.warn], [5, COLORS.bad]),
      queries: [{ expr: p(0.99, client, M), legend: 'p99' }],
    });
  b.row('Circuit breakers')
    .stateTimeline({
      title: 'Breaker state',
      description: `State of each breaker over time (${state.name}; worst instance): closed, half-open or open. CircuitBreakerOpen fires when one is away from closed ${pct(ctx.config.resilience.breakerOpenRatio)} of ${ctx.config.resilience.breakerOpenWindow}.`,
      unit: 'none',
      w: 24,
      h: 6,
      thresholds: thresholds(COLORS.ok, [S.half_open, COLORS.warn], [S.open, COLORS.bad]),
      mappings: stateMappings,
      queries: [
        { expr: `max by (job, service, breaker) (${sel(state, '', M)})`, legend: '{{service}} {{breaker}}' },
      ],
    })
    .timeseries({
      title: 'Breaker events',
      description: `Events per second by breaker and event (${catalog.BREAKER_EVENTS.join(', ')}).`,
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, breaker, event) (${rate(events, M)})`,
          legend: '{{service}} {{breaker}} {{event}}',
        },
      ],
    })
    .timeseries({
      title: 'Rejected calls by breaker',
      description: 'Calls per second the breaker rejected without calling the dependency.',
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, breaker) (${rate(events, ['event="reject"', ...M])})`,
          legend: '{{service}} {{breaker}}',
        },
      ],
    })
    .timeseries({
      title: 'Guarded call p99 by breaker',
      description: `99th percentile duration of calls the breaker let through, by outcome (${catalog.BREAKER_OUTCOMES.join(', ')}).`,
      unit: 's',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: p(0.99, calls, M, ['job', 'service', 'breaker', 'outcome']),
          legend: '{{service}} {{breaker}} {{outcome}}',
        },
      ],
    })
    .timeseries({
      title: 'Breaker opens by reason',
      description: `Times each breaker opened per interval, by the trigger that opened it (${catalog.BREAKER_OPEN_REASONS.join(', ')}).`,
      unit: 'short',
      w: 12,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, breaker, reason) (increase(${sel(catalog.circuitBreakerOpens, '', M)}[${RATE}]))`,
          legend: '{{service}} {{breaker}} {{reason}}',
        },
      ],
    })
    .timeseries({
      title: 'Slow call share by breaker',
      description: `Share of the calls each breaker let through that took at least its slowCallDurationMs (${catalog.circuitBreakerSlowCalls.name}); the breaker opens when it stays above slowCallThresholdPercentage.`,
      unit: 'percentunit',
      w: 12,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: ratioOrZero(
            `sum by (job, service, breaker) (${rate(catalog.circuitBreakerSlowCalls, M)})`,
            `sum by (job, service, breaker) (${rate(calls, M, '_count')})`,
          ),
          legend: '{{service}} {{breaker}}',
        },
      ],
    });
  b.row('Load shedding')
    .timeseries({
      title: 'Shed requests by reason',
      description: `Requests per second answered 503 by the load shedder before any handler ran (${catalog.loadShedRequests.name}), by reason (${catalog.LOAD_SHED_REASONS.join(', ')}). LoadSheddingSustained fires after ${ctx.config.resilience.loadSheddingFor} of it.`,
      unit: 'reqps',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (reason) (${rate(catalog.loadShedRequests, M)})`, legend: '{{reason}}' }],
    })
    .timeseries({
      title: 'Concurrency limit and in flight',
      description: `The adaptive concurrency limit (${catalog.loadShedLimit.name}) of each instance against the requests it has admitted and not finished (${catalog.loadShedInFlight.name}).`,
      unit: 'short',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        { expr: `max by (instance) (${sel(catalog.loadShedLimit, '', M)})`, legend: '{{instance}} limit' },
        {
          expr: `max by (instance) (${sel(catalog.loadShedInFlight, '', M)})`,
          legend: '{{instance}} in flight',
        },
      ],
    })
    .timeseries({
      title: 'Share of requests shed',
      description: `Requests shed against requests shed plus requests served (${catalog.httpRequestsTotal.name}).`,
      unit: 'percentunit',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: ratioOrZero(
            `sum(${rate(catalog.loadShedRequests, M)})`,
            `(sum(${rate(catalog.loadShedRequests, M)}) + sum(${rate(catalog.httpRequestsTotal, M)}))`,
          ),
          legend: 'shed',
        },
      ],
    });
  b.row('Retries and bulkheads')
    .timeseries({
      title: 'Retries by policy',
      description: 'Retry attempts per second (attempts after the first one of a call).',
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, policy) (${rate(catalog.retryAttempts, M)})`,
          legend: '{{service}} {{policy}}',
        },
      ],
    })
    .timeseries({
      title: 'Retries given up',
      description:
        'Calls that failed after their last allowed attempt, and retries refused because the retry budget was spent.',
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, policy) (${rate(catalog.retryExhausted, M)})`,
          legend: '{{service}} {{policy}} exhausted',
        },
        {
          expr: `sum by (job, service, policy) (${rate(catalog.retryBudgetRejected, M)})`,
          legend: '{{service}} {{policy}} budget',
        },
      ],
    })
    .timeseries({
      title: 'Bulkhead rejections',
      description: 'Calls per second rejected because the bulkhead and its queue were full.',
      unit: 'ops',
      w: 8,
      thresholds: thresholds(COLORS.ok, [0.000001, COLORS.warn]),
      queries: [
        {
          expr: `sum by (job, service, policy) (${rate(catalog.bulkheadRejections, M)})`,
          legend: '{{service}} {{policy}}',
        },
      ],
    })
    .timeseries({
      title: 'Bulkhead active and queued calls',
      description: 'Calls running inside each bulkhead and calls waiting for a slot.',
      unit: 'short',
      w: 24,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, policy) (${sel(catalog.bulkheadActive, '', M)})`,
          legend: '{{service}} {{policy}} active',
        },
        {
          expr: `sum by (job, service, policy) (${sel(catalog.bulkheadQueued, '', M)})`,
          legend: '{{service}} {{policy}} queued',
        },
      ],
    });
  b.row('Outbound HTTP')
    .timeseries({
      title: 'Outbound latency p99 by target',
      description: `99th percentile of each outbound request attempt, by target (${client.name}).`,
      unit: 's',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: p(0.99, client, M, ['job', 'service', 'target']), legend: '{{service}} {{target}}' }],
    })
    .timeseries({
      title: 'Outbound requests by target and status',
      description: `Attempts per second by target and status code (${Object.values(catalog.HTTP_CLIENT_STATUS).join(', ')} when no HTTP status came back).`,
      unit: 'reqps',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `sum by (job, service, target, status_code) (${rate(client, M, '_count')})`,
          legend: '{{service}} {{target}} {{status_code}}',
        },
      ],
    })
    .timeseries({
      title: 'Outbound failure ratio by target',
      description:
        'Share of attempts that got a 5xx or no response at all (timeout, aborted, network error).',
      unit: 'percentunit',
      w: 8,
      thresholds: thresholds(COLORS.ok, [0.01, COLORS.warn], [0.05, COLORS.bad]),
      queries: [
        {
          expr: `sum by (job, service, target) (${rate(client, [failedStatus, ...M], '_count')})\n/\nsum by (job, service, target) (${rate(client, M, '_count')})`,
          legend: '{{service}} {{target}}',
        },
      ],
    });
  return b.build();
}

function runtime(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const M = matchers(ctx, ['job', 'service', 'instance']);
  const lag = thresholds(
    COLORS.ok,
    [c.eventLoopLagSeconds / 2, COLORS.warn],
    [c.eventLoopLagSeconds, COLORS.bad],
  );
  const eluT = thresholds(
    COLORS.ok,
    [c.eventLoopUtilization * 0.8, COLORS.warn],
    [c.eventLoopUtilization, COLORS.bad],
  );
  const gcT = thresholds(COLORS.ok, [c.gcTimeRatio / 2, COLORS.warn], [c.gcTimeRatio, COLORS.bad]);
  const start = catalog.processStartTimeSeconds;
  const gc = catalog.gcDuration;
  const b = builder(
    ctx,
    'runtime',
    "Node.js runtime of Vigil services: event loop, CPU, memory, GC, the tracing pipeline, handles, restarts (prom-client's default metrics plus Vigil's own).",
    variables(ctx, [start]),
  );
  b.row('Overview')
    .stat({
      title: 'Uptime (youngest instance)',
      description: `Time since the most recent process start (${start.name}).`,
      unit: 's',
      thresholds: thresholds(COLORS.warn, [600, COLORS.ok]),
      queries: [{ expr: `min(time() - ${sel(start, '', M)})`, legend: 'uptime' }],
    })
    .stat({
      title: `Restarts (${c.restartsWindow})`,
      description: `Process starts in the last ${c.restartsWindow}, all instances. NodejsRestartingFrequently fires at ${c.restarts} for one instance.`,
      unit: 'short',
      thresholds: thresholds(COLORS.ok, [1, COLORS.warn], [c.restarts, COLORS.bad]),
      queries: [{ expr: `sum(changes(${sel(start, '', M)}[${c.restartsWindow}]))`, legend: 'restarts' }],
    })
    .stat({
      title: 'Max event-loop utilization',
      description: 'Busiest instance, averaged over 5 minutes.',
      unit: 'percentunit',
      thresholds: eluT,
      queries: [
        { expr: `max(avg_over_time(${sel(catalog.eventLoopUtilization, '', M)}[5m]))`, legend: 'max' },
      ],
    })
    .stat({
      title: 'Max event-loop delay p99',
      description: `Worst instance's p99 event-loop delay (${catalog.eventLoopLagP99.name}).`,
      unit: 's',
      thresholds: lag,
      queries: [{ expr: `max(${sel(catalog.eventLoopLagP99, '', M)})`, legend: 'max' }],
    })
    .stat({
      title: 'Max heap used of limit',
      description: `Heap used / V8's heap limit (--max-old-space-size) on the fullest instance. NodejsHeapNearLimit fires above ${pct(c.heapUsedRatio)}.`,
      unit: 'percentunit',
      thresholds: thresholds(COLORS.ok, [c.heapUsedRatio * 0.8, COLORS.warn], [c.heapUsedRatio, COLORS.bad]),
      queries: [
        {
          expr: `max(${sel(catalog.heapSizeUsedBytes, '', M)} / ${sel(catalog.heapSizeLimitBytes, '', M)})`,
          legend: 'max',
        },
      ],
    })
    .stat({
      title: 'Node.js versions',
      description: `Instances per Node.js version (${catalog.nodejsVersionInfo.name}).`,
      unit: 'short',
      thresholds: NEUTRAL,
      queries: [
        { expr: `count by (version) (${sel(catalog.nodejsVersionInfo, '', M)})`, legend: '{{version}}' },
      ],
    });
  b.row('Event loop and CPU')
    .timeseries({
      title: 'Event-loop delay p99',
      description: `p99 event-loop delay per instance since the previous scrape. Dashed: NodejsEventLoopLagHigh (${c.eventLoopLagSeconds}s).`,
      unit: 's',
      w: 8,
      showThresholds: true,
      thresholds: lag,
      queries: [{ expr: sel(catalog.eventLoopLagP99, '', M), legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Event-loop utilization',
      description: `Busy share of the event loop per instance. Dashed: NodejsEventLoopUtilizationHigh (${pct(c.eventLoopUtilization)}).`,
      unit: 'percentunit',
      w: 8,
      max: 1,
      showThresholds: true,
      thresholds: eluT,
      queries: [{ expr: sel(catalog.eventLoopUtilization, '', M), legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'CPU',
      description: 'CPU time per second of wall time per instance (1 = one core busy).',
      unit: 'percentunit',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: rate(catalog.processCpuSecondsTotal, M), legend: '{{instance}}' }],
    });
  b.row('Memory and GC')
    .timeseries({
      title: 'Heap used, committed and limit',
      description:
        "V8 heap used, committed (V8 grows it on demand) and V8's heap limit per instance: the process crashes with 'JavaScript heap out of memory' when used reaches the limit.",
      unit: 'bytes',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        { expr: sel(catalog.heapSizeUsedBytes, '', M), legend: '{{instance}} used' },
        { expr: sel(catalog.heapSizeTotalBytes, '', M), legend: '{{instance}} committed' },
        { expr: sel(catalog.heapSizeLimitBytes, '', M), legend: '{{instance}} limit' },
      ],
    })
    .timeseries({
      title: 'Resident memory',
      description: 'Resident set size per instance (heap, code, buffers, native memory).',
      unit: 'bytes',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: sel(catalog.processResidentMemoryBytes, '', M), legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Resident memory of container limit',
      description: `Resident memory / the container's memory limit per instance (${catalog.processMemoryLimitBytes.name}: only processes with a cgroup memory limit have one). The kernel kills the process at 100 %; NodejsMemoryNearLimit fires above ${pct(c.memoryUsedRatio)} (dashed).`,
      unit: 'percentunit',
      w: 8,
      max: 1,
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [c.memoryUsedRatio, COLORS.bad]),
      queries: [
        {
          expr: `${sel(catalog.processResidentMemoryBytes, '', M)} / ${sel(catalog.processMemoryLimitBytes, '', M)}`,
          legend: '{{instance}}',
        },
      ],
    })
    .timeseries({
      title: 'Heap available by space',
      description: 'Bytes still available in each V8 heap space, summed over instances.',
      unit: 'bytes',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        { expr: `sum by (space) (${sel(catalog.heapSpaceSizeAvailableBytes, '', M)})`, legend: '{{space}}' },
      ],
    })
    .timeseries({
      title: 'Time in GC by kind',
      description: `Share of wall time spent in garbage collection, by kind. Dashed: ${pct(c.gcTimeRatio)}, GC this busy usually means a heap near its limit.`,
      unit: 'percentunit',
      w: 8,
      stack: true,
      showThresholds: true,
      thresholds: gcT,
      queries: [{ expr: `sum by (kind) (${rate(gc, M, '_sum')})`, legend: '{{kind}}' }],
    })
    .timeseries({
      title: 'GC runs by kind',
      description: 'Garbage collections per second by kind.',
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (kind) (${rate(gc, M, '_count')})`, legend: '{{kind}}' }],
    })
    .timeseries({
      title: 'GC pause p99 by kind',
      description: 'p99 duration of one garbage collection, by kind.',
      unit: 's',
      w: 8,
      thresholds: thresholds(COLORS.ok, [0.1, COLORS.warn], [1, COLORS.bad]),
      queries: [{ expr: p(0.99, gc, M, ['kind']), legend: '{{kind}}' }],
    });
  b.row('Tracing pipeline')
    .timeseries({
      title: 'Spans exported',
      description: `Sampled spans per second the collector accepted (${catalog.tracingSpansExported.name}); none when tracing is not started.`,
      unit: 'ops',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        { expr: `sum by (instance) (${rate(catalog.tracingSpansExported, M)})`, legend: '{{instance}}' },
      ],
    })
    .timeseries({
      title: 'Spans dropped by reason',
      description: `Sampled spans per second never exported, by reason (${Object.values(catalog.SPAN_DROP_REASONS).join(', ')}). VigilTracingSpansDropped fires when drops last ${config.targets.spansDroppedFor}.`,
      unit: 'ops',
      w: 8,
      showThresholds: true,
      thresholds: thresholds(COLORS.ok, [0.000001, COLORS.bad]),
      queries: [{ expr: `sum by (reason) (${rate(catalog.tracingSpansDropped, M)})`, legend: '{{reason}}' }],
    })
    .timeseries({
      title: 'Span export queue',
      description: `Ended spans waiting for export per instance (${catalog.tracingQueueSize.name}); a queue stuck at its maximum drops spans.`,
      unit: 'short',
      w: 8,
      thresholds: NEUTRAL,
      queries: [
        { expr: `sum by (instance) (${sel(catalog.tracingQueueSize, '', M)})`, legend: '{{instance}}' },
      ],
    });
  b.row('Logging').timeseries({
    title: 'Log lines dropped by reason',
    description: `Log lines per second the logger dropped instead of growing memory or blocking requests, by reason (${Object.values(catalog.LOG_DROP_REASONS).join(', ')}). VigilLogLinesDropped fires when drops last ${config.targets.logLinesDroppedFor}.`,
    unit: 'ops',
    w: 24,
    showThresholds: true,
    thresholds: thresholds(COLORS.ok, [0.000001, COLORS.bad]),
    queries: [{ expr: `sum by (reason) (${rate(catalog.logLinesDropped, M)})`, legend: '{{reason}}' }],
  });
  b.row('Process')
    .timeseries({
      title: 'Active handles',
      description: 'libuv handles (sockets, timers, servers) per instance; steady growth is a leak.',
      unit: 'short',
      thresholds: NEUTRAL,
      queries: [{ expr: sel(catalog.activeHandles, '', M), legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Uptime by instance',
      description: `Time since each process started; drops are restarts (NodejsRestartingFrequently fires at ${c.restarts} in ${c.restartsWindow} for one instance).`,
      unit: 's',
      thresholds: NEUTRAL,
      queries: [{ expr: `time() - ${sel(start, '', M)}`, legend: '{{instance}}' }],
    })
    .timeseries({
      title: 'Instances by build',
      description: `Instances running each version and commit (${catalog.buildInfo.name}); a rollout moves instances from one build to the next (the Deploys annotation marks it).`,
      unit: 'short',
      w: 24,
      stack: true,
      stepped: true,
      thresholds: NEUTRAL,
      queries: [
        {
          expr: `count by (version, commit) (${sel(catalog.buildInfo, '', M)})`,
          legend: '{{version}} ({{commit}})',
        },
      ],
    });
  return b.build();
}

function health(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const M = matchers(ctx, ['job', 'service', 'instance']);
  const H = catalog.HEALTH_STATUS_VALUES;
  const mappings: JsonMapping[] = [
    {
      type: 'value',
      options: {
        [String(H.pass)]: { text: 'pass', color: COLORS.ok, index: 0 },
        [String(H.warn)]: { text: 'warn', color: COLORS.warn, index: 1 },
        [String(H.fail)]: { text: 'fail', color: COLORS.bad, index: 2 },
      },
    },
  ];
  const statusT = thresholds(COLORS.bad, [H.warn, COLORS.warn], [H.pass, COLORS.ok]);
  const checkDur = catalog.healthCheckDuration;
  const b = builder(
    ctx,
    'health',
    'Health checks and probes of @vigil/health: probe answers, check results and check durations.',
    variables(ctx, catalog.HEALTH_METRICS),
  );
  b.row('Probes')
    .stat({
      title: 'Readiness (worst instance)',
      description: `Readiness answer of the worst instance: pass, warn or fail. ReadinessFailing fires after ${config.health.readinessFailingFor} of fail.`,
      unit: 'none',
      w: 6,
      thresholds: statusT,
      mappings,
      queries: [
        { expr: `min(${sel(catalog.healthStatus, '', ['probe="readiness"', ...M])})`, legend: 'readiness' },
      ],
    })
    .stat({
      title: 'Failing checks',
      description: 'Checks whose last run failed (or timed out), over all instances.',
      unit: 'short',
      w: 6,
      thresholds: thresholds(COLORS.ok, [1, COLORS.bad]),
      queries: [
        { expr: `sum(${sel(catalog.healthCheckStatus, '', M)} == bool ${H.fail})`, legend: 'failing' },
      ],
    })
    .stateTimeline({
      title: 'Probe status',
      description: `Answer of each probe (liveness, readiness, startup) over time, worst instance (${catalog.healthStatus.name}).`,
      unit: 'none',
      thresholds: statusT,
      mappings,
      queries: [{ expr: `min by (probe) (${sel(catalog.healthStatus, '', M)})`, legend: '{{probe}}' }],
    });
  b.row('Checks')
    .stateTimeline({
      title: 'Check status',
      description: `Result of the last run of each check, worst instance (${catalog.healthCheckStatus.name}).`,
      unit: 'none',
      w: 24,
      thresholds: statusT,
      mappings,
      queries: [{ expr: `min by (check) (${sel(catalog.healthCheckStatus, '', M)})`, legend: '{{check}}' }],
    })
    .timeseries({
      title: 'Check duration p99',
      description: 'p99 duration of each check run; a check near its timeout flaps.',
      unit: 's',
      thresholds: thresholds(COLORS.ok, [0.5, COLORS.warn], [1, COLORS.bad]),
      queries: [{ expr: p(0.99, checkDur, M, ['check']), legend: '{{check}}' }],
    })
    .timeseries({
      title: 'Check runs',
      description: 'Check runs per second by check (background runs and probe-triggered runs).',
      unit: 'ops',
      thresholds: NEUTRAL,
      queries: [{ expr: `sum by (check) (${rate(checkDur, M, '_count')})`, legend: '{{check}}' }],
    });
  return b.build();
}

function slo(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const M = [...extra(ctx), V.job, V.service];
  const windows = alertWindows(ctx);
  const b = builder(
    ctx,
    'slo',
    `SLOs over ${config.slo.window} from the recording rules in alert-rules/vigil-slo.yaml: SLIs, burn rates and error budget left. Opens on the SLO window; the coverage stat says how much of it has data (Prometheus needs a retention of at least ${config.slo.window}).`,
    variables(ctx, [SLO_RECORDS.requests], false),
    `now-${config.slo.window}`,
  );
  for (const name of SLO_NAMES) {
    const objective = objectiveOf(ctx, name);
    const budget = budgetOf(ctx, name);
    const tiers = catalog.BURN_RATE_TIERS.map((t) => ({
      ...t,
      factor: burnRateFactor(t, config.slo),
    }));
    const minPage = Math.min(...tiers.filter((t) => t.tier === 'page').map((t) => t.factor));
    const minTicket = Math.min(...tiers.filter((t) => t.tier === 'ticket').map((t) => t.factor));
    const burnT = thresholds(COLORS.ok, [minTicket, COLORS.warn], [minPage, COLORS.bad]);
    const sliT = thresholds(COLORS.bad, [objective, COLORS.ok]);
    const budgetT = thresholds(COLORS.bad, [0, COLORS.warn], [0.25, COLORS.ok]);
    const what: Record<SloName, string> = {
      availability: 'requests not answered with 5xx',
      latency: `non-5xx requests faster than ${config.slo.latency.thresholdSeconds}s`,
    };
    const s = (record: string) => sloSeries(record, name, M);
    b.row(
      `${name === 'availability' ? 'Availability' : 'Latency'}: ${pct(objective)} of ${what[name]} over ${config.slo.window}`,
    )
      .stat({
        title: `${name} SLI (${config.slo.window})`,
        description: `Share of ${what[name]} over the SLO window (over the part with data, see coverage); green at or above the objective (${pct(objective)}).`,
        unit: 'percentunit',
        decimals: 3,
        w: 5,
        thresholds: sliT,
        queries: [{ expr: `1 - ${s(SLO_RECORDS.ratio(config.slo.window))}`, legend: '{{service}}' }],
      })
      .stat({
        title: `${name} error budget left`,
        description: `Unspent share of the error budget (${pct(budget)} of requests over ${config.slo.window}): 100 % untouched, 0 % spent, negative overspent. Spent so far against the whole window's budget: the part of the window without data yet counts as unspent.`,
        unit: 'percentunit',
        decimals: 1,
        w: 5,
        thresholds: budgetT,
        queries: [{ expr: s(SLO_RECORDS.budgetRemaining), legend: '{{service}}' }],
      })
      .stat({
        title: `${name} burn rate (1h)`,
        description: `How fast the budget burns over the last hour: 1 spends exactly the budget in ${config.slo.window}; the page tier starts at ${num(minPage)}, the ticket tier at ${num(minTicket)}.`,
        unit: 'none',
        decimals: 2,
        w: 5,
        thresholds: burnT,
        queries: [
          { expr: `${s(SLO_RECORDS.ratio('1h'))} / ${budgetSeries(ctx, name, M)}`, legend: '{{service}}' },
        ],
      })
      .stat({
        title: `${name} burn rate (${windows[windows.length - 1]})`,
        description: `Burn rate over the longest alert window (${windows[windows.length - 1]}).`,
        unit: 'none',
        decimals: 2,
        w: 5,
        thresholds: burnT,
        queries: [
          {
            expr: `${s(SLO_RECORDS.ratio(windows[windows.length - 1]!))} / ${budgetSeries(ctx, name, M)}`,
            legend: '{{service}}',
          },
        ],
      })
      .stat({
        title: `${name} window coverage`,
        description: `Share of the ${config.slo.window} SLO window since the oldest recorded SLI sample (to the hour; ${SLO_RECORDS.coverage}). Below 100 % the SLI covers less than the window and the budget counts the rest as unspent; it stays below 100 % when Prometheus keeps less than ${config.slo.window} of data.`,
        unit: 'percentunit',
        decimals: 2,
        w: 4,
        min: 0,
        max: 1,
        thresholds: thresholds(COLORS.info, [1, COLORS.ok]),
        queries: [{ expr: s(SLO_RECORDS.coverage), legend: '{{service}}' }],
      })
      .timeseries({
        title: `${name} burn rate by window`,
        description: `Error ratio over each alert window divided by the budget (${pct(budget)}). Dashed: the lowest ticket (${num(minTicket)}) and page (${num(minPage)}) burn rates; an alert needs its long and short window both above its factor.`,
        unit: 'none',
        w: 12,
        showThresholds: true,
        thresholds: burnT,
        queries: windows.map((w) => ({
          expr: `${s(SLO_RECORDS.ratio(w))} / ${budgetSeries(ctx, name, M)}`,
          legend: `{{service}} ${w}`,
        })),
      })
      .timeseries({
        title: `${name} error budget left over time`,
        description: `Error budget left over the rolling ${config.slo.window} window.`,
        unit: 'percentunit',
        w: 12,
        showThresholds: true,
        thresholds: budgetT,
        queries: [{ expr: s(SLO_RECORDS.budgetRemaining), legend: '{{service}}' }],
      });
  }
  return b.build();
}

/** One row per service and SLO: objective, SLI over the window, budget left, burn rates. */
function fleet(ctx: GenContext): JsonDashboardFile {
  const { catalog, config } = ctx;
  const M = [...extra(ctx), V.job, V.service];
  const sl = config.serviceLabels;
  const tiers = catalog.BURN_RATE_TIERS.map((t) => burnRateFactor(t, config.slo));
  const minPage = Math.min(
    ...catalog.BURN_RATE_TIERS.filter((t) => t.tier === 'page').map((t) => burnRateFactor(t, config.slo)),
  );
  const minTicket = Math.min(...tiers);
  const burnT = thresholds(COLORS.ok, [minTicket, COLORS.warn], [minPage, COLORS.bad]);
  const budgetT = thresholds(COLORS.bad, [0, COLORS.warn], [0.25, COLORS.ok]);
  const plain = thresholds(COLORS.neutral);
  const window = config.slo.window;
  const perService = Object.keys(config.services).length
    ? ` (per-service objectives: ${Object.entries(config.services)
        .map(([n, o]) => `${n} ${pct(o.availability.objective)} / ${pct(o.latency.objective)}`)
        .join(', ')})`
    : '';
  const b = builder(
    ctx,
    'fleet',
    `Every service's SLOs at a glance, one row per service: the objective (recorded as ${SLO_RECORDS.objective}), the SLI over ${window}, the error budget left, how much of the window has data and the burn rate over 1h and 6h${perService}.`,
    variables(ctx, [SLO_RECORDS.requests], false),
  );
  const slos: [string, string][] = [
    ['availability', 'Availability'],
    ['latency', `Latency (within ${config.slo.latency.thresholdSeconds}s)`],
    ...Object.entries(config.routeGroups).map(([g, r]): [string, string] => [
      routeGroupSlo(g),
      `Latency of ${g} (${r.routes.join(', ')} within ${r.latency.thresholdSeconds}s)`,
    ]),
  ];
  for (const [name, rowTitle] of slos) {
    const s = (record: string) => sloSeries(record, name, M);
    const burn = (w: string) => `${s(SLO_RECORDS.ratio(w))} / ${budgetSeries(ctx, name, M)}`;
    b.row(rowTitle).table({
      title: `${name} SLO by service`,
      description: `One row per service. Burn rate 1 spends exactly the budget in ${window}; the page tier starts at ${num(minPage)}, the ticket tier at ${num(minTicket)}. Budget left below 0 is overspent; the part of the window without data yet (coverage below 100 %) counts as unspent.`,
      unit: 'percentunit',
      thresholds: NEUTRAL,
      labels: [...sl],
      hide: ['slo'],
      h: 6,
      columns: [
        {
          title: 'Objective',
          expr: s(SLO_RECORDS.objective),
          unit: 'percentunit',
          decimals: 3,
          thresholds: plain,
        },
        {
          title: `SLI (${window})`,
          expr: `1 - ${s(SLO_RECORDS.ratio(window))}`,
          unit: 'percentunit',
          decimals: 3,
          // Objectives differ per service: budget left and burn rate carry the colour, not the SLI.
          thresholds: plain,
        },
        {
          title: 'Budget left',
          expr: s(SLO_RECORDS.budgetRemaining),
          unit: 'percentunit',
          decimals: 1,
          thresholds: budgetT,
        },
        {
          title: 'Window coverage',
          expr: s(SLO_RECORDS.coverage),
          unit: 'percentunit',
          decimals: 2,
          thresholds: plain,
        },
        { title: 'Burn rate (1h)', expr: burn('1h'), unit: 'none', decimals: 2, thresholds: burnT },
        { title: 'Burn rate (6h)', expr: burn('6h'), unit: 'none', decimals: 2, thresholds: burnT },
      ],
    });
  }
  return b.build();
}

/** Every dashboard, by file name. */
export function buildDashboards(ctx: GenContext): Map<string, JsonDashboardFile> {
  return new Map([
    [DASHBOARDS.overview.file, serviceOverview(ctx)],
    [DASHBOARDS.database.file, database(ctx)],
    [DASHBOARDS.resilience.file, resilience(ctx)],
    [DASHBOARDS.runtime.file, runtime(ctx)],
    [DASHBOARDS.health.file, health(ctx)],
    [DASHBOARDS.slo.file, slo(ctx)],
    [DASHBOARDS.fleet.file, fleet(ctx)],
  ]);
}
