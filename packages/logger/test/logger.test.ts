import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, isVigilOptionError, LOGGER_DEFAULTS } from '../src/index.js';

function capture() {
  const lines: Record<string, any>[] = [];
  return { lines, stream: { write: (l: string) => void lines.push(JSON.parse(l)) } };
}

afterEach(() => {
  delete process.env.LOG_LEVEL;
  trace.disable();
  context.disable();
});

describe('createLogger', () => {
  it('JSON lines with service, string level and message', () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: 'orders', destination: stream });
    log.info({ orderId: 7 }, 'placed');
    expect(lines[0]).toMatchObject({ level: 'info', service: 'orders', orderId: 7, msg: 'placed' });
    expect(typeof lines[0]!.time).toBe('number');
  });

  it('level from LOG_LEVEL unless an option says otherwise', () => {
    const { lines, stream } = capture();
    process.env.LOG_LEVEL = 'warn';
    const log = createLogger({ destination: stream });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
    const explicit = createLogger({ destination: stream, level: 'debug' });
    explicit.debug('debug shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown', 'debug shown']);
  });

  it("redacts secrets in headers and bodies at any depth, without touching the caller's object", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream, redact: ['ssn'] });
    const obj = {
      req: { headers: { authorization: 'Bearer x', cookie: 'a=b', 'x-api-key': 'k', accept: '*/*' } },
      res: { headers: { 'Set-Cookie': 's' } },
      body: { user: { password: 'p', name: 'ann', tokens: [{ access_token: 't' }] }, ssn: '123' },
      apiKey: 'k2',
    };
    const before = JSON.stringify(obj);
    log.info(obj, 'x');
    const l = lines[0]!;
    expect(l.req.headers).toEqual({
      authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      'x-api-key': '[REDACTED]',
      accept: '*/*',
    });
    expect(l.res.headers['Set-Cookie']).toBe('[REDACTED]');
    expect(l.body.user).toEqual({
      password: '[REDACTED]',
      name: 'ann',
      tokens: [{ access_token: '[REDACTED]' }],
    });
    expect(l.body.ssn).toBe('[REDACTED]');
    expect(l.apiKey).toBe('[REDACTED]');
    expect(JSON.stringify(obj)).toBe(before);
    expect(LOGGER_DEFAULTS.redactKeys).toContain('authorization');
  });

  it('trace_id, span_id and trace_flags of the active span on every line', () => {
    const { lines, stream } = capture();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
    const provider = new BasicTracerProvider();
    const log = createLogger({ destination: stream });
    log.info('outside');
    const span = provider.getTracer('t').startSpan('s');
    context.with(trace.setSpan(context.active(), span), () => log.info({ a: 1 }, 'inside'));
    const sc = span.spanContext();
    expect(lines[0]!.trace_id).toBeUndefined();
    expect(lines[1]).toMatchObject({ trace_id: sc.traceId, span_id: sc.spanId, trace_flags: '01', a: 1 });
    const off = createLogger({ destination: stream, traceContext: false });
    context.with(trace.setSpan(context.active(), span), () => off.info('no ids'));
    expect(lines[2]!.trace_id).toBeUndefined();
  });

  it('rejects invalid options, naming the option', () => {
    for (const [opts, name] of [
      [{ level: 'loud' }, 'level'],
      [{ redact: 'password' }, 'redact'],
      [{ destination: {} }, 'destination'],
      [{ pretty: 'yes' }, 'pretty'],
      [{ colour: true }, 'colour'],
    ] as const) {
      let err: unknown;
      try {
        createLogger(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), name).toBe(true);
      expect((err as Error).message).toContain(`"${name}"`);
    }
  });

  it('pretty output only when asked, through pino-pretty', async () => {
    const log = createLogger({ pretty: true });
    expect(typeof log.info).toBe('function');
    log.flush();
  });
});
