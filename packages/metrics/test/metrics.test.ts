import { getHeapStatistics } from 'node:v8';
import { gunzipSync } from 'node:zlib';
import { LOGGER_STATS, loggerStats } from '@vigil/core';
import { Counter, register as globalRegistry, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSamples, request } from '../../../test/helpers/http.js';
import { resolveBuildInfo } from '../src/create-metrics.js';
import { CATALOG, createMetrics, isVigilOptionError, METRICS_DEFAULTS, type Metrics } from '../src/index.js';
import { memoryLimit } from '../src/runtime.js';

const handles: Metrics[] = [];
const make = (o?: Parameters<typeof createMetrics>[0]) => {
  const m = createMetrics(o);
  handles.push(m);
  return m;
};
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close();
});

const text = async (m: Metrics, accept?: string) => (await m.scrape(accept)).body as string;

describe('createMetrics', () => {
  it('uses a private registry by default, never the global one, and two handles coexist', async () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = make();
    const b = make();
    expect(a.registry).not.toBe(b.registry);
    expect(a.registry).not.toBe(globalRegistry);
    expect(globalRegistry.getMetricsAsArray().length).toBe(before);
    const t = a.http.start();
    a.http.end('GET', '/x', 200, t);
    expect(await text(a)).toContain('http_requests_total{route="/x",method="GET",status_code="200"} 1');
    expect(await text(b)).not.toContain('route="/x"');
  });

  it('collects runtime metrics by default, including event-loop utilization', async () => {
    const out = await text(make());
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_utilization_ratio',
    ]) {
      expect(out).toContain(`\n${name}`);
    }
    const limit = Number(/\nnodejs_heap_size_limit_bytes (\d+)/.exec(out)?.[1]);
    expect(limit).toBe(getHeapStatistics().heap_size_limit);
    const used = Number(/\nnodejs_heap_size_used_bytes (\d+)/.exec(out)?.[1]);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(limit);
    // This machine's cgroup has no memory limit (or one above its memory): no series then.
    expect(out.includes('\nnodejs_process_memory_limit_bytes ')).toBe(memoryLimit() !== undefined);
    const off = await text(make({ runtimeMetrics: false }));
    expect(off).not.toContain('process_cpu_seconds_total');
  });

  it('reads a container memory limit only when it is one: 0 and 2^64 mean none', () => {
    expect(memoryLimit(512 * 1024 ** 2, 16 * 1024 ** 3)).toBe(512 * 1024 ** 2);
    expect(memoryLimit(0, 16 * 1024 ** 3)).toBeUndefined();
    expect(memoryLimit(2 ** 64, 16 * 1024 ** 3)).toBeUndefined();
    expect(memoryLimit(undefined, 16 * 1024 ** 3)).toBeUndefined();
  });

  it('applies prefix, default labels and buckets', async () => {
    const m = make({
      prefix: 'app_',
      defaultLabels: { service: 'svc' },
      buckets: [0.1, 1],
      runtimeMetrics: false,
    });
    const t = m.http.start();
    m.http.end('POST', '/a', 201, t);
    const out = await text(m);
    expect(out).toContain(
      'app_http_request_duration_seconds_bucket{route="/a",method="POST",status_code="201",service="svc",le="0.1"} 1',
    );
    expect(out).toContain('le="1"} 1');
    expect(out).toContain('le="+Inf"} 1');
    expect(out).not.toContain('le="0.005"');
    expect(out).toContain(
      'app_http_requests_total{route="/a",method="POST",status_code="201",service="svc"} 1',
    );
  });

  it('registers into a given registry, next to the user’s own metrics, and close() unregisters only its own', async () => {
    const registry = new Registry();
    const mine = new Counter({ name: 'my_things_total', help: 'mine', registers: [registry] });
    mine.inc(3);
    const m = createMetrics({ registry, runtimeMetrics: false });
    const out = await text(m);
    expect(out).toContain('my_things_total 3');
    expect(out).toContain('# TYPE http_requests_total counter');
    // registry.metrics() (prom-client's own path) sees Vigil's metrics too.
    expect(await registry.metrics()).toContain('# TYPE http_request_duration_seconds histogram');
    await m.close();
    await m.close(); // idempotent
    const after = await registry.metrics();
    expect(after).toContain('my_things_total 3');
    expect(after).not.toContain('http_requests_total');
  });

  it('matches prom-client’s own exposition for the same registry (same samples)', async () => {
    const m = make({ runtimeMetrics: false, defaultLabels: { svc: 'a"b' } });
    for (const [route, status] of [
      ['/a', 200],
      ['/b', 500],
      ['/a', 200],
    ] as const)
      m.http.end('GET', route, status, m.http.start());
    m.db.observe('SELECT', 'users', 'success', 0.003);
    // Label order differs (prom-client puts default labels after `le`): compare normalised keys.
    const norm = (samples: Map<string, number>) =>
      new Map(
        [...samples].map(([k, v]) => {
          const i = k.indexOf('{');
          if (i < 0) return [k, v];
          const pairs = k.slice(i + 1, -1).match(/[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"/g) ?? [];
          return [`${k.slice(0, i)}{${pairs.sort().join(',')}}`, v];
        }),
      );
    const ours = norm(parseSamples(await text(m)));
    const theirs = norm(parseSamples(await m.registry.metrics()));
    expect(ours.size).toBeGreaterThan(20);
    expect(ours).toEqual(theirs);
    expect(
      parseSamples(await text(m)).get(
        'http_requests_total{route="/a",method="GET",status_code="200",svc="a\\"b"}',
      ),
    ).toBe(2);
  });

  it('writes OpenMetrics with _total samples, counter family names and # EOF', async () => {
    const registry = new Registry();
    new Counter({ name: 'user_events_total', help: 'x', registers: [registry] }).inc();
    const m = createMetrics({ registry, runtimeMetrics: false });
    m.http.end('GET', '/a', 200, m.http.start());
    const om = await text(m, 'application/openmetrics-text; version=1.0.0');
    expect(om).toContain('# TYPE http_requests counter');
    expect(om).toContain('http_requests_total{route="/a",method="GET",status_code="200"} 1');
    expect(om).toContain('# TYPE user_events counter');
    expect(om).toContain('user_events_total 1');
    expect(om.endsWith('# EOF\n')).toBe(true);
    // The registry itself was not renamed (prom-client's metrics() mutates counter names).
    expect(registry.getSingleMetric('user_events_total')).toBeDefined();
    const plain = await text(m);
    expect(plain).toContain('# TYPE user_events_total counter');
  });

  it("reports @vigil/logger's dropped lines by reason once a logger exists, nothing before", async () => {
    const g = globalThis as { [LOGGER_STATS]?: unknown };
    const saved = g[LOGGER_STATS];
    delete g[LOGGER_STATS];
    try {
      const m = make({ runtimeMetrics: false, defaultLabels: { service: 's' } });
      expect(await text(m)).not.toContain('vigil_log_lines_dropped_total');
      loggerStats().dropped.buffer_full = 7; // what a logger does when its reader stalls
      const samples = parseSamples(await text(m));
      expect(samples.get('vigil_log_lines_dropped_total{reason="buffer_full",service="s"}')).toBe(7);
      expect(samples.get('vigil_log_lines_dropped_total{reason="write_failed",service="s"}')).toBe(0);
      expect(samples.get('vigil_log_lines_dropped_total{reason="shutdown",service="s"}')).toBe(0);
      // prom-client's own exposition reads the same collector.
      expect(await m.registry.metrics()).toMatch(
        /vigil_log_lines_dropped_total\{reason="buffer_full"[^}]*\} 7/,
      );
      const om = await text(m, 'application/openmetrics-text; version=1.0.0');
      expect(om).toContain('# TYPE vigil_log_lines_dropped counter');
    } finally {
      if (saved === undefined) delete g[LOGGER_STATS];
      else g[LOGGER_STATS] = saved;
    }
  });

  it('can refuse OpenMetrics and gzip by option', async () => {
    const m = make({ openMetrics: false, gzip: false, runtimeMetrics: false });
    const r = await m.scrape('application/openmetrics-text', 'gzip');
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.headers['content-encoding']).toBeUndefined();
    const g = await make({ runtimeMetrics: false }).scrape(undefined, 'gzip');
    expect(g.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(g.body as Buffer).toString()).toContain('# TYPE http_requests_total counter');
  });

  it('tracks database calls that resolve and that throw, passing results and errors through', async () => {
    const m = make({ runtimeMetrics: false });
    await expect(m.trackDatabaseQuery('SELECT', 'users', async () => 42)).resolves.toBe(42);
    const err = new Error('db down');
    await expect(m.trackDatabaseQuery('UPDATE', 'users', async () => Promise.reject(err))).rejects.toBe(err);
    const s = parseSamples(await text(m));
    expect(
      s.get(
        'database_query_duration_seconds_count{table="users",operation="SELECT",outcome="success",system="other_sql"}',
      ),
    ).toBe(1);
    expect(
      s.get(
        'database_query_duration_seconds_count{table="users",operation="UPDATE",outcome="error",system="other_sql"}',
      ),
    ).toBe(1);
  });

  it('caps database label sets too', async () => {
    const m = make({ runtimeMetrics: false, maxSeries: 2 });
    for (let i = 0; i < 50; i++) m.db.observe('SELECT', `t${i}`, 'success', 0.001);
    expect(m.db.seriesCount).toBe(3);
    expect(m.overflowCount('database_query_duration_seconds')).toBe(48);
  });

  it('serves /metrics on a separate port, 404 elsewhere, and close() stops it', async () => {
    const m = make({ runtimeMetrics: false });
    const server = await m.startServer({ port: 0, host: '127.0.0.1' });
    const port = server.address.port;
    const ok = await request(port, 'GET', '/metrics');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('http_requests_in_flight 0');
    expect((await request(port, 'GET', '/other')).status).toBe(404);
    await m.close();
    await expect(request(port, 'GET', '/metrics')).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
  });

  it('exposes vigil_build_info{version, commit} = 1 from the option, else the environment, else unknown', async () => {
    const out = await text(
      make({ buildInfo: { version: '1.4.2', commit: 'a1b2c3d' }, defaultLabels: { service: 'users' } }),
    );
    expect(out).toContain('# TYPE vigil_build_info gauge');
    expect(out).toContain('vigil_build_info{version="1.4.2",commit="a1b2c3d",service="users"} 1');
    expect(await text(make({ prefix: 'shop_', buildInfo: { version: '2.0.0' } }))).toMatch(
      /\nshop_vigil_build_info\{version="2\.0\.0",commit="[^"]+"\} 1\n/,
    );
    expect(await text(make({ buildInfo: false }))).not.toContain('vigil_build_info');
    // Defaults: VIGIL_BUILD_* first, npm's package version next, `unknown` last.
    expect(
      resolveBuildInfo(undefined, { VIGIL_BUILD_VERSION: '3.1.0', VIGIL_BUILD_COMMIT: 'deadbee' }),
    ).toEqual({
      version: '3.1.0',
      commit: 'deadbee',
    });
    expect(resolveBuildInfo({}, { npm_package_version: '0.9.1', VIGIL_BUILD_VERSION: '' })).toEqual({
      version: '0.9.1',
      commit: 'unknown',
    });
    expect(resolveBuildInfo({ commit: 'c0ffee' }, {})).toEqual({ version: 'unknown', commit: 'c0ffee' });
    expect(resolveBuildInfo(false, { VIGIL_BUILD_VERSION: '1' })).toBeUndefined();
    // The environment of this process reaches the series.
    const saved = { v: process.env.VIGIL_BUILD_VERSION, c: process.env.VIGIL_BUILD_COMMIT };
    process.env.VIGIL_BUILD_VERSION = '9.9.9-env';
    process.env.VIGIL_BUILD_COMMIT = 'f00dfeed';
    try {
      expect(await text(make())).toContain('vigil_build_info{version="9.9.9-env",commit="f00dfeed"} 1');
    } finally {
      for (const [k, v] of [
        ['VIGIL_BUILD_VERSION', saved.v],
        ['VIGIL_BUILD_COMMIT', saved.c],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('refuses build info values that are not one short printable label value, naming the option or variable', () => {
    const refuse = (fn: () => unknown, name: string) => {
      let caught: unknown;
      try {
        fn();
      } catch (e) {
        caught = e;
      }
      expect(isVigilOptionError(caught), name).toBe(true);
      expect((caught as Error).message).toContain(`"${name}"`);
    };
    refuse(() => createMetrics({ buildInfo: { version: 'x'.repeat(65) } }), 'buildInfo.version');
    refuse(() => createMetrics({ buildInfo: { commit: 'line\nbreak' } }), 'buildInfo.commit');
    refuse(() => createMetrics({ buildInfo: { version: '' } }), 'buildInfo.version');
    refuse(() => createMetrics({ buildInfo: { tag: 'v1' } as never }), 'buildInfo.tag');
    refuse(() => createMetrics({ buildInfo: 'v1' as never }), 'buildInfo');
    refuse(
      () => resolveBuildInfo({}, { VIGIL_BUILD_COMMIT: `${'f'.repeat(40)}\u0000` }),
      'buildInfo.commit (from VIGIL_BUILD_COMMIT)',
    );
    refuse(
      () => resolveBuildInfo({}, { VIGIL_BUILD_VERSION: ' 1.0' }),
      'buildInfo.version (from VIGIL_BUILD_VERSION)',
    );
  });

  it('rejects invalid options at construction, naming the option', () => {
    const cases: [unknown, string][] = [
      [{ prefix: 'no spaces' }, 'prefix'],
      [{ defaultLabels: { 'bad-name': 'x' } }, 'defaultLabels.bad-name'],
      [{ defaultLabels: { ok: 1 } }, 'defaultLabels.ok'],
      [{ buckets: [] }, 'buckets'],
      [{ buckets: [0.5, 0.1] }, 'buckets'],
      [{ dbBuckets: [-1] }, 'dbBuckets'],
      [{ maxSeries: 1.5 }, 'maxSeries'],
      [{ runtimeMetrics: 'yes' }, 'runtimeMetrics'],
      [{ registry: {} }, 'registry'],
      [{ bukets: [1] }, 'bukets'],
      ['nope', 'options'],
    ];
    for (const [opts, name] of cases) {
      let caught: unknown;
      try {
        createMetrics(opts as never);
      } catch (e) {
        caught = e;
      }
      expect(isVigilOptionError(caught), name).toBe(true);
      expect((caught as Error).message).toContain(`"${name}"`);
    }
  });

  it('exports defaults and a catalog whose entries the instruments use', async () => {
    expect(Object.isFrozen(METRICS_DEFAULTS)).toBe(true);
    const m = make();
    const names = new Set(m.registry.getMetricsAsArray().map((x) => (x as { name: string }).name));
    for (const def of CATALOG) {
      if (
        def.group === 'http' ||
        def.group === 'database' ||
        def.group === 'runtime' ||
        def.group === 'internal'
      ) {
        expect(names, def.name).toContain(def.name);
      }
    }
  });
});
