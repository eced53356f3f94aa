import { once } from 'node:events';
import { createServer } from 'node:net';
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
  waitFor,
} from '../helpers/services.js';
import type { Running } from '../helpers/spawn.js';

const PREFIX = `orders-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;

/** A port nothing listens on (bound, then released), to stand for a downstream that is down. */
async function deadPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, 'close');
  return port;
}

describe('orders-service with users-service and catalog-service', () => {
  let db: TestSchema;
  let users: Running;
  let catalog: Running;
  let orders: Running;
  let port: number;
  let seq = 0;

  const newUser = async () => {
    const r = await call(users.port, 'POST', '/users', { name: 'Buyer', email: `buyer${++seq}@example.com` });
    expect(r.status).toBe(201);
    return r.json.id as number;
  };
  const newProduct = async (stock: number) => {
    const r = await call(catalog.port, 'POST', '/products', {
      sku: `ORD-${++seq}`,
      name: 'Thing',
      price_cents: 250,
      stock,
    });
    expect(r.status).toBe(201);
    return r.json.id as number;
  };
  const stockOf = async (id: number) =>
    (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id]))[0]?.stock;
  const order = (body: unknown, headers: Record<string, string> = {}, p = port) =>
    call(p, 'POST', '/orders', body, headers);

  beforeAll(async () => {
    db = await createTestSchema('orders_svc'); // one schema: the three services' tables do not clash
    [users, catalog] = await Promise.all([
      startBuilt('users-service', { DATABASE_URL: db.url }),
      startBuilt('catalog-service', { DATABASE_URL: db.url, REDIS_URL, CACHE_PREFIX: PREFIX }),
    ]);
    orders = await startBuilt('orders-service', {
      DATABASE_URL: db.url,
      USERS_URL: `http://127.0.0.1:${users.port}`,
      CATALOG_URL: `http://127.0.0.1:${catalog.port}`,
    });
    port = orders.port;
  });
  afterAll(async () => {
    await Promise.all([orders?.stop(), users?.stop(), catalog?.stop()]);
    await db?.drop();
    await deleteKeys(PREFIX);
  });

  it('places an order: checks the user, reserves stock, stores it; then reads it back', async () => {
    const userId = await newUser();
    const productId = await newProduct(5);
    const r = await order({ user_id: userId, product_id: productId, quantity: 2 });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      user_id: userId,
      product_id: productId,
      quantity: 2,
      status: 'confirmed',
    });
    expect(Number.isInteger(r.json.id)).toBe(true);
    expect(Number.isNaN(Date.parse(r.json.created_at))).toBe(false);
    expect(r.headers.get('location')).toBe(`/orders/${r.json.id}`);
    expect(await stockOf(productId)).toBe(3);

    expect((await call(port, 'GET', `/orders/${r.json.id}`)).json).toEqual(r.json);
    const list = await call(port, 'GET', '/orders?limit=100');
    expect(list.json.orders).toContainEqual(r.json);
    expect((await call(port, 'GET', '/orders/999999')).status).toBe(404);
    expect((await call(port, 'GET', '/orders/x')).status).toBe(400);
  });

  it('with an Idempotency-Key, a repeated order returns the first one and reserves once', async () => {
    const userId = await newUser();
    const productId = await newProduct(5);
    const body = { user_id: userId, product_id: productId, quantity: 1 };
    const key = { 'idempotency-key': `order-key-${productId}` };
    const first = await order(body, key);
    const again = await order(body, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await stockOf(productId)).toBe(4);
    const other = await order({ ...body, quantity: 2 }, key);
    expect(other.status).toBe(422);
    expect(await stockOf(productId)).toBe(4);
  });

  it.each([
    ['missing user_id', { product_id: 1, quantity: 1 }, '"user_id"'],
    ['missing product_id', { user_id: 1, quantity: 1 }, '"product_id"'],
    ['missing quantity', { user_id: 1, product_id: 1 }, '"quantity"'],
    ['quantity 0', { user_id: 1, product_id: 1, quantity: 0 }, '"quantity"'],
    ['quantity as a string', { user_id: 1, product_id: 1, quantity: '1' }, '"quantity"'],
    ['fractional user_id', { user_id: 1.5, product_id: 1, quantity: 1 }, '"user_id"'],
    ['unknown field', { user_id: 1, product_id: 1, quantity: 1, coupon: 'x' }, '"coupon"'],
    ['array body', [], 'JSON object'],
    ['malformed JSON', '{"user_id": 1,', 'malformed JSON'],
  ])('POST /orders with %s answers 400 naming the problem and writes nothing', async (_, body, names) => {
    const before = await countRows(db, 'orders');
    const reservations = await countRows(db, 'reservations');
    const r = await order(body);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(names);
    expect(await countRows(db, 'orders')).toBe(before);
    expect(await countRows(db, 'reservations')).toBe(reservations);
  });

  it('answers 422 for an unknown user or product and 409 for insufficient stock, storing nothing', async () => {
    const userId = await newUser();
    const productId = await newProduct(1);
    const before = await countRows(db, 'orders');
    const unknownUser = await order({ user_id: 999999, product_id: productId, quantity: 1 });
    expect(unknownUser.status).toBe(422);
    expect(unknownUser.json).toEqual({ error: 'unknown user' });
    const unknownProduct = await order({ user_id: userId, product_id: 999999, quantity: 1 });
    expect(unknownProduct.status).toBe(422);
    expect(unknownProduct.json).toEqual({ error: 'unknown product' });
    const tooMany = await order({ user_id: userId, product_id: productId, quantity: 2 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.json).toEqual({ error: 'insufficient stock' });
    expect(await stockOf(productId)).toBe(1);
    expect(await countRows(db, 'orders')).toBe(before);
  });

  it('answers 503 naming the dependency when a downstream is not running', async () => {
    const userId = await newUser();
    const productId = await newProduct(3);
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const noUsers = await startBuilt('orders-service', {
      DATABASE_URL: db.url,
      USERS_URL: dead,
      CATALOG_URL: `http://127.0.0.1:${catalog.port}`,
    });
    const noCatalog = await startBuilt('orders-service', {
      DATABASE_URL: db.url,
      USERS_URL: `http://127.0.0.1:${users.port}`,
      CATALOG_URL: dead,
    });
    try {
      const before = await countRows(db, 'orders');
      const a = await order({ user_id: userId, product_id: productId, quantity: 1 }, {}, noUsers.port);
      expect(a.status).toBe(503);
      expect(a.json).toEqual({ error: 'users-service unavailable', dependency: 'users' });
      const b = await order({ user_id: userId, product_id: productId, quantity: 1 }, {}, noCatalog.port);
      expect(b.status).toBe(503);
      expect(b.json).toEqual({ error: 'catalog-service unavailable', dependency: 'catalog' });
      expect(await countRows(db, 'orders')).toBe(before);
      expect(await stockOf(productId)).toBe(3);
      expect(noCatalog.output()).toContain('catalog-service call failed');

      // Each attempt is recorded with status_code="error" (no response) under the client's target.
      const s = parseSamples((await call(noCatalog.port, 'GET', '/metrics')).text);
      const failed = [...s.keys()].find(
        (k) =>
          k.startsWith('http_client_request_duration_seconds_count{') &&
          k.includes('target="catalog-service"') &&
          k.includes('status_code="error"'),
      );
      expect(failed).toBeDefined();
      expect(s.get(failed as string)).toBeGreaterThanOrEqual(1);

      // Keep failing until the breaker opens: then calls are refused at once, each with one log
      // line, and readiness warns (still 200) instead of taking the replica out.
      const rejected = await waitFor('the catalog breaker to open', async () => {
        const r = await order({ user_id: userId, product_id: productId, quantity: 1 }, {}, noCatalog.port);
        expect(r.status).toBe(503);
        return noCatalog.output().includes('catalog-service call rejected: circuit breaker open') && r;
      });
      expect(rejected.json).toEqual({ error: 'catalog-service unavailable', dependency: 'catalog' });
      const ready = await call(noCatalog.port, 'GET', '/ready');
      expect(ready.status).toBe(200);
      expect(ready.json.checks['catalog-service'][0].status).toBe('warn');
    } finally {
      await Promise.all([noUsers.stop(), noCatalog.stop()]);
    }
  });

  it('reports postgres and one breaker check per downstream on /ready', async () => {
    const ready = await call(port, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.checks.postgres[0].status).toBe('pass');
    expect(ready.json.checks['users-service'][0].status).toBe('pass');
    expect(ready.json.checks['catalog-service'][0].status).toBe('pass');
  });

  it('records outbound calls per target and database queries, all labelled with the service', async () => {
    const s = parseSamples((await call(port, 'GET', '/metrics')).text);
    const keys = [...s.keys()];
    const client = (target: string, method: string, status: number) =>
      keys.find(
        (k) =>
          k.startsWith('http_client_request_duration_seconds_count{') &&
          k.includes(`target="${target}"`) &&
          k.includes(`method="${method}"`) &&
          k.includes(`status_code="${status}"`) &&
          k.includes('service="orders-service"'),
      );
    for (const [target, method, status] of [
      ['users-service', 'GET', 200],
      ['users-service', 'GET', 404],
      ['catalog-service', 'POST', 200],
      ['catalog-service', 'POST', 409],
    ] as const) {
      const key = client(target, method, status);
      expect(key, `${target} ${method} ${status}`).toBeDefined();
      expect(s.get(key as string)).toBeGreaterThan(0);
    }
    const insert = keys.find(
      (k) =>
        k.startsWith('database_query_duration_seconds_count{') &&
        k.includes('table="orders"') &&
        k.includes('operation="INSERT"') &&
        k.includes('service="orders-service"'),
    );
    expect(insert, keys.filter((k) => k.startsWith('database_')).join('\n')).toBeDefined();
    expect(
      s.get('http_requests_total{route="/orders",method="POST",status_code="201",service="orders-service"}'),
    ).toBeGreaterThan(0);
    expect(keys.filter((k) => k.startsWith('vigil_circuit_breaker_state{'))).toEqual([
      '{breaker="users-service",service="orders-service"}'.replace(/^/, 'vigil_circuit_breaker_state'),
      '{breaker="catalog-service",service="orders-service"}'.replace(/^/, 'vigil_circuit_breaker_state'),
    ]);
  });

  it('runs on the embedded PGlite without DATABASE_URL: one order written and read', async () => {
    const userId = await newUser();
    const productId = await newProduct(2);
    const embedded = await startBuilt('orders-service', {
      DATABASE_URL: '',
      USERS_URL: `http://127.0.0.1:${users.port}`,
      CATALOG_URL: `http://127.0.0.1:${catalog.port}`,
    });
    try {
      const r = await order({ user_id: userId, product_id: productId, quantity: 1 }, {}, embedded.port);
      expect(r.status).toBe(201);
      expect((await call(embedded.port, 'GET', `/orders/${r.json.id}`)).json).toEqual(r.json);
      expect(await stockOf(productId)).toBe(1);
    } finally {
      expect(await embedded.stop()).toBe(0);
    }
  });
});
