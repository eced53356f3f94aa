import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_URL } from '../helpers/env.js';
import { request } from '../helpers/http.js';
import { type Running, startService } from '../helpers/spawn.js';

// The three example services as real processes on ephemeral ports, against the real PostgreSQL
// (one schema per test file, dropped afterwards) and the real Redis (one key prefix per file).

export const ROOT = join(import.meta.dirname, '..', '..');
export const REDIS_URL = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export type ServiceName = 'users-service' | 'catalog-service' | 'orders-service';
export const script = (name: ServiceName) => join(ROOT, 'examples', name, 'dist', 'server.js');

export function assertBuilt(): void {
  for (const name of ['users-service', 'catalog-service', 'orders-service'] as const) {
    if (!existsSync(script(name))) throw new Error(`${script(name)} is missing: run \`pnpm build\` first`);
  }
}

export interface Isolation {
  /** Environment for every service: DATABASE_URL with its own search_path, REDIS_URL, CACHE_PREFIX. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema and Redis key prefix, named after `tag`. */
export async function isolate(tag: string): Promise<Isolation> {
  const id = `e2e_${tag}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${id}`);
  } finally {
    await admin.end();
  }
  const prefix = `${id}:`;
  return {
    env: {
      DATABASE_URL: `${PG_URL}?options=-c%20search_path%3D${id}`,
      REDIS_URL,
      CACHE_PREFIX: prefix,
    },
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
      } finally {
        await c.end();
      }
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Env every e2e service gets: quiet, quick to shut down, no tracing unless a test turns it on. */
export const BASE_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  SHUTDOWN_DRAIN_DELAY_MS: '500',
  OTEL_SDK_DISABLED: 'true',
};

/** Starts one service and waits for /readyz 200. */
export async function start(name: ServiceName, env: Record<string, string>): Promise<Running> {
  const svc = await startService(script(name), { ...BASE_ENV, ...env });
  await poll(`${name} /readyz`, async () => (await request(svc.port, 'GET', '/readyz')).status === 200);
  return svc;
}

export interface Stack {
  users: Running;
  catalog: Running;
  orders: Running;
  stop(): Promise<void>;
}

/** users and catalog, then orders pointed at them. */
export async function startStack(
  env: Record<string, string>,
  perService: Partial<Record<ServiceName, Record<string, string>>> = {},
): Promise<Stack> {
  const started: Running[] = [];
  try {
    const track = (s: Running) => {
      started.push(s);
      return s;
    };
    const [users, catalog] = await Promise.all([
      start('users-service', { ...env, ...perService['users-service'] }).then(track),
      start('catalog-service', { ...env, ...perService['catalog-service'] }).then(track),
    ]);
    const orders = await start('orders-service', {
      ...env,
      USERS_URL: `http://127.0.0.1:${users.port}`,
      CATALOG_URL: `http://127.0.0.1:${catalog.port}`,
      ...perService['orders-service'],
    });
    started.push(orders);
    return { users, catalog, orders, stop: () => stopAll(started) };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

/** Kills what still runs. */
export async function stopAll(list: Running[]): Promise<void> {
  await Promise.all(list.map((s) => s.stop('SIGKILL')));
}

/** Polls `check` every `everyMs` until it returns true; throws `what` at the deadline. */
export async function poll(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** One JSON request; resolves with status and parsed body. */
export async function json(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Sum of the samples of `name` whose labels include every pair in `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const s of samples(text, name)) {
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** Every sample of `name` (exact name, no suffix) with its labels. */
export function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    if (line[name.length] === '{') {
      for (const m of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
        labels[m[1] as string] = m[2] as string;
    }
    const rest = line
      .slice(close >= 0 ? close + 1 : name.length)
      .trim()
      .split(' ');
    out.push({ labels, value: Number(rest[0]) });
  }
  return out;
}

export async function metricsOf(port: number): Promise<string> {
  const r = await request(port, 'GET', '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.body;
}
