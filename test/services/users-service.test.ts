import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples } from '../helpers/http.js';
import { call, createTestSchema, startBuilt, type TestSchema } from '../helpers/services.js';
import type { Running } from '../helpers/spawn.js';

describe('users-service on PostgreSQL', () => {
  let db: TestSchema;
  let svc: Running;
  let port: number;
  const count = async () => Number((await db.query('SELECT count(*) AS n FROM users'))[0]?.n);

  beforeAll(async () => {
    db = await createTestSchema('users_svc');
    svc = await startBuilt('users-service', { DATABASE_URL: db.url });
    port = svc.port;
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('creates, reads, lists, updates and deletes a user', async () => {
    const created = await call(port, 'POST', '/users', { name: ' Ada Lovelace ', email: 'ada@example.com' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(Number.isInteger(created.json.id)).toBe(true);
    expect(Number.isNaN(Date.parse(created.json.created_at))).toBe(false);
    const id = created.json.id as number;
    expect(created.headers.get('location')).toBe(`/users/${id}`);

    expect((await call(port, 'GET', `/users/${id}`)).json).toEqual(created.json);

    const second = await call(port, 'POST', '/users', { name: 'Grace', email: 'grace@example.com' });
    expect(second.status).toBe(201);
    const page = await call(port, 'GET', '/users?limit=1&offset=1');
    expect(page.status).toBe(200);
    expect(page.json).toEqual({ users: [second.json], limit: 1, offset: 1 });
    expect((await call(port, 'GET', '/users')).json.users.map((u: { id: number }) => u.id)).toContain(id);

    const patched = await call(port, 'PATCH', `/users/${id}`, { name: 'Ada King' });
    expect(patched.status).toBe(200);
    expect(patched.json).toEqual({ ...created.json, name: 'Ada King' });
    expect((await db.query('SELECT name FROM users WHERE id = $1', [id]))[0]?.name).toBe('Ada King');

    expect((await call(port, 'DELETE', `/users/${id}`)).status).toBe(204);
    expect((await call(port, 'GET', `/users/${id}`)).status).toBe(404);
    expect((await call(port, 'DELETE', `/users/${id}`)).status).toBe(404);
    expect((await call(port, 'PATCH', `/users/${id}`, { name: 'x' })).status).toBe(404);
  });

  it.each([
    ['missing name', { email: 'a@example.com' }, '"name"'],
    ['missing email', { name: 'A' }, '"email"'],
    ['name not a string', { name: 42, email: 'a@example.com' }, '"name"'],
    ['blank name', { name: '   ', email: 'a@example.com' }, '"name"'],
    ['name too long', { name: 'x'.repeat(101), email: 'a@example.com' }, '"name"'],
    ['invalid email', { name: 'A', email: 'not-an-email' }, '"email"'],
    ['email not a string', { name: 'A', email: ['a@example.com'] }, '"email"'],
    ['unknown field', { name: 'A', email: 'a@example.com', admin: true }, '"admin"'],
    ['array body', [{ name: 'A', email: 'a@example.com' }], 'JSON object'],
    ['JSON null body', 'null', 'JSON object'],
  ])('POST /users with %s answers 400 naming the problem and writes nothing', async (_, body, names) => {
    const before = await count();
    const r = await call(port, 'POST', '/users', body);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(names);
    expect(await count()).toBe(before);
  });

  it('answers 400 for malformed JSON and for a body that is not JSON', async () => {
    const before = await count();
    const r = await call(port, 'POST', '/users', '{"name": "A", "email":');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'malformed JSON body' });
    const text = await call(port, 'POST', '/users', 'name=A', { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);
    expect(text.json.error).toContain('JSON object');
    expect(await count()).toBe(before);
  });

  it('validates PATCH bodies, ids and paging parameters', async () => {
    const u = await call(port, 'POST', '/users', { name: 'Pat', email: 'pat@example.com' });
    const cases: [string, string, unknown, string][] = [
      ['PATCH', `/users/${u.json.id}`, {}, '"name" or "email"'],
      ['PATCH', `/users/${u.json.id}`, { email: 'nope' }, '"email"'],
      ['PATCH', `/users/${u.json.id}`, { id: 7 }, '"id"'],
      ['GET', '/users/abc', undefined, '"id"'],
      ['GET', '/users/0', undefined, '"id"'],
      ['GET', '/users/99999999999', undefined, '"id"'],
      ['DELETE', '/users/1.5', undefined, '"id"'],
      ['GET', '/users?limit=0', undefined, '"limit"'],
      ['GET', '/users?limit=101', undefined, '"limit"'],
      ['GET', '/users?offset=-1', undefined, '"offset"'],
    ];
    for (const [method, path, body, names] of cases) {
      const r = await call(port, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.json.error, `${method} ${path}`).toContain(names);
    }
    expect((await call(port, 'GET', `/users/${u.json.id}`)).json).toEqual(u.json);
  });

  it('answers 409 for a duplicate email, case-insensitively, on create and update', async () => {
    const a = await call(port, 'POST', '/users', { name: 'Dup', email: 'dup@example.com' });
    expect(a.status).toBe(201);
    const before = await count();
    const b = await call(port, 'POST', '/users', { name: 'Dup 2', email: 'DUP@example.com' });
    expect(b.status).toBe(409);
    expect(b.json.error).toContain('email');
    expect(await count()).toBe(before);
    const other = await call(port, 'POST', '/users', { name: 'Other', email: 'other@example.com' });
    const c = await call(port, 'PATCH', `/users/${other.json.id}`, { email: 'dup@example.com' });
    expect(c.status).toBe(409);
    expect((await call(port, 'GET', `/users/${other.json.id}`)).json.email).toBe('other@example.com');
  });

  it('reports the postgres check on /ready and labels its metrics with the service', async () => {
    const ready = await call(port, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.checks.postgres[0].status).toBe('pass');

    const s = parseSamples((await call(port, 'GET', '/metrics')).text);
    const keys = [...s.keys()];
    expect(
      s.get('http_requests_total{route="/users/:id",method="GET",status_code="200",service="users-service"}'),
    ).toBeGreaterThan(0);
    // Malformed JSON is parsed inside the route, so it is recorded under the route, not as unmatched.
    expect(
      s.get('http_requests_total{route="/users",method="POST",status_code="400",service="users-service"}'),
    ).toBeGreaterThan(0);
    const dbCount = keys.find(
      (k) =>
        k.startsWith('database_query_duration_seconds_count{') &&
        k.includes('table="users"') &&
        k.includes('operation="INSERT"'),
    );
    expect(dbCount, keys.filter((k) => k.startsWith('database_')).join('\n')).toBeDefined();
    expect(s.get(dbCount as string)).toBeGreaterThan(0);
    const unlabelled = keys.filter(
      (k) => k.startsWith('http_requests_total') && !k.includes('service="users-service"'),
    );
    expect(unlabelled).toEqual([]);
  });
});

describe('users-service without DATABASE_URL', () => {
  it('runs on the embedded PGlite: one write, one read', async () => {
    const svc = await startBuilt('users-service', { DATABASE_URL: '' });
    try {
      const created = await call(svc.port, 'POST', '/users', { name: 'Embedded', email: 'e@example.com' });
      expect(created.status).toBe(201);
      expect((await call(svc.port, 'GET', `/users/${created.json.id}`)).json).toEqual(created.json);
      expect((await call(svc.port, 'GET', '/ready')).json.checks.postgres[0].status).toBe('pass');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
