import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as catalog from '@vigil/catalog';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AttemptContext,
  type BreakerState,
  createCircuitBreaker,
  createHttpClient,
  createLoadShedder,
  createPolicy,
  type HttpClient,
} from '../src/index.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');

describe('README', () => {
  it('starts with the name, one sentence and a one-line quick start', () => {
    const lines = read('../README.md').split('\n');
    expect(lines[0]).toBe('# @vigil/resilience');
    const fence = lines.indexOf('```ts');
    expect(lines[fence + 2]).toBe('```');
    expect(lines[fence + 1]).toContain('createHttpClient(');
  });

  it('the catalog lists every metric the package registers', async () => {
    const names = new Set(catalog.RESILIENCE_METRICS.map((m) => m.name));
    const policy = createPolicy({ name: 'all', logger: false, retry: true, bulkhead: true });
    const client = createHttpClient({
      baseUrl: 'http://127.0.0.1:1',
      registry: policy.registry,
      logger: false,
      name: 'c',
    });
    const shedder = createLoadShedder({ registry: policy.registry });
    // The instrument layer's own overflow counter is @vigil/metrics', not this package's.
    const registered = policy.registry
      .getMetricsAsArray()
      .map((m) => (m as { name: string }).name)
      .filter((n) => n !== catalog.seriesOverflowTotal.name);
    await Promise.all([policy.close(), client.close(), shedder.close()]);
    expect(new Set(registered)).toEqual(names);
  });
});

describe('types', () => {
  it('infers results from the protected function', async () => {
    const breaker = createCircuitBreaker({ name: 'typed', logger: false });
    const n = breaker.execute(async (ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<AttemptContext>();
      return 1;
    });
    expectTypeOf(n).toEqualTypeOf<Promise<number>>();
    const wrapped = breaker.wrap(async (a: string, b: number) => a.length + b);
    expectTypeOf(wrapped).toEqualTypeOf<(a: string, b: number) => Promise<number>>();
    expectTypeOf(breaker.state).toEqualTypeOf<BreakerState>();
    expectTypeOf<HttpClient['json']>().returns.toEqualTypeOf<Promise<unknown>>();
    expect(await n).toBe(1);
    await breaker.close();
    // The declarations (built by `pnpm build`, which `pnpm test` runs first) import only our own
    // packages, prom-client's types and the OpenTelemetry API.
    const dts = read('../dist/index.d.ts');
    const imports = [...dts.matchAll(/from ['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(
      imports.filter((m) => !/^(@vigil\/|prom-client$|@opentelemetry\/api$|\.)/.test(m as string)),
    ).toEqual([]);
    expect(dts).toContain('createCircuitBreaker');
  });
});
