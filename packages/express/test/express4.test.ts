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
import { prepareRequest, routeTemplate } from '../src/route.js';
import { assertSupportedExpress } from '../src/version.js';

// Express 4 forced in (npm refuses the peer range, pnpm and yarn only warn): a real express@4,
// installed here as `express4`, in an app's node_modules next to the built @vigil/express, as a
// user's install would have it.

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

describe('Express 4 installed next to @vigil/express', () => {
  it('createExpressMetrics() throws a VigilOptionError saying Express 4 is not supported yet (ESM)', async () => {
    const mod = await import(pathToFileURL(join(app4, 'node_modules/@vigil/express/dist/index.js')).href);
    const e = optionError(() => mod.createExpressMetrics());
    expect(e.option).toBe('express');
    expect(e.message).toMatch(/Express 4 is not supported yet/);
    expect(e.message).toMatch(/got "Express 4\.\d+\.\d+"/);
  });

  it('the same from CommonJS', () => {
    const require = createRequire(join(app4, 'index.js'));
    const { createExpressMetrics } = require('@vigil/express');
    expect(optionError(() => createExpressMetrics()).option).toBe('express');
  });

  it('any other major but 5 is refused too; an unknown version (a bundle) is let through', () => {
    expect(optionError(() => assertSupportedExpress('6.0.0')).message).toBe(
      'Invalid option "express": expected Express 5, got "Express 6.0.0"',
    );
    expect(() => assertSupportedExpress('5.3.0')).not.toThrow();
    expect(() => assertSupportedExpress(undefined)).not.toThrow();
  });

  it('the route capture never takes an Express 4 request down (its app.router getter throws)', async () => {
    const app = express4();
    const seen: string[] = [];
    app.use((req, res, next) => {
      prepareRequest(req as never);
      res.on('finish', () => seen.push(routeTemplate(req as never)));
      next();
    });
    const r = express4.Router();
    r.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
    app.use('/api', r);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await request((server.address() as AddressInfo).port, 'GET', '/api/users/7');
      expect(res.status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen).toEqual(['/api/users/:id']);
    } finally {
      server.close();
    }
  });
});
