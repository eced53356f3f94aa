import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { many, parseSamples, request } from '../../../test/helpers/http.js';
import {
  createHttpObserver,
  createMetrics,
  type HttpObserverOptions,
  isVigilOptionError,
} from '../src/index.js';

// Declared extra labels of the HTTP metrics (`httpLabels`): a tier from a header, bounded by its
// declared values whatever the traffic sends.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const tier = {
  values: ['free', 'pro', 'enterprise'],
  from: (req: IncomingMessage) => req.headers['x-tier'] as string | undefined,
};

async function start(options: HttpObserverOptions) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = req.url?.startsWith('/users/') ? 200 : 404;
    res.end('ok');
  });
  const obs = createHttpObserver(server, {
    runtimeMetrics: false,
    route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
    ...options,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () => obs.close(),
    () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  );
  const port = (server.address() as AddressInfo).port;
  /** `http_requests_total` by "route tier status" (tier label required). */
  const totals = async () => {
    const text = (await obs.scrape()).body as string;
    const out = new Map<string, number>();
    for (const [k, v] of parseSamples(text)) {
      const m = /^http_requests_total\{route="(.*)",method="\w+",status_code="(\w+)",tier="(\w+)"\}$/.exec(k);
      if (m) out.set(`${m[1]} ${m[3]} ${m[2]}`, v);
    }
    return { text, out };
  };
  return { port, obs, totals };
}

function optionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isVigilOptionError(e) ? (e as { option: string }).option : `not a VigilOptionError: ${String(e)}`;
  }
  return 'no error';
}

describe('httpLabels', () => {
  it('adds a declared label to the request metrics; values outside the declaration are _OTHER', async () => {
    const h = await start({ httpLabels: { tier } });
    await request(h.port, 'GET', '/users/1', { 'x-tier': 'free' });
    await request(h.port, 'GET', '/users/2', { 'x-tier': 'pro' });
    await request(h.port, 'GET', '/users/3', { 'x-tier': 'pro' });
    await request(h.port, 'GET', '/users/4', { 'x-tier': 'tenant-4711' });
    await request(h.port, 'GET', '/users/5');
    await request(h.port, 'GET', '/nope', { 'x-tier': 'enterprise' });
    const { text, out } = await h.totals();
    expect(out.get('/users/:id free 200')).toBe(1);
    expect(out.get('/users/:id pro 200')).toBe(2);
    expect(out.get('/users/:id _OTHER 200')).toBe(2);
    expect(out.get('__unmatched__ enterprise 404')).toBe(1);
    expect(text).not.toContain('tenant-4711');
    // The histogram carries the label too (its buckets, sum and count).
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{route="\/users\/:id",method="GET",status_code="200",tier="pro",le="\+Inf"\} 2/,
    );
  });

  it('keeps series bounded under hostile values: at most one series per declared value and _OTHER', async () => {
    const h = await start({ httpLabels: { tier } });
    await many(300, 16, (i) => request(h.port, 'GET', '/users/1', { 'x-tier': `t-${i}-${Math.random()}` }));
    await many(30, 8, (i) => request(h.port, 'GET', '/users/1', { 'x-tier': tier.values[i % 3] as string }));
    const { out } = await h.totals();
    expect([...out.keys()].sort()).toEqual([
      '/users/:id _OTHER 200',
      '/users/:id enterprise 200',
      '/users/:id free 200',
      '/users/:id pro 200',
    ]);
    expect(out.get('/users/:id _OTHER 200')).toBe(300);
  });

  it('a label function that throws records _OTHER, warns once and never fails the request', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'VIGIL_ROUTE_ERROR') warnings.push(w);
    };
    process.on('warning', onWarning);
    closers.push(async () => void process.off('warning', onWarning));
    const h = await start({
      httpLabels: {
        tier: {
          values: ['free'],
          from: () => {
            throw new Error('no tier service');
          },
        },
      },
    });
    const replies = await Promise.all([1, 2, 3].map((i) => request(h.port, 'GET', `/users/${i}`)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const { out } = await h.totals();
    expect(out.get('/users/:id _OTHER 200')).toBe(3);
    // Warnings are emitted on the next tick: wait for the event rather than for time.
    if (warnings.length === 0) await once(process, 'warning');
    expect(warnings.length).toBeLessThanOrEqual(1);
  });

  it('past the series cap, a request keeps its declared labels and the route overflows', async () => {
    const h = await start({
      httpLabels: { tier },
      maxSeries: 2,
      route: (req) => req.url?.split('?')[0],
    });
    for (const p of ['/a', '/b', '/c', '/d']) await request(h.port, 'GET', p, { 'x-tier': 'pro' });
    const { out } = await h.totals();
    expect(out.get('__overflow__ pro 4xx')).toBe(2);
  });

  it('metrics.http.end() takes the request for the declared labels (code that times requests itself)', async () => {
    const m = createMetrics({ runtimeMetrics: false, httpLabels: { tier } });
    closers.push(() => m.close());
    const req = { headers: { 'x-tier': 'enterprise' } } as unknown as IncomingMessage;
    m.http.end('GET', '/jobs/:id', 200, m.http.start(), undefined, req);
    m.http.end('GET', '/jobs/:id', 200, m.http.start());
    const text = (await m.scrape()).body as string;
    expect(text).toContain(
      'http_requests_total{route="/jobs/:id",method="GET",status_code="200",tier="enterprise"} 1',
    );
    expect(text).toContain(
      'http_requests_total{route="/jobs/:id",method="GET",status_code="200",tier="_OTHER"} 1',
    );
  });

  it('invalid declarations fail at construction, naming the option', () => {
    const make =
      (httpLabels: unknown, extra: Record<string, unknown> = {}) =>
      () =>
        createMetrics({ runtimeMetrics: false, httpLabels, ...extra } as never);
    expect(optionOf(make('tier'))).toBe('httpLabels');
    expect(optionOf(make({ a: tier, b: tier, c: tier, d: tier, e: tier }))).toBe('httpLabels');
    expect(optionOf(make({ 'not-a-name': tier }))).toBe('httpLabels.not-a-name');
    expect(optionOf(make({ __tier: tier }))).toBe('httpLabels.__tier');
    expect(optionOf(make({ route: tier }))).toBe('httpLabels.route');
    expect(optionOf(make({ status_code: tier }))).toBe('httpLabels.status_code');
    expect(optionOf(make({ service: tier }, { defaultLabels: { service: 'x' } }))).toBe('httpLabels.service');
    expect(optionOf(make({ tier: { ...tier, values: [] } }))).toBe('httpLabels.tier.values');
    expect(optionOf(make({ tier: { ...tier, values: ['a', ''] } }))).toBe('httpLabels.tier.values');
    expect(optionOf(make({ tier: { ...tier, values: ['_OTHER'] } }))).toBe('httpLabels.tier.values');
    expect(optionOf(make({ tier: { ...tier, values: Array.from({ length: 51 }, (_, i) => `v${i}`) } }))).toBe(
      'httpLabels.tier.values',
    );
    expect(optionOf(make({ tier: { values: ['a'] } }))).toBe('httpLabels.tier.from');
    expect(optionOf(make({ tier: { values: ['a'], from: 'x-tier' } }))).toBe('httpLabels.tier.from');
    expect(optionOf(make({ tier: { ...tier, default: 'free' } }))).toBe('httpLabels.tier.default');
    expect(optionOf(make({ tier }))).toBe('no error');
  });

  it('without httpLabels the request metrics keep exactly route, method and status_code', async () => {
    const h = await start({});
    await request(h.port, 'GET', '/users/1', { 'x-tier': 'free' });
    const text = (await h.obs.scrape()).body as string;
    expect(text).toContain('http_requests_total{route="/users/:id",method="GET",status_code="200"} 1');
  });
});
