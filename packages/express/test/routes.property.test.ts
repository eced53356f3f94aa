import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../../test/helpers/http.js';
import { RUNS, runs } from '../../../test/helpers/property.js';
import { createExpressMetrics, type ExpressMetrics } from '../src/index.js';
import { routeTemplate } from '../src/route.js';
import { ROUTERS } from './majors.js';

// The route label of every request is one of the app's own templates (with mount paths) or
// `__unmatched__`, whatever path a client sends: percent-encoding good and bad, dot segments,
// empty segments, unicode, values that look like other routes.

describe.each(ROUTERS)('$name', ({ express, splat }) => {
  const TEMPLATES = [
    '/',
    '/users/:id',
    `/files/${splat}`,
    '/api/v1/items/:id',
    '/api/v1/items/:id/tags/:tag',
    '/orgs/:orgId/members/:mid',
    '/orgs/:orgId/members',
    String(/^\/re\/\d+$/),
  ];
  const ALLOWED = new Set([...TEMPLATES, '__unmatched__']);

  let server: Server;
  let port: number;
  let metrics: ExpressMetrics;
  /** The label each completed request got, by path (what the middleware records). */
  const seen: { path: string; route: string }[] = [];

  beforeAll(async () => {
    const app = express();
    metrics = createExpressMetrics({ runtimeMetrics: false });
    app.use(metrics.middleware);
    app.get('/metrics', metrics.handler);
    app.use((req, res, next) => {
      res.on('finish', () => seen.push({ path: req.originalUrl, route: routeTemplate(req) }));
      next();
    });
    const ok = (_req: Request, res: Response) => {
      res.send('ok');
    };
    app.get('/', ok);
    app.get('/users/:id', ok);
    app.get(`/files/${splat}`, ok);
    app.get(/^\/re\/\d+$/, ok);
    const v1 = express.Router();
    v1.get('/items/:id', ok);
    v1.get('/items/:id/tags/:tag', ok);
    app.use('/api/v1', v1);
    const org = express.Router({ mergeParams: true });
    org.get('/members/:mid', ok);
    org.get('/members', ok);
    app.use('/orgs/:orgId', org);
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await metrics?.close();
  });

  /** A path segment as a client might send it, written so that Node's client accepts it. */
  const segment = fc.oneof(
    fc.constantFrom(
      'users',
      'api',
      'v1',
      'items',
      'tags',
      'orgs',
      'members',
      'files',
      're',
      '42',
      '',
      '.',
      '..',
    ),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
    fc.constantFrom('%', '%zz', '%2F', '%00', '%E0%A4%A', '%C3%A9', ';x=1', ':id', '*'),
  );
  const path = fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);
  const value = fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/);

  async function labelOf(p: string): Promise<string> {
    const before = seen.length;
    await request(port, 'GET', p);
    // 'finish' has fired by the time the client has the whole response; the entry is there.
    const hit = seen.slice(before).find((s) => s.path === p);
    if (!hit) throw new Error(`no completion recorded for ${p}`);
    return hit.route;
  }

  // Each run is a real request over a keep-alive connection: a fifth of the pure properties' runs.
  const HTTP_RUNS = Math.max(200, Math.floor(RUNS / 5));

  describe('route templates (property)', () => {
    it('any path gets one of the app templates or __unmatched__', async () => {
      await fc.assert(
        fc.asyncProperty(path, async (p) => {
          expect(ALLOWED.has(await labelOf(p))).toBe(true);
        }),
        runs(HTTP_RUNS),
      );
    });

    it('a path built from a template gets exactly that template, mounts included', async () => {
      const built = fc.oneof(
        value.map((id) => ({ p: `/users/${id}`, t: '/users/:id' })),
        fc
          .tuple(value, value)
          .map(([id, tag]) => ({ p: `/api/v1/items/${id}/tags/${tag}`, t: '/api/v1/items/:id/tags/:tag' })),
        fc
          .tuple(value, value)
          .map(([o, m]) => ({ p: `/orgs/${o}/members/${m}`, t: '/orgs/:orgId/members/:mid' })),
        value.map((o) => ({ p: `/orgs/${o}/members`, t: '/orgs/:orgId/members' })),
        fc
          .array(value, { minLength: 1, maxLength: 4 })
          .map((s) => ({ p: `/files/${s.join('/')}`, t: `/files/${splat}` })),
        fc.nat().map((n) => ({ p: `/re/${n}`, t: String(/^\/re\/\d+$/) })),
      );
      await fc.assert(
        fc.asyncProperty(built, async ({ p, t }) => {
          expect(await labelOf(p)).toBe(t);
        }),
        runs(HTTP_RUNS),
      );
    });

    it('the scrape after all that holds only those labels', async () => {
      const text = (await request(port, 'GET', '/metrics')).body;
      const routes = new Set(
        text
          .split('\n')
          .filter((l) => l.startsWith('http_requests_total{'))
          .map((l) => /route="((?:[^"\\]|\\.)*)"/.exec(l)?.[1]?.replaceAll('\\\\', '\\')),
      );
      expect(routes.size).toBeGreaterThan(2);
      for (const r of routes) expect(ALLOWED.has(r as string), String(r)).toBe(true);
    });
  });
});
