import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger, isVigilOptionError, type LoggerOptions } from '../src/index.js';
import { MAX_DEPTH, MAX_KEYS, MAX_NODES } from '../src/internal/redact.js';
import { scrubPath } from '../src/internal/scrub.js';

/** A logger writing into an array of raw lines (the exact bytes pino would write). */
function capture(opts: LoggerOptions = {}) {
  const raw: string[] = [];
  const log = createLogger({
    traceContext: false,
    ...opts,
    destination: { write: (l: string) => void raw.push(l) },
  });
  return { log, raw, json: () => raw.map((l) => JSON.parse(l) as Record<string, any>) };
}

const SECRET = 'S3cr3t-Value-1234';

describe('redaction fails closed', () => {
  it('a secret key nested deeper than the depth limit is censored, not printed', () => {
    const { log, raw, json } = capture();
    for (const depth of [3, 7, MAX_DEPTH + 2, 40]) {
      let obj: Record<string, unknown> = { password: SECRET, note: 'deep' };
      for (let i = 0; i < depth; i++) obj = { level: obj };
      log.info({ data: obj }, `depth ${depth}`);
    }
    expect(raw.join('')).not.toContain(SECRET);
    // Within the limit the structure is kept and only the secret is replaced.
    let l = json()[0]!.data;
    while (l.level) l = l.level;
    expect(l).toEqual({ password: '[REDACTED]', note: 'deep' });
    expect(raw[3]).toContain('"[Truncated]"');
  });

  it('a secret key after the per-object key limit is censored', () => {
    const { log, raw, json } = capture();
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < MAX_KEYS + 50; i++) wide[`k${i}`] = i;
    wide.password = SECRET;
    wide.note = 'a string past the limit';
    wide.nested = { token: SECRET };
    log.info({ wide }, 'wide');
    expect(raw[0]).not.toContain(SECRET);
    const w = json()[0]!.wide;
    expect(w.password).toBe('[REDACTED]');
    expect(w.k3).toBe(3);
    expect(w[`k${MAX_KEYS + 10}`]).toBe(MAX_KEYS + 10); // numbers carry no secret: kept
    expect(w.note).toBe('[Truncated]');
    expect(w.nested).toBe('[Truncated]');
    // Arrays too: a long array's tail is not printed unexamined.
    log.info({ list: [...Array(MAX_KEYS).fill('x'), `Bearer ${SECRET}`] }, 'long');
    expect(raw[1]).not.toContain(SECRET);
  });

  it('a line with more objects than the budget censors the rest', () => {
    const { log, raw } = capture();
    const many: Record<string, unknown>[][] = Array.from({ length: 30 }, () =>
      Array.from({ length: 100 }, () => ({ v: SECRET.toLowerCase() })),
    );
    many[29]![99] = { api_key: SECRET, url: `https://u:${SECRET}@h` };
    log.info({ many }, 'budget');
    expect(raw[0]).not.toContain(SECRET);
    expect(raw[0]).toContain('"[Truncated]"');
    expect(30 * 100).toBeGreaterThan(MAX_NODES);
  });

  it('secrets inside Errors, class instances, toJSON results and AggregateErrors', () => {
    const { log, raw, json } = capture();
    class Client {
      constructor(
        public host: string,
        public password: string,
      ) {}
    }
    const e = Object.assign(new Error('failed'), { options: { headers: { Authorization: SECRET } } });
    log.info({ client: new Client('db', SECRET) }, 'instance');
    log.info({ nested: { e } }, 'nested error');
    log.info({ model: { toJSON: () => ({ user: 'ann', secret: SECRET }) } }, 'toJSON');
    log.error(
      { err: new AggregateError([Object.assign(new Error('one'), { token: SECRET })], 'all failed') },
      'agg',
    );
    log.info({ m: Object.assign(new Map([['password', SECRET]]), { apiKey: SECRET }) }, 'map');
    expect(raw.join('')).not.toContain(SECRET);
    const [inst, nested, model, agg] = json();
    expect(inst!.client).toEqual({ host: 'db', password: '[REDACTED]' });
    expect(nested!.nested.e.options.headers.Authorization).toBe('[REDACTED]');
    expect(model!.model).toEqual({ user: 'ann', secret: '[REDACTED]' });
    expect(agg!.err.aggregateErrors[0]).toMatchObject({ message: 'one', token: '[REDACTED]' });
    expect(agg!.err.type).toBe('AggregateError');
  });

  it("an axios-style error: log.error({ err }, 'call failed') prints no credential, and keeps the rest", async () => {
    // A real ClientRequest, as axios keeps it on err.request (its _header holds the raw request).
    const server = createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const token = 'sk_live_0123456789abcdef';
    const req = request({
      host: '127.0.0.1',
      port,
      path: `/v1/charges?limit=10&api_key=${token}`,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    });
    req.end();
    const [res] = await once(req, 'response');
    res.resume();
    await once(res, 'end');
    const cause = Object.assign(
      new Error(`connect ECONNREFUSED via https://svc:${token}@payments.internal`),
      {
        code: 'ECONNREFUSED',
      },
    );
    const err = Object.assign(new Error('Request failed with status code 502', { cause }), {
      name: 'AxiosError',
      code: 'ERR_BAD_RESPONSE',
      config: {
        method: 'get',
        url: `https://payments.internal/v1/charges?limit=10&access_token=${token}`,
        headers: { Accept: 'application/json', Authorization: `Bearer ${token}` },
        auth: { username: 'svc', password: token },
      },
      request: req,
      response: {
        status: 502,
        headers: { 'set-cookie': [`sid=${token}`] },
        config: { headers: { 'X-Api-Key': token } },
      },
    });
    const { log, raw, json } = capture();
    log.error({ err }, 'call failed');
    log.error(err); // pino takes the message from the error
    log.error({ err }); // and here too
    server.close();
    expect(raw.join('')).not.toContain(token);
    const [line] = json();
    expect(line!.msg).toBe('call failed');
    expect(line!.err.type).toBe('Error');
    expect(line!.err.message).toContain('Request failed with status code 502');
    expect(line!.err.message).toContain('connect ECONNREFUSED'); // the cause's message, as pino prints it
    expect(line!.err.code).toBe('ERR_BAD_RESPONSE');
    expect(line!.err.config.headers).toEqual({ Accept: 'application/json', Authorization: '[REDACTED]' });
    expect(line!.err.config.url).toBe(
      'https://payments.internal/v1/charges?limit=10&access_token=[REDACTED]',
    );
    expect(line!.err.config.auth.password).toBe('[REDACTED]');
    expect(line!.err.response.status).toBe(502);
    expect(raw[1]).toContain('"msg":"Request failed with status code 502"');
  });

  it('credentials inside strings, under any key and in the message', () => {
    const { log, raw, json } = capture();
    log.info(
      {
        db: `postgres://app:${SECRET}@db.internal:5432/orders`,
        upstream: `https://deploy:${SECRET}@git.example.com/repo.git`,
        hdr: `Bearer ${SECRET}`,
        basic: 'Basic dXNlcjpwYXNzd29yZA==',
        plan: 'basic plan, bearer of news',
        url: `https://api.example.com/v1/items?limit=5&api_key=${SECRET}&token=${SECRET}#top`,
        list: [`redis://:${SECRET}@cache:6379/0`],
        link: new URL(`https://u:${SECRET}@example.com/a?password=${SECRET}`),
        email: 'ann@example.com',
      },
      `connecting to postgres://app:${SECRET}@db.internal/orders`,
    );
    log.info('calling %s', `https://x.example/?password=${SECRET}`);
    expect(raw.join('')).not.toContain(SECRET);
    expect(raw.join('')).not.toContain('dXNlcjpwYXNzd29yZA');
    const [l] = json();
    expect(l!.db).toBe('postgres://[REDACTED]@db.internal:5432/orders');
    expect(l!.upstream).toBe('https://[REDACTED]@git.example.com/repo.git');
    expect(l!.hdr).toBe('Bearer [REDACTED]');
    expect(l!.basic).toBe('Basic [REDACTED]');
    expect(l!.plan).toBe('basic plan, bearer of news');
    expect(l!.url).toBe('https://api.example.com/v1/items?limit=5&api_key=[REDACTED]&token=[REDACTED]#top');
    expect(l!.email).toBe('ann@example.com');
    expect(l!.msg).toBe('connecting to postgres://[REDACTED]@db.internal/orders');
  });

  it('child bindings and base fields are redacted too', () => {
    const { log, raw } = capture({ base: { dsn: `mysql://root:${SECRET}@db/x` } });
    log.child({ token: SECRET, headers: { cookie: SECRET } }).info('in a child');
    expect(raw.join('')).not.toContain(SECRET);
  });

  it("circular structures print [Circular] and are still redacted; the caller's objects are untouched", () => {
    const { log, raw, json } = capture();
    const a: Record<string, unknown> = { name: 'a', password: SECRET };
    a.self = a;
    a.list = [a, { token: SECRET }];
    const before = { ...a };
    log.info({ a }, 'cycle');
    expect(raw[0]).not.toContain(SECRET);
    const l = json()[0]!.a;
    expect(l.self).toBe('[Circular]');
    expect(l.list[0]).toBe('[Circular]');
    expect(a).toEqual(before);
    expect(a.password).toBe(SECRET);
  });

  it('accepts pino-style paths in redact, and rejects what it cannot parse, naming the option', () => {
    const { log, json } = capture({
      redact: [
        'req.headers["x-tenant-key"]',
        "user['home address'].street",
        'items[*].card',
        '*.pin',
        'a.b.c',
        'ssn',
      ],
    });
    log.info(
      {
        req: { headers: { 'x-tenant-key': 'tk', 'X-Tenant-Key': 'case matters, as in pino' } },
        user: { 'home address': { street: 'Main St 1', city: 'Bern' } },
        items: [{ card: '4111', qty: 1 }, { card: '5500' }],
        wallet: { pin: '1234' },
        a: { b: { c: 'x', d: 'y' } },
        deep: { deeper: { SSN: '078-05-1120' } },
      },
      'paths',
    );
    const l = json()[0]!;
    expect(l.req.headers).toEqual({
      'x-tenant-key': '[REDACTED]',
      'X-Tenant-Key': 'case matters, as in pino',
    });
    expect(l.user['home address']).toEqual({ street: '[REDACTED]', city: 'Bern' });
    expect(l.items).toEqual([{ card: '[REDACTED]', qty: 1 }, { card: '[REDACTED]' }]);
    expect(l.wallet.pin).toBe('[REDACTED]');
    expect(l.a.b).toEqual({ c: '[REDACTED]', d: 'y' });
    expect(l.deep.deeper.SSN).toBe('[REDACTED]');
    for (const bad of ['a..b', 'a.', 'req.headers[x-api-key]', 'a["unterminated]', 'a[', '']) {
      let err: unknown;
      try {
        createLogger({ redact: [bad], destination: { write() {} } });
      } catch (e) {
        err = e;
      }
      expect(isVigilOptionError(err), bad).toBe(true);
      expect((err as Error).message).toContain('"redact"');
    }
  });

  it("the request line's path is scrubbed: user information and secret-named parameters", () => {
    expect(scrubPath('/users/7')).toBe('/users/7');
    expect(scrubPath(`http://u:${SECRET}@example.com/x`)).toBe('http://[REDACTED]@example.com/x');
    expect(scrubPath(`/reset;token=${SECRET}`)).toBe('/reset;token=[REDACTED]');
    expect(scrubPath(`/login/password=${SECRET}/next`)).toBe('/login/password=[REDACTED]/next');
    expect(scrubPath('/a=b')).toBe('/a=b');
  });
});
