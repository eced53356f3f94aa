import { afterEach, describe, expect, it } from 'vitest';
import {
  createHealth,
  eventLoopDelayCheck,
  type Health,
  heapCheck,
  httpCheck,
  isVigilOptionError,
} from '../src/index.js';
import { closedPort, listen } from './helpers/net.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
function track(h: Health): Health {
  cleanups.push(() => h.close());
  return h;
}

describe('httpCheck (real servers)', () => {
  it('passes on 2xx/3xx, fails on 5xx, and fails with timeout on a server that never answers', async () => {
    let hung = 0;
    const s = await listen((req, res) => {
      if (req.url === '/ok') res.writeHead(204).end();
      else if (req.url === '/down') res.writeHead(503).end('down');
      else hung++; // never answers
    });
    cleanups.push(() => s.close());
    const health = track(
      createHealth({
        autoStart: true,
        // Only the hung check gets the short timeout: a loaded CI machine's first fetch (undici
        // loading) can take longer than 200 ms, which is not what this test is about.
        checks: {
          ok: httpCheck(`${s.url}/ok`),
          down: httpCheck(`${s.url}/down`),
          hang: httpCheck(`${s.url}/hang`, { timeoutMs: 200 }),
        },
      }),
    );
    const r = await health.readiness({ details: true });
    expect(r.statusCode).toBe(503);
    expect(r.body.checks?.ok?.[0]).toMatchObject({ status: 'pass', componentType: 'component' });
    expect(r.body.checks?.down?.[0]).toMatchObject({ status: 'fail', output: 'HTTP 503' });
    expect(r.body.checks?.hang?.[0]).toMatchObject({ status: 'fail', output: 'timed out after 200 ms' });
    expect(hung).toBe(1);
  });

  it('fails with error when the dependency refuses connections', async () => {
    const port = await closedPort();
    const health = track(
      createHealth({ autoStart: true, checks: { api: httpCheck(`http://127.0.0.1:${port}/`) } }),
    );
    const r = await health.readiness();
    expect(r.body.checks?.api?.[0]).toMatchObject({ status: 'fail', output: 'error' });
  });

  it('validates the URL', () => {
    expect(() => httpCheck('not a url')).toThrow(/httpCheck\(url\)/);
    expect(() => httpCheck('ftp://x/')).toThrow(/http\(s\) URL/);
    try {
      httpCheck('http://x/', { liveness: true });
    } catch (e) {
      expect(isVigilOptionError(e)).toBe(true);
    }
  });
});

describe('process checks', () => {
  it('eventLoopDelayCheck reports the delay building up right now, and can be a liveness check', async () => {
    const health = track(
      createHealth({
        autoStart: true,
        checks: {
          loop: eventLoopDelayCheck({ liveness: true, warnMs: 20, failMs: 10_000, resolutionMs: 10 }),
        },
      }),
    );
    expect((await health.liveness()).statusCode).toBe(200); // the first run starts sampling
    const until = Date.now() + 80;
    while (Date.now() < until) {
      // block the event loop for 80 ms: the sampling timer cannot fire
    }
    const r = await health.liveness({ details: true });
    expect(r.statusCode).toBe(200); // warn is still 200
    expect(r.body.checks?.loop?.[0]).toMatchObject({ status: 'warn', observedUnit: 'ms' });
    expect(r.body.checks?.loop?.[0]?.observedValue).toBeGreaterThan(20);
  });

  it('eventLoopDelayCheck fails above failMs', async () => {
    const health = track(
      createHealth({
        autoStart: true,
        checks: { loop: eventLoopDelayCheck({ warnMs: 1, failMs: 30, resolutionMs: 5 }) },
      }),
    );
    await health.readiness();
    const until = Date.now() + 60;
    while (Date.now() < until) {
      // block
    }
    const r = await health.readiness();
    expect(r.statusCode).toBe(503);
    expect(() => eventLoopDelayCheck({ warnMs: 100, failMs: 50 })).toThrow(/failMs/);
  });

  it('heapCheck compares used heap to the limit', async () => {
    const health = track(
      createHealth({ autoStart: true, checks: { heap: heapCheck({ warnRatio: 0, failRatio: 1 }) } }),
    );
    const r = await health.readiness({ details: true });
    expect(r.body.checks?.heap?.[0]).toMatchObject({ status: 'warn', observedUnit: 'ratio' });
    expect(() => heapCheck({ warnRatio: 0.9, failRatio: 0.5 })).toThrow(/failRatio/);
  });
});
