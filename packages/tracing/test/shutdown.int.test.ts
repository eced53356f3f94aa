import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  get,
  type Proc,
  type Receiver,
  type ReceiverMode,
  startNode,
  startReceiver,
} from './helpers.js';

// @vigil/shutdown flushes tracing by itself, after its hooks, within the time it keeps for that
// (flushTimeoutMs): whatever the collector does, a clean shutdown exits 0, and spans it could not
// take are counted and named in a warning. Each service runs in a child process with its deadline
// set to drain + flush + 1 s: exit code 0 (not 124) shows it finished inside that bound.

const APP = join(FIXTURES, 'express-app.mjs');
const procs: Proc[] = [];
const receivers: Receiver[] = [];

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

const TIMINGS = { drainDelayMs: 0, drainTimeoutMs: 1000, flushTimeoutMs: 2000 };
/** drain (0 delay + at most 500 ms settling + drainTimeoutMs) + flush + 1 s. */
const BOUND_MS = TIMINGS.drainDelayMs + 500 + TIMINGS.drainTimeoutMs + TIMINGS.flushTimeoutMs + 1000;

async function receiver(mode: ReceiverMode, env: Record<string, string> = {}): Promise<Receiver> {
  const r = await startReceiver(mode, env);
  receivers.push(r);
  return r;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A service with @vigil/shutdown whose spans wait in the queue until the shutdown flushes them. */
async function service(endpoint: string, env: Record<string, string> = {}): Promise<Proc> {
  const p = await startNode(['--import', '@vigil/tracing/register', APP], {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '600000', // nothing leaves before the shutdown
    SHUTDOWN: '1',
    drainDelayMs: String(TIMINGS.drainDelayMs),
    drainTimeoutMs: String(TIMINGS.drainTimeoutMs),
    flushTimeoutMs: String(TIMINGS.flushTimeoutMs),
    deadlineMs: String(BOUND_MS),
    ...env,
  });
  procs.push(p);
  return p;
}

async function traffic(p: Proc, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await get(p.port, `/users/${i}`)).status).toBe(200);
}

async function shutDown(p: Proc) {
  const exit = await p.stop('SIGTERM');
  const last = await p.waitForLine((l) => l.exit !== undefined, 'exit line');
  const msgs = p.lines.map((l) => l.msg).filter(Boolean) as string[];
  return { exit, code: last.exit as number, stats: last.stats, msgs, lines: p.lines };
}

describe('SIGTERM with @vigil/shutdown: tracing flushed by the shutdown itself', () => {
  it.each([
    ['hangs', 'hang'],
    ['answers 500', 'error'],
  ] as const)(
    'collector %s: exit 0 within drain + flush + 1 s, the spans dropped and counted in a warning',
    async (_what, mode) => {
      const r = await receiver(mode);
      const p = await service(r.url);
      await traffic(p, 5);
      const s = await shutDown(p);
      expect(s.exit).toEqual({ code: 0, signal: null });
      expect(s.code).toBe(0);
      expect(s.msgs).toContain('shutdown complete; flushing tracing, logger stdout, then exiting with 0');
      const warn = s.lines.find((l) => l.resource === 'tracing');
      expect(warn?.msg).toMatch(
        /^tracing: flush gave up after \d+ ms \(budget \d+ ms\); 5 spans dropped \(counted in vigil_tracing_spans_dropped_total\)$/,
      );
      expect(warn?.level).toBe('warn');
      expect(s.stats.exported).toBe(0);
      expect(s.stats.dropped.export_failed + s.stats.dropped.shutdown).toBe(5);
      expect(s.lines.filter((l) => l.level === 'error')).toEqual([]);
    },
  );

  it('collector refusing connections: exit 0 within the bound, the spans dropped and counted', async () => {
    const p = await service(`http://127.0.0.1:${await closedPort()}`);
    await traffic(p, 5);
    const s = await shutDown(p);
    expect(s.exit).toEqual({ code: 0, signal: null });
    expect(s.lines.find((l) => l.resource === 'tracing')).toMatchObject({ level: 'warn', dropped: 5 });
    expect(s.stats.exported).toBe(0);
  });

  it('slow collector (answers after 1 s, inside the flush time): exit 0 and every span delivered', async () => {
    const r = await receiver('slow', { RECEIVER_DELAY_MS: '1000' });
    const p = await service(r.url);
    await traffic(p, 5);
    expect((await r.stats()).requests).toBe(0);
    const s = await shutDown(p);
    expect(s.exit).toEqual({ code: 0, signal: null });
    expect(s.msgs).toContain('tracing flushed');
    expect(s.stats.exported).toBe(5);
    const spans = await r.spans();
    expect(spans.filter((x) => x.name === 'GET /users/:id')).toHaveLength(5);
  });

  it("the earlier READMEs' hook with a hung collector and every default: exit 0, not 'hook tracing timed out'", async () => {
    const r = await receiver('hang');
    const p = await service(r.url, {
      LEGACY_HOOK: '1',
      drainDelayMs: '0',
      drainTimeoutMs: '',
      flushTimeoutMs: '',
      deadlineMs: '',
    });
    await traffic(p, 3);
    const s = await shutDown(p);
    expect(s.exit).toEqual({ code: 0, signal: null });
    expect(s.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(s.stats.dropped.export_failed + s.stats.dropped.shutdown).toBe(3);
  });
});
