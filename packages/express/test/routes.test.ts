import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { many, parseSamples, randomPath, request, seriesOf } from '../../../test/helpers/http.js';
import { createExpressMetrics, type ExpressMetrics } from '../src/index.js';
import { ROUTERS } from './majors.js';

// Route templates for the routing shapes services use, on each Express major. Express 4 keeps the
// concrete values in `req.baseUrl` and no template on its mount layers: the label must still be
// the template, never a value.

const open: { server: Server; metrics: ExpressMetrics }[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    h.server.closeAllConnections();
    await new Promise((r) => h.server.close(r));
    await h.metrics.close();
  }
});

const ok = (_req: Request, res: Response) => {
  res.send('ok');
};

describe.each(ROUTERS)('route templates ($name)', ({ express }) => {
  async function start(maxSeries?: number) {
    const app = express();
    const metrics = createExpressMetrics({ runtimeMetrics: false, ...(maxSeries ? { maxSeries } : {}) });
    app.use(metrics.middleware);

    // Nested, parameterised routers.
    const orders = express.Router({ mergeParams: true });
    orders.get('/', (req, res) => {
      res.json(req.params);
    });
    orders.get('/items/:itemId', ok);
    orders.get('/fail', () => {
      throw Object.assign(new Error('conflict'), { status: 409 });
    });
    const tenants = express.Router({ mergeParams: true });
    tenants.use('/orders/:orderId', orders);
    app.use('/tenants/:tenantId', tenants);

    // Arrays and regexps, as routes and as mount paths.
    app.get(['/alpha', '/beta'], ok);
    app.get(/^\/re\/\d+$/, ok);
    const byArray = express.Router();
    byArray.get('/x/:id', ok);
    app.use(['/m1', '/m2'], byArray);
    const byRegexp = express.Router();
    byRegexp.get('/items/:id', ok);
    app.use(/^\/v\d+/, byRegexp);

    // Sub-apps, one mounted at a parameterised path, with a router inside.
    const admin = express();
    admin.get('/users/:id', ok);
    const audit = express.Router();
    audit.get('/entries/:entryId', ok);
    admin.use('/audit/:year', audit);
    app.use('/admin', admin);
    const org = express();
    org.get('/settings', ok);
    const teams = express.Router();
    teams.get('/:teamId', ok);
    org.use('/teams', teams);
    app.use('/orgs/:orgId', org);

    // app.route()
    app
      .route('/books/:bookId')
      .get(ok)
      .put((_req, res) => {
        res.status(204).end();
      });

    // Error middleware sets the status.
    app.get('/teapot/:n', () => {
      throw Object.assign(new Error('teapot'), { status: 418 });
    });
    app.use((err: { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status ?? 500).send('handled');
    });

    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    open.push({ server, metrics });
    const port = (server.address() as AddressInfo).port;
    const counts = async () => {
      const text = (await metrics.scrape()).body as string;
      const totals = new Map<string, number>();
      for (const [k, v] of parseSamples(text)) {
        const m = /^http_requests_total\{route="(.*)",method="(\w+)",status_code="(\w+)"\}$/.exec(k);
        if (m) totals.set(`${m[2]} ${(m[1] as string).replace(/\\(.)/g, '$1')} ${m[3]}`, v);
      }
      return { text, totals };
    };
    return { port, metrics, counts };
  }

  it('nested parameterised routers: the mount templates, never the values (any case)', async () => {
    const h = await start();
    for (const path of [
      '/tenants/acme/orders/1',
      '/tenants/globex/orders/2/',
      '/TENANTS/Initech/Orders/3',
      // Values that spell the routes' own literals.
      '/tenants/orders/orders/orders',
      '/tenants/acme/orders/1/items/9',
      '/tenants/x/orders/y/items/z',
    ]) {
      expect((await request(h.port, 'GET', path)).status, path).toBe(200);
    }
    expect(JSON.parse((await request(h.port, 'GET', '/tenants/t1/orders/o1')).body)).toEqual({
      tenantId: 't1',
      orderId: 'o1',
    });
    const { text, totals } = await h.counts();
    expect(totals.get('GET /tenants/:tenantId/orders/:orderId 200')).toBe(5);
    expect(totals.get('GET /tenants/:tenantId/orders/:orderId/items/:itemId 200')).toBe(2);
    expect(text).not.toMatch(/acme|globex|initech|"\/tenants\/orders/i);
  });

  it('arrays and regexps get one stable label each, as routes and as mounts', async () => {
    const h = await start();
    for (const path of [
      '/alpha',
      '/beta',
      '/re/1',
      '/re/22',
      '/m1/x/1',
      '/m2/x/2',
      '/v1/items/1',
      '/v22/items/2',
    ]) {
      expect((await request(h.port, 'GET', path)).status, path).toBe(200);
    }
    const { text, totals } = await h.counts();
    expect(totals.get('GET /alpha|/beta 200')).toBe(2);
    expect(totals.get(`GET ${String(/^\/re\/\d+$/)} 200`)).toBe(2);
    // A router mounted at an array: one label per path of the array (bounded by the app).
    expect(totals.get('GET /m1/x/:id 200')).toBe(1);
    expect(totals.get('GET /m2/x/:id 200')).toBe(1);
    expect(totals.get(`GET ${String(/^\/v\d+/)}/items/:id 200`)).toBe(2);
    expect(totals.size).toBe(5);
    expect(text).not.toMatch(/v22/);
  });

  it('sub-apps, also at a parameterised mount path and with routers inside', async () => {
    const h = await start();
    for (const path of [
      '/admin/users/1',
      '/admin/users/2',
      '/admin/audit/2025/entries/7',
      '/admin/audit/2026/entries/8',
      '/orgs/acme/settings',
      '/orgs/globex/settings',
      '/orgs/acme/teams/red',
      '/orgs/globex/teams/blue',
    ]) {
      expect((await request(h.port, 'GET', path)).status, path).toBe(200);
    }
    const { text, totals } = await h.counts();
    expect(totals.get('GET /admin/users/:id 200')).toBe(2);
    expect(totals.get('GET /admin/audit/:year/entries/:entryId 200')).toBe(2);
    expect(totals.get('GET /orgs/:orgId/settings 200')).toBe(2);
    expect(totals.get('GET /orgs/:orgId/teams/:teamId 200')).toBe(2);
    expect(text).not.toMatch(/acme|globex|2025|"\/orgs\/red/);
  });

  it('app.route(), error middleware statuses, 404s under __unmatched__', async () => {
    const h = await start();
    await request(h.port, 'GET', '/books/1');
    await request(h.port, 'PUT', '/books/2');
    expect((await request(h.port, 'GET', '/teapot/1')).status).toBe(418);
    expect((await request(h.port, 'GET', '/tenants/a/orders/b/fail')).status).toBe(409);
    expect((await request(h.port, 'GET', '/nope/1')).status).toBe(404);
    expect((await request(h.port, 'GET', '/tenants/a/nope')).status).toBe(404);
    expect((await request(h.port, 'DELETE', '/books/3')).status).toBe(404);
    const { totals } = await h.counts();
    expect(totals.get('GET /books/:bookId 200')).toBe(1);
    expect(totals.get('PUT /books/:bookId 204')).toBe(1);
    expect(totals.get('GET /teapot/:n 418')).toBe(1);
    // The error left the routers (Express restored req.baseUrl): the template keeps the mounts.
    expect(totals.get('GET /tenants/:tenantId/orders/:orderId/fail 409')).toBe(1);
    expect(totals.get('GET __unmatched__ 404')).toBe(2);
    expect(totals.get('DELETE __unmatched__ 404')).toBe(1);
  });

  it('random paths, under the mounts too, never add a series', async () => {
    const h = await start();
    await request(h.port, 'GET', '/tenants/a/orders/b');
    await request(h.port, 'GET', '/orgs/a/settings');
    const before = seriesOf((await h.counts()).text, 'http_requests_total').length;
    await many(2_000, 16, (i) => {
      const prefix = ['', '/tenants/t', '/tenants/t/orders/o', '/orgs/o', '/admin/audit/y', '/m1', '/v9'][
        i % 7
      ];
      return request(h.port, 'GET', `${prefix}${randomPath()}`);
    });
    const { text } = await h.counts();
    expect(seriesOf(text, 'http_requests_total').length).toBe(before + 1); // + GET __unmatched__ 404
    expect(h.metrics.http.seriesCount).toBe(before + 1);
  });
});
