import type { AddressInfo } from 'node:net';
import { createExpressMetrics } from '@vigil/express';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressRequestLogger, requestId, requestLog } from '../src/express.js';
import { createLogger } from '../src/index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function start(express: typeof express5, opts: { logHeaders?: boolean } = {}) {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({
    service: 'api',
    destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
  });
  const a = express();
  const metrics = createExpressMetrics({ runtimeMetrics: false });
  a.use(createExpressRequestLogger({ logger, ...opts }).middleware);
  a.use(metrics.middleware);
  a.get('/metrics', metrics.handler);
  a.get('/livez', (_req, res) => res.send('ok'));
  const v1 = express.Router();
  v1.get('/items/:id', (req, res) => {
    requestLog(req).info({ item: req.params.id }, 'loading item');
    res.json({ id: req.params.id, requestId: requestId(req) });
  });
  a.use('/api/v1', v1);
  a.get('/bad', (_req, res) => res.status(400).send('no'));
  a.get('/boom', () => {
    throw new Error('boom');
  });
  const server = a.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(async () => {
    server.close();
    await metrics.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const waitLines = async (n: number) => {
    const deadline = Date.now() + 5_000;
    while (lines.filter((l) => l.msg?.startsWith('request')).length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} request lines, got ${JSON.stringify(lines)}`);
      await new Promise((r) => setImmediate(r));
    }
    return lines.filter((l) => l.msg?.startsWith('request'));
  };
  return { base, lines, waitLines };
}

// The same request line on each Express major @vigil/express supports.
const MAJORS = [
  { name: 'Express 5', express: express5 },
  { name: 'Express 4', express: express4 },
];

describe.each(MAJORS)('Express request logging ($name)', ({ express }) => {
  const app = (opts?: { logHeaders?: boolean }) => start(express, opts);

  it('one line per request: route template, status, duration, request id; level by status', async () => {
    const { base, lines, waitLines } = await app();
    const r1 = await fetch(`${base}/api/v1/items/42?token=abc`, { headers: { 'x-request-id': 'abc-123' } });
    expect(r1.headers.get('x-request-id')).toBe('abc-123');
    expect(((await r1.json()) as { requestId: string }).requestId).toBe('abc-123');
    const r2 = await fetch(`${base}/bad`);
    const generated = r2.headers.get('x-request-id')!;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    await fetch(`${base}/boom`);
    await fetch(`${base}/nope`);
    const req = await waitLines(4);
    expect(req[0]).toMatchObject({
      level: 'info',
      service: 'api',
      request_id: 'abc-123',
      method: 'GET',
      route: '/api/v1/items/:id',
      path: '/api/v1/items/42',
      status_code: 200,
      msg: 'request completed',
    });
    expect(req[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(req[1]).toMatchObject({ level: 'warn', status_code: 400, request_id: generated });
    expect(req[2]).toMatchObject({ level: 'error', status_code: 500, route: '/boom' });
    expect(req[3]).toMatchObject({ level: 'warn', status_code: 404, route: '__unmatched__' });
    // The handler's own line carries the same request id (lazy child logger).
    expect(lines.find((l) => l.msg === 'loading item')).toMatchObject({ request_id: 'abc-123', item: '42' });
    // No headers by default; the query string is not logged.
    expect(JSON.stringify(req)).not.toContain('token=abc');
    expect(req[0]!.headers).toBeUndefined();
  });

  it('never a per-process counter; a malformed incoming id is replaced', async () => {
    const { base, waitLines } = await app();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await fetch(`${base}/bad`)).headers.get('x-request-id')!);
    const hostile = (
      await fetch(`${base}/bad`, { headers: { 'x-request-id': `${'x'.repeat(300)}` } })
    ).headers.get('x-request-id')!;
    expect(ids.size).toBe(5);
    expect(hostile).toMatch(/^[0-9a-f-]{36}$/);
    await waitLines(6);
  });

  it('probes and /metrics are not logged', async () => {
    const { base, lines } = await app();
    await fetch(`${base}/livez`);
    await fetch(`${base}/metrics`);
    await fetch(`${base}/bad`);
    const deadline = Date.now() + 5_000;
    while (!lines.some((l) => l.route === '/bad') && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.path)).toEqual(['/bad']);
  });

  it('headers only when enabled, and then redacted', async () => {
    const { base, waitLines } = await app({ logHeaders: true });
    await fetch(`${base}/bad`, {
      headers: { authorization: 'Bearer secret', cookie: 'sid=1', 'x-trace-me': 'yes' },
    });
    const [line] = await waitLines(1);
    expect(line!.headers).toMatchObject({
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      'x-trace-me': 'yes',
    });
    expect(JSON.stringify(line)).not.toContain('secret');
  });
});
