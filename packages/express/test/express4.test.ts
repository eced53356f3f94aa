import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isVigilOptionError } from '@vigil/core';
import express4 from 'express4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../../test/helpers/http.js';
import { assertSupportedExpress } from '../src/version.js';

// Express 4 as a user's install has it: a real express@4 (installed here as `express4`) in an app's
// node_modules next to the built @vigil/express, so its version check and route capture see
// Express 4, from ESM and from CommonJS. The route cases themselves run on both majors in
// express.test.ts, routes.test.ts, exclusions.test.ts and health.test.ts.

const PKG = fileURLToPath(new URL('..', import.meta.url));
let app4: string;

beforeAll(() => {
  app4 = mkdtempSync(join(tmpdir(), 'vigil-express4-'));
  const modules = join(app4, 'node_modules');
  const own = join(modules, '@vigil', 'express');
  mkdirSync(own, { recursive: true });
  cpSync(join(PKG, 'package.json'), join(own, 'package.json'));
  cpSync(join(PKG, 'dist'), join(own, 'dist'), { recursive: true });
  // Every Vigil package @vigil/express itself resolves (its dependencies and optional peers).
  for (const dep of readdirSync(join(PKG, 'node_modules', '@vigil'))) {
    symlinkSync(realpathSync(join(PKG, 'node_modules', '@vigil', dep)), join(modules, '@vigil', dep));
  }
  symlinkSync(realpathSync(join(PKG, 'node_modules', 'express4')), join(modules, 'express'));
});
afterAll(() => rmSync(app4, { recursive: true, force: true }));

function optionError(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(isVigilOptionError(e)).toBe(true);
    return e as { option: string; message: string };
  }
  throw new Error('expected a VigilOptionError');
}

/** An Express 4 app using the built @vigil/express the way the README says; its route labels. */
async function templated(mod: {
  createExpressMetrics: (o: object) => {
    middleware: never;
    errorHandler: never;
    scrape(): Promise<{ body: unknown }>;
    close(): Promise<void>;
  };
}): Promise<string> {
  const metrics = mod.createExpressMetrics({ runtimeMetrics: false });
  const app = express4();
  app.use(metrics.middleware);
  const orders = express4.Router({ mergeParams: true });
  orders.get('/', (req, res) => {
    res.json(req.params);
  });
  app.use('/tenants/:tenantId/orders/:orderId', orders);
  app.use(metrics.errorHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as AddressInfo).port;
    const res = await request(port, 'GET', '/tenants/acme/orders/42');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ tenantId: 'acme', orderId: '42' });
    return (await metrics.scrape()).body as string;
  } finally {
    server.closeAllConnections();
    server.close();
    await metrics.close();
  }
}

describe('Express 4 installed next to @vigil/express', () => {
  it('the built package resolves Express 4 and labels its requests with templates (ESM)', async () => {
    const mod = await import(pathToFileURL(join(app4, 'node_modules/@vigil/express/dist/index.js')).href);
    const text = await templated(mod);
    expect(text).toContain(
      'http_requests_total{route="/tenants/:tenantId/orders/:orderId",method="GET",status_code="200"} 1',
    );
    expect(text).not.toContain('acme');
  });

  it('the same from CommonJS', async () => {
    const require = createRequire(join(app4, 'index.js'));
    expect(require('express/package.json').version).toMatch(/^4\./);
    const text = await templated(require('@vigil/express'));
    expect(text).toContain('route="/tenants/:tenantId/orders/:orderId"');
  });

  it('Express below 4.17 and majors after 5 are refused; an unknown version (a bundle) is let through', () => {
    const e = optionError(() => assertSupportedExpress('4.16.4'));
    expect(e.option).toBe('express');
    expect(e.message).toBe(
      'Invalid option "express": expected Express 4.17 or later, or Express 5, got "Express 4.16.4"',
    );
    expect(optionError(() => assertSupportedExpress('6.0.0')).message).toMatch(/got "Express 6\.0\.0"/);
    expect(optionError(() => assertSupportedExpress('3.21.2')).option).toBe('express');
    for (const ok of ['4.17.0', '4.22.3', '5.0.0', '5.3.0', undefined]) {
      expect(() => assertSupportedExpress(ok)).not.toThrow();
    }
  });
});
