import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, waitFor } from '../helpers/services.js';
import type { Running } from '../helpers/spawn.js';
import {
  assertBuilt,
  type Isolation,
  isolate,
  metric,
  metricsOf,
  type Stack,
  samples,
  start,
  startStack,
  stopAll,
} from './stack.js';

// catalog-service goes away: orders' breaker opens, orders fails fast with a 503 naming catalog and
// stays ready (the breaker check warns); catalog comes back on the same port: the breaker closes
// after its reset timeout and orders succeed again.

let iso: Isolation;
let stack: Stack;
let catalog2: Running | undefined;

beforeAll(async () => {
  assertBuilt();
  iso = await isolate('breaker');
  // BREAKER_RESET_TIMEOUT_MS (orders-service; not in the shared contract): a short reset timeout keeps
  // the test short; without it the breaker closes after the default and the test only takes longer.
  stack = await startStack(iso.env, { 'orders-service': { BREAKER_RESET_TIMEOUT_MS: '3000' } });
});

afterAll(async () => {
  try {
    if (catalog2) await stopAll([catalog2]);
    await stack?.stop();
  } finally {
    await iso?.drop();
  }
});

/** The orders breaker whose name mentions catalog: its state (0 closed, 1 half-open, 2 open). */
async function catalogBreaker(): Promise<{ name: string; state: number }> {
  const all = samples(await metricsOf(stack.orders.port), 'vigil_circuit_breaker_state');
  const b = all.find((s) => /catalog/.test(s.labels.breaker ?? ''));
  if (!b) throw new Error(`no catalog breaker in ${JSON.stringify(all)}`);
  return { name: b.labels.breaker as string, state: b.value };
}

/** The breaker's state-change log line, plain or inside a JSON log (quotes escaped). */
const logLine = (name: string, what: string) =>
  new RegExp(`circuit breaker \\\\?"${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\\\?" ${what}`);

it('opens when catalog-service is down, fails fast, keeps orders ready, and closes when it is back', async () => {
  const u = await call(stack.users.port, 'POST', '/users', {
    name: 'Grace',
    email: `grace-${Date.now()}@example.com`,
  });
  const p = await call(stack.catalog.port, 'POST', '/products', {
    sku: `BRK-${Date.now()}`,
    name: 'Kettle',
    price_cents: 4000,
    stock: 100,
  });
  expect([u.status, p.status]).toEqual([201, 201]);
  const order = { user_id: u.json.id, product_id: p.json.id, quantity: 1 };
  expect((await call(stack.orders.port, 'POST', '/orders', order)).status).toBe(201);
  expect((await catalogBreaker()).state).toBe(0);

  const catalogPort = stack.catalog.port;
  expect(await stack.catalog.stop('SIGTERM')).toBe(0);

  // Every attempt fails (connection refused) until the breaker has seen enough failures to open.
  const statuses = new Set<number>();
  await waitFor('the catalog breaker to open', async () => {
    const r = await call(stack.orders.port, 'POST', '/orders', order);
    statuses.add(r.status);
    return (await catalogBreaker()).state === 2;
  });
  expect([...statuses].filter((s) => s !== 503)).toEqual([]);
  const { name } = await catalogBreaker();
  expect(stack.orders.output()).toMatch(logLine(name, 'opened'));

  // Open: rejected by the breaker without calling catalog (the reject counter moves), a clear 503.
  const events = async (event: string) =>
    metric(await metricsOf(stack.orders.port), 'vigil_circuit_breaker_events_total', {
      breaker: name,
      event,
    });
  const rejectsBefore = (await events('reject')) || 0;
  const refused = await call(stack.orders.port, 'POST', '/orders', order);
  expect(refused.status).toBe(503);
  expect(refused.json).toMatchObject({ error: 'catalog-service unavailable', dependency: 'catalog' });
  expect(await events('reject')).toBe(rejectsBefore + 1);

  // Still ready: an open breaker is a warning, not a reason to leave the load balancer.
  const ready = await call(stack.orders.port, 'GET', '/readyz');
  expect(ready.status).toBe(200);
  expect(ready.json.status).toBe('warn');
  const checks = Object.entries(ready.json.checks as Record<string, { status: string }[]>);
  const breakerCheck = checks.find(([k]) => /catalog/.test(k));
  expect(breakerCheck, JSON.stringify(ready.json)).toBeDefined();
  expect(breakerCheck![1][0]!.status).toBe('warn');

  // Back on the same port (same database and cache prefix): after the reset timeout a trial call
  // goes through and the breaker closes.
  catalog2 = await start('catalog-service', { ...iso.env, PORT: String(catalogPort) });
  expect(catalog2.port).toBe(catalogPort);
  let last = 0;
  await waitFor(
    'an order to succeed after catalog-service is back',
    async () => {
      last = (await call(stack.orders.port, 'POST', '/orders', order)).status;
      return last === 201;
    },
    90_000,
    500,
  );
  expect((await catalogBreaker()).state).toBe(0);
  expect(stack.orders.output()).toMatch(logLine(name, 'closed'));
  expect((await call(stack.orders.port, 'POST', '/orders', order)).status).toBe(201);
  expect((await call(stack.orders.port, 'GET', '/readyz')).json.status).toBe('pass');
});
