import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT,
  FIXTURES,
  get,
  type Proc,
  type Receiver,
  SERVER,
  startNode,
  startReceiver,
} from './helpers.js';

// The basic examples (built: `pnpm test` builds first) start with tracing and the logger; their
// /chain route makes one trace cross both.
const EXAMPLES = join(FIXTURES, '..', '..', '..', '..', 'examples');
const built = ['express-basic', 'fastify-basic'].every((e) =>
  existsSync(join(EXAMPLES, e, 'dist', 'server.js')),
);

async function example(name: string, receiver: Receiver): Promise<Proc> {
  // The examples print a "listening on http://127.0.0.1:PORT" line; wrap it into {"port"} for startNode.
  const shim = `const { spawn } = require('node:child_process');
const c = spawn(process.execPath, [${JSON.stringify(join(EXAMPLES, name, 'dist', 'server.js'))}], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
let buf = ''; let done = false;
c.stdout.on('data', (b) => { buf += b; const m = /listening on http:\\/\\/[^:]+:(\\d+)/.exec(buf); if (m && !done) { done = true; console.log(JSON.stringify({ port: Number(m[1]) })); } for (const l of String(b).split('\\n')) if (l.startsWith('{')) console.log(l); });
process.stdin.on('end', () => c.kill('SIGTERM')); process.stdin.resume();
process.on('SIGTERM', () => c.kill('SIGTERM')); c.on('exit', (code) => process.exit(code ?? 0));`;
  return startNode(['-e', shim], {
    PORT: '0',
    HOST: '127.0.0.1',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
  });
}

describe.runIf(built)('examples: /chain across express-basic and fastify-basic', () => {
  let receiver: Receiver;
  let ex: Proc;
  let fa: Proc;
  beforeAll(async () => {
    receiver = await startReceiver();
    [ex, fa] = await Promise.all([example('express-basic', receiver), example('fastify-basic', receiver)]);
  });
  afterAll(async () => {
    await Promise.all([ex?.stop(), fa?.stop()]);
    await receiver?.stop();
  });

  it("one trace id across both services, in spans and in both services' request lines", async () => {
    const r = await get(ex.port, `/chain?to=${encodeURIComponent(`http://127.0.0.1:${fa.port}/users/3`)}`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ id: '3' });
    const spans = await receiver.waitForSpans(
      (s) => s.some((x) => x.name === 'GET /chain') && s.some((x) => x.name === 'GET /users/:id'),
      'spans of both examples',
    );
    const chain = spans.find((x) => x.name === 'GET /chain')!;
    const client = spans.find((x) => x.kind === CLIENT && x.traceId === chain.traceId)!;
    const users = spans.find((x) => x.name === 'GET /users/:id' && x.traceId === chain.traceId)!;
    expect(chain.resource['service.name']).toBe('express-basic');
    expect(users.resource['service.name']).toBe('fastify-basic');
    expect(users.kind).toBe(SERVER);
    expect(users.parentSpanId).toBe(client.spanId);
    const exLine = await ex.waitForLine((l) => l.route === '/chain', 'express-basic request line');
    const faLine = await fa.waitForLine((l) => l.route === '/users/:id', 'fastify-basic request line');
    expect(exLine.trace_id).toBe(chain.traceId);
    expect(faLine.trace_id).toBe(chain.traceId);
    expect((await get(ex.port, '/chain?to=file:///etc/passwd')).status).toBe(400);
  });
});
