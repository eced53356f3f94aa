import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, get, type Proc, type Receiver, startNode, startReceiver, tracingEnv } from './helpers.js';

// The collector must never harm the service: down, hanging or failing, every request is answered
// as usual, spans are dropped and counted, and exit is not held beyond the flush timeout.

const APP = join(FIXTURES, 'express-app.mjs');
const procs: Proc[] = [];
const receivers: Receiver[] = [];

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function service(env: Record<string, string>): Promise<Proc> {
  const p = await startNode(['--import', '@vigil/tracing/register', APP], env);
  procs.push(p);
  return p;
}

async function receiver(mode: 'ok' | 'hang' | 'error' = 'ok'): Promise<Receiver> {
  const r = await startReceiver(mode);
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

async function hammer(p: Proc, n: number): Promise<void> {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => get(p.port, `/users/${i}`)));
  for (const [i, a] of answers.entries()) {
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({ id: String(i) });
  }
}

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

describe('collector trouble', () => {
  it('collector down: every request answered, drops counted, one warning, clean exit', async () => {
    const port = await closedPort();
    const p = await service({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: '20',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OWN_SIGTERM: '1',
    });
    await hammer(p, 40);
    await p.waitForLine(() => p.stderr().includes('Span export failed'), 'export failure warning');
    await hammer(p, 40);
    const exit = await p.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const { stats } = await p.waitForLine((l) => l.stats !== undefined, 'stats line');
    expect(stats.exported).toBe(0);
    expect(stats.dropped.export_failed + stats.dropped.shutdown).toBe(80);
    // Logged once, not once per export.
    expect(p.stderr().match(/Span export failed/g)).toHaveLength(1);
    expect(p.lines.filter((l) => l.msg === 'request completed')).toHaveLength(80);
  });

  it('collector hanging: answers unchanged, exit bounded by the shutdown timeout, not the export timeout', async () => {
    const r = await receiver('hang');
    const p = await service(
      tracingEnv(r, {
        OTEL_EXPORTER_OTLP_TIMEOUT: '120000', // the export itself would wait two minutes
        VIGIL_TRACING_SHUTDOWN_TIMEOUT_MS: '300',
        OWN_SIGTERM: '1',
      }),
    );
    await hammer(p, 30);
    // An export is stuck in the receiver now.
    const deadline = Date.now() + 10_000;
    while ((await r.stats()).hanging === 0) {
      if (Date.now() > deadline) throw new Error('no export reached the receiver');
      await new Promise((res) => setTimeout(res, 20));
    }
    await hammer(p, 30);
    // SIGTERM: the app closes tracing, which gives up after 300 ms and exits. The test's own
    // timeout (30 s) is far below the 120 s export timeout, so a held exit fails it.
    const exit = await p.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const { stats } = await p.waitForLine((l) => l.stats !== undefined, 'stats line');
    expect(stats.exported).toBe(0);
    expect(stats.dropped.export_failed + stats.dropped.shutdown + stats.dropped.queue_full).toBe(60);
  });

  it('collector answering 500: drops are counted in vigil_tracing_spans_dropped_total', async () => {
    const r = await receiver('error');
    const p = await service(tracingEnv(r));
    await hammer(p, 20);
    let text = '';
    const deadline = Date.now() + 15_000;
    for (;;) {
      text = (await get(p.port, '/metrics')).body;
      if (sample(text, 'vigil_tracing_spans_dropped_total{reason="export_failed"}') >= 20) break;
      if (Date.now() > deadline) throw new Error(`drops not counted:\n${text}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(sample(text, 'vigil_tracing_spans_exported_total')).toBe(0);
    expect(p.stderr()).toContain('collector answered HTTP 500');
  });

  it('bounded queue: a slow collector makes spans drop (queue_full), never memory grow', async () => {
    const r = await receiver('hang');
    const p = await service(
      tracingEnv(r, { OTEL_BSP_MAX_QUEUE_SIZE: '5', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5' }),
    );
    await hammer(p, 40);
    const text = (await get(p.port, '/metrics')).body;
    expect(sample(text, 'vigil_tracing_spans_dropped_total{reason="queue_full"}')).toBeGreaterThan(0);
    expect(sample(text, 'vigil_tracing_queue_spans')).toBeLessThanOrEqual(5);
  });
});

describe('flush at shutdown', () => {
  it('register entry: SIGTERM with no handler of the app flushes queued spans, then the signal ends the process', async () => {
    const r = await receiver();
    const p = await service(tracingEnv(r, { OTEL_BSP_SCHEDULE_DELAY: '600000' })); // nothing leaves before shutdown
    expect((await get(p.port, '/users/77')).status).toBe(200);
    expect((await r.stats()).requests).toBe(0);
    const exit = await p.stop('SIGTERM');
    // The process still ends the way SIGTERM ends it (the register entry does not swallow it).
    expect(exit.signal).toBe('SIGTERM');
    const spans = await r.spans();
    expect(spans.some((s) => s.name === 'GET /users/:id' && s.attributes['url.path'] === '/users/77')).toBe(
      true,
    );
  });

  it('application handling SIGTERM itself: close() flushes before it exits', async () => {
    const r = await receiver();
    const p = await service(tracingEnv(r, { OTEL_BSP_SCHEDULE_DELAY: '600000', OWN_SIGTERM: '1' }));
    expect((await get(p.port, '/users/78')).status).toBe(200);
    const exit = await p.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const { stats } = await p.waitForLine((l) => l.stats !== undefined, 'stats line');
    expect(stats.exported).toBe(1);
    expect((await r.spans()).some((s) => s.attributes['url.path'] === '/users/78')).toBe(true);
  });
});
