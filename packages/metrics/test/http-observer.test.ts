import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { REQUEST_LOG, type RequestLogWriter } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { many, parseSamples, randomPath, request, seriesOf } from '../../../test/helpers/http.js';
import {
  createHttpObserver,
  createMetrics,
  type HttpObserverOptions,
  isVigilOptionError,
} from '../src/index.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A plain node:http app: a few routes matched by hand, as services without a framework do. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] as string;
  if (path === '/metrics') return void observed?.handler(req, res);
  if (/^\/users\/[^/]+$/.test(path)) {
    res.setHeader('content-type', 'application/json');
    return void res.end(JSON.stringify({ id: path.slice(7) }));
  }
  if (path === '/fail') {
    res.statusCode = 503;
    return void res.end('down');
  }
  if (path === '/hang') {
    // Registered after Vigil's completion, so the request is recorded when this runs.
    res.on('close', () => hangClosed?.());
    return void hangEntered?.();
  }
  res.statusCode = 404;
  res.end('not found');
}
let observed: ReturnType<typeof createHttpObserver> | undefined;
let hangEntered: (() => void) | undefined;
let hangClosed: (() => void) | undefined;

/** The route function a service writes: its own templates, undefined for anything else. */
const route = (req: IncomingMessage): string | undefined => {
  const path = (req.url ?? '/').split('?')[0] as string;
  if (/^\/users\/[^/]+$/.test(path)) return '/users/:id';
  if (path === '/fail' || path === '/hang') return path;
  return undefined;
};

async function start(options: HttpObserverOptions = {}, server: Server = createServer(handler)) {
  const obs = createHttpObserver(server, { runtimeMetrics: false, ...options });
  observed = obs;
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
  const totals = async () => {
    const text = (await obs.scrape()).body as string;
    const out = new Map<string, number>();
    for (const [k, v] of parseSamples(text)) {
      const m = /^http_requests_total\{route="(.*)",method="(\w+)",status_code="(\w+)"\}$/.exec(k);
      if (m) out.set(`${m[2]} ${m[1]} ${m[3]}`, v);
    }
    return { text, out };
  };
  return { port, obs, server, totals };
}

function optionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isVigilOptionError(e) ? (e as { option: string }).option : `not a VigilOptionError: ${String(e)}`;
  }
  return 'no error';
}

describe('createHttpObserver (node:http)', () => {
  it('labels requests with what the route function returns, __unmatched__ otherwise', async () => {
    const h = await start({ route });
    expect(JSON.parse((await request(h.port, 'GET', '/users/1?x=1')).body)).toEqual({ id: '1' });
    await request(h.port, 'GET', '/users/2');
    await request(h.port, 'HEAD', '/users/3');
    await request(h.port, 'GET', '/fail');
    await request(h.port, 'GET', '/nope');
    await request(h.port, 'PROPFIND', '/users/4');
    const { text, out } = await h.totals();
    expect(out.get('GET /users/:id 200')).toBe(2);
    expect(out.get('HEAD /users/:id 200')).toBe(1);
    expect(out.get('_OTHER /users/:id 200')).toBe(1);
    expect(out.get('GET /fail 503')).toBe(1);
    expect(out.get('GET __unmatched__ 404')).toBe(1);
    // The scrape itself (served by the observer's handler) is not recorded.
    expect(text).not.toContain('route="/metrics"');
    expect(text).not.toMatch(/\/users\/1|x=1/);
  });

  it('routeLabel relabels what the route function found', async () => {
    const h = await start({ route, routeLabel: (_req, r) => (r === '/users/:id' ? 'users' : undefined) });
    await request(h.port, 'GET', '/users/1');
    await request(h.port, 'GET', '/nope');
    const { out } = await h.totals();
    expect(out.get('GET users 200')).toBe(1);
    expect(out.get('GET __unmatched__ 404')).toBe(1);
  });

  it('without a route function every request is __unmatched__ (bounded by default)', async () => {
    const h = await start();
    await request(h.port, 'GET', '/users/1');
    await request(h.port, 'GET', '/users/2');
    await request(h.port, 'GET', '/fail');
    const { out } = await h.totals();
    expect(out.get('GET __unmatched__ 200')).toBe(2);
    expect(out.get('GET __unmatched__ 503')).toBe(1);
    expect(out.size).toBe(2);
  });

  it('a route function that throws costs the label, never the request; one warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    closers.push(async () => void process.off('warning', onWarning));
    const warned = new Promise<void>((resolve) =>
      process.on('warning', function first(w: Error & { code?: string }) {
        if (w.code !== 'VIGIL_ROUTE_ERROR') return;
        process.off('warning', first);
        resolve();
      }),
    );
    const h = await start({
      route: (req) => {
        if (req.url?.startsWith('/users/')) throw new TypeError('route table not loaded');
        return req.url === '/fail' ? (42 as never) : undefined;
      },
    });
    for (let i = 0; i < 3; i++) expect((await request(h.port, 'GET', `/users/${i}`)).status).toBe(200);
    expect((await request(h.port, 'GET', '/fail')).status).toBe(503);
    await warned;
    const { out } = await h.totals();
    expect(out.get('GET __unmatched__ 200')).toBe(3);
    // A value that is not a string is no label either.
    expect(out.get('GET __unmatched__ 503')).toBe(1);
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'VIGIL_ROUTE_ERROR');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.message).toMatch(/route table not loaded/);
  });

  it('hostile paths: random and huge URLs never grow the series, even from a raw-path route function', async () => {
    const h = await start({ route });
    await request(h.port, 'GET', '/users/1');
    const before = (await h.totals()).out.size;
    await many(2_000, 16, () => request(h.port, 'GET', randomPath()));
    await request(h.port, 'GET', `/users/${'x'.repeat(6000)}?q=${'y'.repeat(2000)}`);
    await request(h.port, 'GET', '/users/%2e%2e%2f%00');
    await request(h.port, 'GET', '//users//1');
    const { text, out } = await h.totals();
    expect(out.size).toBe(before + 1); // + GET __unmatched__ 404
    expect(out.get('GET /users/:id 200')).toBe(3);
    expect(text).not.toContain('xxxxxxxxxx');

    // A route function that returns the raw path (a mistake) is still bounded by the series cap.
    const raw = await start({ route: (req) => req.url, maxSeries: 5 });
    await many(200, 16, () => request(raw.port, 'GET', randomPath()));
    expect(raw.obs.http.seriesCount).toBeLessThanOrEqual(5 + 1); // + the overflow set
    expect(seriesOf((await raw.totals()).text, 'http_requests_total').length).toBeLessThanOrEqual(6);
    expect((await raw.totals()).out.get('GET __overflow__ 4xx')).toBeGreaterThan(190);
  });

  it('records a request the client aborted as 499, and the request line when a logger is given', async () => {
    const lines: { route: string; status: number | undefined; id: string | undefined }[] = [];
    const writer: RequestLogWriter = {
      idHeader: 'x-request-id',
      requestId: (h) => (typeof h === 'string' ? h : 'generated'),
      child: () => undefined,
      write: (rec, r, status) => void lines.push({ route: r, status, id: rec.id }),
    };
    const entered = new Promise<void>((r) => {
      hangEntered = r;
    });
    const closed = new Promise<void>((r) => {
      hangClosed = r;
    });
    const h = await start({ route, logger: { [REQUEST_LOG]: () => writer } });
    const ok = await request(h.port, 'GET', '/users/5', { 'x-request-id': 'req-1' });
    expect(ok.headers['x-request-id']).toBe('req-1');
    const socket = connect(h.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await entered;
    expect(h.obs.http.inFlight).toBe(1);
    socket.destroy();
    await closed;
    expect(h.obs.http.inFlight).toBe(0);
    const { out } = await h.totals();
    expect(out.get('GET /hang 499')).toBe(1);
    expect(lines).toEqual([
      { route: '/users/:id', status: 200, id: 'req-1' },
      { route: '/hang', status: undefined, id: 'generated' },
    ]);
  });

  it('calls every request handler of the server; close() gives them back and is idempotent', async () => {
    const server = createServer();
    const calls: string[] = [];
    server.on('request', (req) => calls.push(`first ${req.url}`));
    server.on('request', (req, res) => {
      calls.push(`second ${req.url}`);
      res.end('ok');
    });
    const shared = createMetrics({ runtimeMetrics: false });
    closers.push(() => shared.close());
    const h = await start({ metrics: shared, route: () => '/r' }, server);
    await request(h.port, 'GET', '/a');
    expect(calls).toEqual(['first /a', 'second /a']);
    expect(server.listeners('request')).toHaveLength(1);
    await h.obs.close();
    await h.obs.close();
    expect(server.listeners('request')).toHaveLength(2);
    expect((await request(h.port, 'GET', '/b')).body).toBe('ok');
    expect(calls).toEqual(['first /a', 'second /a', 'first /b', 'second /b']);
    // Recorded into the given handle, which stays open after the observer closed.
    const text = (await shared.scrape()).body as string;
    expect(parseSamples(text).get('http_requests_total{route="/r",method="GET",status_code="200"}')).toBe(1);
  });

  it('rejects invalid options at construction, naming the option, and leaves the server alone', () => {
    const server = createServer(handler);
    expect(optionOf(() => createHttpObserver(undefined as never))).toBe('server');
    expect(optionOf(() => createHttpObserver({} as never))).toBe('server');
    expect(optionOf(() => createHttpObserver(server, { route: '/users/:id' as never }))).toBe('route');
    expect(optionOf(() => createHttpObserver(server, { exclude: [42 as never] }))).toBe('exclude[0]');
    expect(optionOf(() => createHttpObserver(server, { metrics: {} as never }))).toBe('metrics');
    expect(optionOf(() => createHttpObserver(server, { logger: console }))).toBe('logger');
    expect(optionOf(() => createHttpObserver(server, { maxSeries: 0 }))).toBe('maxSeries');
    expect(optionOf(() => createHttpObserver(server, 'x' as never))).toBe('options');
    expect(server.listeners('request')).toEqual([handler]);
  });
});
