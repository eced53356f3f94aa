import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_URL } from '../helpers/env.js';
import { type Running, startService } from '../helpers/spawn.js';

export type ServiceName = 'users-service' | 'catalog-service' | 'orders-service';

/**
 * Starts the built service (`pnpm test` builds everything first; alone: `pnpm --filter <name>
 * build`). Tracing is off and the drain delay short: these tests are about the service's own behaviour.
 */
export function startBuilt(name: ServiceName, env: Record<string, string> = {}): Promise<Running> {
  const script = join(import.meta.dirname, '..', '..', 'examples', name, 'dist', 'server.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`pnpm --filter ${name} build\` first`);
  return startService(script, { OTEL_SDK_DISABLED: 'true', SHUTDOWN_DRAIN_DELAY_MS: '0', ...env });
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

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const REDIS_URL = process.env.VIGIL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

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
