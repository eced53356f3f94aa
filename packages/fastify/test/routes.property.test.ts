import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNS, runs } from '../../../test/helpers/property.js';
import { vigilMetrics } from '../src/index.js';

// The route label of every request is one of the app's templates (prefixes included) or
// `__unmatched__`, whatever URL a client sends (Fastify's own router; `app.inject`, no sockets).

const TEMPLATES = ['/', '/users/:id', '/files/*', '/api/v1/items/:id', '/api/v1/items/:id/tags/:tag'];
const ALLOWED = new Set([...TEMPLATES, '__unmatched__']);

let app: FastifyInstance;
beforeAll(async () => {
  app = Fastify({ logger: false });
  await app.register(vigilMetrics, { runtimeMetrics: false });
  for (const t of ['/', '/users/:id', '/files/*']) app.get(t, async () => 'ok');
  await app.register(
    async (v1) => {
      v1.get('/items/:id', async () => 'ok');
      v1.get('/items/:id/tags/:tag', async () => 'ok');
    },
    { prefix: '/api/v1' },
  );
  await app.ready();
});
afterAll(() => app?.close());

const segment = fc.oneof(
  fc.constantFrom('users', 'api', 'v1', 'items', 'tags', 'files', '42', '', '.', '..'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%2F', '%00', '%C3%A9', ';x=1', ':id', '*', '?q=1', '#f'),
);
const url = fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);

function routes(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l.startsWith('http_requests_total{'))
      .map((l) => /route="((?:[^"\\]|\\.)*)"/.exec(l)?.[1] as string),
  );
}

describe('route templates (property)', () => {
  it('any URL gets one of the app templates or __unmatched__', async () => {
    await fc.assert(
      fc.asyncProperty(url, async (u) => {
        await app.inject({ method: 'GET', url: u });
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
        for (const r of routes(text)) expect(ALLOWED.has(r), r).toBe(true);
      }),
      // Each run scrapes the registry: a fifth of the pure properties' runs.
      runs(Math.max(200, Math.floor(RUNS / 5))),
    );
    const seen = routes((await app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(seen.size).toBeGreaterThan(2);
  });
});
