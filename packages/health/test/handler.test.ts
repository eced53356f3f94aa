import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHealth, HEALTH_CONTENT_TYPE, type Health, type HealthServer } from '../src/index.js';
import { get, listen } from './helpers/net.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function serve(health: Health) {
  const s = await listen((req, res) => {
    health.handler(req, res, () => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('app');
    });
  });
  cleanups.push(
    () => s.close(),
    () => health.close(),
  );
  return s;
}

describe('HTTP handler (real server)', () => {
  it('answers the probe paths with application/health+json and passes other paths on', async () => {
    const health = createHealth({ autoStart: true, checks: { a: () => true } });
    const { url } = await serve(health);
    for (const path of ['/health', '/livez', '/ready', '/readyz', '/startup', '/ready?verbose=1']) {
      const r = await get(url + path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toBe(HEALTH_CONTENT_TYPE);
      expect(r.headers['cache-control']).toContain('no-store');
      expect(JSON.parse(r.body).status).toBe('pass');
    }
    expect((await get(`${url}/users/1`)).body).toBe('app');
    const head = await get(`${url}/ready`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const post = await get(`${url}/ready`, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('answers 503 with a stable body when readiness fails, and 404 without a next handler', async () => {
    const health = createHealth({ checks: { db: () => Promise.reject(new Error('password=hunter2')) } });
    const s = await listen((req, res) => health.handler(req, res));
    cleanups.push(
      () => s.close(),
      () => health.close(),
    );
    const notStarted = await get(`${s.url}/ready`);
    expect(notStarted.status).toBe(503);
    expect(JSON.parse(notStarted.body)).toEqual({ status: 'fail', output: 'not started' });
    health.markStarted();
    const failing = await get(`${s.url}/readyz`);
    expect(failing.status).toBe(503);
    expect(failing.body).not.toContain('hunter2');
    expect(JSON.parse(failing.body).checks.db[0]).toMatchObject({ status: 'fail', output: 'error' });
    expect((await get(`${s.url}/nope`)).status).toBe(404);
  });

  it('a probe storm of hundreds of concurrent /ready runs the check once', async () => {
    const N = 300;
    let arrived = 0;
    let release!: () => void;
    const allArrived = new Promise<void>((r) => {
      release = r;
    });
    const check = vi.fn(async () => {
      await allArrived; // hold the run until every request has reached the server
      return true;
    });
    const health = createHealth({ autoStart: true, checks: { db: check } });
    const s = await listen((req, res) => {
      if (++arrived === N) release();
      health.handler(req, res);
    });
    cleanups.push(
      () => s.close(),
      () => health.close(),
    );
    const answers = await Promise.all(Array.from({ length: N }, () => get(`${s.url}/ready`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(check).toHaveBeenCalledTimes(1);
  });

  it('createHandler takes other paths and details', async () => {
    const health = createHealth({
      autoStart: true,
      checks: { db: () => Promise.reject(new Error('no route to host')) },
    });
    const handler = health.createHandler({ details: true, paths: { readiness: ['/-/ready'] } });
    const s = await listen((req, res) => handler(req, res));
    cleanups.push(
      () => s.close(),
      () => health.close(),
    );
    const r = await get(`${s.url}/-/ready`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks.db[0].output).toBe('no route to host');
  });
});

describe('management server', () => {
  it('serves the probes on its own port, with details when asked, and close() stops it', async () => {
    const health = createHealth({
      autoStart: true,
      checks: { q: () => ({ status: 'warn', output: 'lag 3 s' }) },
    });
    cleanups.push(() => health.close());
    const server: HealthServer = await health.startServer({ port: 0, host: '127.0.0.1', details: true });
    const url = `http://127.0.0.1:${server.address.port}`;
    const r = await get(`${url}/ready`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'warn', checks: { q: [{ output: 'lag 3 s' }] } });
    expect((await get(`${url}/other`)).status).toBe(404);
    await health.close();
    expect(server.server.listening).toBe(false);
    await expect(get(`${url}/ready`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('validates its options', async () => {
    const health = createHealth();
    cleanups.push(() => health.close());
    await expect(health.startServer({ port: 70000 })).rejects.toMatchObject({ option: 'port' });
  });
});
