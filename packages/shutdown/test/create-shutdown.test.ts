import { readFileSync } from 'node:fs';
import { Server } from 'node:net';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  createShutdown,
  isVigilOptionError,
  type ProcessResource,
  RESOURCE_ORDER,
  registerProcessResource,
  SHUTDOWN_DEFAULTS,
  SHUTDOWN_EXIT_CODES,
  type Shutdown,
  type ShutdownLogger,
  type ShutdownState,
} from '../src/index.js';

const handles: Shutdown[] = [];
const unregister: (() => void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const off of unregister.splice(0)) off();
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

/** A process resource (as @vigil/tracing and file loggers register), recording its calls. */
function resource(
  name: string,
  order: number,
  close: ProcessResource['close'],
  calls: string[] = [],
): { calls: string[]; budgets: number[] } {
  const budgets: number[] = [];
  unregister.push(
    registerProcessResource({
      name,
      order,
      close(b) {
        calls.push(name);
        budgets.push(b.timeoutMs);
        return close(b);
      },
    }),
  );
  return { calls, budgets };
}

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
function memoryLogger(): ShutdownLogger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, msg, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

function make(options: Parameters<typeof createShutdown>[0] = {}) {
  const exit = vi.fn<(code: number) => void>();
  const logger = memoryLogger();
  const s = createShutdown({ signals: [], logger, exit, ...options });
  handles.push(s);
  const states: ShutdownState[] = [];
  s.onStateChange((st) => states.push(st));
  return { s, exit, logger, states };
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

describe('a NestJS app as a target', () => {
  it('drains its server, calls app.close(signal) once, and logs shutdown hooks enabled after createShutdown', async () => {
    const server = new Server();
    const refs = new Map<string, () => void>();
    const closed: (string | undefined)[] = [];
    const nest = {
      shutdownCleanupRefs: refs,
      getHttpServer: () => server,
      close: async (signal?: string) => void closed.push(signal),
    };
    const { s, exit, logger } = make({ servers: [nest], drainDelayMs: 0 });
    refs.set('SIGTERM', () => {}); // app.enableShutdownHooks() after createShutdown()
    expect(await s.trigger('SIGTERM')).toBe(0);
    expect(closed).toEqual(['SIGTERM']);
    expect(exit).toHaveBeenCalledWith(0);
    const late = logger.lines.find((l) => l.level === 'error' && l.msg.includes('enableShutdownHooks'));
    expect(late?.fields).toEqual({ server: 'servers[0]' });
  });
});

describe('createShutdown options', () => {
  it('validates at construction and names the option', () => {
    expect(optionError(() => createShutdown({ drainDelayMs: -5 })).message).toBe(
      'Invalid option "drainDelayMs": expected a whole number of milliseconds >= 0, got -5',
    );
    expect(optionError(() => createShutdown({ signals: ['SIGKILL'] })).option).toBe('signals');
    expect(optionError(() => createShutdown({ servers: [{}] as never })).option).toBe('servers[0]');
    // A Nest app before listen() has no server yet (getHttpServer() gives undefined).
    const unlistened = { getHttpServer: () => undefined, close: async () => {} };
    expect(optionError(() => createShutdown({ servers: [unlistened] })).option).toBe('servers[0]');
    // Nest 12 keeps its signal listeners in shutdownCleanupRefs, Nest 11 in shutdownCleanupRef.
    const server = new Server();
    for (const hooks of [
      { shutdownCleanupRefs: new Map([['SIGTERM', () => {}]]) },
      { shutdownCleanupRef: () => {} },
    ]) {
      const nest = { getHttpServer: () => server, close: async () => {}, ...hooks };
      expect(optionError(() => createShutdown({ servers: [nest] })).message).toContain('enableShutdownHooks');
    }
    expect(optionError(() => createShutdown({ health: {} as never })).option).toBe('health');
    expect(optionError(() => createShutdown({ logger: console as never, exit: 1 as never })).option).toBe(
      'exit',
    );
    expect(optionError(() => createShutdown({ bogus: true } as never)).option).toBe('bogus');
  });

  it('enforces cross-field rules', () => {
    // The deadline must leave room for the drain delay and the flush.
    expect(optionError(() => createShutdown({ signals: [], drainDelayMs: 30_000 })).option).toBe(
      'deadlineMs',
    );
    expect(
      optionError(() =>
        createShutdown({ signals: [], drainDelayMs: 5000, flushTimeoutMs: 3000, deadlineMs: 8000 }),
      ).message,
    ).toBe(
      'Invalid option "deadlineMs": expected more than drainDelayMs + flushTimeoutMs (5000 + 3000), got 8000',
    );
    expect(
      optionError(() => createShutdown({ signals: [], drainUntil: async () => {}, deadlineMs: 3000 })).option,
    ).toBe('deadlineMs');
    expect(
      optionError(() => createShutdown({ signals: [], drainDelayMs: 10, drainUntil: async () => {} })).option,
    ).toBe('drainDelayMs');
  });

  it('defaults fit Kubernetes terminationGracePeriodSeconds 30 and are frozen', () => {
    const d = SHUTDOWN_DEFAULTS;
    expect(Object.isFrozen(d)).toBe(true);
    expect(d.drainDelayMs).toBeGreaterThan(0); // on by default, everywhere
    expect(d.deadlineMs).toBeLessThan(30_000);
    // A drain that takes all its time still leaves the hooks time before the flush's share.
    const drained = d.drainDelayMs + d.settleMaxMs + d.drainTimeoutMs;
    expect(drained + d.hookTimeoutMs).toBeLessThanOrEqual(d.deadlineMs - d.flushTimeoutMs);
  });

  it("the README's timeline adds up the defaults", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const d = SHUTDOWN_DEFAULTS;
    const s = (ms: number) => String(ms / 1000);
    const work = d.deadlineMs - d.flushTimeoutMs;
    const hooks = work - (d.drainDelayMs + d.settleMaxMs + d.drainTimeoutMs);
    const sum = `${s(d.drainDelayMs)} + ${s(d.settleMaxMs)} + ${s(d.drainTimeoutMs)} + ${s(hooks)} + ${s(d.flushTimeoutMs)} = ${s(d.deadlineMs)} s`;
    expect(readme).toContain(sum);
  });

  it('has the public types', () => {
    expectTypeOf(createShutdown).returns.toEqualTypeOf<Shutdown>();
    expectTypeOf<Shutdown['trigger']>().returns.toEqualTypeOf<Promise<number>>();
  });
});

describe('sequence', () => {
  it('readiness fails at once, the drain delay runs, hooks run in reverse order, exit 0', async () => {
    vi.useFakeTimers();
    const beginShutdown = vi.fn();
    const { s, exit, states } = make({ drainDelayMs: 5000, health: { beginShutdown } });
    const order: string[] = [];
    s.addHook('tracing', () => void order.push('tracing'));
    s.addHook('db', async () => void order.push('db'));
    s.addHook('redis', () => void order.push('redis'));

    const code = s.trigger('test');
    expect(beginShutdown).toHaveBeenCalledTimes(1); // synchronously, before anything else
    expect(s.state).toBe('draining');
    await vi.advanceTimersByTimeAsync(4999);
    expect(s.state).toBe('draining');
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await code).toBe(0);
    expect(order).toEqual(['redis', 'db', 'tracing']);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(states).toEqual(['draining', 'stopping', 'hooks', 'exiting']);
  });

  it('trigger() is idempotent', async () => {
    vi.useFakeTimers();
    const { s, exit } = make({ drainDelayMs: 100 });
    const a = s.trigger();
    const b = s.trigger('again');
    expect(a).toBe(b);
    await vi.advanceTimersByTimeAsync(100);
    await a;
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('a hook that hangs is cut at its timeout, the next hooks still run, and the exit code is 1', async () => {
    vi.useFakeTimers();
    const { s, exit, logger } = make({ drainDelayMs: 0, hookTimeoutMs: 1000 });
    let aborted: AbortSignal | undefined;
    const after = vi.fn();
    s.addHook('cache', after);
    s.addHook('db', ({ signal }) => {
      aborted = signal;
      return new Promise(() => {});
    });
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(999);
    expect(after).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(await code).toBe(SHUTDOWN_EXIT_CODES.failed);
    expect(after).toHaveBeenCalledTimes(1);
    expect(aborted?.aborted).toBe(true);
    expect(exit).toHaveBeenCalledWith(1);
    expect(logger.lines.find((l) => l.level === 'error')?.msg).toBe(
      'hook "db" timed out after 1000 ms; abandoned',
    );
  });

  it('per-hook timeouts override the default, and a throwing hook also gives exit code 1', async () => {
    vi.useFakeTimers();
    const { s, logger } = make({ drainDelayMs: 0, hookTimeoutMs: 60_000 });
    s.addHook('slow', () => new Promise(() => {}), { timeoutMs: 50 });
    s.addHook('broken', () => {
      throw new Error('pool already ended');
    });
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(50);
    expect(await code).toBe(1);
    expect(logger.lines.map((l) => l.msg)).toContain('hook "broken" failed');
    expect(logger.lines.find((l) => l.msg === 'hook "broken" failed')?.fields.err).toMatchObject({
      message: 'pool already ended',
    });
  });

  it('hooks are cut when only flushTimeoutMs is left before the deadline: exit 1, not 124', async () => {
    vi.useFakeTimers();
    const { s, exit, logger } = make({
      drainDelayMs: 1000,
      hookTimeoutMs: 20_000,
      flushTimeoutMs: 1000,
      deadlineMs: 4000,
    });
    const after = vi.fn();
    s.addHook('after', after);
    s.addHook('db', () => new Promise(() => {}));
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(2999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(await code).toBe(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.msg);
    expect(errors).toEqual([
      'hook "db" cut after 2000 ms: the time for the drain and hooks ran out (deadlineMs - flushTimeoutMs = 3000 ms); abandoned',
      'hook "after" not run: the time for the drain and hooks ran out (deadlineMs - flushTimeoutMs = 3000 ms)',
    ]);
    expect(after).not.toHaveBeenCalled();
    // Nothing exits twice, even when the abandoned work finishes later.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('the global deadline forces exit 124 and names what was pending', async () => {
    vi.useFakeTimers();
    // drainUntil is told when the time runs out (its signal), but this one never returns.
    let signal: AbortSignal | undefined;
    const { s, exit, logger } = make({
      drainUntil: (ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
      flushTimeoutMs: 500,
      deadlineMs: 3000,
    });
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(2500);
    expect(signal?.aborted).toBe(true);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(500);
    expect(await code).toBe(124);
    expect(exit).toHaveBeenCalledExactlyOnceWith(124);
    expect(logger.lines.find((l) => l.level === 'error')?.msg).toBe(
      'shutdown deadline of 3000 ms passed; still pending: the drainUntil condition; exiting with 124',
    );
  });

  it('the deadline during the drain delay names the delay', async () => {
    vi.useFakeTimers();
    const { s, logger } = make({
      drainUntil: () => new Promise(() => {}),
      flushTimeoutMs: 0,
      deadlineMs: 2000,
    });
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(2000);
    expect(await code).toBe(124);
    expect(logger.lines.at(-1)?.fields.pending).toBe('the drainUntil condition');
  });

  it('drainUntil ends the drain when it resolves', async () => {
    const { s, states } = make({ drainUntil: () => gate });
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const code = s.trigger();
    expect(s.state).toBe('draining');
    open();
    expect(await code).toBe(0);
    expect(states).toContain('stopping');
  });

  it('removing a hook before the shutdown keeps it from running', async () => {
    const { s } = make({ drainDelayMs: 0 });
    const fn = vi.fn();
    const off = s.addHook('x', fn);
    off();
    expect(await s.trigger()).toBe(0);
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('flushing process resources (tracing, file loggers) after the hooks', () => {
  it('closes them after the hooks, telemetry before logs, each strictly inside the flush time; exit 0', async () => {
    vi.useFakeTimers();
    const { s, exit, logger } = make({ drainDelayMs: 0, flushTimeoutMs: 2000 });
    const order: string[] = [];
    s.addHook('db', () => void order.push('hook db'));
    const logs = resource('logger', RESOURCE_ORDER.logs, () => undefined, order);
    const tracing = resource('tracing', RESOURCE_ORDER.telemetry, async () => ({ dropped: 0 }), order);
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(0);
    expect(await code).toBe(0);
    expect(order).toEqual(['hook db', 'tracing', 'logger']);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    // Tracing's budget leaves room for the loggers after it; each ends before the flush's time does
    // (tracing took none of its time here, so the loggers got all that was left).
    expect(tracing.budgets[0]).toBeLessThan(2000 - 250);
    expect(logs.budgets[0]).toBeGreaterThan(tracing.budgets[0] ?? 0);
    expect(logs.budgets[0]).toBeLessThan(2000);
    const msgs = logger.lines.map((l) => l.msg);
    expect(msgs.slice(-3)).toEqual([
      'shutdown complete; flushing tracing, logger, then exiting with 0',
      'tracing flushed',
      'logger flushed',
    ]);
  });

  it('a resource that hangs (a hung collector) is abandoned within flushTimeoutMs: a warning, still exit 0', async () => {
    vi.useFakeTimers();
    const { s, exit, logger } = make({ drainDelayMs: 0, flushTimeoutMs: 1500 });
    const logs = resource('logger', RESOURCE_ORDER.logs, () => undefined);
    resource('tracing', RESOURCE_ORDER.telemetry, () => new Promise(() => {}));
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(1499);
    expect(await code).toBe(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(logs.calls).toEqual(['logger']); // the loggers still got their turn
    const warn = logger.lines.find((l) => l.level === 'warn');
    expect(warn?.msg).toMatch(/^tracing did not finish within \d+ ms; abandoned$/);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a flush that gives up reports its drops as a warning; a throwing one too; neither is exit 1', async () => {
    const { s, logger } = make({ drainDelayMs: 0 });
    resource('tracing', RESOURCE_ORDER.telemetry, async () => ({
      dropped: 12,
      unit: 'spans',
      countedIn: 'vigil_tracing_spans_dropped_total',
    }));
    resource('logger', RESOURCE_ORDER.logs, () => {
      throw new Error('EPIPE');
    });
    expect(await s.trigger()).toBe(0);
    const warns = logger.lines.filter((l) => l.level === 'warn');
    expect(warns.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^tracing: flush gave up after \d+ ms \(budget \d+ ms\); 12 spans dropped \(counted in vigil_tracing_spans_dropped_total\)$/,
      ),
      'logger: flush failed',
    ]);
    expect(warns[0]?.fields).toMatchObject({ resource: 'tracing', dropped: 12 });
  });

  it('hooks cut by the time left still leave the flush its time', async () => {
    vi.useFakeTimers();
    const { s, exit } = make({
      drainDelayMs: 0,
      hookTimeoutMs: 60_000,
      flushTimeoutMs: 1000,
      deadlineMs: 3000,
    });
    s.addHook('stuck', () => new Promise(() => {}));
    const tracing = resource('tracing', RESOURCE_ORDER.telemetry, async () => undefined);
    const code = s.trigger();
    await vi.advanceTimersByTimeAsync(2000);
    expect(await code).toBe(1); // the hook failed, not the deadline
    expect(tracing.calls).toEqual(['tracing']);
    expect(tracing.budgets[0]).toBeGreaterThan(500);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('flushTimeoutMs: 0 flushes nothing', async () => {
    const { s } = make({ drainDelayMs: 0, flushTimeoutMs: 0 });
    const tracing = resource('tracing', RESOURCE_ORDER.telemetry, async () => undefined);
    expect(await s.trigger()).toBe(0);
    expect(tracing.calls).toEqual([]);
  });
});

describe('signals', () => {
  it('installs handlers for its signals, a second signal exits at once with 128 + n, close() removes them', async () => {
    const before = process.listenerCount('SIGUSR2');
    const exit = vi.fn<(code: number) => void>();
    const logger = memoryLogger();
    const s = createShutdown({ signals: ['SIGUSR2'], drainUntil: () => new Promise(() => {}), exit, logger });
    handles.push(s);
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    // A second live handle on the same signal is a mistake: both would drain and exit.
    expect(optionError(() => createShutdown({ signals: ['SIGUSR2'] })).option).toBe('signals');

    process.emit('SIGUSR2', 'SIGUSR2'); // the handler, without a real signal
    expect(s.state).toBe('draining');
    expect(exit).not.toHaveBeenCalled();
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(exit).toHaveBeenCalledExactlyOnceWith(128 + 12);
    expect(logger.lines.at(-1)?.msg).toBe('second SIGUSR2: exiting now with 140');

    await s.close();
    await s.close();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    // After close, the signal is free for a new handle.
    const again = createShutdown({ signals: ['SIGUSR2'], logger: false });
    handles.push(again);
  });

  it('handleUncaught: an uncaught error is logged and starts a graceful shutdown with exit code 1', async () => {
    vi.useFakeTimers();
    const exit = vi.fn<(code: number) => void>();
    const logger = memoryLogger();
    const before = process.listenerCount('uncaughtException');
    const s = createShutdown({ signals: [], handleUncaught: true, drainDelayMs: 100, exit, logger });
    handles.push(s);
    expect(process.listenerCount('uncaughtException')).toBe(before + 1);
    // Node's typings do not list the origin argument; the listener receives it.
    (process.emit as (event: string, ...args: unknown[]) => boolean)(
      'uncaughtException',
      new Error('boom'),
      'uncaughtException',
    );
    expect(s.state).toBe('draining');
    await vi.advanceTimersByTimeAsync(100);
    expect(exit).toHaveBeenCalledWith(1);
    expect(logger.lines[0]).toMatchObject({
      level: 'error',
      msg: 'uncaught error: shutting down gracefully',
      fields: { origin: 'uncaughtException', err: { message: 'boom' } },
    });
    await s.close();
    expect(process.listenerCount('uncaughtException')).toBe(before);
  });

  it('the default logger writes JSON lines to stderr and a throwing logger never breaks the sequence', async () => {
    const exit = vi.fn<(code: number) => void>();
    const throwing = {
      info: () => {
        throw new Error('logger down');
      },
      warn: () => {},
      error: () => {},
    };
    const s = createShutdown({ signals: [], drainDelayMs: 0, exit, logger: throwing });
    handles.push(s);
    expect(await s.trigger()).toBe(0);

    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let written: string[];
    try {
      const t = createShutdown({ signals: [], drainDelayMs: 0, exit });
      handles.push(t);
      await t.trigger('unit');
    } finally {
      written = write.mock.calls.map((c) => String(c[0]));
      write.mockRestore();
    }
    const first = JSON.parse(written[0] ?? '');
    expect(first).toMatchObject({ level: 'info', name: '@vigil/shutdown', reason: 'unit' });
    // `time` as every Vigil logger writes it (pino's default): epoch milliseconds.
    expect(Number.isInteger(first.time)).toBe(true);
    expect(Math.abs(first.time - Date.now())).toBeLessThan(60_000);
  });
});
