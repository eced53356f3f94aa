import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_URL } from './env.js';
import { type Running, startService } from './spawn.js';

// The three example services (examples/*-service) as real processes, shared by test/services and
// test/e2e: their built scripts, HTTP calls with JSON, an isolated PostgreSQL schema and Redis key
// prefix, and polling for a condition.

export type ServiceName = 'users-service' | 'catalog-service' | 'orders-service';
export const SERVICES: readonly ServiceName[] = ['users-service', 'catalog-service', 'orders-service'];
export const REDIS_URL = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The built entry of a service (`pnpm test` builds everything first; alone: `pnpm --filter
 * "<name>..." build`). Tests never build: files run in parallel and would rebuild under each other.
 */
export function serviceScript(name: ServiceName): string {
  const script = join(import.meta.dirname, '..', '..', 'examples', name, 'dist', 'server.js');
  if (!existsSync(script))
    throw new Error(`${script} is missing: run \`pnpm --filter "${name}..." build\` first`);
  return script;
}

/** Starts the built service with tracing off and no drain delay (tests of its own behaviour). */
export function startBuilt(name: ServiceName, env: Record<string, string> = {}): Promise<Running> {
  return startService(serviceScript(name), {
    OTEL_SDK_DISABLED: 'true',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    ...env,
  });
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** One HTTP call with an optional JSON body (a string body is sent as is, for malformed JSON). */
export async function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface TestSchema {
  /** The schema's name (unique per call). */
  name: string;
  /** DATABASE_URL whose search_path is the schema, so the service's tables land there. */
  url: string;
  /** Runs SQL against the schema (for asserting what was, or was not, written). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema for one test file, dropped (with its tables) by `drop()`. */
export async function createTestSchema(prefix: string): Promise<TestSchema> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  await admin.query(`CREATE SCHEMA ${name}`);
  const sep = PG_URL.includes('?') ? '&' : '?';
  return {
    name,
    url: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${name}`)}`,
    async query(sql, params) {
      const client = await admin.connect();
      try {
        await client.query(`SET search_path TO ${name}`);
        return (await client.query(sql, params)).rows;
      } finally {
        client.release();
      }
    },
    async drop() {
      await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await admin.end();
    },
  };
}

/** Counts the rows of `table` in the schema. */
export async function countRows(db: TestSchema, table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`))[0]?.n);
}

/** Deletes every Redis key under `prefix` (the test's own CACHE_PREFIX). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `fn` every `everyMs` until it returns a truthy value (which it resolves with); at the
 * deadline throws with `what` and the last error `fn` threw, if any.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
