import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fastifyLogging } from '../src/fastify.js';
import { createLogger } from '../src/index.js';
import { type RequestLine, writeRequestLine } from '../src/internal/request-line.js';

// The request loggers write their line as one string for createLogger()'s loggers. It must be the
// line pino itself would write for the same fields, and step aside whenever it could differ.

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    service: 'line-test',
    traceContext: false,
    ...options,
    destination: { write: (l: string) => void lines.push(l) },
  });
  return { logger, lines };
}

const base: RequestLine = {
  requestId: 'b7c5d1d4-5a47-4bfb-9a6b-1b2f1b0f6a3e',
  method: 'GET',
  route: '/users/:id',
  path: '/users/42',
  status: 200,
  durationMs: 1.23,
  trace: undefined,
};

/** The same line through pino's own path. */
function viaPino(logger: pino.Logger, level: 'info' | 'warn' | 'error', l: RequestLine, msg: string): void {
  const fields: Record<string, unknown> = {};
  if (l.requestId !== undefined) fields.request_id = l.requestId;
  Object.assign(fields, {
    method: l.method,
    route: l.route,
    path: l.path,
    status_code: l.status,
    duration_ms: l.durationMs,
  });
  if (l.trace) Object.assign(fields, l.trace);
  logger[level](fields, msg);
}

function withoutTime(line: string): [string[], Record<string, unknown>] {
  const o = JSON.parse(line) as Record<string, unknown>;
  expect(typeof o.time).toBe('number');
  delete o.time;
  return [Object.keys(o), o];
}

describe('the request line written as one string', () => {
  const cases: [string, Partial<RequestLine>][] = [
    ['a plain request', {}],
    ['a path with quotes, backslashes, control characters and non-ASCII', { path: '/a"b\\c\u0001d/é/😀' }],
    ['a regular-expression route', { route: '/^\\/files\\/(.*)$/' }],
    ['trace ids', { trace: { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), trace_flags: '01' } }],
    ['an aborted request at warn', { status: 499 }],
    ['an id already in the bindings', { requestId: undefined }],
    ['a path with credentials (censored)', { path: 'http://u:pw1234@h/reset;token=abc123/x' }],
  ];
  for (const [what, over] of cases) {
    it(`is the line pino writes: ${what}`, () => {
      const fast = capture();
      const slow = capture();
      const l = { ...base, ...over };
      const level = l.status >= 400 ? 'warn' : 'info';
      expect(writeRequestLine(fast.logger, level, l, 'request completed')).toBe(true);
      viaPino(slow.logger, level, l, 'request completed');
      expect(fast.lines).toHaveLength(1);
      expect(fast.lines[0]?.endsWith('}\n')).toBe(true);
      expect(withoutTime(fast.lines[0] as string)).toEqual(withoutTime(slow.lines[0] as string));
      if (l.path.includes('@')) {
        expect(JSON.parse(fast.lines[0] as string).path).toBe('http://[REDACTED]@h/reset;token=[REDACTED]/x');
      }
    });
  }

  it('carries a child logger’s bindings (Fastify’s request logger)', () => {
    const fast = capture();
    const slow = capture();
    const l = { ...base, requestId: undefined };
    expect(
      writeRequestLine(fast.logger.child({ request_id: 'r-1' }, {}), 'info', l, 'request completed'),
    ).toBe(true);
    viaPino(slow.logger.child({ request_id: 'r-1' }, {}), 'info', l, 'request completed');
    expect(withoutTime(fast.lines[0] as string)).toEqual(withoutTime(slow.lines[0] as string));
    expect(JSON.parse(fast.lines[0] as string).request_id).toBe('r-1');
  });

  it('applies to Fastify’s request logger (a child carrying Fastify’s req/res/err serialisers)', async () => {
    const { logger, lines } = capture();
    const app = Fastify({ ...fastifyLogging({ logger }) });
    let wrote: boolean | undefined;
    app.get('/x', async (request) => {
      wrote = writeRequestLine(request.log, 'info', { ...base, requestId: undefined }, 'probe');
      return 'ok';
    });
    const res = await app.inject({ url: '/x', headers: { 'x-request-id': 'fastify-req-1' } });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(wrote).toBe(true);
    const probe = lines.map((l) => JSON.parse(l)).find((o) => o.msg === 'probe');
    expect(probe).toMatchObject({ request_id: 'fastify-req-1', route: '/users/:id', service: 'line-test' });
  });

  it('Fastify’s per-request child is made without pino’s child() unless the route sets its own log options', async () => {
    const { logger, lines } = capture();
    const app = Fastify({ ...fastifyLogging({ logger }) });
    let made = 0;
    app.get('/plain', async (request) => {
      request.log.info({ step: 1 }, 'handler');
      request.log.child({ part: 'db' }).info('nested');
      return { level: request.log.level, bindings: (request.log as unknown as pino.Logger).bindings() };
    });
    app.get('/quiet', { logLevel: 'warn' }, async (request) => ({ level: request.log.level }));
    await app.ready();
    const child = app.log.child;
    app.log.child = function (this: typeof app.log, ...a: Parameters<typeof child>) {
      if ((a[0] as { request_id?: unknown }).request_id !== undefined) made++; // a request's child
      return child.apply(this, a);
    } as typeof app.log.child;
    const plain = await app.inject({ url: '/plain', headers: { 'x-request-id': 'req-a' } });
    expect(made).toBe(0);
    expect(plain.json()).toEqual({ level: 'info', bindings: { service: 'line-test', request_id: 'req-a' } });
    const quiet = await app.inject({ url: '/quiet', headers: { 'x-request-id': 'req-b' } });
    expect(made).toBe(1);
    expect(quiet.json()).toEqual({ level: 'warn' });
    await app.close();
    const out = lines.map((l) => JSON.parse(l));
    expect(out.find((o) => o.msg === 'handler')).toMatchObject({ request_id: 'req-a', step: 1 });
    expect(out.find((o) => o.msg === 'nested')).toMatchObject({ request_id: 'req-a', part: 'db' });
    const done = out.filter((o) => o.msg === 'request completed');
    expect(done.map((o) => o.request_id)).toEqual(['req-a']); // /quiet logs at warn only
    expect(done[0]).toMatchObject({ route: '/plain', status_code: 200 });
  });

  it('writes nothing below the logger’s level (its own level, also a child’s)', () => {
    const { logger, lines } = capture({ level: 'warn' });
    expect(writeRequestLine(logger, 'info', base, 'request completed')).toBe(true);
    expect(lines).toHaveLength(0);
    expect(writeRequestLine(logger, 'error', { ...base, status: 500 }, 'request completed')).toBe(true);
    expect(JSON.parse(lines[0] as string).level).toBe('error');
    const child = logger.child({}, { level: 'error' });
    expect(writeRequestLine(child, 'warn', { ...base, status: 404 }, 'request completed')).toBe(true);
    expect(lines).toHaveLength(1);
  });

  it('steps aside (returns false, writes nothing) wherever pino’s output could differ', () => {
    const redacted = capture({ redact: ['Path'] });
    expect(writeRequestLine(redacted.logger, 'info', base, 'request completed')).toBe(false);
    const c = capture();
    const serialised = c.logger.child({}, { serializers: { route: () => 'x' } });
    expect(writeRequestLine(serialised, 'info', base, 'request completed')).toBe(false);
    const wildcard = c.logger.child({}, { serializers: { [Symbol.for('pino.*')]: (v: unknown) => v } });
    expect(writeRequestLine(wildcard, 'info', base, 'request completed')).toBe(false);
    const prefixed = c.logger.child({}, { msgPrefix: '[http] ' });
    expect(writeRequestLine(prefixed, 'info', base, 'request completed')).toBe(false);
    const formatted = c.logger.child({}, { formatters: { level: (label: string) => ({ lvl: label }) } });
    expect(writeRequestLine(formatted, 'info', base, 'request completed')).toBe(false);
    expect(c.lines).toHaveLength(0);
    const plain: string[] = [];
    const foreign = pino({}, { write: (l: string) => void plain.push(l) });
    expect(writeRequestLine(foreign, 'info', base, 'request completed')).toBe(false);
    const multi = createLogger({
      destination: pino.multistream([{ stream: { write: (l: string) => void plain.push(l) } }]),
    });
    expect(writeRequestLine(multi, 'info', base, 'request completed')).toBe(false);
    expect(plain).toHaveLength(0);
  });

  it('a redacted line field is redacted on the request line (through pino)', () => {
    const { logger, lines } = capture({ redact: ['path'] });
    viaPino(logger, 'info', base, 'request completed');
    expect(JSON.parse(lines[0] as string).path).toBe('[REDACTED]');
  });
});
