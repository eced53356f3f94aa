import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from '../helpers/services.js';
import {
  assertBuilt,
  type Isolation,
  isolate,
  metric,
  metricsOf,
  ROOT,
  type Stack,
  samples,
  startStack,
} from './stack.js';

// One order placed through the three services, seen in each service's metrics and as one trace:
// orders' server span -> its client spans -> users' and catalog's server spans -> DB spans.

const RECEIVER = join(ROOT, 'packages', 'tracing', 'test', 'fixtures', 'otlp-receiver.mjs');
const SERVER = 2; // OTLP SpanKind
const CLIENT = 3;

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

let receiver: ChildProcess;
let receiverPort: number;
let iso: Isolation;
let stack: Stack;

beforeAll(async () => {
  assertBuilt();
  // The receiver exits when its stdin closes, so it never outlives the test run.
  receiver = spawn(process.execPath, [RECEIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: receiver.stdout! }), 'line')) as [string];
  receiverPort = (JSON.parse(line) as { port: number }).port;
  iso = await isolate('flow');
  stack = await startStack({
    ...iso.env,
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
    OTEL_TRACES_SAMPLER: 'always_on',
    // Export within a fraction of a second instead of the default 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
});

afterAll(async () => {
  receiver?.stdin?.end();
  try {
    await stack?.stop();
  } finally {
    await iso?.drop();
  }
});

const spans = async (): Promise<Span[]> =>
  (await fetch(`http://127.0.0.1:${receiverPort}/spans`)).json() as Promise<Span[]>;

describe('an order through users, catalog and orders', () => {
  let user: { id: number };
  let product: { id: number };
  let order: { id: number };

  it('is created (201) and stock is reserved', async () => {
    const u = await call(stack.users.port, 'POST', '/users', {
      name: 'Ada',
      email: `ada-${Date.now()}@example.com`,
    });
    expect(u.status).toBe(201);
    user = u.json;
    const p = await call(stack.catalog.port, 'POST', '/products', {
      sku: `SKU-${Date.now()}`,
      name: 'Lamp',
      price_cents: 2500,
      stock: 5,
    });
    expect(p.status).toBe(201);
    product = p.json;
    const o = await call(stack.orders.port, 'POST', '/orders', {
      user_id: user.id,
      product_id: product.id,
      quantity: 2,
    });
    expect(o.status, JSON.stringify(o.json)).toBe(201);
    expect(o.json).toMatchObject({
      user_id: user.id,
      product_id: product.id,
      quantity: 2,
      status: 'confirmed',
    });
    order = o.json;
    const after = await call(stack.catalog.port, 'GET', `/products/${product.id}`);
    expect(after.json.stock).toBe(3);
    expect((await call(stack.orders.port, 'GET', `/orders/${order.id}`)).json).toMatchObject({
      id: order.id,
    });
  });

  it('shows in every service’s metrics under route templates, with database timing', async () => {
    const users = await metricsOf(stack.users.port);
    const catalog = await metricsOf(stack.catalog.port);
    const orders = await metricsOf(stack.orders.port);
    const req = (text: string, service: string, method: string, route: string, status: string) =>
      metric(text, 'http_requests_total', { service, method, route, status_code: status });

    expect(req(users, 'users-service', 'POST', '/users', '201')).toBe(1);
    expect(req(users, 'users-service', 'GET', '/users/:id', '200')).toBeGreaterThanOrEqual(1); // orders' check
    expect(req(catalog, 'catalog-service', 'POST', '/products', '201')).toBe(1);
    expect(req(catalog, 'catalog-service', 'POST', '/products/:id/reserve', '200')).toBeGreaterThanOrEqual(1);
    expect(req(orders, 'orders-service', 'POST', '/orders', '201')).toBe(1);
    expect(req(orders, 'orders-service', 'GET', '/orders/:id', '200')).toBe(1);
    // Raw ids never become label values.
    for (const text of [users, catalog, orders]) {
      const routes = samples(text, 'http_requests_total').map((s) => s.labels.route ?? '');
      expect(routes.filter((r) => /\/\d+/.test(r))).toEqual([]);
    }

    for (const [text, service] of [
      [users, 'users-service'],
      [catalog, 'catalog-service'],
      [orders, 'orders-service'],
    ] as const) {
      expect(metric(text, 'database_query_duration_seconds_count', { service }), service).toBeGreaterThan(0);
    }

    // Orders' outbound calls: one `target` per downstream, both with a 2xx.
    const client = samples(orders, 'http_client_request_duration_seconds_count').filter((s) => s.value > 0);
    const targets = [...new Set(client.map((s) => s.labels.target))];
    expect(targets, JSON.stringify(client)).toHaveLength(2);
    const ok = (s: (typeof client)[number]) => /^2/.test(s.labels.status_code ?? '');
    expect(client.filter((s) => /user/.test(s.labels.target ?? '') && ok(s))).not.toEqual([]);
    expect(client.filter((s) => /catalog/.test(s.labels.target ?? '') && ok(s))).not.toEqual([]);
  });

  it('is one trace across the three services, down to their database queries', async () => {
    const service = (s: Span) => String(s.resource['service.name']);
    let trace: Span[] = [];
    let root: Span | undefined;
    // Spans arrive in batches from three processes: wait until the whole tree is there.
    await waitFor(
      'the order trace in the OTLP receiver',
      async () => {
        const all = await spans();
        root = all.find(
          (s) =>
            service(s) === 'orders-service' &&
            s.kind === SERVER &&
            s.attributes['http.route'] === '/orders' &&
            s.attributes['http.request.method'] === 'POST',
        );
        if (!root) return false;
        trace = all.filter((s) => s.traceId === root!.traceId);
        const servers = trace.filter((s) => s.kind === SERVER).map(service);
        const db = new Set(trace.filter((s) => s.attributes['db.system.name'] !== undefined).map(service));
        return servers.includes('users-service') && servers.includes('catalog-service') && db.size === 3;
      },
      20_000,
      200,
    );
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const descends = (s: Span, from: Span) => {
      for (let p = s.parentSpanId; p !== undefined; p = byId.get(p)?.parentSpanId) {
        if (p === from.spanId) return true;
      }
      return false;
    };
    const underRoot = (s: Span) => descends(s, root!);

    // Orders' client spans (fetch) sit under its server span and are the parents of the
    // downstream server spans.
    for (const [name, route] of [
      ['users-service', '/users/:id'],
      ['catalog-service', '/products/:id/reserve'],
    ] as const) {
      const server = trace.find(
        (s) => service(s) === name && s.kind === SERVER && s.attributes['http.route'] === route,
      );
      expect(server, `${name} server span ${route}`).toBeDefined();
      const parent = byId.get(server!.parentSpanId ?? '');
      expect(parent, `parent of ${name}'s server span`).toBeDefined();
      expect(service(parent!)).toBe('orders-service');
      expect(parent!.kind).toBe(CLIENT);
      expect(underRoot(parent!)).toBe(true);
      // The downstream's database spans belong to its request.
      const dbSpans = trace.filter(
        (s) => service(s) === name && s.attributes['db.system.name'] !== undefined,
      );
      expect(dbSpans.filter((s) => descends(s, server!)).length, `${name} db spans`).toBeGreaterThan(0);
    }
    const ordersDb = trace.filter(
      (s) => service(s) === 'orders-service' && s.attributes['db.system.name'] !== undefined,
    );
    expect(ordersDb.length).toBeGreaterThan(0);
    expect(ordersDb.every(underRoot)).toBe(true);
    expect(ordersDb.map((s) => s.attributes['db.system.name'])).toContain('postgresql');
  });
});
