import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Admission,
  createLoadShedder,
  createLoadShedderCheck,
  type LoadShedderOptions,
  type ShedToken,
} from '../src/index.js';
import { sample } from './helpers.js';

// The load shedder's core: admission, the end-of-turn accounting, the adaptive limit (a clock the
// test owns, the control timer faked) and the static guards.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanup.length) await cleanup.pop()?.();
});

/** The end of the current loop turn: the shedder's deferred releases have run. */
const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: LoadShedderOptions = {}) {
  const clock = { t: 0 };
  const registry = new Registry();
  const shedder = createLoadShedder({ registry, now: () => clock.t, ...options });
  cleanup.push(() => shedder.close());
  return { shedder, registry, clock };
}

const admitted = (a: Admission): ShedToken => {
  if (!a.admitted) throw new Error(`shed: ${a.reason}`);
  return a;
};

describe('admission', () => {
  it('over the limit: a rejection with the reason and Retry-After; priority requests pass and count', async () => {
    const { shedder, registry } = setup({ initialLimit: 2, minLimit: 1, maxLimit: 2, retryAfterSeconds: 3 });
    const a = admitted(shedder.tryAcquire());
    admitted(shedder.tryAcquire());
    expect(shedder.inFlight).toBe(2);
    expect(shedder.tryAcquire()).toEqual({ admitted: false, reason: 'concurrency', retryAfterSeconds: 3 });
    expect(shedder.shedding).toBe(true);
    expect(shedder.lastReason).toBe('concurrency');
    // A priority request is never shed, and it takes a place like any other.
    admitted(shedder.tryAcquire(true));
    expect(shedder.inFlight).toBe(3);
    expect(await sample(registry, 'vigil_load_shed_requests_total', { reason: 'concurrency' })).toBe(1);
    expect(await sample(registry, 'vigil_load_shed_requests_total', { reason: 'heap' })).toBe(0);
    expect(await sample(registry, 'vigil_load_shed_in_flight_requests', {})).toBe(3);
    expect(await sample(registry, 'vigil_load_shed_limit', {})).toBe(2);
    shedder.release(a);
    shedder.release(a); // idempotent
    await endOfTurn();
    expect(shedder.inFlight).toBe(2);
  });

  it('a request released counts until the end of its loop turn (synchronous handlers run one after the other)', async () => {
    const { shedder } = setup({ initialLimit: 1, minLimit: 1, maxLimit: 1 });
    const first = admitted(shedder.tryAcquire());
    shedder.release(first); // finished, in this turn
    // The next request of the same turn would run after it, in the same turn: it is shed.
    expect(shedder.tryAcquire()).toMatchObject({ admitted: false, reason: 'concurrency' });
    await endOfTurn();
    expect(shedder.inFlight).toBe(0);
    admitted(shedder.tryAcquire());
  });

  it("takes the caller's clock readings (`at`) on its default clock, never with a `now` of its own", async () => {
    const registry = new Registry();
    const own = createLoadShedder({ registry, initialLimit: 1, minLimit: 1, maxLimit: 1 });
    cleanup.push(() => own.close());
    admitted(own.tryAcquire());
    // Shed "10 s ago" by the caller's reading: past the 5 s `shedding` hold already.
    expect(own.tryAcquire(false, performance.now() - 10_000).admitted).toBe(false);
    expect(own.shedding).toBe(false);
    expect(own.tryAcquire().admitted).toBe(false);
    expect(own.shedding).toBe(true);

    const { shedder } = setup({ initialLimit: 1, minLimit: 1, maxLimit: 1 });
    admitted(shedder.tryAcquire());
    expect(shedder.tryAcquire(false, -10_000).admitted).toBe(false);
    expect(shedder.shedding).toBe(true);
  });

  it('after close() everything is admitted and nothing is counted; the series are gone', async () => {
    const { shedder, registry } = setup({ initialLimit: 1, minLimit: 1, maxLimit: 1 });
    admitted(shedder.tryAcquire());
    await shedder.close();
    admitted(shedder.tryAcquire());
    admitted(shedder.tryAcquire());
    expect(registry.getSingleMetric('vigil_load_shed_limit')).toBeUndefined();
  });
});

describe('adaptive limit', () => {
  /** One request admitted now that finishes after `ownMs`; its turn ends `restOfTurnMs` later. */
  async function request(
    s: ReturnType<typeof setup>,
    ownMs: number,
    restOfTurnMs: number,
  ): Promise<'shed' | 'served'> {
    const a = s.shedder.tryAcquire();
    if (!a.admitted) return 'shed';
    s.clock.t += ownMs;
    s.shedder.release(a);
    s.clock.t += restOfTurnMs;
    await endOfTurn();
    return 'served';
  }

  it('shrinks when requests wait behind others (latency to the end of their turn) and grows back when they do not', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100, tolerance: 1.5 });
    // Unloaded: 5 ms each, alone in its turn. The baseline is 5 ms; nothing is limited.
    for (let i = 0; i < 5; i++) await request(s, 5, 0);
    vi.advanceTimersByTime(100);
    expect(s.shedder.limit).toBe(20);
    // Overloaded: each request's own cost is still 5 ms, but it waits 45 ms more in its turn.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) await request(s, 5, 45);
      vi.advanceTimersByTime(100);
    }
    // 50 ms against 1.5 x 5 ms: halved at every interval (the steepest step), 20 -> 1.25.
    expect(s.shedder.limit).toBeCloseTo(1.25, 5);
    // The queue is gone and the limit is reached: it grows again, a step at a time.
    const before = s.shedder.limit;
    const held = admitted(s.shedder.tryAcquire());
    expect(await request(s, 5, 0)).toBe('shed'); // limit reached: counts as limited
    s.clock.t += 5;
    s.shedder.release(held);
    await endOfTurn();
    vi.advanceTimersByTime(100);
    expect(s.shedder.limit).toBeGreaterThan(before);
  });

  it('a service that starts overloaded still finds its no-load latency (each request own time)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) await request(s, 5, 45);
      vi.advanceTimersByTime(100);
    }
    expect(s.shedder.limit).toBeCloseTo(2.5, 5);
  });

  it('requests that got slower on their own (a heavier mix, a slower database) are no reason to shed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100 });
    for (let i = 0; i < 5; i++) await request(s, 1, 0);
    vi.advanceTimersByTime(100);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) await request(s, 80, 1);
      vi.advanceTimersByTime(100);
    }
    expect(s.shedder.limit).toBe(20);
  });

  it('a few ms of waiting behind cheap requests is no reason to shed (minQueueDelayMs)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100, minQueueDelayMs: 2 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) await request(s, 0.05, 1);
      vi.advanceTimersByTime(100);
    }
    expect(s.shedder.limit).toBe(20);
  });

  it('waiting while the loop is mostly idle (other processes on the CPU, a slow database) is no reason to shed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100 });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) await request(s, 5, 45);
      // The loop idles (as when the process waits for the CPU or for I/O): utilisation stays low.
      await new Promise((r) => setTimeout(r, 50));
      vi.advanceTimersByTime(100);
    }
    expect(s.shedder.limit).toBe(20);
  });

  it('while the loop is saturated, a turn that has run past the allowed queueing admits no more; the next turn admits again', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 20, intervalMs: 100, tolerance: 1.5 });
    // A busy loop, 5 ms per request: the allowed queueing is 1.5 x 5 - 5 = 2.5 ms.
    for (let i = 0; i < 5; i++) await request(s, 5, 0);
    vi.advanceTimersByTime(100);
    expect(s.shedder.limit).toBe(20); // far from the concurrency limit
    const first = admitted(s.shedder.tryAcquire());
    s.clock.t += 2;
    const second = admitted(s.shedder.tryAcquire()); // 2 ms into the turn
    s.clock.t += 1;
    // 3 ms into the turn: it would wait behind more than 2.5 ms of work.
    expect(s.shedder.tryAcquire()).toEqual({ admitted: false, reason: 'concurrency', retryAfterSeconds: 1 });
    admitted(s.shedder.tryAcquire(true)); // priority requests still pass
    s.shedder.release(first);
    s.shedder.release(second);
    await endOfTurn();
    admitted(s.shedder.tryAcquire()); // the first request of a turn
  });

  it('a turn of many cheap requests is not cut short (minQueueDelayMs), nor is any turn while the loop idles', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const cheap = setup({ initialLimit: 50, intervalMs: 100, minQueueDelayMs: 2 });
    for (let i = 0; i < 5; i++) await request(cheap, 0.05, 0);
    vi.advanceTimersByTime(100);
    for (let i = 0; i < 30; i++) {
      admitted(cheap.shedder.tryAcquire()); // 1.5 ms of work in one turn
      cheap.clock.t += 0.05;
    }
    await endOfTurn();

    const idle = setup({ initialLimit: 20, intervalMs: 100, tolerance: 1.5 });
    for (let i = 0; i < 5; i++) await request(idle, 5, 0);
    await new Promise((r) => setTimeout(r, 50)); // utilisation stays low: no budget per turn
    vi.advanceTimersByTime(100);
    admitted(idle.shedder.tryAcquire());
    idle.clock.t += 10;
    admitted(idle.shedder.tryAcquire());
  });

  it('a pinned limit (minLimit = maxLimit) has no budget per turn: only the count limits', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 3, minLimit: 3, maxLimit: 3, intervalMs: 100 });
    for (let i = 0; i < 5; i++) await request(s, 5, 0); // a busy loop, 5 ms per request
    vi.advanceTimersByTime(100);
    for (let i = 0; i < 3; i++) {
      admitted(s.shedder.tryAcquire());
      s.clock.t += 5;
    }
    expect(s.shedder.tryAcquire()).toMatchObject({ admitted: false, reason: 'concurrency' });
    expect(s.shedder.inFlight).toBe(3);
  });

  it('never leaves minLimit..maxLimit', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const s = setup({ initialLimit: 4, minLimit: 2, maxLimit: 6, intervalMs: 100 });
    await request(s, 5, 0);
    vi.advanceTimersByTime(100);
    for (let round = 0; round < 10; round++) {
      await request(s, 5, 500);
      vi.advanceTimersByTime(100);
    }
    expect(s.shedder.limit).toBe(2);
  });
});

describe('static guards', () => {
  it('heap used against the V8 limit', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { shedder, registry } = setup({ adaptive: false, maxHeapUsedRatio: 0.001, guardIntervalMs: 50 });
    expect(shedder.limit).toBe(Number.POSITIVE_INFINITY);
    admitted(shedder.tryAcquire()); // starts sampling
    vi.advanceTimersByTime(50);
    expect(shedder.tryAcquire()).toMatchObject({ admitted: false, reason: 'heap' });
    admitted(shedder.tryAcquire(true));
    expect(await sample(registry, 'vigil_load_shed_requests_total', { reason: 'heap' })).toBe(1);
  });

  it('event-loop utilisation over the last interval', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { shedder } = setup({ adaptive: false, maxEventLoopUtilization: 0.5, guardIntervalMs: 50 });
    admitted(shedder.tryAcquire());
    const end = performance.now() + 30;
    while (performance.now() < end) {} // the loop is busy, not idle
    vi.advanceTimersByTime(50);
    expect(shedder.tryAcquire()).toMatchObject({ admitted: false, reason: 'event_loop_utilization' });
  });

  it('event-loop delay', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { shedder } = setup({ adaptive: false, maxEventLoopDelayMs: 20, guardIntervalMs: 50 });
    admitted(shedder.tryAcquire()); // enables the delay monitor (a 10 ms libuv timer)
    const block = async (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {}
      // The monitor's overdue timer runs in the next turn's timers phase.
      await endOfTurn();
      await endOfTurn();
    };
    await block(15); // its first run only notes the time
    await block(60); // its next run sees a 60 ms delay
    vi.advanceTimersByTime(50);
    expect(shedder.tryAcquire()).toMatchObject({ admitted: false, reason: 'event_loop_delay' });
  });

  it('a guard that tripped is forgotten once the traffic stops', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { shedder } = setup({ adaptive: false, maxHeapUsedRatio: 0.001, guardIntervalMs: 50 });
    const a = admitted(shedder.tryAcquire());
    vi.advanceTimersByTime(50);
    shedder.release(a);
    await endOfTurn();
    vi.advanceTimersByTime(50); // an interval with no request: sampling stops
    admitted(shedder.tryAcquire());
  });
});

describe('options and readiness', () => {
  it.each([
    [{ minLimit: 0 }, 'minLimit'],
    [{ minLimit: 5, maxLimit: 4 }, 'maxLimit'],
    [{ initialLimit: 9, maxLimit: 8 }, 'initialLimit'],
    [{ tolerance: 0.5 }, 'tolerance'],
    [{ minQueueDelayMs: -1 }, 'minQueueDelayMs'],
    [{ baselineWindowMs: 500 }, 'baselineWindowMs'],
    [{ maxEventLoopUtilization: 2 }, 'maxEventLoopUtilization'],
    [{ adaptive: 'yes' }, 'adaptive'],
    [{ retryAfterSeconds: -1 }, 'retryAfterSeconds'],
    [{ maxInflight: 3 }, 'maxInflight'],
  ])('rejects %o naming %s', (bad, option) => {
    expect(() => createLoadShedder(bad as never)).toThrow(`"${option}"`);
  });

  it('one shedder per registry', () => {
    const { registry } = setup();
    expect(() => createLoadShedder({ registry })).toThrow(/registry/);
  });

  it('the readiness check warns while shedding', async () => {
    const { shedder } = setup({ initialLimit: 1, minLimit: 1, maxLimit: 1 });
    const check = createLoadShedderCheck(shedder);
    expect(check).toMatchObject({ name: 'load-shedding', critical: false });
    expect(await check.check()).toEqual({ status: 'pass', observedValue: 1, observedUnit: 'requests' });
    admitted(shedder.tryAcquire());
    shedder.tryAcquire();
    expect(await check.check()).toMatchObject({
      status: 'warn',
      output: expect.stringContaining('concurrency'),
    });
    const strict = createLoadShedderCheck(shedder, { whenShedding: 'fail', name: 'shed' });
    expect(await strict.check()).toMatchObject({ status: 'fail' });
    expect(() => createLoadShedderCheck({} as never)).toThrow('"shedder"');
  });
});
