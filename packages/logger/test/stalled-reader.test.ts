import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LOG_DROP_REASONS } from '@vigil/catalog';
import { readLoggerStats } from '@vigil/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';

// A log reader that stops reading (a stalled shipper, a full container log pipe) or goes away must
// not take the service down: memory stays bounded, requests keep being served, lines beyond the
// buffer are dropped and counted, and SIGTERM exits 0 on time.

const FIXTURE = join(import.meta.dirname, 'fixtures', 'stalled-server.mjs');
const BUFFER_BYTES = 1 << 20;
const FLUSH_MS = 500;
const DRAIN_MS = 200;
const SETTLE_MS = 100;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function start(): Promise<{ p: ChildProcess; port: number; stderr: () => string }> {
  const p = spawn(process.execPath, ['--expose-gc', FIXTURE], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      BUFFER_BYTES: String(BUFFER_BYTES),
      FLUSH_MS: String(FLUSH_MS),
      DRAIN_MS: String(DRAIN_MS),
    },
  });
  children.push(p);
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const [msg] = (await once(p, 'message')) as [{ port: number }];
  return { p, port: msg.port, stderr: () => err };
}

function request(port: number, path: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** `total` requests over `concurrency` keep-alive connections; then the RSS after a full GC. */
async function load(
  port: number,
  total: number,
  concurrency = 16,
): Promise<{ statuses: Set<number>; rss: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = new Set<number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) statuses.add((await request(port, '/work', agent)).status);
    }),
  );
  const { rss } = JSON.parse((await request(port, '/rss', agent)).body) as { rss: number };
  agent.destroy();
  return { statuses, rss };
}

async function sigterm(p: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  p.kill('SIGTERM');
  const [code] = (await once(p, 'exit')) as [number | null];
  return { code, ms: performance.now() - t0 };
}

const dropped = (text: string, reason: string) =>
  Number(
    new RegExp(`vigil_log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? Number.NaN,
  );

describe('a stalled or closed log reader', () => {
  for (const reader of ['stops reading', 'closed'] as const) {
    it(`stdout piped to a reader that ${reader}: bounded memory, requests flow, counted drops, SIGTERM exits 0 on time`, async () => {
      const { p, port, stderr } = await start();
      if (reader === 'stops reading') p.stdout?.pause();
      else p.stdout?.destroy();
      // 8 KB logged per request: each round of 5,000 requests writes about 40 MB that the reader
      // never takes. Once the heap has grown to its working size, further rounds add nothing (RSS
      // moves by about ±15 MB between rounds either way).
      const warm = await load(port, 5_000);
      const after = await load(port, 5_000);
      const again = await load(port, 5_000);
      expect([...warm.statuses, ...after.statuses, ...again.statuses]).toEqual([200, 200, 200]);
      expect(Math.max(after.rss, again.rss) - warm.rss).toBeLessThan(24 * 1024 * 1024);
      const m = await request(port, '/metrics', new Agent());
      const reason = reader === 'closed' ? LOG_DROP_REASONS.writeFailed : LOG_DROP_REASONS.bufferFull;
      expect(dropped(m.body, reason)).toBeGreaterThan(1000);
      expect(stderr().split('@vigil/logger: stdout').length - 1).toBe(1); // warned once
      const { code, ms } = await sigterm(p);
      expect(code).toBe(0);
      // The failure this guards against is an exit that never comes (a flush blocked on the pipe);
      // the bound is the drain + flush + 1 s, widened by 10 s for a loaded CI machine.
      expect(ms).toBeLessThan(DRAIN_MS + SETTLE_MS + FLUSH_MS + 11_000);
    }, 120_000);
  }
});

describe('bounded destinations in process', () => {
  it('a stream that stops draining: lines beyond bufferBytes are dropped and counted, never buffered', async () => {
    const stalled = new Writable({ write(_c, _e, _cb) {} }); // never calls back
    const log = createLogger({ destination: stalled, bufferBytes: 64 * 1024, flushTimeoutMs: 50 });
    const before = readLoggerStats()?.dropped.buffer_full ?? 0;
    const pad = 'y'.repeat(1000);
    for (let i = 0; i < 2000; i++) log.info({ pad }, 'line');
    expect(stalled.writableLength).toBeLessThan(64 * 1024 + 2 * 1200);
    expect((readLoggerStats()!.dropped.buffer_full ?? 0) - before).toBeGreaterThan(1900);
    const t0 = performance.now();
    await log.close(); // gives up after flushTimeoutMs
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('a full disk: writes fail, lines are counted, nothing throws into the caller', async () => {
    const before = readLoggerStats()?.dropped.write_failed ?? 0;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const log = createLogger({ destination: '/dev/full', sync: true });
    for (let i = 0; i < 10; i++) log.info({ i }, 'to a full disk');
    await log.close();
    await new Promise((r) => setImmediate(r));
    process.removeListener('warning', onWarning);
    expect((readLoggerStats()!.dropped.write_failed ?? 0) - before).toBe(10);
    expect(warnings.filter((w) => w.includes('/dev/full'))).toHaveLength(1);
  });
});
