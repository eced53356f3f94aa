// Alert rules other than the SLO burn rates: one small builder per kind of alert, each returning
// the rule, its runbook and its promtool tests (firing and not firing), all from the catalog and
// the generation config.

import type { MetricDefinition } from '@vigil/catalog';
import { ConfigError } from './config.js';
import { histogramCase } from './histogram.js';
import {
  type AlertDef,
  type AlertTest,
  baseMatchers,
  constant,
  type GenContext,
  growing,
  markerSeries,
  minutes,
  onTarget,
  onVigil,
  pct,
  pick,
  type RecordingRule,
  type RuleFile,
  TARGET_RECORDS,
  type TestSeries,
  targetLabels,
  testInstance,
  testSeries,
  testTarget,
  upLabels,
  vigilMarker,
  who,
} from './model.js';
import { by, num, quantile, quote, sel } from './promql.js';

/** Label sets of the unit tests' synthetic HTTP and DB series. */
const ROUTE = { route: '/orders/:id', method: 'GET' };
const QUERY = { system: 'postgresql', operation: 'SELECT', table: 'orders' };

/** Requests per minute for the tests: comfortably above the configured minimum rate. */
function busy(minPerSecond: number): number {
  return 60 * Math.max(10, Math.ceil(minPerSecond * 10));
}

/** A ratio safely above `threshold` (but at most 1). */
function above(threshold: number): number {
  return Math.min(threshold * 2, (1 + threshold) / 2);
}

function checkLatencyThreshold(metric: MetricDefinition, option: string, t: number): void {
  const b = metric.buckets ?? [];
  if (!(t > b[0]! && t < b[b.length - 1]!)) {
    throw new ConfigError(
      option,
      `Invalid option "${option}": expected a value between the first and last bucket boundary of ${metric.name} (${b[0]} < x < ${b[b.length - 1]}), got ${t}: a p99 outside them cannot be measured`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

function httpErrorRatio(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.http;
  const m = catalog.httpRequestsTotal;
  const base = baseMatchers(ctx);
  const sl = config.serviceLabels;
  const v = (w: string) => onVigil(ctx, w);
  const total = `sum${by(sl)} ${v(`rate(${sel(m, '', base)}[5m])`)}`;
  const errors = `sum${by(sl)} ${v(`rate(${sel(m, '', ['status_code=~"5.."', ...base])}[5m])`)}`;
  const expr = `(\n  ${errors}\n  /\n  ${total}\n) > ${num(c.errorRatio)}\nand\n${total} > ${num(c.minRequestRate)}`;

  const t = testTarget(ctx);
  const len = minutes(c.errorRatioFor) + 10;
  const n = busy(c.minRequestRate);
  const fireErrors = Math.ceil(above(c.errorRatio) * n);
  const okErrors = Math.floor((c.errorRatio * n) / 2);
  const s = (status: string, perMinute: number) =>
    testSeries(m.name, { ...t, ...ROUTE, status_code: status }, growing(perMinute, len));
  const lowTotal = (c.minRequestRate * 60) / 2;
  const tests: AlertTest[] = [
    {
      name: '5xx above the threshold for longer than `for`: fires',
      series: [s('200', n - fireErrors), s('500', fireErrors)],
      evalMinutes: len,
      expect: [{ labels: pick(t, sl), value: fireErrors / n }],
    },
    {
      name: '5xx below the threshold, many 4xx and client aborts (not server errors): silent',
      series: [
        s('200', n - okErrors),
        s('500', okErrors),
        s('404', n),
        s(catalog.LABEL_VALUES.abortedStatus, n),
      ],
      evalMinutes: len,
      expect: [],
    },
    {
      name: 'high 5xx ratio but below the minimum request rate: silent',
      series: [s('200', lowTotal / 2), s('500', lowTotal / 2)],
      evalMinutes: len,
      expect: [],
    },
  ];
  return {
    alert: 'HttpServerErrorRatioHigh',
    variants: [{ expr, for: c.errorRatioFor, severity: 'warning' }],
    summary: `${who(ctx)} answers {{ $value | humanizePercentage }} of requests with 5xx`,
    description: `More than ${pct(c.errorRatio)} of the HTTP requests served by ${who(ctx)} failed with a 5xx status over the last 5 minutes: {{ $value | humanizePercentage }}.`,
    firesWhen: `5xx responses are more than ${pct(c.errorRatio)} of a service's requests over 5 minutes, for ${c.errorRatioFor}, while it serves more than ${c.minRequestRate} requests per second.`,
    runbook: {
      meaning:
        'The service answers a significant share of requests with a server error (status 500-599). Client errors (4xx) and client aborts (`499`) do not count.',
      impact: 'Users get errors right now. If it continues, the availability SLO burns its error budget.',
      confirm: [
        'Open the Service overview dashboard, pick the service: "Error ratio by route" shows which routes fail, "Responses by status code" which status.',
        "Check the service's logs for the failing route (the `route` label is the route template).",
      ],
      actions: [
        'A deploy in the last hour? Roll it back first, investigate second.',
        'One route only: look at its dependencies (database, outbound HTTP, circuit breakers on the Resilience dashboard).',
        'Every route: check the runtime (event-loop, heap) and the health of the instances; a bad instance shows in the per-instance panels.',
        'Thrown errors inside handlers surface as 500: the logs carry the stack and the trace id.',
      ],
      tuning: ['http.errorRatio', 'http.errorRatioFor', 'http.minRequestRate'],
      dashboard: 'overview',
    },
    tests,
  };
}

function httpLatency(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.http;
  const m = catalog.httpRequestDuration;
  checkLatencyThreshold(m, 'http.p99LatencySeconds', c.p99LatencySeconds);
  const base = baseMatchers(ctx);
  const sl = config.serviceLabels;
  const v = (w: string) => onVigil(ctx, w);
  const p99 = quantile(0.99, m, base, sl, '5m', v);
  const rate = `sum${by(sl)} ${v(`rate(${sel(m, '_count', base)}[5m])`)}`;
  const expr = `${p99} > ${num(c.p99LatencySeconds)}\nand\n${rate} > ${num(c.minRequestRate)}`;

  const t = testTarget(ctx);
  const len = minutes(c.p99LatencyFor) + 10;
  const n = busy(c.minRequestRate);
  const labels = { ...t, ...ROUTE, status_code: '200' };
  const slow = histogramCase(m, labels, n, len, c.p99LatencySeconds);
  const fast = histogramCase(m, labels, n, len);
  const slowFew = histogramCase(m, labels, (c.minRequestRate * 60) / 2, len, c.p99LatencySeconds);
  return {
    alert: 'HttpLatencyP99High',
    variants: [{ expr, for: c.p99LatencyFor, severity: 'warning' }],
    summary: `${who(ctx)} p99 latency is {{ $value | humanizeDuration }}`,
    description: `The 99th percentile of HTTP request duration of ${who(ctx)} is {{ $value | humanizeDuration }} over the last 5 minutes, above ${c.p99LatencySeconds}s.`,
    firesWhen: `a service's p99 request duration over 5 minutes is above ${c.p99LatencySeconds}s for ${c.p99LatencyFor}, while it serves more than ${c.minRequestRate} requests per second.`,
    runbook: {
      meaning:
        'One request in a hundred takes longer than the threshold. The p99 is interpolated inside histogram buckets, so it is an estimate within the bucket that holds it.',
      impact: 'The slowest users wait; callers with timeouts may retry, which adds load.',
      confirm: [
        'Service overview dashboard: "p99 latency by route" shows whether one route or all are slow; "In-flight requests" and "Event-loop utilization" show saturation.',
        'If every route is slow at once, the process is the bottleneck (CPU, event loop, GC); if one route is, its dependency is.',
      ],
      actions: [
        'Check the Database dashboard (slow queries by operation and table) and the Resilience dashboard (outbound latency, open breakers).',
        'Check the Node.js runtime dashboard: event-loop utilization near 100 % or long GC pauses mean the process needs more instances or less work per request.',
        'Scale out if saturation is the cause; roll back if a deploy introduced it.',
      ],
      tuning: ['http.p99LatencySeconds', 'http.p99LatencyFor', 'http.minRequestRate'],
      dashboard: 'overview',
    },
    tests: [
      {
        name: 'every request slower than the threshold: fires with the interpolated p99',
        series: slow.series,
        evalMinutes: len,
        expect: [{ labels: pick(t, sl), value: slow.p99 }],
      },
      {
        name: 'every request in the fastest bucket: silent',
        series: fast.series,
        evalMinutes: len,
        expect: [],
      },
      {
        name: 'slow but below the minimum request rate: silent',
        series: slowFew.series,
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------------------------

function dbSlow(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.database;
  const m = catalog.dbQueryDuration;
  checkLatencyThreshold(m, 'database.p99LatencySeconds', c.p99LatencySeconds);
  const base = baseMatchers(ctx);
  const keep = [...config.serviceLabels, 'system', 'operation', 'table'];
  const v = (w: string) => onVigil(ctx, w);
  const expr = `${quantile(0.99, m, base, keep, '5m', v)} > ${num(c.p99LatencySeconds)}\nand\nsum${by(keep)} ${v(`rate(${sel(m, '_count', base)}[5m])`)} > ${num(c.minQueryRate)}`;
  const t = testTarget(ctx);
  const len = minutes(c.p99LatencyFor) + 10;
  const n = busy(c.minQueryRate);
  const labels = { ...t, ...QUERY, outcome: catalog.LABEL_VALUES.success };
  const slow = histogramCase(m, labels, n, len, c.p99LatencySeconds);
  const fast = histogramCase(m, labels, n, len);
  return {
    alert: 'DatabaseQueriesSlow',
    variants: [{ expr, for: c.p99LatencyFor, severity: 'warning' }],
    summary: `{{ $labels.operation }} on {{ $labels.table }} ({{ $labels.system }}) is slow in ${who(ctx)}: p99 {{ $value | humanizeDuration }}`,
    description: `The 99th percentile of {{ $labels.operation }} queries on table {{ $labels.table }} from ${who(ctx)} is {{ $value | humanizeDuration }} over 5 minutes, above ${c.p99LatencySeconds}s.`,
    firesWhen: `the p99 duration of one operation on one table is above ${c.p99LatencySeconds}s over 5 minutes for ${c.p99LatencyFor}, with more than ${c.minQueryRate} queries per second.`,
    runbook: {
      meaning:
        'Queries of one kind (operation and table, as Vigil classifies the SQL) take long for the slowest 1 %. Time includes waiting for a pool connection.',
      impact: 'Requests that run these queries are slow; a saturated pool makes every query wait.',
      confirm: [
        'Database dashboard: "p99 by operation and table" and "Query rate by operation and table": did the rate grow, or did each query get slower?',
        'On PostgreSQL, `pg_stat_activity` and `pg_stat_statements` show the running and the most expensive statements; `EXPLAIN (ANALYZE)` one of them. On MySQL/MariaDB, `SHOW FULL PROCESSLIST` and the slow query log; on Redis (`operation` is the command), `SLOWLOG GET` and `LATENCY DOCTOR`.',
      ],
      actions: [
        'Missing index or a plan change after data growth: add the index or `ANALYZE` the table.',
        'Lock waits: find the blocking transaction in `pg_locks` and shorten it.',
        'Pool exhaustion (every operation slow at once): raise the pool size only if the database has headroom, otherwise shed load.',
      ],
      tuning: ['database.p99LatencySeconds', 'database.p99LatencyFor', 'database.minQueryRate'],
      dashboard: 'database',
    },
    tests: [
      {
        name: 'every query slower than the threshold: fires',
        series: slow.series,
        evalMinutes: len,
        expect: [{ labels: { ...pick(t, config.serviceLabels), ...QUERY }, value: slow.p99 }],
      },
      { name: 'fast queries: silent', series: fast.series, evalMinutes: len, expect: [] },
    ],
  };
}

function dbErrors(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.database;
  const m = catalog.dbQueryDuration;
  const base = baseMatchers(ctx);
  const keep = [...config.serviceLabels, 'system', 'operation', 'table'];
  const v = (w: string) => onVigil(ctx, w);
  const total = `sum${by(keep)} ${v(`rate(${sel(m, '_count', base)}[5m])`)}`;
  const errors = `sum${by(keep)} ${v(`rate(${sel(m, '_count', [`outcome=${quote(catalog.LABEL_VALUES.error)}`, ...base])}[5m])`)}`;
  const expr = `(\n  ${errors}\n  /\n  ${total}\n) > ${num(c.errorRatio)}\nand\n${total} > ${num(c.minQueryRate)}`;
  const t = testTarget(ctx);
  const len = minutes(c.errorRatioFor) + 10;
  const n = busy(c.minQueryRate);
  const bad = Math.ceil(above(c.errorRatio) * n);
  const few = Math.floor((c.errorRatio * n) / 2);
  const s = (outcome: string, perMinute: number) =>
    testSeries(`${m.name}_count`, { ...t, ...QUERY, outcome }, growing(perMinute, len));
  const { success, error } = catalog.LABEL_VALUES;
  return {
    alert: 'DatabaseErrorRatioHigh',
    variants: [{ expr, for: c.errorRatioFor, severity: 'warning' }],
    summary: `{{ $value | humanizePercentage }} of {{ $labels.operation }} queries on {{ $labels.table }} ({{ $labels.system }}) fail in ${who(ctx)}`,
    description: `More than ${pct(c.errorRatio)} of {{ $labels.operation }} queries on table {{ $labels.table }} from ${who(ctx)} failed over 5 minutes: {{ $value | humanizePercentage }}.`,
    firesWhen: `more than ${pct(c.errorRatio)} of one operation's queries on one table fail over 5 minutes, for ${c.errorRatioFor}.`,
    runbook: {
      meaning:
        'Queries of one operation and table end with an error (`outcome="error"`): a rejected statement, a timeout, a lost connection.',
      impact: 'The requests that need these queries fail or fall back.',
      confirm: [
        'Database dashboard: "Error ratio by operation and table".',
        "The service's logs carry the driver's error code (e.g. PostgreSQL SQLSTATE) for each failed query.",
      ],
      actions: [
        'Connection errors on every table: check the database is up and reachable, and its connection limit.',
        'Constraint or syntax errors on one table: a deploy or a migration is out of step; roll back or finish the migration.',
        'Timeouts: see DatabaseQueriesSlow.',
      ],
      tuning: ['database.errorRatio', 'database.errorRatioFor', 'database.minQueryRate'],
      dashboard: 'database',
    },
    tests: [
      {
        name: 'failures above the threshold: fires',
        series: [s(success, n - bad), s(error, bad)],
        evalMinutes: len,
        expect: [{ labels: { ...pick(t, config.serviceLabels), ...QUERY }, value: bad / n }],
      },
      {
        name: 'failures below the threshold: silent',
        series: [s(success, n - few), s(error, few)],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function dbPoolExhausted(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.database;
  const m = catalog.dbPoolWaiting;
  const keep = [...config.serviceLabels, config.instanceLabel, 'system', 'pool'];
  const expr = `max${by(keep)} ${onVigil(ctx, sel(m, '', baseMatchers(ctx)))} > 0`;
  const t = testTarget(ctx);
  const labels = { ...t, system: 'postgresql', pool: 'default' };
  const len = minutes(c.poolWaitingFor) + 5;
  return {
    alert: 'DatabasePoolExhausted',
    variants: [{ expr, for: c.poolWaitingFor, severity: 'warning' }],
    summary: `{{ $value | humanize }} requests wait for a connection of pool {{ $labels.pool }} ({{ $labels.system }}) in ${who(ctx, [ctx.config.instanceLabel])}`,
    description: `Requests of ${who(ctx, [ctx.config.instanceLabel])} have been waiting for a free connection of pool {{ $labels.pool }} for ${c.poolWaitingFor}: every connection is in use.`,
    firesWhen: `requests wait for a connection of one pool (${m.name} above 0) at every evaluation for ${c.poolWaitingFor}.`,
    runbook: {
      meaning:
        'Every connection of the pool is taken and callers queue for one. Short waits at peaks are normal; minutes of waiting mean the pool is too small for the load, or connections are held too long.',
      impact:
        'Each query first waits in the queue: requests get slower, and time out once the wait exceeds their budget.',
      confirm: [
        'Database dashboard, "Connection pools" row: used against idle connections, and the waiting requests, per pool.',
        'Same dashboard: did query p99 grow (slow queries hold connections longer), or the query rate (more load)?',
      ],
      actions: [
        'Slow queries hold connections: see DatabaseQueriesSlow and fix the slowest first.',
        'Connections leaked (taken and never released, e.g. a missing `release()` on an error path): used stays at the maximum with little query traffic; fix the code path.',
        'Load grew: raise the pool size only if the database has connections to spare (max_connections divided by replicas), otherwise scale the database or shed load.',
      ],
      tuning: ['database.poolWaitingFor'],
      dashboard: 'database',
    },
    tests: [
      {
        name: 'requests waiting for the whole duration: fires',
        series: [testSeries(m.name, labels, constant(3, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: 3 }],
      },
      {
        name: 'waiting at a short peak, then none: silent',
        series: [testSeries(m.name, labels, `2 2 ${constant(0, len - 2)}`)],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Targets and Vigil itself
// ---------------------------------------------------------------------------------------------

/**
 * `up` of every Vigil target, with the service labels its metrics carry. The selector goes on the
 * marker, which has the service's own labels (`up` has only the target's). A target that stops
 * answering keeps them from the previous evaluation for as long as discovery still lists it.
 */
function targetRecords(ctx: GenContext): RecordingRule[] {
  const sl = ctx.config.serviceLabels;
  const target = targetLabels(ctx);
  const id = [...new Set([...target, ...sl])];
  const extra = sl.filter((l) => !target.includes(l));
  const marker = vigilMarker(ctx);
  const seen = `group${by(id)} (${marker})`;
  // A rule reading its own last value: the memory of a down target's labels costs 10 minutes of one series.
  const remembered = `(group${by(id)} (last_over_time(${TARGET_RECORDS.targetUp}[10m])) unless ${onTarget(ctx)} ${marker})`;
  return [
    {
      record: TARGET_RECORDS.targetUp,
      expr: `up\n* ${onTarget(ctx)} group_left (${extra.join(', ')})\n(\n  ${seen}\n  or\n  ${remembered}\n)`,
    },
    { record: TARGET_RECORDS.serviceUp, expr: `max${by(sl)} (${TARGET_RECORDS.targetUp})` },
  ];
}

/** `up` and marker series of one test target: scraped for `upMinutes`, then `after` (down or gone). */
function targetSeries(
  ctx: GenContext,
  labels: Readonly<Record<string, string>>,
  upMinutes: number,
  after: { up: string; minutes: number },
): TestSeries[] {
  return [
    testSeries('up', upLabels(ctx, labels), `1x${upMinutes} ${after.up}x${after.minutes}`),
    markerSeries(ctx, labels, `0x${upMinutes} _x${after.minutes}`),
  ];
}

function targetDown(ctx: GenContext): AlertDef {
  const c = ctx.config.targets;
  const expr = `${TARGET_RECORDS.targetUp} == 0`;
  const t = testTarget(ctx);
  // vigil_target:up keeps every label of `up`, plus the service labels the marker adds.
  const labels = { ...upLabels(ctx, t), ...pick(t, ctx.config.serviceLabels) };
  const len = minutes(c.downFor) + 5;
  return {
    alert: 'ServiceTargetDown',
    variants: [{ expr, for: c.downFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])}: target is down`,
    description: `Prometheus could not scrape {{ $labels.${ctx.config.instanceLabel} }} of ${who(ctx)} for ${c.downFor}: the process is down, unreachable, or its /metrics endpoint fails.`,
    firesWhen: `a Vigil scrape target's \`up\` is 0 for ${c.downFor} (other jobs of the same Prometheus are left out).`,
    runbook: {
      meaning:
        'Prometheus cannot scrape one instance of a Vigil service: the process is not running, the network path is broken, or `/metrics` answers with an error or too slowly. Only targets that exposed Vigil metrics before count, so Prometheus itself and other jobs never fire it.',
      impact:
        'If only this instance is affected, the others carry its load; every dashboard and alert is blind to it. All instances down fires ServiceDown (critical).',
      confirm: [
        "Prometheus' Targets page (`/targets`) shows the scrape error for the instance.",
        '`curl -sS http://<instance>/metrics | head` from the Prometheus host.',
      ],
      actions: [
        'Process gone: check the orchestrator (crash loop, OOM kill: see NodejsRestartingFrequently and NodejsHeapNearLimit).',
        'Scrape timeout: a very large `/metrics` (series cap reached? see VigilMetricsSeriesOverflow) or a blocked event loop.',
        'Network or service discovery change: fix the scrape config.',
      ],
      tuning: ['targets.downFor', 'selector'],
      dashboard: 'overview',
    },
    tests: [
      {
        name: 'target down for longer than `for`: fires',
        series: targetSeries(ctx, t, 2, { up: '0', minutes: len }),
        evalMinutes: len + 2,
        expect: [{ labels, value: 0 }],
      },
      {
        name: 'a short scrape failure: silent',
        series: [testSeries('up', upLabels(ctx, t), `1x${len} 0x1`), markerSeries(ctx, t, `0x${len} _`)],
        evalMinutes: len + 1,
        expect: [],
      },
    ],
  };
}

function serviceDown(ctx: GenContext): AlertDef {
  const c = ctx.config.targets;
  const sl = ctx.config.serviceLabels;
  const expr = `${TARGET_RECORDS.serviceUp} == 0`;
  const t = testTarget(ctx);
  const other = { ...t, [ctx.config.instanceLabel]: testInstance(ctx, 1) };
  const len = minutes(c.serviceDownFor) + 5;
  return {
    alert: 'ServiceDown',
    variants: [{ expr, for: c.serviceDownFor, severity: 'critical' }],
    summary: `${who(ctx)} is down: no target answers`,
    description: `Prometheus has scraped none of the targets of ${who(ctx)} for ${c.serviceDownFor}: the whole service is down or unreachable, and its request metrics stopped with it.`,
    firesWhen: `every scrape target of a Vigil service has \`up\` 0 for ${c.serviceDownFor}.`,
    runbook: {
      meaning:
        'Every instance of the service fails its scrape: a total outage (crash loop, failed deploy, node or network loss), or a broken `/metrics` path on all of them.',
      impact:
        'Users of the service get errors or timeouts. The SLO alerts count the time down as failed requests (AvailabilityBudgetBurn pages too).',
      confirm: [
        "Prometheus' Targets page (`/targets`): the scrape error of each instance.",
        'The orchestrator: `kubectl get pods -l <selector>` (CrashLoopBackOff, Pending, OOMKilled), the last deploy.',
      ],
      actions: [
        'A deploy just happened: roll it back.',
        'Crash loop: the previous container logs (`kubectl logs --previous`) carry the exit reason; see NodejsRestartingFrequently.',
        'Instances run and answer on their port, but scrapes fail: the scrape config, a NetworkPolicy, or the metrics port changed.',
      ],
      tuning: ['targets.serviceDownFor', 'selector'],
      dashboard: 'overview',
    },
    tests: [
      {
        name: 'both instances down: fires',
        series: [
          ...targetSeries(ctx, t, 2, { up: '0', minutes: len }),
          ...targetSeries(ctx, other, 2, { up: '0', minutes: len }),
        ],
        evalMinutes: len + 2,
        expect: [{ labels: pick(t, sl), value: 0 }],
      },
      {
        // Past Prometheus' 5m lookback the targets' labels come from vigil_target:up's own memory.
        name: 'both instances down for 30m: still fires',
        series: [
          ...targetSeries(ctx, t, 2, { up: '0', minutes: 32 }),
          ...targetSeries(ctx, other, 2, { up: '0', minutes: 32 }),
        ],
        evalMinutes: 32,
        expect: [{ labels: pick(t, sl), value: 0 }],
      },
      {
        name: 'one of two instances down: silent (ServiceTargetDown covers it)',
        series: [
          ...targetSeries(ctx, t, 2, { up: '0', minutes: len }),
          ...targetSeries(ctx, other, 2, { up: '1', minutes: len }),
        ],
        evalMinutes: len + 2,
        expect: [],
      },
    ],
  };
}

function serviceAbsent(ctx: GenContext): AlertDef {
  const c = ctx.config.targets;
  const sl = ctx.config.serviceLabels;
  const expr = `max_over_time(${TARGET_RECORDS.serviceUp}[${c.absentWindow}])\nunless\n${TARGET_RECORDS.serviceUp}`;
  const t = testTarget(ctx);
  const len = minutes(c.serviceDownFor) + 10;
  return {
    alert: 'ServiceAbsent',
    variants: [{ expr, for: c.serviceDownFor, severity: 'critical' }],
    summary: `${who(ctx)} has no scrape target any more`,
    description: `${who(ctx)} had scrape targets within the last ${c.absentWindow}, but service discovery has listed none for ${c.serviceDownFor}: Prometheus no longer monitors it, and nothing else alerts on it.`,
    firesWhen: `a Vigil service seen within ${c.absentWindow} has had no scrape target at all for ${c.serviceDownFor}.`,
    runbook: {
      meaning:
        'Every target of the service left service discovery: the workload was deleted or scaled to zero, its pods lost the labels or annotations the scrape config selects on, or discovery itself broke. `up` no longer exists for it, so ServiceTargetDown and ServiceDown cannot fire.',
      impact: 'If the service still runs: it is unmonitored. If it does not: users get errors.',
      confirm: [
        "Prometheus' Service Discovery and Targets pages: is the job there, with how many targets?",
        '`kubectl get deploy,pods -l <selector>`: replicas, labels and the metrics port annotation.',
      ],
      actions: [
        'Scaled to zero or deleted by mistake: restore it.',
        'Relabelled or the scrape annotations changed: fix the manifests or the scrape config.',
        `Retired or renamed on purpose (its job or service label changed): silence ServiceAbsent for the old name; it stops by itself ${c.absentWindow} after the last scrape.`,
      ],
      tuning: ['targets.serviceDownFor', 'targets.absentWindow'],
      dashboard: 'overview',
    },
    tests: [
      {
        name: 'every target gone from discovery: fires',
        series: targetSeries(ctx, t, 5, { up: '_', minutes: len }),
        evalMinutes: len + 5,
        expect: [{ labels: pick(t, sl), value: 1 }],
      },
      {
        name: 'targets still listed: silent',
        series: targetSeries(ctx, t, 5, { up: '1', minutes: len }),
        evalMinutes: len + 5,
        expect: [],
      },
    ],
  };
}

function seriesOverflow(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.targets;
  const m = catalog.seriesOverflowTotal;
  const keep = [...config.serviceLabels, config.instanceLabel, 'metric'];
  const x = sel(m, '', baseMatchers(ctx));
  // Vigil creates the counter at 0, but a new instance (a new pod) can overflow before its first
  // scrape: a series that did not exist a window ago counts with its whole value.
  const expr = `sum${by(keep)} (increase(${x}[${c.overflowWindow}])) > 0\nor\nsum${by(keep)} (${x} unless ${x} offset ${c.overflowWindow}) > 0`;
  const t = testTarget(ctx);
  const len = minutes(c.overflowWindow) + 5;
  const labels = { ...t, metric: catalog.httpRequestDuration.name };
  const w = minutes(c.overflowWindow);
  return {
    alert: 'VigilMetricsSeriesOverflow',
    variants: [{ expr, severity: 'warning' }],
    summary: `{{ $labels.metric }} reached its series cap in ${who(ctx, [ctx.config.instanceLabel])}`,
    description: `{{ $value | humanize }} observations of {{ $labels.metric }} in ${who(ctx, [ctx.config.instanceLabel])} went to the overflow label set in the last ${c.overflowWindow}: the metric reached maxSeries, and new label combinations are no longer told apart.`,
    firesWhen: `any observation goes to an overflow label set (\`route="${catalog.LABEL_VALUES.overflowRoute}"\`) within ${c.overflowWindow}, including before a new instance's first scrape.`,
    runbook: {
      meaning: `A Vigil metric reached its cap on label combinations (\`maxSeries\`); further new combinations are recorded under \`${catalog.LABEL_VALUES.overflowRoute}\` so memory and scrape size stay bounded.`,
      impact: 'Per-route (or per-table) panels lose detail for the new combinations; totals stay right.',
      confirm: [
        `Query \`${m.name}\` by \`metric\`, and look for \`route="${catalog.LABEL_VALUES.overflowRoute}"\` on the Service overview.`,
        'List the label values: `count by (route) (http_requests_total{job="<job>"})`. Raw URLs or IDs in `route` mean a route is not matched as a template.',
      ],
      actions: [
        'Find where unbounded values enter a label (a catch-all route, a router mounted without templates) and normalise them.',
        'Raise `maxSeries` only if the combinations are legitimate and bounded.',
      ],
      tuning: ['targets.overflowWindow'],
      dashboard: 'overview',
    },
    tests: [
      {
        name: 'observations going to the overflow set: fires',
        series: [testSeries(m.name, labels, growing(10, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: 10 * w }],
      },
      {
        name: 'a new instance whose first scrape already counts overflows: fires',
        series: [testSeries(m.name, labels, `_x5 ${constant(37, len)}`)],
        evalMinutes: 10,
        expect: [{ labels: pick(labels, keep), value: 37 }],
      },
      {
        name: 'a new instance with the counter at 0: silent',
        series: [testSeries(m.name, labels, `_x5 ${constant(0, len)}`)],
        evalMinutes: 10,
        expect: [],
      },
      {
        name: 'overflow long ago, none in the window: silent',
        series: [testSeries(m.name, labels, `0 5 ${constant(5, len + w)}`)],
        evalMinutes: len + w,
        expect: [],
      },
    ],
  };
}

function spansDropped(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.targets;
  const m = catalog.tracingSpansDropped;
  const keep = [...config.serviceLabels, config.instanceLabel, 'reason'];
  const expr = `sum${by(keep)} (rate(${sel(m, '', baseMatchers(ctx))}[5m])) > 0`;
  const t = testTarget(ctx);
  const labels = { ...t, reason: catalog.SPAN_DROP_REASONS.queueFull };
  const len = minutes(c.spansDroppedFor) + 10;
  return {
    alert: 'VigilTracingSpansDropped',
    variants: [{ expr, for: c.spansDroppedFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} drops {{ $value | humanize }} spans/s ({{ $labels.reason }})`,
    description: `${who(ctx, [ctx.config.instanceLabel])} has been dropping sampled spans for ${c.spansDroppedFor} (reason {{ $labels.reason }}, {{ $value | humanize }} per second): traces of its requests are incomplete or missing.`,
    firesWhen: `a process keeps dropping sampled spans (${m.name} growing, for one reason) for ${c.spansDroppedFor}.`,
    runbook: {
      meaning: `Spans that were sampled never reach the collector: \`${catalog.SPAN_DROP_REASONS.queueFull}\` (the export queue is full: the collector is slower than the service or unreachable), \`${catalog.SPAN_DROP_REASONS.exportFailed}\` (the collector answered an error or timed out), \`${catalog.SPAN_DROP_REASONS.shutdown}\` (still queued when the shutdown flush timed out), \`${catalog.SPAN_DROP_REASONS.rejected}\` (the collector took the request but refused these spans: an OTLP partial success).`,
      impact: 'Traces are missing or have holes; nothing user-facing breaks.',
      confirm: [
        'Node.js runtime dashboard, "Tracing pipeline" row: dropped spans by reason and the export queue.',
        "Check the collector's own health and the OTLP endpoint the service exports to (OTEL_EXPORTER_OTLP_ENDPOINT).",
      ],
      actions: [
        'export_failed: fix the collector address, TLS or auth; check the collector is up.',
        'queue_full: the collector is too slow or the service produces more spans than it can send: lower the sampling ratio, or scale the collector.',
        'shutdown: raise the shutdown flush timeout if spans at shutdown matter.',
        "rejected: the service's first warning carries the collector's reason (too large, over quota, invalid attributes); fix the spans or the collector's limits.",
      ],
      tuning: ['targets.spansDroppedFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'spans dropped continuously: fires',
        series: [testSeries(m.name, labels, growing(60, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: 1 }],
      },
      {
        name: 'one burst of drops long ago: silent',
        series: [testSeries(m.name, labels, `0 500 ${constant(500, len)}`)],
        evalMinutes: len + 1,
        expect: [],
      },
    ],
  };
}

function logLinesDropped(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.targets;
  const m = catalog.logLinesDropped;
  const R = catalog.LOG_DROP_REASONS;
  const keep = [...config.serviceLabels, config.instanceLabel, 'reason'];
  const expr = `sum${by(keep)} (rate(${sel(m, '', baseMatchers(ctx))}[5m])) > 0`;
  const labels = { ...testTarget(ctx), reason: R.bufferFull };
  const len = minutes(c.logLinesDroppedFor) + 10;
  return {
    alert: 'VigilLogLinesDropped',
    variants: [{ expr, for: c.logLinesDroppedFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} drops {{ $value | humanize }} log lines/s ({{ $labels.reason }})`,
    description: `${who(ctx, [ctx.config.instanceLabel])} has been dropping log lines for ${c.logLinesDroppedFor} (reason {{ $labels.reason }}, {{ $value | humanize }} per second): its logs are incomplete.`,
    firesWhen: `a process keeps dropping log lines (${m.name} growing, for one reason) for ${c.logLinesDroppedFor}.`,
    runbook: {
      meaning: `The service's logger could not hand lines to its destination and dropped them rather than grow memory or block requests: \`${R.bufferFull}\` (the reader of stdout or the file, usually the log shipper or the container runtime's log pipe, stopped reading or is slower than the service), \`${R.writeFailed}\` (writing failed: the reader closed the pipe, the disk is full), \`${R.shutdown}\` (still buffered when the flush at shutdown reached its time bound).`,
      impact: 'Log lines are missing for the affected instance; requests are still served.',
      confirm: [
        'Node.js runtime dashboard, "Logging" row: dropped lines by reason.',
        'The service\'s stderr has one "@vigil/logger" warning naming the destination.',
        "Check the log shipper (or the node's container log pipeline) of that instance: is it running, and keeping up?",
      ],
      actions: [
        `${R.bufferFull}: restart or scale the log shipper; lower the log level if the service logs more than the pipeline can carry; raise the logger's bufferBytes only to ride out short stalls.`,
        `${R.writeFailed}: free disk space, or fix what closed the service's stdout.`,
        `${R.shutdown}: raise the logger's flushTimeoutMs if lines at shutdown matter, within the shutdown budget.`,
      ],
      tuning: ['targets.logLinesDroppedFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'log lines dropped continuously: fires',
        series: [testSeries(m.name, labels, growing(60, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: 1 }],
      },
      {
        name: 'one burst of drops long ago: silent',
        series: [testSeries(m.name, labels, `0 500 ${constant(500, len)}`)],
        evalMinutes: len + 1,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Node.js runtime
// ---------------------------------------------------------------------------------------------

function eventLoopLag(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const m = catalog.eventLoopLagP99;
  const expr = `${onVigil(ctx, sel(m, '', baseMatchers(ctx)))} > ${num(c.eventLoopLagSeconds)}`;
  const t = testTarget(ctx);
  const len = minutes(c.eventLoopLagFor) + 5;
  const high = c.eventLoopLagSeconds * 2;
  return {
    alert: 'NodejsEventLoopLagHigh',
    variants: [{ expr, for: c.eventLoopLagFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} event-loop delay p99 is {{ $value | humanizeDuration }}`,
    description: `The event loop of ${who(ctx, [ctx.config.instanceLabel])} is delayed by {{ $value | humanizeDuration }} at p99, above ${c.eventLoopLagSeconds}s for ${c.eventLoopLagFor}: every request and timer on it waits that long.`,
    firesWhen: `the p99 event-loop delay of an instance is above ${c.eventLoopLagSeconds}s for ${c.eventLoopLagFor}.`,
    runbook: {
      meaning:
        'Synchronous work blocks the event loop: while it runs, nothing else in the process (requests, timers, health probes) makes progress.',
      impact: 'Latency of every request on the instance; probes may time out and restart it.',
      confirm: [
        'Node.js runtime dashboard: event-loop delay, utilization, CPU and GC time of the instance.',
        'High CPU with high delay: CPU-bound code. High GC time: memory pressure (see NodejsHeapNearLimit).',
      ],
      actions: [
        'Take a CPU profile (`node --cpu-prof`, or the inspector) of an affected instance and find the hot synchronous function (JSON of large payloads, sync crypto or compression, regexes).',
        'Move heavy work off the request path (worker threads, a queue) or split it with `setImmediate`.',
        'Scale out to cut per-instance load while fixing.',
      ],
      tuning: ['runtime.eventLoopLagSeconds', 'runtime.eventLoopLagFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'delay above the threshold: fires',
        series: [testSeries(m.name, t, constant(high, len))],
        evalMinutes: len,
        expect: [{ labels: t, value: high }],
      },
      {
        name: 'delay below the threshold: silent',
        series: [testSeries(m.name, t, constant(c.eventLoopLagSeconds / 2, len))],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function eventLoopUtilization(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const m = catalog.eventLoopUtilization;
  const expr = `${onVigil(ctx, `avg_over_time(${sel(m, '', baseMatchers(ctx))}[5m])`)} > ${num(c.eventLoopUtilization)}`;
  const t = testTarget(ctx);
  const len = minutes(c.eventLoopUtilizationFor) + 10;
  const busyValue = (1 + c.eventLoopUtilization) / 2;
  return {
    alert: 'NodejsEventLoopUtilizationHigh',
    variants: [{ expr, for: c.eventLoopUtilizationFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} event loop is {{ $value | humanizePercentage }} busy`,
    description: `The event loop of ${who(ctx, [ctx.config.instanceLabel])} was busy {{ $value | humanizePercentage }} of the time over 5 minutes, above ${pct(c.eventLoopUtilization)}: the instance is saturated.`,
    firesWhen: `an instance's event-loop utilization averaged over 5 minutes is above ${pct(c.eventLoopUtilization)} for ${c.eventLoopUtilizationFor}.`,
    runbook: {
      meaning:
        'The event loop is busy almost all the time. A Node.js process cannot use more than one core for JavaScript, so it is at capacity.',
      impact: 'Queueing: latency grows with every extra request; probes may time out.',
      confirm: [
        'Node.js runtime dashboard: utilization and CPU by instance; compare with the request rate on the Service overview.',
        'All instances busy: capacity. One instance: uneven load balancing or a hot key.',
      ],
      actions: [
        'Scale out (more instances), or lower per-request CPU (profile with `--cpu-prof`).',
        'Check GC time: a large share means memory pressure, not request work.',
      ],
      tuning: ['runtime.eventLoopUtilization', 'runtime.eventLoopUtilizationFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'saturated loop: fires',
        series: [testSeries(m.name, t, constant(busyValue, len))],
        evalMinutes: len,
        expect: [{ labels: t, value: busyValue }],
      },
      {
        name: 'short busy burst: silent',
        series: [testSeries(m.name, t, `${constant(0.2, len - 3)} 1 1 1`)],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function heapNearLimit(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const base = baseMatchers(ctx);
  const used = sel(catalog.heapSizeUsedBytes, '', base);
  const limit = sel(catalog.heapSizeLimitBytes, '', base);
  const expr = `${onVigil(ctx, `${used} / ${limit}`)} > ${num(c.heapUsedRatio)}`;
  const t = testTarget(ctx);
  const len = minutes(c.heapFor) + 10;
  const limitBytes = 2048 * 1024 * 1024;
  const full = Math.min(0.99, (1 + c.heapUsedRatio) / 2);
  const series = (usedBytes: number, committedBytes: number, gcShare: number) => [
    testSeries(catalog.heapSizeUsedBytes.name, t, constant(usedBytes, len)),
    testSeries(catalog.heapSizeTotalBytes.name, t, constant(committedBytes, len)),
    testSeries(catalog.heapSizeLimitBytes.name, t, constant(limitBytes, len)),
    testSeries(`${catalog.gcDuration.name}_sum`, { ...t, kind: 'major' }, growing(gcShare * 60, len)),
  ];
  const nearLimit = Math.round(limitBytes * full);
  const small = 256 * 1024 * 1024;
  return {
    alert: 'NodejsHeapNearLimit',
    variants: [{ expr, for: c.heapFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} heap is at {{ $value | humanizePercentage }} of V8's heap limit`,
    description: `The V8 heap of ${who(ctx, [ctx.config.instanceLabel])} uses {{ $value | humanizePercentage }} of its limit (${catalog.heapSizeLimitBytes.name}, set by --max-old-space-size) for ${c.heapFor}: it will crash with "JavaScript heap out of memory" when it reaches it.`,
    firesWhen: `heap used / V8's heap limit (\`${catalog.heapSizeLimitBytes.name}\`) is above ${pct(c.heapUsedRatio)} for ${c.heapFor}.`,
    runbook: {
      meaning: `The live heap is close to the most V8 may use (\`--max-old-space-size\`, exported as \`${catalog.heapSizeLimitBytes.name}\`). The committed heap (\`${catalog.heapSizeTotalBytes.name}\`) is not the limit: V8 grows it on demand, so a full committed heap alone means nothing.`,
      impact:
        'Latency (GC runs constantly and blocks the event loop), then an out-of-memory crash and restart.',
      confirm: [
        'Node.js runtime dashboard: heap used against the heap limit, GC time by kind (major GCs dominate), RSS against the container limit.',
        'A heap that grows steadily between deploys is a leak; one that jumps with traffic is load.',
      ],
      actions: [
        'Take a heap snapshot of an affected instance (inspector, or `node --heapsnapshot-signal=SIGUSR2`) and compare two snapshots taken minutes apart.',
        'Common leaks: unbounded caches or maps keyed by request data, listeners added per request, closures kept by timers.',
        'Short term: restart the instance, or raise `--max-old-space-size` if the container has memory to spare (see NodejsMemoryNearLimit).',
      ],
      tuning: ['runtime.heapUsedRatio', 'runtime.heapFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'heap near V8 limit: fires',
        series: series(nearLimit, nearLimit, 0.01),
        evalMinutes: len,
        expect: [{ labels: t, value: nearLimit / limitBytes }],
      },
      {
        name: 'committed heap full and busy GC, but far below the limit (V8 grows the heap): silent',
        series: series(Math.round(small * full), small, c.gcTimeRatio * 2),
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function memoryNearLimit(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const base = baseMatchers(ctx);
  const rss = sel(catalog.processResidentMemoryBytes, '', base);
  const limit = sel(catalog.processMemoryLimitBytes, '', base);
  const expr = `${onVigil(ctx, `${rss} / ${limit}`)} > ${num(c.memoryUsedRatio)}`;
  const t = testTarget(ctx);
  const len = minutes(c.heapFor) + 10;
  const limitBytes = 1024 * 1024 * 1024;
  const high = Math.round(limitBytes * Math.min(0.99, (1 + c.memoryUsedRatio) / 2));
  const series = (rssBytes: number) => [
    testSeries(catalog.processResidentMemoryBytes.name, t, constant(rssBytes, len)),
    testSeries(catalog.processMemoryLimitBytes.name, t, constant(limitBytes, len)),
  ];
  return {
    alert: 'NodejsMemoryNearLimit',
    variants: [{ expr, for: c.heapFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} uses {{ $value | humanizePercentage }} of its container memory limit`,
    description: `The resident memory of ${who(ctx, [ctx.config.instanceLabel])} is {{ $value | humanizePercentage }} of its container's memory limit for ${c.heapFor}: the kernel kills it (OOMKilled) when it reaches the limit, whatever the V8 heap shows.`,
    firesWhen: `resident memory / the container memory limit (\`${catalog.processMemoryLimitBytes.name}\`, exported only where there is one) is above ${pct(c.memoryUsedRatio)} for ${c.heapFor}.`,
    runbook: {
      meaning:
        'The process uses nearly all the memory its container (cgroup) allows. Memory outside the V8 heap counts too: Buffers, native modules, thread stacks, the code space. At the limit the kernel kills the process without a JavaScript error.',
      impact: 'An OOM kill: requests in flight fail and the instance restarts (NodejsRestartingFrequently).',
      confirm: [
        'Node.js runtime dashboard: RSS against the container limit, and the heap against its own limit: a small heap with a large RSS means native or Buffer memory.',
        '`kubectl describe pod`: last state OOMKilled.',
      ],
      actions: [
        'Heap near its limit too: see NodejsHeapNearLimit.',
        'RSS far above the heap: look for large or retained Buffers (streams not consumed, big bodies held), and native modules.',
        '`--max-old-space-size` must leave room below the container limit for everything outside the heap (a quarter of it is a common margin).',
      ],
      tuning: ['runtime.memoryUsedRatio', 'runtime.heapFor'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: 'resident memory near the container limit: fires',
        series: series(high),
        evalMinutes: len,
        expect: [{ labels: t, value: high / limitBytes }],
      },
      {
        name: 'resident memory at half the limit: silent',
        series: series(limitBytes / 2),
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function restarts(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.runtime;
  const m = catalog.processStartTimeSeconds;
  const expr = `${onVigil(ctx, `changes(${sel(m, '', baseMatchers(ctx))}[${c.restartsWindow}])`)} >= ${c.restarts}`;
  const t = testTarget(ctx);
  const w = minutes(c.restartsWindow);
  // One restart every `step` minutes, `c.restarts` times, inside the window.
  const step = Math.max(1, Math.floor(w / (c.restarts + 1)));
  const values = (count: number) => {
    const v: number[] = [];
    let start = 1_700_000_000;
    for (let i = 0; i <= w; i++) {
      if (i > 0 && i % step === 0 && i / step <= count) start += step * 60;
      v.push(start);
    }
    return v.join(' ');
  };
  return {
    alert: 'NodejsRestartingFrequently',
    variants: [{ expr, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} restarted {{ $value | humanize }} times in ${c.restartsWindow}`,
    description: `The process of ${who(ctx, [ctx.config.instanceLabel])} started {{ $value | humanize }} times in the last ${c.restartsWindow}: it crashes, or is killed (OOM, failed liveness probe).`,
    firesWhen: `an instance's process start time changes ${c.restarts} times or more within ${c.restartsWindow}.`,
    runbook: {
      meaning:
        'The process keeps starting again on the same target: a crash loop, OOM kills, or a liveness probe that kills a healthy-but-slow process.',
      impact: 'Requests in flight at each crash fail; capacity drops while instances start.',
      confirm: [
        'Node.js runtime dashboard: "Restarts" and "Uptime"; the heap just before each restart.',
        'The orchestrator tells why: `kubectl describe pod` (OOMKilled, liveness probe failed) or the previous container logs (`kubectl logs --previous`).',
      ],
      actions: [
        'OOMKilled: see NodejsHeapNearLimit; align `--max-old-space-size` with the container memory limit.',
        'Uncaught exception at startup or at runtime: the last log lines before exit carry it.',
        'Liveness probe failures: the liveness check must not depend on dependencies (that is readiness); check event-loop delay.',
      ],
      tuning: ['runtime.restarts', 'runtime.restartsWindow'],
      dashboard: 'runtime',
    },
    tests: [
      {
        name: `${c.restarts} restarts within the window: fires`,
        series: [testSeries(m.name, t, values(c.restarts))],
        evalMinutes: w,
        expect: [{ labels: t, value: c.restarts }],
      },
      {
        name: `${c.restarts - 1} restarts: silent`,
        series: [testSeries(m.name, t, values(c.restarts - 1))],
        evalMinutes: w,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Resilience
// ---------------------------------------------------------------------------------------------

function breakerOpen(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.resilience;
  const m = catalog.circuitBreakerState;
  const states = catalog.BREAKER_STATE_VALUES;
  // Share of the window spent away from closed: a breaker cycling open, half-open, closed rejects
  // most calls without ever staying open, so a `for` on the state would never fire.
  const expr = `avg_over_time((${sel(m, '', baseMatchers(ctx))} > bool ${states.closed})[${c.breakerOpenWindow}:]) >= ${num(c.breakerOpenRatio)}`;
  const t = testTarget(ctx);
  const labels = { ...t, breaker: 'payments-api' };
  const w = minutes(c.breakerOpenWindow);
  const { open, half_open: half, closed } = states;
  // Prometheus 2.x subqueries take both ends of the window: w + 1 one-minute points.
  const share = (values: readonly number[], at: number) =>
    values.slice(at - w, at + 1).filter((x) => x > closed).length / (w + 1);
  const cycling = Array.from({ length: 4 * w }, (_, i) => [open, open, half, closed][i % 4]!);
  const stuck = [closed, closed, ...Array.from({ length: w + 4 }, () => open)];
  const once = [closed, closed, open, half, ...Array.from({ length: w + 4 }, () => closed)];
  return {
    alert: 'CircuitBreakerOpen',
    variants: [{ expr, severity: 'warning' }],
    summary: `Circuit breaker {{ $labels.breaker }} in ${who(ctx, [ctx.config.instanceLabel])} was away from closed {{ $value | humanizePercentage }} of the last ${c.breakerOpenWindow}`,
    description: `Circuit breaker {{ $labels.breaker }} in ${who(ctx, [ctx.config.instanceLabel])} was open or half-open {{ $value | humanizePercentage }} of the last ${c.breakerOpenWindow}: calls to its dependency are rejected or fall back most of the time, whether it stays open or keeps opening again.`,
    firesWhen: `a breaker spends ${pct(c.breakerOpenRatio)} or more of ${c.breakerOpenWindow} open or half-open (state > ${closed}), stuck open or cycling open, half-open, closed.`,
    runbook: {
      meaning: `The breaker opened on one of its triggers (the \`reason\` of ${catalog.circuitBreakerOpens.name}: ${catalog.BREAKER_OPEN_REASONS.join(', ')}): failures or timeouts in a row, too many failed or slow calls in its window, or failed half-open trial calls; and its trial calls keep failing, so it does not close.`,
      impact:
        'Every call guarded by the breaker is rejected at once (`VIGIL_BREAKER_OPEN`) or served by its fallback: the feature that needs the dependency is degraded.',
      confirm: [
        'Resilience dashboard: "Breaker state" over time, "Breaker opens by reason" (consecutive or error_rate: the dependency fails or hangs; slow_rate: it answers, but slowly; trial_failed: it has not recovered), "Breaker events" and "Slow call share"; "Outbound latency" for the target.',
        'Check the dependency itself (its own dashboards, status page).',
      ],
      actions: [
        'The dependency is down: follow its incident; the breaker protects this service meanwhile, nothing to change here.',
        'The dependency is slow rather than down (reason slow_rate, or timeouts): the breaker timeout or slowCallDurationMs may be shorter than its normal latency; compare with the outbound p99.',
        'Only one instance affected: a network path or DNS problem local to it.',
      ],
      tuning: ['resilience.breakerOpenWindow', 'resilience.breakerOpenRatio'],
      dashboard: 'resilience',
    },
    tests: [
      {
        name: 'cycling open, open, half-open, closed (away 75 % of the time, never for long): fires',
        series: [testSeries(m.name, labels, cycling.join(' '))],
        evalMinutes: cycling.length - 1,
        expect: [{ labels, value: share(cycling, cycling.length - 1) }],
      },
      {
        name: 'stuck open: fires',
        series: [testSeries(m.name, labels, stuck.join(' '))],
        evalMinutes: stuck.length - 1,
        expect: [{ labels, value: share(stuck, stuck.length - 1) }],
      },
      {
        name: 'opened once, closed after a successful trial: silent',
        series: [testSeries(m.name, labels, once.join(' '))],
        evalMinutes: w + 2,
        expect: [],
      },
    ],
  };
}

function loadShedding(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.resilience;
  const m = catalog.loadShedRequests;
  const keep = [...config.serviceLabels, config.instanceLabel];
  const expr = `sum${by(keep)} (rate(${sel(m, '', baseMatchers(ctx))}[5m])) > 0`;
  const t = testTarget(ctx);
  const labels = { ...t, reason: 'concurrency' };
  const len = minutes(c.loadSheddingFor) + 10;
  return {
    alert: 'LoadSheddingSustained',
    variants: [{ expr, for: c.loadSheddingFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} sheds {{ $value | humanize }} requests/s`,
    description: `${who(ctx, [ctx.config.instanceLabel])} has been answering requests with 503 from its load shedder for ${c.loadSheddingFor} ({{ $value | humanize }} per second): it gets more traffic than it can serve.`,
    firesWhen: `a process keeps shedding requests (${m.name} growing) for ${c.loadSheddingFor}.`,
    runbook: {
      meaning: `The load shedder answers 503 with Retry-After to requests over its limit (the \`reason\` label: ${catalog.LOAD_SHED_REASONS.join(', ')}) before any handler runs, so the requests it admits keep their latency and the process stays alive. Shedding for minutes means the offered load is above what the replicas can serve, not a short burst.`,
      impact:
        'Some requests fail fast with 503 (clients that honour Retry-After retry later); the ones admitted are served at normal latency. Readiness reports warn, not fail: the pod stays in rotation.',
      confirm: [
        'Resilience dashboard, "Load shedding" row: shed requests by reason, the concurrency limit against requests in flight, and the share of requests shed.',
        'Service overview: request rate and latency of the admitted requests; Node.js runtime: event-loop utilisation near 1 and CPU.',
      ],
      actions: [
        'Scale out (more replicas) or up (more CPU per pod); check that the autoscaler reacts to CPU or to this metric.',
        'A traffic spike from one client or route: rate-limit it at the edge.',
        'reason event_loop_delay, event_loop_utilization or heap: a static guard tripped; check the threshold and what blocks the loop or fills the heap.',
      ],
      tuning: ['resilience.loadSheddingFor'],
      dashboard: 'resilience',
    },
    tests: [
      {
        name: 'shedding continuously: fires',
        series: [testSeries(m.name, labels, growing(60, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: 1 }],
      },
      {
        name: 'one short burst of shedding: silent',
        series: [testSeries(m.name, labels, `0 600 ${constant(600, len)}`)],
        evalMinutes: len + 1,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Messaging
// ---------------------------------------------------------------------------------------------

/** Label set of the unit tests' synthetic queue. */
const QUEUE = { system: 'rabbitmq', destination: 'orders' };

function messageProcessingFailing(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.messaging;
  const m = catalog.messagingProcessDuration;
  const base = baseMatchers(ctx);
  const keep = [...config.serviceLabels, 'system', 'destination'];
  const v = (w: string) => onVigil(ctx, w);
  const { ack, nack, error } = catalog.MESSAGE_OUTCOMES;
  const total = `sum${by(keep)} ${v(`rate(${sel(m, '_count', base)}[5m])`)}`;
  const errors = `sum${by(keep)} ${v(`rate(${sel(m, '_count', [`outcome=${quote(error)}`, ...base])}[5m])`)}`;
  const expr = `(\n  ${errors}\n  /\n  ${total}\n) > ${num(c.errorRatio)}\nand\n${total} > ${num(c.minProcessRate)}`;
  const t = testTarget(ctx);
  const len = minutes(c.errorRatioFor) + 10;
  const n = busy(c.minProcessRate);
  const bad = Math.ceil(above(c.errorRatio) * n);
  const few = Math.floor((c.errorRatio * n) / 2);
  const s = (outcome: string, perMinute: number) =>
    testSeries(`${m.name}_count`, { ...t, ...QUEUE, outcome }, growing(perMinute, len));
  const lowTotal = (c.minProcessRate * 60) / 2;
  return {
    alert: 'MessageProcessingFailing',
    variants: [{ expr, for: c.errorRatioFor, severity: 'warning' }],
    summary: `{{ $value | humanizePercentage }} of the messages from {{ $labels.destination }} ({{ $labels.system }}) fail in ${who(ctx)}`,
    description: `The consumers of ${who(ctx)} failed to process more than ${pct(c.errorRatio)} of the messages from {{ $labels.destination }} over 5 minutes: {{ $value | humanizePercentage }}.`,
    firesWhen: `more than ${pct(c.errorRatio)} of the messages a service's consumers take from one queue end with outcome="${error}" over 5 minutes, for ${c.errorRatioFor}, with more than ${c.minProcessRate} messages per second.`,
    runbook: {
      meaning: `Message handlers throw or reject (outcome="${error}"), or their channel closes before they acknowledge, so the messages go back to the queue or to a dead-letter exchange. Rejections by the handler itself (outcome="${nack}") do not count: they are a decision, not a failure; "${ack}" is a processed message.`,
      impact:
        'The work carried by these messages is not done: redelivered messages loop (and may block the queue), or pile up in the dead-letter queue.',
      confirm: [
        'Database dashboard, "Messaging" row: "Processing failure ratio by queue" and "Processed messages by queue and outcome".',
        "The service's logs around the handler's error; a consumer span (`process <queue>`) carries the exception and continues the producer's trace.",
      ],
      actions: [
        'A poison message (one that always fails): move it to a dead-letter queue (reject without requeue, `x-dead-letter-exchange`) instead of redelivering it forever.',
        'A dependency of the handler is down (database, HTTP): see its own alerts; the failures stop when it returns.',
        'A deploy changed the message format: roll back the producer or the consumer until both agree.',
      ],
      tuning: ['messaging.errorRatio', 'messaging.errorRatioFor', 'messaging.minProcessRate'],
      dashboard: 'database',
    },
    tests: [
      {
        name: 'failures above the threshold: fires',
        series: [s(ack, n - bad), s(error, bad)],
        evalMinutes: len,
        expect: [{ labels: { ...pick(t, config.serviceLabels), ...QUEUE }, value: bad / n }],
      },
      {
        name: 'failures below the threshold and many rejections (a decision, not a failure): silent',
        series: [s(ack, n - few), s(error, few), s(nack, n)],
        evalMinutes: len,
        expect: [],
      },
      {
        name: 'high failure ratio below the minimum rate: silent',
        series: [s(ack, lowTotal / 2), s(error, lowTotal / 2)],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

function messageQueueBacklog(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.messaging;
  const m = catalog.messagingQueueMessages;
  const keep = [...config.serviceLabels, 'system', 'destination'];
  // Every replica reports the same broker-side depth: max, not sum.
  const expr = `max${by(keep)} ${onVigil(ctx, sel(m, '', baseMatchers(ctx)))} > ${num(c.queueBacklog)}`;
  const t = testTarget(ctx);
  const labels = { ...t, ...QUEUE };
  const len = minutes(c.queueBacklogFor) + 5;
  const high = c.queueBacklog * 2;
  return {
    alert: 'MessageQueueBacklog',
    variants: [{ expr, for: c.queueBacklogFor, severity: 'warning' }],
    summary: `{{ $value | humanize }} messages wait in {{ $labels.destination }} ({{ $labels.system }}) for ${who(ctx)}`,
    description: `Queue {{ $labels.destination }} watched by ${who(ctx)} has held more than ${num(c.queueBacklog)} ready messages for ${c.queueBacklogFor}: {{ $value | humanize }}. Its consumers do not keep up.`,
    firesWhen: `a watched queue (\`queues\` of instrumentAmqplib) holds more than ${num(c.queueBacklog)} ready messages for ${c.queueBacklogFor}.`,
    runbook: {
      meaning:
        'Messages arrive faster than the consumers take them, or the consumers stopped: the backlog is the consumer lag the broker reports (ready messages, not yet delivered).',
      impact:
        "The work the messages carry is delayed by the time it takes to drain the backlog; a queue without a length limit also grows the broker's memory and disk.",
      confirm: [
        'Database dashboard, "Messaging" row: "Queue depth" against "Processed messages by queue and outcome" (did processing slow down or stop, or did publishing grow?).',
        'RabbitMQ: `rabbitmqctl list_queues name messages_ready messages_unacknowledged consumers` shows whether the queue has consumers at all.',
      ],
      actions: [
        'No consumers: the consuming service is down or lost its channel; see its health and logs.',
        "Consumers slow: look at the processing p99 by queue and the handler's dependencies; raise the prefetch or the number of consumers if they are idle waiting on the broker.",
        'A burst of publishes: it drains by itself if processing is faster than publishing on average; otherwise scale the consumers.',
      ],
      tuning: ['messaging.queueBacklog', 'messaging.queueBacklogFor'],
      dashboard: 'database',
    },
    tests: [
      {
        name: 'backlog above the threshold for the whole duration: fires',
        series: [testSeries(m.name, labels, constant(high, len))],
        evalMinutes: len,
        expect: [{ labels: pick(labels, keep), value: high }],
      },
      {
        name: 'backlog that drains: silent',
        series: [testSeries(m.name, labels, `${num(high)} ${num(high)} ${constant(0, len - 2)}`)],
        evalMinutes: len,
        expect: [],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------------------------

/** `probe` label value of the readiness probe in `vigil_health_status`. */
const READINESS = 'readiness';

function readinessFailing(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.health;
  const m = catalog.healthStatus;
  const { pass, fail } = catalog.HEALTH_STATUS_VALUES;
  const expr = `${sel(m, '', [`probe=${quote(READINESS)}`, ...baseMatchers(ctx)])} == ${fail}`;
  const t = testTarget(ctx);
  const labels = { ...t, probe: READINESS };
  const len = minutes(c.readinessFailingFor) + 5;
  return {
    alert: 'ReadinessFailing',
    variants: [{ expr, for: c.readinessFailingFor, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} has been not ready for ${c.readinessFailingFor}`,
    description: `The readiness probe of ${who(ctx, [ctx.config.instanceLabel])} has failed for ${c.readinessFailingFor}: the load balancer sends it no traffic.`,
    firesWhen: `an instance's readiness status is fail (${fail}) for ${c.readinessFailingFor}.`,
    runbook: {
      meaning:
        'At least one readiness check fails, so the instance reports itself unable to serve and is taken out of the load balancer.',
      impact: 'Less capacity; if every instance fails, the service is unavailable.',
      confirm: [
        'Health dashboard: "Check status" shows which check fails; "Check duration" whether it times out.',
        '`curl -sS http://<instance>/readyz` answers 503 with the failing check by name.',
      ],
      actions: [
        'A dependency check fails (database, cache): fix or fail over the dependency; the instance returns by itself.',
        "A check times out: its timeout may be below the dependency's normal latency.",
        'The instance is draining for shutdown: expected for a few seconds only; longer means shutdown hangs.',
      ],
      tuning: ['health.readinessFailingFor'],
      dashboard: 'health',
    },
    tests: [
      {
        name: 'not ready for longer than `for`: fires',
        series: [testSeries(m.name, labels, `${pass}x2 ${constant(fail, len)}`)],
        evalMinutes: len + 2,
        expect: [{ labels, value: fail }],
      },
      {
        name: 'warn is not fail: silent',
        series: [testSeries(m.name, labels, `${pass}x2 ${constant(catalog.HEALTH_STATUS_VALUES.warn, len)}`)],
        evalMinutes: len + 2,
        expect: [],
      },
    ],
  };
}

function readinessFlapping(ctx: GenContext): AlertDef {
  const { catalog, config } = ctx;
  const c = config.health;
  const m = catalog.healthStatus;
  const { pass, warn, fail } = catalog.HEALTH_STATUS_VALUES;
  // Only fail (503) against pass or warn (both 200) moves the instance in and out of the load balancer.
  const expr = `changes((${sel(m, '', [`probe=${quote(READINESS)}`, ...baseMatchers(ctx)])} > bool ${fail})[${c.readinessFlapWindow}:]) >= ${c.readinessFlaps}`;
  const t = testTarget(ctx);
  const labels = { ...t, probe: READINESS };
  const w = minutes(c.readinessFlapWindow);
  const flips = (count: number, other: number = fail) => {
    const v: number[] = [];
    let cur: number = pass;
    for (let i = 0; i <= w; i++) {
      if (i > 0 && i <= count) cur = cur === pass ? other : pass;
      v.push(cur);
    }
    return v.join(' ');
  };
  return {
    alert: 'ReadinessFlapping',
    variants: [{ expr, severity: 'warning' }],
    summary: `${who(ctx, [ctx.config.instanceLabel])} readiness changed {{ $value | humanize }} times in ${c.readinessFlapWindow}`,
    description: `The readiness of ${who(ctx, [ctx.config.instanceLabel])} changed between failing (503) and ready (200) {{ $value | humanize }} times in ${c.readinessFlapWindow}: the instance keeps entering and leaving the load balancer.`,
    firesWhen: `an instance's readiness changes between fail (503) and pass or warn (200) ${c.readinessFlaps} times or more within ${c.readinessFlapWindow}.`,
    runbook: {
      meaning:
        "A readiness check passes and fails in turns: a flaky dependency, or a check timeout close to the dependency's normal latency.",
      impact: 'Connections are moved on and off the instance; requests routed during the flips may fail.',
      confirm: [
        'Health dashboard: "Probe status" over time and "Check duration" p99 against the check timeout.',
      ],
      actions: [
        'Check duration near its timeout: raise the timeout or make the check cheaper (`select 1`, not a real query).',
        'A dependency that really flaps: fix it; consider a `warn` (degraded) result instead of `fail` for non-critical dependencies.',
      ],
      tuning: ['health.readinessFlaps', 'health.readinessFlapWindow'],
      dashboard: 'health',
    },
    tests: [
      {
        name: 'status flipping: fires',
        series: [testSeries(m.name, labels, flips(c.readinessFlaps))],
        evalMinutes: w,
        expect: [{ labels, value: c.readinessFlaps }],
      },
      {
        name: 'pass and warn alternating (both answer 200, the instance stays in the load balancer): silent',
        series: [testSeries(m.name, labels, flips(c.readinessFlaps * 3, warn))],
        evalMinutes: w,
        expect: [],
      },
      {
        name: `${c.readinessFlaps - 1} changes: silent`,
        series: [testSeries(m.name, labels, flips(c.readinessFlaps - 1))],
        evalMinutes: w,
        expect: [],
      },
    ],
  };
}

/** Rule files other than the SLO one. */
export function ruleFiles(ctx: GenContext): RuleFile[] {
  return [
    {
      name: 'vigil-http',
      title: 'HTTP server: 5xx ratio and p99 latency per service.',
      groups: [{ name: 'vigil-http', alerts: [httpErrorRatio(ctx), httpLatency(ctx)] }],
    },
    {
      name: 'vigil-service',
      title: 'Scrape targets and Vigil itself (series caps, tracing pipeline).',
      groups: [
        {
          name: 'vigil-service',
          recording: targetRecords(ctx),
          alerts: [
            serviceDown(ctx),
            serviceAbsent(ctx),
            targetDown(ctx),
            seriesOverflow(ctx),
            spansDropped(ctx),
            logLinesDropped(ctx),
          ],
        },
      ],
    },
    {
      name: 'vigil-runtime',
      title: 'Node.js runtime: event loop, heap, restarts.',
      groups: [
        {
          name: 'vigil-runtime',
          alerts: [
            eventLoopLag(ctx),
            eventLoopUtilization(ctx),
            heapNearLimit(ctx),
            memoryNearLimit(ctx),
            restarts(ctx),
          ],
        },
      ],
    },
    {
      name: 'vigil-database',
      title: 'Database queries: latency and errors per operation and table; pool exhaustion.',
      groups: [{ name: 'vigil-database', alerts: [dbSlow(ctx), dbErrors(ctx), dbPoolExhausted(ctx)] }],
    },
    {
      name: 'vigil-messaging',
      title: 'Message consumers: failures and queue backlog.',
      groups: [
        { name: 'vigil-messaging', alerts: [messageProcessingFailing(ctx), messageQueueBacklog(ctx)] },
      ],
    },
    {
      name: 'vigil-resilience',
      title: 'Circuit breakers and load shedding.',
      groups: [{ name: 'vigil-resilience', alerts: [breakerOpen(ctx), loadShedding(ctx)] }],
    },
    {
      name: 'vigil-health',
      title: 'Readiness.',
      groups: [{ name: 'vigil-health', alerts: [readinessFailing(ctx), readinessFlapping(ctx)] }],
    },
  ];
}
