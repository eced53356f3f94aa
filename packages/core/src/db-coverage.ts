/**
 * Which spans' queries Vigil's own database adapters already record, for the span-to-metrics
 * bridge (`createSpanMetricsBridge` in @vigil/metrics): a query started inside another
 * instrumentation's span (Knex, Sequelize, TypeORM over `mysql2`, `ioredis` or an instrumented
 * `pg` pool) is timed by the adapter, so the bridge must not turn that span into a second sample,
 * sampled or not. Costs nothing while no bridge runs. Shared through `Symbol.for` keys by every
 * copy of these packages.
 */

const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const COVERAGE: unique symbol = Symbol.for('vigil.db.coverage/1') as never;
/** Span ids remembered until their span ends; bounded, since most are request spans that never ask. */
const MAX_SPANS = 4096;

interface Coverage {
  users: number;
  readonly spans: Set<string>;
}
type Globals = { [COVERAGE]?: Coverage; [OTEL_API]?: { context?: { active(): unknown } } };

/** The active span's id through OpenTelemetry's process-wide registration (API 1.x), if any. */
function activeSpanId(g: Globals): string | undefined {
  const ctx = g[OTEL_API]?.context?.active() as { getValue?(key: symbol): unknown } | undefined;
  const span = ctx?.getValue?.(SPAN_KEY) as { spanContext?: () => { spanId?: unknown } } | undefined;
  const id = typeof span?.spanContext === 'function' ? span.spanContext().spanId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** Called by Vigil's database adapters as a query starts: the active span's query is recorded here. */
export function noteDbQuery(): void {
  const g = globalThis as Globals;
  const c = g[COVERAGE];
  if (c === undefined || c.users === 0) return;
  const id = activeSpanId(g);
  if (id === undefined) return;
  if (c.spans.size >= MAX_SPANS) c.spans.clear();
  c.spans.add(id);
}

/** For the span bridge: whether a span's query was recorded by a Vigil adapter (asked once per span). */
export interface DbCoverage {
  take(spanId: string): boolean;
  /** Stops listening. Idempotent. */
  release(): void;
}

export function watchDbCoverage(): DbCoverage {
  const g = globalThis as Globals;
  let c = g[COVERAGE];
  if (c === undefined) {
    c = { users: 0, spans: new Set() };
    g[COVERAGE] = c;
  }
  c.users++;
  const coverage = c;
  let released = false;
  return {
    take: (spanId) => coverage.spans.delete(spanId),
    release() {
      if (released) return;
      released = true;
      if (--coverage.users === 0) coverage.spans.clear();
    },
  };
}
