import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runs } from '../../../test/helpers/property.js';
import { createLogger, LOGGER_DEFAULTS } from '../src/index.js';

// No object a service could log, with a secret-named key at any position and depth, or a
// credential inside a string, inside Errors (own fields, causes, AggregateError.errors), arrays,
// Maps, class instances or toJSON results, ever puts the secret into the line pino writes.
// fast-check prints the seed and the shrunk counterexample when a run fails; rerun it with
// `fc.assert(..., { seed, path })`.

// Each run writes three lines through pino: fewer runs than the suite's default, a longer timeout.
const RUNS = process.env.CI === 'true' ? 3_000 : 500;
const TIMEOUT_MS = 180_000;
/** Distinctive, and "looks encoded" (digits, inner capitals) as real credentials do. */
const SECRET = 'sEcReT7f3a9c2e41';

const secretNames = new Set(LOGGER_DEFAULTS.redactKeys.map((k) => k.toLowerCase()));
const secretKey = fc
  .constantFrom(...LOGGER_DEFAULTS.redactKeys)
  .chain((k) => fc.constantFrom(k, k.toUpperCase(), k[0]!.toUpperCase() + k.slice(1)));
const plainKey = fc
  .string({ minLength: 1, maxLength: 6 })
  .filter((k) => !secretNames.has(k.toLowerCase()) && k !== '__proto__' && k !== 'toJSON');

/** Strings that carry the secret whatever key they sit under. */
const credentialString = fc.constantFrom(
  `postgres://app:${SECRET}@db.internal:5432/orders`,
  `https://deploy:${SECRET}@git.example.com/r.git`,
  `redis://:${SECRET}@cache:6379`,
  `Bearer ${SECRET}`,
  `bearer ${SECRET}`,
  `Basic ${SECRET}==`,
  `https://api.example.com/v1?limit=5&api_key=${SECRET}`,
  `/cb?code=1&access_token=${SECRET}&state=x`,
  `password=${SECRET}&user=ann`,
  `sid=1; token=${SECRET}`,
  `calling https://x.example/a?Token=${SECRET}#frag`,
);
const harmless = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);

class Box {
  constructor(entries: [string, unknown][]) {
    for (const [k, v] of entries)
      Object.defineProperty(this, k, { value: v, enumerable: true, writable: true });
  }
}

function assign(target: object, entries: [string, unknown][]): object {
  for (const [k, v] of entries)
    Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
  return target;
}

const { node } = fc.letrec<{ node: unknown; entries: [string, unknown][] }>((tie) => ({
  // Entries of a container: ordinary ones, and maybe a secret-named key at a random position
  // (its value can be anything: the whole subtree must go).
  entries: fc
    .tuple(
      fc.array(fc.tuple(plainKey, tie('node')), { maxLength: 4 }),
      fc.option(
        fc.tuple(
          secretKey,
          fc.oneof(
            fc.constant(SECRET),
            tie('node').map((n) => [SECRET, n]),
          ),
        ),
        {
          freq: 2,
        },
      ),
      fc.nat(),
    )
    .map(([plain, secret, at]) => {
      const out = [...plain] as [string, unknown][];
      if (secret) out.splice(at % (out.length + 1), 0, secret as [string, unknown]);
      return out;
    }),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    harmless,
    credentialString,
    tie('entries').map((e) => assign({}, e)),
    fc.array(tie('node'), { maxLength: 4 }),
    tie('entries').map((e) => new Box(e)),
    fc
      .tuple(tie('entries'), fc.option(credentialString))
      .map(([e, m]) => assign(new Error(m ?? 'failed'), e)),
    fc.tuple(tie('entries'), tie('node')).map(([e, cause]) => assign(new Error('outer', { cause }), e)),
    fc.array(tie('entries'), { maxLength: 3 }).map(
      (list) =>
        new AggregateError(
          list.map((e) => assign(new Error('inner'), e)),
          'many',
        ),
    ),
    tie('entries').map((e) => assign(new Map(e), e.slice(0, 1))),
    tie('node').map((n) => ({ toJSON: () => n })),
    // Deep and wide: past the walker's limits the secret must still not print.
    fc.tuple(tie('entries'), fc.integer({ min: 5, max: 40 })).map(([e, depth]) => {
      let o: unknown = assign({}, e);
      for (let i = 0; i < depth; i++) o = { d: o };
      return o;
    }),
    fc.tuple(tie('entries'), fc.integer({ min: 150, max: 300 })).map(([e, width]) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < width; i++) o[`f${i}`] = i;
      return assign(o, e);
    }),
  ),
}));

function line(write: (log: ReturnType<typeof createLogger>) => void): string {
  const raw: string[] = [];
  const log = createLogger({ traceContext: false, destination: { write: (l: string) => void raw.push(l) } });
  write(log);
  return raw.join('');
}

describe('redaction, property-based', () => {
  it(
    'no generated object prints the secret (the final JSON line, as pino writes it)',
    () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(plainKey, node), { maxLength: 4 }), node, (fields, err) => {
          const obj = assign({}, fields) as Record<string, unknown>;
          const out = line((log) => {
            log.info(obj, 'fields');
            log.error({ err, ...obj }, 'call failed');
            log.error(err instanceof Error ? err : { err });
          });
          for (const l of out.trim().split('\n')) JSON.parse(l);
          expect(out).not.toContain(SECRET);
        }),
        runs(RUNS),
      );
    },
    TIMEOUT_MS,
  );

  it('credentials in the message and its interpolation values never print', () => {
    fc.assert(
      fc.property(credentialString, fc.string({ maxLength: 10 }), (cred, text) => {
        const out = line((log) => {
          log.info(`${text} ${cred}`);
          log.warn({ n: 1 }, '%s then %s', text, cred);
        });
        expect(out).not.toContain(SECRET);
      }),
      runs(Math.ceil(RUNS / 5)),
    );
  });
});
