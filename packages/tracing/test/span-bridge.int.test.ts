import { createRequire } from 'node:module';
import { KnexInstrumentation } from '@opentelemetry/instrumentation-knex';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createMetrics, createSpanMetricsBridge, type Metrics } from '@vigil/metrics';
import type { Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing, type Tracing, withSpan } from '../src/index.js';
import { DATABASE_URL } from './helpers.js';

// The span-to-metrics bridge with a real OpenTelemetry instrumentation (Knex 3.3 through
// @opentelemetry/instrumentation-knex) against the PostgreSQL on this machine: the dashboards'
// database_query_duration_seconds series appear for a stack Vigil has no adapter for.

const require = createRequire(import.meta.url);
const TABLE = 'vigil_bridge_items';

let tracing: Tracing | undefined;
let metrics: Metrics | undefined;
let db: Knex | undefined;
let knexInstrumentation: KnexInstrumentation | undefined;
afterEach(async () => {
  await db?.destroy();
  await tracing?.close();
  await metrics?.close();
  tracing = undefined;
  metrics = undefined;
  db = undefined;
});

function setUp(sampleRatio: number, client: 'pg' | 'mysql2' = 'pg') {
  metrics = createMetrics({ runtimeMetrics: false });
  const exporter = new InMemorySpanExporter();
  // One instrumentation per process: knex is patched once, when first loaded.
  knexInstrumentation ??= new KnexInstrumentation();
  tracing = startTracing({
    exporter,
    sampleRatio,
    scheduledDelayMs: 1,
    logger: false,
    instrumentations: [knexInstrumentation],
    spanProcessors: [createSpanMetricsBridge({ metrics })],
  });
  const knex = require('knex') as (config: Knex.Config) => Knex;
  db = knex({
    client,
    connection: client === 'pg' ? DATABASE_URL : { host: '127.0.0.1', user: 'root', database: 'test' },
    pool: { min: 0, max: 2 },
  });
  return { exporter, metrics, db };
}

async function series(m: Metrics): Promise<string[]> {
  const text = (await m.scrape()).body.toString();
  return text.split('\n').filter((l) => l.startsWith('database_query_duration_seconds_count{'));
}

/** The value of the series whose labels include `labels` (label order in the exposition aside). */
function count_(lines: string[], labels: Record<string, string>): number {
  const line = lines.find((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return Number(line?.split(' ')[1] ?? 0);
}

describe('span-to-metrics bridge: Knex + @opentelemetry/instrumentation-knex on PostgreSQL', () => {
  it('records database_query_duration_seconds{system, operation, table, outcome} from the spans', async () => {
    const { exporter, metrics: m, db: k } = setUp(1);
    await withSpan('job', async () => {
      await k.schema.dropTableIfExists(TABLE);
      await k.schema.createTable(TABLE, (t) => {
        t.increments('id');
        t.string('name');
      });
      await k(TABLE).insert({ name: 'a' });
      await k(TABLE).insert({ name: 'b' });
      expect(await k(TABLE).select('name').orderBy('id')).toHaveLength(2);
      await k(TABLE).where({ name: 'a' }).del();
      await expect(k('vigil_no_such_table').select('*')).rejects.toThrow();
      await k.schema.dropTable(TABLE);
    });
    await tracing!.forceFlush();
    const knexSpans = exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name.includes('knex'));
    expect(knexSpans.length).toBeGreaterThanOrEqual(5);

    const lines = await series(m);
    const count = (operation: string, table: string, outcome: string) =>
      count_(lines, { system: 'postgresql', operation, table, outcome });
    expect(count('INSERT', TABLE, 'success')).toBe(2);
    expect(count('SELECT', TABLE, 'success')).toBe(1);
    expect(count('DELETE', TABLE, 'success')).toBe(1);
    expect(count('SELECT', 'vigil_no_such_table', 'error')).toBe(1);
    // Exemplars point at the knex spans.
    const om = (await m.scrape('application/openmetrics-text; version=1.0.0')).body.toString();
    const ids = [
      ...om.matchAll(
        /database_query_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="(\w+)",span_id="(\w+)"\}/g,
      ),
    ].map((x) => x[2]);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(knexSpans.map((s) => s.spanContext().spanId)).toContain(id);
  });

  it.each([1, 0])(
    'Knex over mysql2 with instrumentMysql2(): each query counted once (sampleRatio %d)',
    async (ratio) => {
      const { metrics: m, db: k } = setUp(ratio, 'mysql2');
      const off = m.instrumentMysql2();
      const total = async () => {
        // Knex says `mysql2`: the bridge records the system as Vigil's adapter does (`mysql`).
        const lines = (await series(m)).filter((l) => /system="mysql2?"/.test(l));
        return lines.reduce((n, l) => n + Number(l.split(' ')[1]), 0);
      };
      try {
        // The connection is made (and knex asks for the server version) before counting.
        await k.raw('select 1');
        const before = await total();
        await withSpan('job', async () => {
          for (let i = 0; i < 4; i++) await k('information_schema.tables').select('table_name').limit(1);
        });
        await tracing!.forceFlush();
        // Vigil's mysql2 adapter times each query; the Knex span above it is not counted again.
        expect((await total()) - before).toBe(4);
      } finally {
        off();
      }
    },
  );

  it('counts unsampled queries too (recorded for the bridge, never exported)', async () => {
    const { exporter, metrics: m, db: k } = setUp(0);
    await withSpan('job', async () => {
      for (let i = 0; i < 3; i++) await k.select(k.raw('1 as one'));
    });
    await tracing!.forceFlush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    const lines = await series(m);
    expect(
      count_(lines, { system: 'postgresql', operation: 'SELECT', table: 'unknown', outcome: 'success' }),
    ).toBe(3);
    // Exemplars only for sampled spans.
    const om = (await m.scrape('application/openmetrics-text; version=1.0.0')).body.toString();
    expect(om).not.toContain('trace_id=');
  });
});
