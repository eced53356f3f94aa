import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples, request } from './helpers/http.js';
import { type Running, startService } from './helpers/spawn.js';

// The express-basic example, unchanged, on Express 4: its `import express from 'express'` loads
// express@4.22.3 (test/helpers/express4-loader.mjs), as in a service that still runs Express 4.
const loader = join(import.meta.dirname, 'helpers', 'express4-loader.mjs');

describe('express-basic on Express 4', () => {
  let svc: Running;
  beforeAll(async () => {
    svc = await startService(
      join(import.meta.dirname, '..', 'examples', 'express-basic', 'dist', 'server.js'),
      {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${loader}`.trim(),
        OTEL_SDK_DISABLED: 'true',
        SHUTDOWN_DRAIN_DELAY_MS: '100',
      },
    );
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('runs on Express 4 and records its endpoints under route templates', async () => {
    const p = svc.port;
    // The loader's hook reports the redirect from its own thread: printed when it arrives.
    await svc.waitForOutput(/express4-loader: express -> file:.*express@4\.22\.3/);
    expect((await request(p, 'GET', '/users/7')).body).toContain('"id":"7"');
    expect(JSON.parse((await request(p, 'GET', '/slow?ms=5')).body)).toEqual({ waited: 5 });
    expect((await request(p, 'GET', '/error')).status).toBe(500);
    expect((await request(p, 'GET', '/api/v1/items/3')).body).toContain('"id":"3"');
    expect((await request(p, 'GET', '/definitely/not/here')).status).toBe(404);
    for (const probe of ['/livez', '/readyz']) expect((await request(p, 'GET', probe)).status).toBe(200);
    const s = parseSamples((await request(p, 'GET', '/metrics')).body);
    const key = (route: string, status: number) =>
      `http_requests_total{route="${route}",method="GET",status_code="${status}",service="express-basic"}`;
    expect(s.get(key('/users/:id', 200))).toBe(1);
    expect(s.get(key('/slow', 200))).toBe(1);
    expect(s.get(key('/error', 500))).toBe(1);
    expect(s.get(key('/api/v1/items/:id', 200))).toBe(1);
    expect(s.get(key('__unmatched__', 404))).toBe(1);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await svc.stop('SIGTERM')).toBe(0);
  });
});
