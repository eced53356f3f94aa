import http from 'node:http';
import { vigilMetrics } from '@vigil/fastify';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyLogging } from '../src/fastify.js';
import { createLogger } from '../src/index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function app(opts: { logHeaders?: boolean } = {}) {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({
    service: 'api',
    destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
  });
  const a = Fastify({ ...fastifyLogging({ logger, ...opts }) });
  await a.register(vigilMetrics, { runtimeMetrics: false });
  a.get('/livez', async () => 'ok');
  a.get<{ Params: { id: string } }>('/items/:id', async (req) => {
    req.log.info({ item: req.params.id }, 'loading item');
    return { id: req.params.id };
  });
  a.get('/bad', async (_req, reply) => reply.code(400).send('no'));
  // Answers only when the test says so (after the client has gone).
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => {
    entered = r;
  });
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  a.get('/hang', async () => {
    entered();
    await released;
    return 'late';
  });
  a.get('/boom', async () => {
    throw new Error('boom');
  });
  await a.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => a.close());
  const addr = a.server.address() as { port: number };
  return { base: `http://127.0.0.1:${addr.port}`, port: addr.port, lines, inHandler, release };
}

async function until(lines: Record<string, any>[], pred: () => boolean) {
  const deadline = Date.now() + 5_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out; lines: ${JSON.stringify(lines)}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe("Fastify request logging (Fastify's own logger, one line per request)", () => {
  it("replaces Fastify's two lines (and its error and 404 lines) with one", async () => {
    const { base, lines } = await app();
    const r = await fetch(`${base}/items/5?q=1`, { headers: { 'x-request-id': 'req-5' } });
    expect(r.headers.get('x-request-id')).toBe('req-5');
    const gen = (await fetch(`${base}/bad`)).headers.get('x-request-id')!;
    expect(gen).toMatch(/^[0-9a-f-]{36}$/);
    await fetch(`${base}/boom`);
    await fetch(`${base}/missing`);
    await until(lines, () => lines.filter((l) => l.msg === 'request completed').length === 4);
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(done[0]).toMatchObject({
      level: 'info',
      service: 'api',
      request_id: 'req-5',
      method: 'GET',
      route: '/items/:id',
      path: '/items/5',
      status_code: 200,
    });
    expect(done[1]).toMatchObject({ level: 'warn', status_code: 400, request_id: gen });
    expect(done[2]).toMatchObject({ level: 'error', status_code: 500, route: '/boom' });
    expect(done[2]!.err).toMatchObject({ message: 'boom', type: 'Error' });
    expect(done[3]).toMatchObject({ level: 'warn', status_code: 404, route: '__unmatched__' });
    // Nothing else but the handler's own line: no "incoming request", no separate error or 404 line.
    const others = lines.filter(
      (l) => l.msg !== 'request completed' && !l.msg.startsWith('Server listening'),
    );
    expect(others.map((l) => l.msg)).toEqual(['loading item']);
    expect(lines.find((l) => l.msg === 'loading item')?.request_id).toBe('req-5');
  });

  it('probes and /metrics are skipped; headers only when enabled, redacted', async () => {
    const { base, lines } = await app({ logHeaders: true });
    await fetch(`${base}/livez`);
    await fetch(`${base}/metrics`);
    await fetch(`${base}/bad`, { headers: { authorization: 'Bearer s3cret', 'x-a': 'b' } });
    await until(lines, () => lines.some((l) => l.route === '/bad'));
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(done.map((l) => l.path)).toEqual(['/bad']);
    expect(done[0]!.headers).toMatchObject({ authorization: '[REDACTED]', 'x-a': 'b' });
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  it('a request the client aborts gets one "request aborted" line (499, warn), and no second line when the handler answers late', async () => {
    const { port, lines, inHandler, release } = await app();
    const req = http.get({ host: '127.0.0.1', port, path: '/hang', headers: { 'x-request-id': 'gone-1' } });
    req.on('error', () => {}); // the abort below
    await inHandler;
    req.destroy();
    await until(lines, () => lines.some((l) => l.msg === 'request aborted'));
    release();
    // The late answer is written to a closed socket; then a normal request proves the log is flushed.
    await fetch(`http://127.0.0.1:${port}/items/1`);
    await until(lines, () => lines.some((l) => l.msg === 'request completed' && l.route === '/items/:id'));
    const hang = lines.filter((l) => l.route === '/hang');
    expect(hang).toHaveLength(1);
    expect(hang[0]).toMatchObject({
      level: 'warn',
      msg: 'request aborted',
      status_code: 499,
      request_id: 'gone-1',
      method: 'GET',
    });
  });

  it('app.inject(): one line per request, no spurious aborted line', async () => {
    const { lines } = await app();
    const a = Fastify({
      ...fastifyLogging({
        logger: createLogger({
          service: 'inject',
          destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
        }),
      }),
    });
    a.get('/x', async () => 'ok');
    closers.push(() => a.close());
    expect((await a.inject({ method: 'GET', url: '/x' })).statusCode).toBe(200);
    await until(lines, () => lines.some((l) => l.service === 'inject' && l.msg === 'request completed'));
    // A second request: its line comes after anything the first one could still write.
    await a.inject({ method: 'GET', url: '/x' });
    await until(lines, () => lines.filter((l) => l.service === 'inject' && l.route === '/x').length >= 2);
    expect(lines.filter((l) => l.service === 'inject' && l.msg === 'request aborted')).toEqual([]);
  });
});
