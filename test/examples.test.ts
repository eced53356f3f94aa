import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveTool } from './helpers/env.js';
import { parseSamples, request } from './helpers/http.js';
import { type Running, startService } from './helpers/spawn.js';

// The basic examples, built (`pnpm test` builds first) and run as real processes, as users run them.
const EXAMPLES = ['express-basic', 'fastify-basic', 'nest-basic', 'koa-basic'] as const;
const promtool = haveTool('promtool', ['--version']);

/** Keeps only the metric families Vigil itself defines (prom-client's defaults have lint findings of their own). */
function vigilFamilies(text: string): string {
  const keep = /^(http_|database_|vigil_|nodejs_eventloop_utilization)/;
  const out: string[] = [];
  let on = false;
  for (const line of text.split('\n')) {
    const m = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (m) on = keep.test(m[2] as string);
    if (on && line !== '') out.push(line);
  }
  return `${out.join('\n')}\n`;
}

describe.each(EXAMPLES)('%s example', (name) => {
  let svc: Running;
  beforeAll(async () => {
    svc = await startService(join(import.meta.dirname, '..', 'examples', name, 'dist', 'server.js'));
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('serves its endpoints and records them under route templates', async () => {
    const p = svc.port;
    expect((await request(p, 'GET', '/users/7')).body).toContain('"id":"7"');
    expect(JSON.parse((await request(p, 'GET', '/slow?ms=20')).body)).toEqual({ waited: 20 });
    expect((await request(p, 'GET', '/error')).status).toBe(500);
    expect((await request(p, 'GET', '/api/v1/items/3')).body).toContain('"id":"3"');
    expect((await request(p, 'GET', '/definitely/not/here')).status).toBe(404);
    const text = (await request(p, 'GET', '/metrics')).body;
    const s = parseSamples(text);
    const key = (route: string, status: number) =>
      `http_requests_total{route="${route}",method="GET",status_code="${status}",service="${name}"}`;
    expect(s.get(key('/users/:id', 200))).toBe(1);
    expect(s.get(key('/slow', 200))).toBe(1);
    expect(s.get(key('/error', 500))).toBe(1);
    expect(s.get(key('/api/v1/items/:id', 200))).toBe(1);
    expect(s.get(key('__unmatched__', 404))).toBe(1);
    // The slow request landed in a bucket above 10 ms.
    const slowLe10ms = s.get(
      `http_request_duration_seconds_bucket{route="/slow",method="GET",status_code="200",service="${name}",le="0.01"}`,
    );
    expect(slowLe10ms).toBe(0);
  });

  it('sheds load with its defaults: GET /cpu burns CPU, the shedder is in /metrics and in readiness', async () => {
    const p = svc.port;
    expect(JSON.parse((await request(p, 'GET', '/cpu?ms=20')).body)).toEqual({ busyMs: 20 });
    expect(JSON.parse((await request(p, 'GET', '/cpu?ms=99999')).body)).toEqual({ busyMs: 1000 });
    const s = parseSamples((await request(p, 'GET', '/metrics')).body);
    expect(s.get(`vigil_load_shed_limit{service="${name}"}`)).toBeGreaterThanOrEqual(1);
    expect(s.get(`vigil_load_shed_requests_total{reason="concurrency",service="${name}"}`)).toBe(0);
    expect(s.has(`vigil_load_shed_in_flight_requests{service="${name}"}`)).toBe(true);
    const ready = JSON.parse((await request(p, 'GET', '/readyz')).body);
    expect(ready.status).toBe('pass');
  });

  it.runIf(promtool)("Vigil's metric families pass promtool check metrics", async () => {
    const text = (await request(svc.port, 'GET', '/metrics')).body;
    const families = vigilFamilies(text);
    expect(families).toContain('# TYPE http_request_duration_seconds histogram');
    expect(families).toContain('# TYPE http_requests_total counter');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-promtool-'));
    try {
      const file = join(dir, 'metrics.txt');
      writeFileSync(file, families);
      // promtool reads the exposition on stdin; a lint finding exits non-zero and fails the test.
      const out = execFileSync('sh', ['-c', `promtool check metrics < ${file} 2>&1`], { encoding: 'utf8' });
      expect(out.trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
