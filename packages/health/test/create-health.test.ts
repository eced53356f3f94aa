import { Registry } from 'prom-client';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  createHealth,
  HEALTH_DEFAULTS,
  type Health,
  type HealthReport,
  type HealthStatus,
  isVigilOptionError,
  postgresCheck,
} from '../src/index.js';

const handles: Health[] = [];
function make(...args: Parameters<typeof createHealth>): Health {
  const h = createHealth(...args);
  handles.push(h);
  return h;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

/** A promise with its resolve function, to hold a check until the test lets it go. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function optionError(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(isVigilOptionError(e)).toBe(true);
    return e as { option: string; message: string };
  }
  throw new Error('expected a VigilOptionError');
}

describe('createHealth options', () => {
  it('names the option in the error', () => {
    expect(optionError(() => createHealth({ checkTimeoutMs: -1 })).message).toBe(
      'Invalid option "checkTimeoutMs": expected a whole number of milliseconds >= 1, got -1',
    );
    expect(optionError(() => createHealth({ checks: { db: 42 as never } })).option).toBe('checks.db');
    expect(optionError(() => createHealth({ checks: { 'bad name!': () => true } })).option).toBe(
      'checks.bad name!',
    );
    expect(
      optionError(() => createHealth({ checks: { db: { check: () => true, timeoutMs: 0 } } })).option,
    ).toBe('checks.db.timeoutMs');
    expect(optionError(() => createHealth({ nope: 1 } as never)).option).toBe('nope');
    expect(optionError(() => createHealth({ paths: { readiness: ['ready'] } })).option).toBe(
      'paths.readiness',
    );
    expect(optionError(() => createHealth({ registry: {} as never })).option).toBe('registry');
  });

  it('enforces cross-field rules at construction', () => {
    // A dependency check can never be part of liveness: a DB blip would restart every pod.
    expect(
      optionError(() =>
        createHealth({ checks: { db: { check: () => true, dependency: true, liveness: true } } }),
      ).option,
    ).toBe('checks.db.liveness');
    expect(
      optionError(() =>
        postgresCheck({ connect: async () => ({ query: async () => 1, release() {} }) }, { liveness: true }),
      ).option,
    ).toBe('postgresCheck(options).liveness');
    expect(
      optionError(() =>
        createHealth({ checks: { db: { check: () => true, intervalMs: 1000, cacheMs: 500 } } }),
      ).option,
    ).toBe('checks.db.cacheMs');
    expect(optionError(() => createHealth({ paths: { liveness: ['/ready'] } })).option).toBe(
      'paths.readiness',
    );
    const a = new Registry();
    expect(
      optionError(() => createHealth({ registry: a, metrics: { registry: new Registry() } })).option,
    ).toBe('registry');
  });

  it('does not mutate the caller options and defaults are frozen', () => {
    const options = Object.freeze({ checks: Object.freeze({ a: () => true }), checkTimeoutMs: 100 });
    make(options);
    expect(Object.isFrozen(HEALTH_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(HEALTH_DEFAULTS.paths)).toBe(true);
    // The readiness answer stays inside the kubelet's 1 s default probe timeout.
    expect(HEALTH_DEFAULTS.checkTimeoutMs).toBeLessThan(1000);
  });

  it('has the public types', () => {
    expectTypeOf(createHealth).returns.toEqualTypeOf<Health>();
    expectTypeOf<HealthReport['statusCode']>().toEqualTypeOf<200 | 503>();
    expectTypeOf<HealthStatus>().toEqualTypeOf<'pass' | 'warn' | 'fail'>();
  });
});

describe('probes', () => {
  it('startup and readiness fail until markStarted(), then readiness runs the checks', async () => {
    const h = make({ checks: { a: () => true } });
    expect(h.state).toBe('starting');
    expect((await h.startup()).statusCode).toBe(503);
    const r0 = await h.readiness();
    expect(r0.statusCode).toBe(503);
    expect(r0.body).toEqual({ status: 'fail', output: 'not started' });
    h.markStarted();
    expect((await h.startup()).body).toEqual({ status: 'pass' });
    const r1 = await h.readiness();
    expect(r1.statusCode).toBe(200);
    expect(r1.body.status).toBe('pass');
    expect(r1.body.checks?.a?.[0]).toMatchObject({ status: 'pass', critical: true });
    expect(r1.body.checks?.a?.[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(typeof r1.body.checks?.a?.[0]?.durationMs).toBe('number');
  });

  it('a failing critical check fails readiness; a failing non-critical one only warns', async () => {
    const h = make({
      autoStart: true,
      checks: {
        cache: { check: () => false, critical: false },
        db: () => true,
      },
    });
    const r = await h.readiness();
    expect(r.statusCode).toBe(200);
    expect(r.body.status).toBe('warn');
    expect(r.body.checks?.cache?.[0]).toMatchObject({ status: 'fail', critical: false, output: 'fail' });

    const h2 = make({
      autoStart: true,
      checks: { db: async () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7')) },
    });
    const r2 = await h2.readiness();
    expect(r2.statusCode).toBe(503);
    expect(r2.body.checks?.db?.[0]).toMatchObject({ status: 'fail', output: 'error' });
    // Internal error text never leaks unless details are on.
    expect(JSON.stringify(r2.body)).not.toContain('10.0.0.7');
    const d = await h2.readiness({ details: true });
    expect(d.body.checks?.db?.[0]?.output).toBe('ECONNREFUSED 10.0.0.7');
  });

  it("a check object carrying its own name (createBreakerCheck's shape) is accepted; the key names it", async () => {
    const breakerLike = {
      name: 'breaker:inventory',
      critical: false,
      check: async () => ({ status: 'warn' as const }),
    };
    const h = make({ autoStart: true, checks: { inventory: breakerLike } });
    const r = await h.readiness();
    expect(r.statusCode).toBe(200);
    expect(r.body.status).toBe('warn');
    expect(Object.keys(r.body.checks ?? {})).toEqual(['inventory']);
  });

  it('checks may report warn with a measurement (shown with details only)', async () => {
    const h = make({
      autoStart: true,
      checks: { queue: () => ({ status: 'warn', output: 'lag 40 s', observedValue: 40, observedUnit: 's' }) },
    });
    const r = await h.readiness();
    expect(r.statusCode).toBe(200);
    expect(r.body.checks?.queue?.[0]).toEqual(expect.objectContaining({ status: 'warn', output: 'warn' }));
    expect(r.body.checks?.queue?.[0]?.observedValue).toBeUndefined();
    const d = await h.readiness({ details: true });
    expect(d.body.checks?.queue?.[0]).toMatchObject({
      output: 'lag 40 s',
      observedValue: 40,
      observedUnit: 's',
    });
  });

  it('liveness never runs dependency checks and passes while they fail', async () => {
    const db = vi.fn(() => false);
    const h = make({ autoStart: true, checks: { db: { check: db, dependency: true } } });
    const l = await h.liveness();
    expect(l.statusCode).toBe(200);
    expect(l.body).toEqual({ status: 'pass' });
    expect(db).not.toHaveBeenCalled();
    expect((await h.readiness()).statusCode).toBe(503);
  });

  it('liveness includes checks marked liveness (process checks) and stays 200 during shutdown', async () => {
    const h = make({ autoStart: true, checks: { loop: { check: () => true, liveness: true } } });
    h.beginShutdown();
    const l = await h.liveness();
    expect(l.statusCode).toBe(200);
    expect(Object.keys(l.body.checks ?? {})).toEqual(['loop']);
  });

  it('readiness is 503 at once after beginShutdown(), without running checks', async () => {
    const check = vi.fn(() => true);
    const h = make({ autoStart: true, checks: { a: check } });
    const states: string[] = [];
    h.onStateChange((s) => states.push(s));
    h.beginShutdown();
    const r = await h.readiness();
    expect(r.statusCode).toBe(503);
    expect(r.body).toEqual({ status: 'fail', output: 'shutting down' });
    expect(check).not.toHaveBeenCalled();
    expect(states).toEqual(['shutting_down']);
  });

  it('shutdown beginning while checks run wins over their result', async () => {
    const gate = deferred<boolean>();
    const h = make({ autoStart: true, checks: { a: () => gate.promise } });
    const pending = h.readiness();
    h.beginShutdown();
    gate.resolve(true);
    expect((await pending).body).toEqual({ status: 'fail', output: 'shutting down' });
  });

  it('copies info fields into every body', async () => {
    const h = make({ autoStart: true, info: { serviceId: 'users', version: '1.2.3' } });
    expect((await h.readiness()).body).toEqual({ status: 'pass', serviceId: 'users', version: '1.2.3' });
  });
});

describe('scheduling', () => {
  it('runs checks in parallel', async () => {
    const a = deferred<boolean>();
    const b = deferred<boolean>();
    const started: string[] = [];
    const h = make({
      autoStart: true,
      checks: {
        a: () => {
          started.push('a');
          return a.promise;
        },
        b: () => {
          started.push('b');
          return b.promise;
        },
      },
    });
    const pending = h.readiness();
    // Both started before either finished.
    expect(started).toEqual(['a', 'b']);
    b.resolve(true);
    a.resolve(true);
    expect((await pending).statusCode).toBe(200);
  });

  it('a probe storm shares one run of each check', async () => {
    const gate = deferred<boolean>();
    const check = vi.fn(() => gate.promise);
    const h = make({ autoStart: true, checks: { db: check } });
    const answers = Array.from({ length: 500 }, () => h.readiness());
    gate.resolve(true);
    const reports = await Promise.all(answers);
    expect(check).toHaveBeenCalledTimes(1);
    expect(reports.every((r) => r.statusCode === 200)).toBe(true);
  });

  it('a hanging check fails at its timeout, and its abort signal fires', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const h = make({
      autoStart: true,
      checkTimeoutMs: 300,
      checks: {
        hang: ({ signal: s }) => {
          signal = s;
          return new Promise(() => {});
        },
        quick: () => true,
      },
    });
    let settled = false;
    const pending = h.readiness().then((r) => {
      settled = true;
      return r;
    });
    await vi.advanceTimersByTimeAsync(299);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const r = await pending;
    expect(r.statusCode).toBe(503);
    expect(r.body.checks?.hang?.[0]).toMatchObject({ status: 'fail', output: 'timeout' });
    expect(r.body.checks?.quick?.[0]?.status).toBe('pass');
    expect(signal?.aborted).toBe(true);
  });

  it('never starts a second call while the previous one is still hung', async () => {
    vi.useFakeTimers();
    const gate = deferred<boolean>();
    const check = vi.fn(() => gate.promise);
    const h = make({ autoStart: true, checkTimeoutMs: 100, checks: { db: check } });
    const first = h.readiness();
    await vi.advanceTimersByTimeAsync(100);
    expect((await first).statusCode).toBe(503);
    // The next probe waits on the same call, with a fresh timeout.
    const second = h.readiness();
    await vi.advanceTimersByTimeAsync(100);
    expect((await second).statusCode).toBe(503);
    expect(check).toHaveBeenCalledTimes(1);
    // Once the call settles, a new probe gets a new call.
    gate.resolve(true);
    await vi.advanceTimersByTimeAsync(0);
    check.mockImplementation(() => Promise.resolve(true));
    expect((await h.readiness()).statusCode).toBe(200);
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('cacheMs serves the last result until it expires', async () => {
    let t = 0;
    const check = vi.fn(() => true);
    const h = make({ autoStart: true, now: () => t, checks: { db: { check, cacheMs: 1000 } } });
    await h.readiness();
    t = 999;
    await h.readiness();
    expect(check).toHaveBeenCalledTimes(1);
    t = 1000;
    await h.readiness();
    expect(check).toHaveBeenCalledTimes(2);
  });

  it('background checks run on their interval and probes read the last result', async () => {
    vi.useFakeTimers();
    let healthy = true;
    const check = vi.fn(() => healthy);
    const h = make({ autoStart: true, checks: { db: { check, intervalMs: 5000 } } });
    expect(check).toHaveBeenCalledTimes(1); // first run at creation
    await vi.advanceTimersByTimeAsync(0);
    expect((await h.readiness()).statusCode).toBe(200);
    expect((await h.readiness()).statusCode).toBe(200);
    expect(check).toHaveBeenCalledTimes(1);
    healthy = false;
    await vi.advanceTimersByTimeAsync(5000);
    expect(check).toHaveBeenCalledTimes(2);
    expect((await h.readiness()).statusCode).toBe(503);
    await h.close();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(check).toHaveBeenCalledTimes(2);
  });
});

describe('metrics', () => {
  it('records status and duration per check into the given registry, and the probe status', async () => {
    const registry = new Registry();
    const h = make({
      autoStart: true,
      registry,
      checks: {
        db: () => true,
        cache: { check: () => ({ status: 'warn' }), critical: false },
        mq: () => false,
      },
    });
    await h.readiness();
    const text = await registry.metrics();
    expect(text).toContain('vigil_health_check_status{check="db"} 1');
    expect(text).toContain('vigil_health_check_status{check="cache"} 0.5');
    expect(text).toContain('vigil_health_check_status{check="mq"} 0');
    expect(text).toContain('vigil_health_check_duration_seconds_count{check="db"} 1');
    expect(text).toContain('vigil_health_status{probe="readiness"} 0');
    expect(text).toContain('vigil_health_status{probe="liveness"} 1');
    expect(text).toContain('vigil_health_status{probe="startup"} 1');
  });

  it('accepts a metrics handle, shares a registry between handles, and unregisters on the last close', async () => {
    const registry = new Registry();
    const a = createHealth({ metrics: { registry }, autoStart: true, checks: { a: () => true } });
    const b = createHealth({ registry, autoStart: true, checks: { b: () => true } });
    await Promise.all([a.readiness(), b.readiness()]);
    expect(await registry.metrics()).toMatch(/check="a"[\s\S]*check="b"|check="b"[\s\S]*check="a"/);
    await a.close();
    expect(await registry.metrics()).not.toContain('check="a"');
    expect(await registry.metrics()).toContain('check="b"');
    await b.close();
    expect(registry.getSingleMetric('vigil_health_check_status')).toBeUndefined();
  });

  it('uses a private registry when none is given, never the global one', async () => {
    const { register } = await import('prom-client');
    const h = make({ autoStart: true, checks: { a: () => true } });
    await h.readiness();
    expect(h.registry).not.toBe(register);
    expect(register.getSingleMetric('vigil_health_check_status')).toBeUndefined();
    expect(await h.registry.metrics()).toContain('vigil_health_check_status{check="a"} 1');
  });
});

describe('close', () => {
  it('is idempotent, closes checks and makes readiness fail', async () => {
    const close = vi.fn();
    const h = createHealth({ autoStart: true, checks: { a: { check: () => true, close } } });
    const p1 = h.close();
    const p2 = h.close();
    expect(p1).toBe(p2);
    await p1;
    expect(close).toHaveBeenCalledTimes(1);
    expect(h.state).toBe('closed');
    expect((await h.readiness()).body).toEqual({ status: 'fail', output: 'closed' });
  });
});
