import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestPath } from '../src/route.js';
import { MAJORS } from './majors.js';

/**
 * `requestPath(req)` replaces Express' `req.path` getter on every request (excluded and ignored
 * paths): it must give the same answer for every request target, mounted or not.
 */
describe.each(MAJORS)('$name', ({ express }) => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    const both = (req: Request, res: Response) => {
      res.json({ ours: requestPath(req), express: req.path });
    };
    const api = express.Router();
    api.use(both);
    app.use('/api/:version', api);
    app.use(both);
    server = createServer(app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** One raw HTTP/1.1 request with the target exactly as given (no client-side normalisation). */
  async function raw(target: string): Promise<{ ours: string; express: string }> {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
    });
    await once(sock, 'end');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    return JSON.parse(body) as { ours: string; express: string };
  }

  describe('requestPath', () => {
    const targets = [
      '/',
      '/metrics',
      '/metrics?format=openmetrics',
      '/users/42?a=1&b=2',
      '/a%20b/c',
      '//double//slash',
      '/with#fragment',
      '/q?x=1#frag',
      '/api/v1/items/7?x=1',
      '/api/v2',
      'http://example.test/absolute?x=1',
      '*',
    ];
    for (const target of targets) {
      it(`equals req.path for ${JSON.stringify(target)}`, async () => {
        const got = await raw(target);
        expect(got.ours).toBe(got.express);
      });
    }
  });
});
