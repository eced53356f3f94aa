// SLO recording rules and multi-window, multi-burn-rate alerts (Google SRE workbook), generated from
// the HTTP metrics of the catalog and the SLO targets of the generation config.
//
// Per service (the configured service labels) and SLO (`slo="availability"` or `"latency"`):
//   vigil_slo:sli_requests:rate5m, vigil_slo:sli_errors:rate5m   valid and bad events per second
//                                                                  (availability: while every target
//                                                                  is down, the last rate, all bad)
//   vigil_slo:sli_error:ratio_rate<w>                              bad / valid over each alert window
//                                                                  and the SLO window, from the 5m records
//   vigil_slo:objective:ratio                                      the objective (config: slo, or
//                                                                  services.<name>), a series so queries
//                                                                  and alerts read it per service
//   vigil_slo:window_coverage:ratio                                share of the SLO window with data (0 to 1)
//   vigil_slo:error_budget_remaining:ratio                         1 = untouched, 0 = spent, < 0 = overspent,
//                                                                  the window without data counting as unspent
// Windows of a day or more are a separate group with a slower interval (longWindowInterval).

import { burnRateFactor, durationSeconds } from './config.js';
import {
  type AlertDef,
  type AlertTest,
  type AlertVariant,
  baseMatchers,
  type ExprTest,
  type GenContext,
  growing,
  markerSeries,
  onVigil,
  pct,
  pick,
  type RecordingRule,
  type RuleFile,
  TARGET_RECORDS,
  type TestSeries,
  testSeries,
  testTarget,
  upLabels,
  who,
} from './model.js';
import { by, leMatcher, num, quote, sel } from './promql.js';

export const SLO_RECORDS = Object.freeze({
  requests: 'vigil_slo:sli_requests:rate5m',
  errors: 'vigil_slo:sli_errors:rate5m',
  ratio: (window: string) => `vigil_slo:sli_error:ratio_rate${window}`,
  budgetRemaining: 'vigil_slo:error_budget_remaining:ratio',
  coverage: 'vigil_slo:window_coverage:ratio',
  objective: 'vigil_slo:objective:ratio',
});

/** Resolution of the search for a service's oldest SLI sample over the window (and within the last one). */
const COVERAGE_STEP = '1h';
const COVERAGE_FINE_STEP = '1m';

/**
 * Share of the SLO window since the oldest recorded SLI sample, clamped to 1: the oldest sample
 * found at hourly steps over the window, or at minute steps within the first hour of data.
 */
export function coverageExpr(ctx: GenContext, slo: string): string {
  const window = ctx.config.slo.window;
  const ts = `timestamp(${sloSeries(SLO_RECORDS.requests, slo)})`;
  const oldest = `min_over_time(${ts}[${window}:${COVERAGE_STEP}])\n  or\n  min_over_time(${ts}[${COVERAGE_STEP}:${COVERAGE_FINE_STEP}])`;
  return `clamp_max(\n  (time() - (\n  ${oldest}\n  )) / ${durationSeconds(window)},\n  1\n)`;
}

export type SloName = 'availability' | 'latency';
export const SLO_NAMES: readonly SloName[] = ['availability', 'latency'];

/** The objective of `service` (a value of the service key label), or the shared one. */
export function objectiveOf(ctx: GenContext, slo: SloName, service?: string): number {
  const own = service === undefined ? undefined : ctx.config.services[service];
  return own ? own[slo].objective : ctx.config.slo[slo].objective;
}

/** The error budget as a ratio (1 - objective), rounded so 1 - 0.999 prints as 0.001. */
export function budgetOf(ctx: GenContext, slo: SloName, service?: string): number {
  return Number(num(1 - objectiveOf(ctx, slo, service)));
}

/** The unit tests' service (its service key label value), whose objective the tests assume. */
function testService(ctx: GenContext): string | undefined {
  return testTarget(ctx)[serviceKeyLabel(ctx)];
}

/** Every window the burn-rate alerts look at, shortest first (always including 5m). */
export function alertWindows(ctx: GenContext): string[] {
  const ws = new Set<string>(['5m']);
  for (const t of ctx.catalog.BURN_RATE_TIERS) ws.add(t.shortWindow).add(t.longWindow);
  return [...ws].sort((a, b) => durationSeconds(a) - durationSeconds(b));
}

/** The label whose values key `services` in the config: the last service label (`service` by default). */
export function serviceKeyLabel(ctx: GenContext): string {
  const sl = ctx.config.serviceLabels;
  return sl[sl.length - 1]!;
}

/**
 * The objective records of one SLO: one series per service seen by the SLI, valued at that
 * service's objective (its `services` entry, else the shared one).
 */
function objectiveRules(ctx: GenContext, slo: SloName): RecordingRule[] {
  const sl = ctx.config.serviceLabels;
  const key = serviceKeyLabel(ctx);
  const named = Object.entries(ctx.config.services);
  const of = (objective: number, matcher: string[]) =>
    `${num(objective)} + 0 * max${by(sl)} (${sloSeries(SLO_RECORDS.requests, slo, matcher)})`;
  const regex = named.map(([n]) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  // One rule per SLO (promtool refuses two records of one name and labels): disjoint parts by `or`.
  const parts = [of(objectiveOf(ctx, slo), named.length ? [`${key}!~${quote(regex)}`] : [])];
  for (const [name, o] of named) parts.push(of(o[slo].objective, [`${key}=${quote(name)}`]));
  return [{ record: SLO_RECORDS.objective, expr: parts.join('\nor\n'), labels: { slo } }];
}

/** `(1 - objective)` of every service: the error budget as a ratio, matched on the service labels. */
export function budgetSeries(ctx: GenContext, slo: string, matchers: readonly string[] = []): string {
  return `on (${[...ctx.config.serviceLabels, 'slo'].join(', ')}) (1 - ${sloSeries(SLO_RECORDS.objective, slo, matchers)})`;
}

/** `{slo="x"}` selector of a recorded SLO series. */
export function sloSeries(record: string, slo: string, extra: readonly string[] = []): string {
  return `${record}{${[`slo=${quote(slo)}`, ...extra].join(', ')}}`;
}

/** The `slo` label value of a route group's latency SLO. */
export function routeGroupSlo(name: string): string {
  return `latency:${name}`;
}

/** PromQL regex of exact route templates. */
function routesRegex(routes: readonly string[]): string {
  return routes.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/**
 * Selector of an SLO's records in the burn-rate alerts: the latency alert covers the service-wide
 * latency SLO and every route group's (`slo=~"latency|latency:<group>"`).
 */
function burnSeries(ctx: GenContext, record: string, slo: SloName): string {
  const groups = Object.keys(ctx.config.routeGroups);
  if (slo === 'availability' || !groups.length) return sloSeries(record, slo);
  return `${record}{slo=~${quote(['latency', ...groups.map(routeGroupSlo)].join('|'))}}`;
}

/** A route group's threshold and routes, for its SLI. */
interface GroupSli {
  readonly thresholdSeconds: number;
  readonly routes: readonly string[];
}

/** Valid events and bad events per second over `w`, per service. */
function sliRates(
  ctx: GenContext,
  slo: SloName,
  w: string,
  group?: GroupSli,
): { total: string; bad: string } {
  const { catalog, config } = ctx;
  const base = baseMatchers(ctx);
  const sl = config.serviceLabels;
  if (slo === 'availability') {
    const m = catalog.httpRequestsTotal;
    const total = `sum${by(sl)} ${onVigil(ctx, `rate(${sel(m, '', base)}[${w}])`)}`;
    const errors = `sum${by(sl)} ${onVigil(ctx, `rate(${sel(m, '', ['status_code=~"5.."', ...base])}[${w}])`)}`;
    // A service without any 5xx series has no error rate at all: count it as 0, not as missing.
    return { total, bad: `(${errors} or ${total} * 0)` };
  }
  const m = catalog.httpRequestDuration;
  const valid = [
    'status_code!~"5.."',
    ...(group ? [`route=~${quote(routesRegex(group.routes))}`] : []),
    ...base,
  ];
  const threshold = group?.thresholdSeconds ?? config.slo.latency.thresholdSeconds;
  const total = `sum${by(sl)} ${onVigil(ctx, `rate(${sel(m, '_count', valid)}[${w}])`)}`;
  const good = `sum${by(sl)} ${onVigil(ctx, `rate(${sel(m, '_bucket', [leMatcher(threshold), ...valid])}[${w}])`)}`;
  return { total, bad: `(${total} - ${good})` };
}

/** Windows of a day or more go to their own, slower rule group. */
export function isLongWindow(w: string): boolean {
  return durationSeconds(w) >= 86_400;
}

/**
 * The SLI records of one SLO. Every window is a ratio of sums of the recorded 5m rates, so what the
 * 5m records count (an outage included) reaches every window, and no rule reads days of raw samples.
 */
function recordingRules(
  ctx: GenContext,
  slo: SloName,
  group?: { name: string } & GroupSli & { objective: number },
): { short: RecordingRule[]; long: RecordingRule[] } {
  const label = group ? routeGroupSlo(group.name) : slo;
  const labels = { slo: label };
  const sl = ctx.config.serviceLabels;
  const short: RecordingRule[] = [];
  const long: RecordingRule[] = [];
  const r5 = sliRates(ctx, slo, '5m', group);
  if (slo === 'availability') {
    // While no target of a service answers, its requests fail: keep the last request rate and
    // count all of it as errors, instead of recording nothing.
    const on = `on (${sl.join(', ')})`;
    const down = `(${TARGET_RECORDS.serviceUp} == 0)`;
    const last = `max${by(sl)} (last_over_time(${sloSeries(SLO_RECORDS.requests, slo)}[10m]))`;
    const whileDown = `(${last} and ${on} ${down})`;
    short.push({
      record: SLO_RECORDS.requests,
      expr: `(${r5.total} unless ${on} ${down})\nor\n${whileDown}`,
      labels,
    });
    short.push({
      record: SLO_RECORDS.errors,
      expr: `(${r5.bad} unless ${on} ${down})\nor\n${whileDown}`,
      labels,
    });
  } else {
    short.push({ record: SLO_RECORDS.requests, expr: r5.total, labels });
    short.push({ record: SLO_RECORDS.errors, expr: r5.bad, labels });
  }
  short.push(
    ...(group
      ? [
          {
            record: SLO_RECORDS.objective,
            expr: `${num(group.objective)} + 0 * max${by(sl)} (${sloSeries(SLO_RECORDS.requests, label)})`,
            labels,
          },
        ]
      : objectiveRules(ctx, slo)),
  );
  const window = ctx.config.slo.window;
  for (const w of [...alertWindows(ctx), window]) {
    const expr =
      w === '5m'
        ? `${sloSeries(SLO_RECORDS.errors, label)}\n/\n${sloSeries(SLO_RECORDS.requests, label)}`
        : `sum_over_time(${sloSeries(SLO_RECORDS.errors, label)}[${w}])\n/\nsum_over_time(${sloSeries(SLO_RECORDS.requests, label)}[${w}])`;
    (isLongWindow(w) ? long : short).push({ record: SLO_RECORDS.ratio(w), expr, labels });
  }
  long.push({ record: SLO_RECORDS.coverage, expr: coverageExpr(ctx, label), labels });
  // Spent so far against the whole window's budget: a young service (or Prometheus) with a minute
  // of errors has spent a minute's worth, not the window's many times over.
  long.push({
    record: SLO_RECORDS.budgetRemaining,
    expr: `1 - ${sloSeries(SLO_RECORDS.ratio(window), label)} / ${budgetSeries(ctx, label)} * on (${[...sl, 'slo'].join(', ')}) ${sloSeries(SLO_RECORDS.coverage, label)}`,
    labels,
  });
  return { short, long };
}

/** The burn-rate threshold (error ratio) of each tier of an SLO. */
export function tierThresholds(ctx: GenContext, slo: SloName, service?: string) {
  const budget = budgetOf(ctx, slo, service);
  return ctx.catalog.BURN_RATE_TIERS.map((t) => {
    const factor = burnRateFactor(t, ctx.config.slo);
    return { ...t, factor, budget, threshold: factor * budget };
  });
}

const TEST_RATE = 10_000; // valid requests per minute in the SLO unit tests

/** The unit tests' route: one no route group claims, so only the service-wide SLOs see it. */
export function testRoute(ctx: GenContext): string {
  const claimed = new Set(Object.values(ctx.config.routeGroups).flatMap((g) => g.routes));
  for (let i = 0; ; i++) {
    const route = i === 0 ? '/orders/:id' : `/orders-${i}/:id`;
    if (!claimed.has(route)) return route;
  }
}

/** Series of a service whose error ratio (5xx share, or slow share) is `bad / TEST_RATE`. */
function sloSeriesFor(
  ctx: GenContext,
  slo: SloName,
  bad: number,
  length: number,
  noise: boolean,
  target: Readonly<Record<string, string>> = testTarget(ctx),
): TestSeries[] {
  const { catalog } = ctx;
  const t = { ...target, route: testRoute(ctx), method: 'GET' };
  if (slo === 'availability') {
    const m = catalog.httpRequestsTotal.name;
    const out = [testSeries(m, { ...t, status_code: '200' }, growing(TEST_RATE - bad, length))];
    if (bad > 0) out.push(testSeries(m, { ...t, status_code: '503' }, growing(bad, length)));
    if (noise) {
      // Client errors and aborts are not the service's fault: with them counted, this would burn.
      out.push(testSeries(m, { ...t, status_code: '404' }, growing(TEST_RATE, length)));
      out.push(
        testSeries(m, { ...t, status_code: catalog.LABEL_VALUES.abortedStatus }, growing(TEST_RATE, length)),
      );
    }
    return out;
  }
  const m = catalog.httpRequestDuration;
  const le = String(ctx.config.slo.latency.thresholdSeconds);
  const out = [
    testSeries(`${m.name}_bucket`, { ...t, status_code: '200', le }, growing(TEST_RATE - bad, length)),
    testSeries(`${m.name}_count`, { ...t, status_code: '200' }, growing(TEST_RATE, length)),
  ];
  if (noise) {
    // Slow 5xx belong to the availability SLI, not this one: with them counted, this would burn.
    out.push(testSeries(`${m.name}_bucket`, { ...t, status_code: '500', le }, growing(0, length)));
    out.push(testSeries(`${m.name}_count`, { ...t, status_code: '500' }, growing(TEST_RATE, length)));
  }
  return out;
}

/**
 * The ratio a window's record holds at minute `at` of a test, from per-minute 5m-rate records
 * (Prometheus 2.x ranges take both ends).
 */
function windowRatio(
  bad: (minute: number) => number,
  total: (minute: number) => number,
  at: number,
  window: string,
): number {
  let b = 0;
  let t = 0;
  for (let k = Math.max(1, at - durationSeconds(window) / 60); k <= at; k++) {
    b += bad(k);
    t += total(k);
  }
  return b / t;
}

/**
 * Every target of the service dies: requests stop being recorded, yet the availability SLO must
 * burn. Live records before: rate() over 5m of a counter born at minute 0 sees min(k, 5) minutes.
 */
function outageTest(
  ctx: GenContext,
  tiers: ReturnType<typeof tierThresholds>,
  labels: Readonly<Record<string, string>>,
): AlertTest {
  const t = { ...testTarget(ctx), route: testRoute(ctx), method: 'GET' };
  const crash = 60;
  const at = crash + 10;
  const length = at + 10;
  const perSecond = TEST_RATE / 60;
  const total = (k: number) => (k <= crash ? (perSecond * Math.min(k, 5)) / 5 : perSecond);
  const bad = (k: number) => (k <= crash ? 0 : perSecond);
  // `$value` of `(long > x and short > x) or ...` is the long-window ratio of the first pair that holds.
  const firing = (tier: 'page' | 'ticket') => {
    for (const x of tiers.filter((y) => y.tier === tier)) {
      const long = windowRatio(bad, total, at, x.longWindow);
      if (long > x.threshold && windowRatio(bad, total, at, x.shortWindow) > x.threshold) return long;
    }
    return undefined;
  };
  const page = firing('page');
  const ticket = firing('ticket');
  if (page === undefined || ticket === undefined)
    throw new Error('the outage unit test must fire both tiers');
  return {
    name: `every target down for ${at - crash}m (no requests recorded any more): page and ticket fire`,
    series: [
      testSeries(
        ctx.catalog.httpRequestsTotal.name,
        { ...t, status_code: '200' },
        `${growing(TEST_RATE, crash)} _x${length - crash}`,
      ),
      testSeries('up', upLabels(ctx, t), `1x${crash} 0x${length - crash}`),
      markerSeries(ctx, t, `0x${crash} _x${length - crash}`),
    ],
    evalMinutes: at,
    expect: [
      { labels, variant: 0, value: page },
      { labels, variant: 1, value: ticket },
    ],
  };
}

/** Histogram series of one route: `bad` of TEST_RATE requests per minute slower than `slowAt`, none slower than the rest. */
function routeSeries(
  ctx: GenContext,
  target: Readonly<Record<string, string>>,
  route: string,
  bad: number,
  slowAt: number,
  length: number,
): TestSeries[] {
  const m = ctx.catalog.httpRequestDuration;
  const t = { ...target, route, method: 'GET', status_code: '200' };
  const les = [
    ...new Set([
      slowAt,
      ctx.config.slo.latency.thresholdSeconds,
      ...Object.values(ctx.config.routeGroups).map((g) => g.latency.thresholdSeconds),
    ]),
  ];
  return [
    ...les.map((le) =>
      testSeries(
        `${m.name}_bucket`,
        { ...t, le: String(le) },
        growing(le < slowAt || le === slowAt ? TEST_RATE - bad : TEST_RATE, length),
      ),
    ),
    testSeries(`${m.name}_count`, t, growing(TEST_RATE, length)),
  ];
}

/**
 * A route group burning fast pages on its own SLO (`slo="latency:<group>"`) while the service-wide
 * latency SLO, whose threshold those requests meet, stays silent. Only for groups stricter than
 * the service-wide threshold (otherwise both burn and the test would not tell them apart).
 */
function routeGroupTests(ctx: GenContext, target: Readonly<Record<string, string>>): AlertTest[] {
  const out: AlertTest[] = [];
  const length = 70;
  for (const [name, g] of Object.entries(ctx.config.routeGroups)) {
    if (!(g.latency.thresholdSeconds < ctx.config.slo.latency.thresholdSeconds)) continue;
    const factors = ctx.catalog.BURN_RATE_TIERS.filter((t) => t.tier === 'page').map((t) =>
      burnRateFactor(t, ctx.config.slo),
    );
    const maxPage = Math.max(...factors) * (1 - g.latency.objective);
    const bad = Math.min(TEST_RATE, Math.ceil(Math.min(maxPage * 2, (1 + maxPage) / 2) * TEST_RATE));
    const labels = { ...target, slo: routeGroupSlo(name) };
    out.push({
      name: `route group ${name} (${g.routes[0]}) burning fast (${pct(bad / TEST_RATE)} slower than ${g.latency.thresholdSeconds}s): page and ticket on slo="${routeGroupSlo(name)}" only`,
      series: routeSeries(ctx, testTarget(ctx), g.routes[0]!, bad, g.latency.thresholdSeconds, length),
      evalMinutes: length,
      expect: [
        { labels, variant: 0, value: bad / TEST_RATE },
        { labels, variant: 1, value: bad / TEST_RATE },
      ],
    });
  }
  return out;
}

/** The objective(s) an alert's text states: the shared one, then any per-service or route-group ones. */
function objectiveText(ctx: GenContext, slo: SloName): string {
  const own = [
    ...Object.entries(ctx.config.services)
      .filter(([, o]) => o[slo].objective !== objectiveOf(ctx, slo))
      .map(([n, o]) => `${n} ${pct(o[slo].objective)}`),
    ...(slo === 'latency'
      ? Object.entries(ctx.config.routeGroups).map(
          ([n, g]) => `${routeGroupSlo(n)} ${pct(g.latency.objective)}`,
        )
      : []),
  ];
  return own.length ? `${pct(objectiveOf(ctx, slo))} (${own.join(', ')})` : pct(objectiveOf(ctx, slo));
}

function burnAlert(ctx: GenContext, slo: SloName): AlertDef {
  // The unit tests burn the test service's own budget; the docs state the shared objective's.
  const tiers = tierThresholds(ctx, slo, testService(ctx));
  const shared = tierThresholds(ctx, slo);
  const { window } = ctx.config.slo;
  const objective = objectiveOf(ctx, slo);
  const sl = ctx.config.serviceLabels;
  const variants: AlertVariant[] = [];
  for (const tier of ['page', 'ticket'] as const) {
    const ofTier = tiers.filter((t) => t.tier === tier);
    if (!ofTier.length) continue;
    const expr = ofTier
      .map((t) => {
        const limit = `on (${[...sl, 'slo'].join(', ')}) (${num(t.factor)} * (1 - ${burnSeries(ctx, SLO_RECORDS.objective, slo)}))`;
        return `(\n  ${burnSeries(ctx, SLO_RECORDS.ratio(t.longWindow), slo)} > ${limit}\n  and\n  ${burnSeries(ctx, SLO_RECORDS.ratio(t.shortWindow), slo)} > ${limit}\n)`;
      })
      .join('\nor\n');
    variants.push({
      expr,
      severity: ofTier[0]!.severity,
      labels: { [ctx.catalog.BURN_RATE_TIER_LABEL]: tier },
    });
  }
  const what =
    slo === 'availability'
      ? 'requests failing with 5xx'
      : Object.keys(ctx.config.routeGroups).length
        ? `requests slower than the threshold of SLO {{ $labels.slo }} (${[
            `latency: ${ctx.config.slo.latency.thresholdSeconds}s`,
            ...Object.entries(ctx.config.routeGroups).map(
              ([n, g]) => `${routeGroupSlo(n)}: ${g.latency.thresholdSeconds}s`,
            ),
          ].join(', ')})`
        : `requests slower than ${ctx.config.slo.latency.thresholdSeconds}s`;
  const alert = slo === 'availability' ? 'AvailabilityBudgetBurn' : 'LatencyBudgetBurn';

  // Unit tests: a fast burn fires both tiers, a slow burn only the ticket, a small one nothing.
  const page = tiers.filter((t) => t.tier === 'page');
  const ticket = tiers.filter((t) => t.tier === 'ticket');
  const minPage = Math.min(...page.map((t) => t.threshold));
  const maxPage = Math.max(...page.map((t) => t.threshold));
  const maxTicket = Math.max(...ticket.map((t) => t.threshold));
  const minTicket = Math.min(...ticket.map((t) => t.threshold));
  const length = 70;
  const bads = {
    fast: Math.min(TEST_RATE, Math.ceil(Math.min(maxPage * 2, (1 + maxPage) / 2) * TEST_RATE)),
    slow: Math.round(((maxTicket + minPage) / 2) * TEST_RATE),
    none: Math.floor((minTicket / 2) * TEST_RATE),
  };
  const r = (bad: number) => bad / TEST_RATE;
  if (
    !(r(bads.slow) > maxTicket && r(bads.slow) < minPage) ||
    !(r(bads.fast) > maxPage) ||
    !(r(bads.none) < minTicket)
  ) {
    throw new Error(`cannot build ${alert} unit tests for the configured ${slo} objective ${objective}`);
  }
  const sustainable = Number(num(0.97 * budgetOf(ctx, slo, testService(ctx))));
  const target = pick(testTarget(ctx), sl);
  const labels = { ...target, slo };
  const tests: AlertTest[] = [
    {
      name: `fast burn (${pct(r(bads.fast))} ${what}): page and ticket both fire (inhibit ticket by ${ctx.catalog.BURN_RATE_TIER_LABEL})`,
      series: sloSeriesFor(ctx, slo, bads.fast, length, false),
      evalMinutes: length,
      expect: [
        { labels, variant: 0, value: r(bads.fast) },
        { labels, variant: 1, value: r(bads.fast) },
      ],
    },
    {
      name: `slow burn (${pct(r(bads.slow))}): ticket only`,
      series: sloSeriesFor(ctx, slo, bads.slow, length, false),
      evalMinutes: length,
      expect: [{ labels, variant: 1, value: r(bads.slow) }],
    },
    {
      // A factor below 1 (a 7- or 28-day window with the 30-day budget shares) would fire here.
      name: `burning at 97 % of the sustainable rate (${pct(sustainable)}: the budget lasts the window): silent`,
      series: sloSeriesFor(ctx, slo, sustainable * TEST_RATE, length, false),
      evalMinutes: length,
      expect: [],
    },
    {
      name: `within budget (${pct(r(bads.none))}), plus traffic that is not this SLI's concern: silent`,
      series: sloSeriesFor(ctx, slo, bads.none, length, true),
      evalMinutes: length,
      expect: [],
    },
  ];
  if (slo === 'availability') tests.push(outageTest(ctx, tiers, labels));
  else tests.push(...routeGroupTests(ctx, target));
  const tierText = shared
    .map(
      (t) =>
        `${t.tier} when both the ${t.longWindow} and ${t.shortWindow} ratios exceed ${num(t.factor)}× the budget (${pct(t.threshold)})`,
    )
    .join('; ');
  const title = slo === 'availability' ? 'availability' : 'latency';
  return {
    alert,
    variants,
    summary: `${who(ctx)} is burning its ${window} ${title} error budget`,
    description: `{{ $value | humanizePercentage }} of the requests of ${who(ctx)} are ${what} over the alert's long window, against an objective of ${objectiveText(ctx, slo)} over ${window}. At this rate the error budget runs out well before the end of the window.`,
    firesWhen: `${tierText}.`,
    runbook: {
      meaning:
        slo === 'availability'
          ? `The share of requests failing with 5xx is high enough to spend the ${window} error budget (${pct(budgetOf(ctx, slo))} of requests) well before the ${window} are over. \`${ctx.catalog.BURN_RATE_TIER_LABEL}="page"\` means fast (2 % of the budget in an hour or 5 % in six hours), \`"ticket"\` means slow but steady.`
          : `The share of non-5xx requests slower than ${ctx.config.slo.latency.thresholdSeconds}s is high enough to spend the ${window} latency budget (${pct(budgetOf(ctx, slo))} of requests) early. \`${ctx.catalog.BURN_RATE_TIER_LABEL}="page"\` means fast, \`"ticket"\` slow but steady.`,
      impact:
        slo === 'availability'
          ? 'Users see errors now, and the SLO will be missed if it goes on.'
          : 'Users wait, and the SLO will be missed if it goes on.',
      confirm: [
        'SLO dashboard: burn rate per window and the error budget left; the Service overview shows which routes cause it.',
        `A fast burn fires both tiers at once: route \`${ctx.catalog.BURN_RATE_TIER_LABEL}="ticket"\` alerts through an inhibit rule so the page alone notifies (see docs/dashboards.md).`,
      ],
      actions:
        slo === 'availability'
          ? [
              'Page: treat as an incident. Roll back a recent deploy; fail over or shed load if a dependency is down.',
              'Ticket: find the steady error source on the Service overview ("Error ratio by route") and fix it this week.',
              'See HttpServerErrorRatioHigh for the investigation steps.',
            ]
          : [
              'Page: treat as an incident. Check saturation (event loop, CPU) and slow dependencies (Database, Resilience dashboards); scale out or roll back.',
              'Ticket: find the slow routes ("p99 latency by route") and their slow dependencies.',
              'See HttpLatencyP99High for the investigation steps.',
            ],
      tuning: [
        `slo.${slo}.objective`,
        'slo.window',
        ...(slo === 'latency' ? ['slo.latency.thresholdSeconds'] : []),
      ],
      dashboard: 'slo',
    },
    tests,
  };
}

function exprTests(ctx: GenContext): ExprTest[] {
  const window = ctx.config.slo.window;
  const target = pick(testTarget(ctx), ctx.config.serviceLabels);
  const labelText = (slo: SloName, name: string) =>
    `${name}{${Object.entries({ ...target, slo })
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(', ')}}`;
  const out: ExprTest[] = [];
  const key = serviceKeyLabel(ctx);
  for (const slo of SLO_NAMES) {
    // The objective is a series per service: the shared one, or the service's own.
    const own = testService(ctx);
    const named = Object.entries(ctx.config.services).find(([n]) => n !== own);
    const other = named ? { ...testTarget(ctx), [key]: named[0] } : undefined;
    const otherLabels = other ? pick(other, ctx.config.serviceLabels) : undefined;
    out.push({
      name: `${slo}: the objective is recorded per service${named ? ` (${named[0]}: its own, ${target[key]}: ${own !== undefined && ctx.config.services[own] ? 'its own' : 'the shared one'})` : ''}`,
      series: [
        ...sloSeriesFor(ctx, slo, 0, 10, false),
        ...(other ? sloSeriesFor(ctx, slo, 0, 10, false, other) : []),
      ],
      evalMinutes: 10,
      expr: sloSeries(SLO_RECORDS.objective, slo),
      samples: [
        { labels: labelText(slo, SLO_RECORDS.objective), value: objectiveOf(ctx, slo, own) },
        ...(named && otherLabels
          ? [
              {
                labels: `${SLO_RECORDS.objective}{${Object.entries({ ...otherLabels, slo })
                  .map(([k, v]) => `${k}=${quote(v)}`)
                  .join(', ')}}`,
                value: named[1][slo].objective,
              },
            ]
          : []),
      ],
    });
    out.push({
      name: `${slo}: no bad events (and no 5xx series at all) gives 0, not nothing, and a full budget`,
      series: sloSeriesFor(ctx, slo, 0, 20, false),
      evalMinutes: 20,
      expr: `{__name__=~"${SLO_RECORDS.ratio('5m')}|${SLO_RECORDS.ratio(window)}|${SLO_RECORDS.budgetRemaining}", slo=${quote(slo)}}`,
      samples: [
        { labels: labelText(slo, SLO_RECORDS.ratio('5m')), value: 0 },
        { labels: labelText(slo, SLO_RECORDS.ratio(window)), value: 0 },
        { labels: labelText(slo, SLO_RECORDS.budgetRemaining), value: 1 },
      ],
    });
    // Records start at minute 1 (a 5m rate needs two samples): the window has data since then.
    const windowSeconds = durationSeconds(window);
    const covered = (at: number) => ((at - 1) * 60) / windowSeconds;
    const budget = budgetOf(ctx, slo, testService(ctx));
    out.push({
      name: `${slo}: every event bad for 19 minutes spends 19 minutes at ${num(1 / budget)} times the sustainable rate, not the budget ${num(1 / budget)} times over`,
      series: sloSeriesFor(ctx, slo, TEST_RATE, 20, false),
      evalMinutes: 20,
      expr: `{__name__=~"${SLO_RECORDS.coverage}|${SLO_RECORDS.budgetRemaining}", slo=${quote(slo)}}`,
      samples: [
        { labels: labelText(slo, SLO_RECORDS.coverage), value: covered(20) },
        {
          labels: labelText(slo, SLO_RECORDS.budgetRemaining),
          value: 1 - (1 / (1 - objectiveOf(ctx, slo, testService(ctx)))) * covered(20),
        },
      ],
    });
    // Past the first hour the oldest sample is found at hourly steps (data since minute 60 here).
    out.push({
      name: `${slo}: three hours of data cover three hours of the ${window} window (to the hour)`,
      series: sloSeriesFor(ctx, slo, 0, 200, false),
      evalMinutes: 200,
      expr: sloSeries(SLO_RECORDS.coverage, slo),
      samples: [{ labels: labelText(slo, SLO_RECORDS.coverage), value: ((200 - 60) * 60) / windowSeconds }],
    });
  }
  return out;
}

/** Each route group's SLI counts only its routes, at its threshold; its objective is recorded. */
function routeGroupExprTests(ctx: GenContext): ExprTest[] {
  const target = pick(testTarget(ctx), ctx.config.serviceLabels);
  const out: ExprTest[] = [];
  for (const [name, g] of Object.entries(ctx.config.routeGroups)) {
    const slo = routeGroupSlo(name);
    const text = (record: string) =>
      `${record}{${Object.entries({ ...target, slo })
        .map(([k, v]) => `${k}=${quote(v)}`)
        .join(', ')}}`;
    const bad = 50;
    out.push({
      name: `route group ${name}: ${bad} of ${TEST_RATE} requests of ${g.routes[0]} slower than ${g.latency.thresholdSeconds}s; every request of ${testRoute(ctx)} (not in the group) slow and not counted`,
      series: [
        ...routeSeries(ctx, testTarget(ctx), g.routes[0]!, bad, g.latency.thresholdSeconds, 20),
        ...routeSeries(ctx, testTarget(ctx), testRoute(ctx), TEST_RATE, g.latency.thresholdSeconds, 20),
      ],
      evalMinutes: 20,
      // In parts per million, rounded: the ratio of two rates carries float noise (5.0000000000000565e-3).
      expr: `round(${sloSeries(SLO_RECORDS.ratio('5m'), slo)} * 1e6)`,
      samples: [{ labels: text('').slice(0), value: (bad / TEST_RATE) * 1e6 }],
    });
    out.push({
      name: `route group ${name}: its objective (${pct(g.latency.objective)}) is recorded for every service with traffic on its routes`,
      series: routeSeries(ctx, testTarget(ctx), g.routes[0]!, 0, g.latency.thresholdSeconds, 10),
      evalMinutes: 10,
      expr: sloSeries(SLO_RECORDS.objective, slo),
      samples: [{ labels: text(SLO_RECORDS.objective), value: g.latency.objective }],
    });
  }
  return out;
}

export function sloRuleFile(ctx: GenContext): RuleFile {
  const records = [
    ...SLO_NAMES.map((s) => recordingRules(ctx, s)),
    ...Object.entries(ctx.config.routeGroups).map(([name, g]) =>
      recordingRules(ctx, 'latency', { name, ...g.latency, routes: g.routes }),
    ),
  ];
  return {
    name: 'vigil-slo',
    title: `SLOs over ${ctx.config.slo.window}: availability ${pct(ctx.config.slo.availability.objective)}, latency ${pct(ctx.config.slo.latency.objective)} within ${ctx.config.slo.latency.thresholdSeconds}s. Recording rules for the SLIs, then multi-window multi-burn-rate alerts.`,
    groups: [
      { name: 'vigil-slo-sli', recording: records.flatMap((r) => r.short) },
      {
        name: 'vigil-slo-sli-long',
        interval: ctx.config.longWindowInterval,
        recording: records.flatMap((r) => r.long),
      },
      { name: 'vigil-slo-alerts', alerts: SLO_NAMES.map((s) => burnAlert(ctx, s)) },
    ],
    reads: ['vigil-service'],
    exprTests: [...exprTests(ctx), ...routeGroupExprTests(ctx)],
  };
}
