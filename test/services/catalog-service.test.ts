import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSamples } from '../helpers/http.js';
import {
  call,
  countRows,
  createTestSchema,
  deleteKeys,
  REDIS_URL,
  startBuilt,
  type TestSchema,
} from '../helpers/services.js';
import type { Running } from '../helpers/spawn.js';

const PREFIX = `catalog-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;

describe('catalog-service on PostgreSQL and Redis', () => {
  let db: TestSchema;
  let redis: Redis;
  let svc: Running;
  let port: number;
  let skuSeq = 0;
  const product = async (stock: number) => {
    const r = await call(port, 'POST', '/products', {
      sku: `SKU-${++skuSeq}`,
      name: `Product ${skuSeq}`,
      price_cents: 1999,
      stock,
    });
    expect(r.status).toBe(201);
    return r.json as { id: number; sku: string; name: string; price_cents: number; stock: number };
  };
  const stockOf = async (id: number) =>
    (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id]))[0]?.stock;
  const reserve = (id: number | string, quantity: unknown, key?: string) =>
    call(port, 'POST', `/products/${id}/reserve`, { quantity }, key ? { 'idempotency-key': key } : {});

  beforeAll(async () => {
    db = await createTestSchema('catalog_svc');
    redis = new Redis(REDIS_URL);
    svc = await startBuilt('catalog-service', {
      DATABASE_URL: db.url,
      REDIS_URL,
      CACHE_PREFIX: PREFIX,
      CHAOS_ENABLED: '',
    });
    port = svc.port;
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
    await redis?.quit();
    await deleteKeys(PREFIX);
  });

  it('creates, reads and lists products; 404 for an unknown one; 409 for a duplicate sku', async () => {
    const p = await product(7);
    expect(p).toEqual({ id: p.id, sku: p.sku, name: p.name, price_cents: 1999, stock: 7 });
    expect((await call(port, 'GET', `/products/${p.id}`)).json).toEqual(p);
    const q = await product(1);
    const page = await call(port, 'GET', `/products?limit=1&offset=1`);
    expect(page.json).toEqual({ products: [q], limit: 1, offset: 1 });
    const missing = await call(port, 'GET', '/products/999999');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'product not found' });
    const before = await countRows(db, 'products');
    const dup = await call(port, 'POST', '/products', { sku: p.sku, name: 'x', price_cents: 1, stock: 1 });
    expect(dup.status).toBe(409);
    expect(dup.json.error).toContain('sku');
    expect(await countRows(db, 'products')).toBe(before);
  });

  const valid = { sku: 'OK-1', name: 'Fine', price_cents: 100, stock: 1 };
  it.each([
    ['missing sku', { ...valid, sku: undefined }, '"sku"'],
    ['missing name', { ...valid, name: undefined }, '"name"'],
    ['missing price_cents', { ...valid, price_cents: undefined }, '"price_cents"'],
    ['missing stock', { ...valid, stock: undefined }, '"stock"'],
    ['price_cents as a string', { ...valid, price_cents: '100' }, '"price_cents"'],
    ['fractional price_cents', { ...valid, price_cents: 1.5 }, '"price_cents"'],
    ['negative stock', { ...valid, stock: -1 }, '"stock"'],
    ['empty name', { ...valid, name: '' }, '"name"'],
    ['sku with spaces', { ...valid, sku: 'a b' }, '"sku"'],
    ['unknown field', { ...valid, colour: 'red' }, '"colour"'],
    ['array body', [valid], 'JSON object'],
    ['JSON null body', 'null', 'JSON object'],
    ['malformed JSON', '{"sku": "A",', 'malformed JSON'],
  ])('POST /products with %s answers 400 naming the problem and writes nothing', async (_, body, names) => {
    const before = await countRows(db, 'products');
    const r = await call(port, 'POST', '/products', body);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(names);
    expect(await countRows(db, 'products')).toBe(before);
  });

  it('validates reservations and ids: 400 naming the field, stock untouched', async () => {
    const p = await product(3);
    const cases: [string, Promise<Awaited<ReturnType<typeof reserve>>>, string][] = [
      ['quantity 0', reserve(p.id, 0), '"quantity"'],
      ['quantity as a string', reserve(p.id, '1'), '"quantity"'],
      ['missing quantity', call(port, 'POST', `/products/${p.id}/reserve`, {}), '"quantity"'],
      ['malformed JSON', call(port, 'POST', `/products/${p.id}/reserve`, '{"quantity":'), 'malformed JSON'],
      ['id not a number', reserve('abc', 1), '"id"'],
      ['key too long', reserve(p.id, 1, 'k'.repeat(201)), '"Idempotency-Key"'],
      ['GET id not a number', call(port, 'GET', '/products/1e3'), '"id"'],
      ['limit out of range', call(port, 'GET', '/products?limit=1000'), '"limit"'],
    ];
    for (const [what, pending, names] of cases) {
      const r = await pending;
      expect(r.status, what).toBe(400);
      expect(r.json.error, what).toContain(names);
    }
    expect(await stockOf(p.id)).toBe(3);
    expect(await countRows(db, 'reservations')).toBe(0);
  });

  it('reads through the cache (miss, then hit) and invalidates it after a reservation', async () => {
    const p = await product(10);
    const first = await call(port, 'GET', `/products/${p.id}`);
    expect(first.headers.get('x-cache')).toBe('miss');
    expect(await redis.exists(`${PREFIX}product:${p.id}`)).toBe(1);
    const second = await call(port, 'GET', `/products/${p.id}`);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.json).toEqual(first.json);

    const r = await reserve(p.id, 4, `cache-${p.id}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ product_id: p.id, quantity: 4, stock: 6 });
    const after = await call(port, 'GET', `/products/${p.id}`);
    expect(after.headers.get('x-cache')).toBe('miss');
    expect(after.json.stock).toBe(6);
    expect((await call(port, 'GET', `/products/${p.id}`)).headers.get('x-cache')).toBe('hit');
  });

  it('reserves once per Idempotency-Key, even when the same key arrives concurrently', async () => {
    const p = await product(10);
    const a = await reserve(p.id, 2, `idem-${p.id}`);
    const b = await reserve(p.id, 2, `idem-${p.id}`);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.json).toEqual(a.json);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await stockOf(p.id)).toBe(8);

    const burst = await Promise.all(Array.from({ length: 10 }, () => reserve(p.id, 3, `burst-${p.id}`)));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(burst.map((r) => r.json.stock))).toEqual(new Set([5]));
    expect(await stockOf(p.id)).toBe(5);
    const rows = await db.query('SELECT idempotency_key FROM reservations WHERE product_id = $1', [p.id]);
    expect(rows.map((r) => r.idempotency_key).sort()).toEqual([`burst-${p.id}`, `idem-${p.id}`]);

    const reused = await reserve(p.id, 1, `idem-${p.id}`);
    expect(reused.status).toBe(422);
    expect(await stockOf(p.id)).toBe(5);
  });

  it('never oversells: stock 5, 20 concurrent reservations of 1 -> exactly 5 succeed', async () => {
    const p = await product(5);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => reserve(p.id, 1, `race-${p.id}-${i}`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(15);
    for (const r of results.filter((x) => x.status === 409))
      expect(r.json).toEqual({ error: 'insufficient stock' });
    expect(new Set(results.filter((r) => r.status === 200).map((r) => r.json.stock))).toEqual(
      new Set([0, 1, 2, 3, 4]),
    );
    expect(await stockOf(p.id)).toBe(0);
    expect(
      Number((await db.query('SELECT count(*) AS n FROM reservations WHERE product_id = $1', [p.id]))[0]?.n),
    ).toBe(5);
  });

  it('answers 409 for insufficient stock and 404 for an unknown product, reserving nothing', async () => {
    const p = await product(2);
    const before = await countRows(db, 'reservations');
    const r = await reserve(p.id, 3, `too-many-${p.id}`);
    expect(r.status).toBe(409);
    expect(r.json).toEqual({ error: 'insufficient stock' });
    expect((await reserve(999999, 1)).status).toBe(404);
    expect(await stockOf(p.id)).toBe(2);
    expect(await countRows(db, 'reservations')).toBe(before);
  });

  it('has no chaos route unless CHAOS_ENABLED=1', async () => {
    expect((await call(port, 'PUT', '/admin/chaos', { errorRate: 1 })).status).toBe(404);
  });

  it('reports postgres and redis on /ready and labels its metrics with the service', async () => {
    const ready = await call(port, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.checks.postgres[0].status).toBe('pass');
    expect(ready.json.checks.redis[0].status).toBe('pass');

    const s = parseSamples((await call(port, 'GET', '/metrics')).text);
    const keys = [...s.keys()];
    expect(
      s.get(
        'http_requests_total{route="/products/:id/reserve",method="POST",status_code="200",service="catalog-service"}',
      ),
    ).toBeGreaterThan(0);
    // The reservation is one statement (UPDATE products in a CTE, INSERT INTO reservations).
    const update = keys.find(
      (k) =>
        k.startsWith('database_query_duration_seconds_count{') &&
        k.includes('table="reservations"') &&
        k.includes('operation="INSERT"') &&
        k.includes('service="catalog-service"'),
    );
    expect(update, keys.filter((k) => k.startsWith('database_')).join('\n')).toBeDefined();
    expect(
      keys.filter((k) => k.startsWith('http_requests_total') && !k.includes('service="catalog-service"')),
    ).toEqual([]);
  });

  it('keeps serving from PostgreSQL when Redis is down; readiness warns but stays 200', async () => {
    const noRedis = await startBuilt('catalog-service', {
      DATABASE_URL: db.url,
      REDIS_URL: 'redis://127.0.0.1:1', // nothing listens on port 1
      CACHE_PREFIX: PREFIX,
    });
    try {
      const p = await product(1);
      const r = await call(noRedis.port, 'GET', `/products/${p.id}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-cache')).toBe('miss');
      expect(r.json).toEqual(p);
      expect((await call(noRedis.port, 'GET', `/products/${p.id}`)).headers.get('x-cache')).toBe('miss');
      const ready = await call(noRedis.port, 'GET', '/ready');
      expect(ready.status).toBe(200);
      expect(ready.json.status).toBe('warn');
      expect(ready.json.checks.redis[0]).toMatchObject({ status: 'fail', critical: false });
      expect(ready.json.checks.postgres[0].status).toBe('pass');
      expect(noRedis.output()).toContain('redis unavailable');
    } finally {
      expect(await noRedis.stop()).toBe(0);
    }
  });

  it('with CHAOS_ENABLED=1 fails a share of traffic with 503 but never probes or /metrics', async () => {
    const chaotic = await startBuilt('catalog-service', {
      DATABASE_URL: db.url,
      REDIS_URL,
      CACHE_PREFIX: PREFIX,
      CHAOS_ENABLED: '1',
    });
    try {
      const p = chaotic.port;
      const bad = await call(p, 'PUT', '/admin/chaos', { errorRate: 2 });
      expect(bad.status).toBe(400);
      expect(bad.json.error).toContain('"errorRate"');
      expect((await call(p, 'PUT', '/admin/chaos', { errorRate: 1, delayMs: 0 })).json).toEqual({
        errorRate: 1,
        delayMs: 0,
      });
      const hit = await call(p, 'GET', '/products');
      expect(hit.status).toBe(503);
      expect(hit.json).toEqual({ error: 'chaos' });
      expect((await call(p, 'GET', '/ready')).status).toBe(200);
      expect((await call(p, 'GET', '/metrics')).status).toBe(200);
      expect((await call(p, 'PUT', '/admin/chaos', {})).json).toEqual({ errorRate: 0, delayMs: 0 });
      expect((await call(p, 'GET', '/products')).status).toBe(200);
    } finally {
      expect(await chaotic.stop()).toBe(0);
    }
  });
});

describe('catalog-service without DATABASE_URL and REDIS_URL', () => {
  it('runs on the embedded PGlite with the in-process cache', async () => {
    const svc = await startBuilt('catalog-service', { DATABASE_URL: '', REDIS_URL: '' });
    try {
      const p = svc.port;
      const created = await call(p, 'POST', '/products', {
        sku: 'EMB-1',
        name: 'Embedded',
        price_cents: 5,
        stock: 2,
      });
      expect(created.status).toBe(201);
      const miss = await call(p, 'GET', `/products/${created.json.id}`);
      expect(miss.headers.get('x-cache')).toBe('miss');
      expect(miss.json).toEqual(created.json);
      expect((await call(p, 'GET', `/products/${created.json.id}`)).headers.get('x-cache')).toBe('hit');
      const ready = await call(p, 'GET', '/ready');
      expect(ready.json.checks.postgres[0].status).toBe('pass');
      expect(ready.json.checks.redis).toBeUndefined();
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
