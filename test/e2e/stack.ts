import { join } from 'node:path';
import { request } from '../helpers/http.js';
import {
  createTestSchema,
  deleteKeys,
  REDIS_URL,
  SERVICES,
  type ServiceName,
  serviceScript,
  waitFor,
} from '../helpers/services.js';
import { type Running, startService } from '../helpers/spawn.js';

// The three example services as real processes on ephemeral ports, against the real PostgreSQL
// (one schema per test file, dropped afterwards) and the real Redis (one key prefix per file).

export const ROOT = join(import.meta.dirname, '..', '..');

export function assertBuilt(): void {
  for (const name of SERVICES) serviceScript(name);
}

export interface Isolation {
  /** Environment for every service: DATABASE_URL with its own search_path, REDIS_URL, CACHE_PREFIX. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema and Redis key prefix, named after `tag`. */
export async function isolate(tag: string): Promise<Isolation> {
  const schema = await createTestSchema(`e2e_${tag}`);
  const prefix = `${schema.name}:`;
  return {
    env: { DATABASE_URL: schema.url, REDIS_URL, CACHE_PREFIX: prefix },
    async drop() {
      await schema.drop();
      await deleteKeys(prefix);
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
  const svc = await startService(serviceScript(name), { ...BASE_ENV, ...env });
  await waitFor(`${name} /readyz`, async () => (await request(svc.port, 'GET', '/readyz')).status === 200);
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
