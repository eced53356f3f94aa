import { Redis } from 'ioredis';

/** The product cache: Redis when REDIS_URL is set, else a bounded in-process map. */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  /** Never throws: a cache that is down is a miss. */
  get(key: string): Promise<string | undefined>;
  /** Never throws: a failed write only costs a later miss. */
  set(key: string, value: string): Promise<void>;
  /** Never throws; a failed delete leaves the entry until its TTL (which bounds staleness). */
  del(key: string): Promise<void>;
  close(): Promise<void>;
}

interface CacheLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisCache extends Cache {
  readonly kind: 'redis';
  readonly client: Redis;
}

/**
 * A Redis cache that fails fast: no offline queue (a command while disconnected fails at once
 * instead of waiting for the reconnect) and a short command timeout, so a Redis outage costs a
 * cache miss, not a slow request. ioredis keeps reconnecting in the background.
 */
export async function createRedisCache(
  url: string,
  opts: { prefix: string; ttlSeconds: number; logger: CacheLogger },
): Promise<RedisCache> {
  const { prefix, ttlSeconds, logger } = opts;
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    connectTimeout: 2_000,
  });
  // One line per outage, not one per reconnect attempt.
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn({ err: err.message }, 'redis unavailable: serving without the cache');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({}, 'redis available again');
  });
  try {
    await client.connect();
  } catch {
    // Logged by the error handler above; the service starts anyway and reads from PostgreSQL.
  }
  const failed = (op: string) => (err: unknown) => {
    if (!down) logger.warn({ op, err: (err as Error).message }, 'redis command failed');
  };
  return {
    kind: 'redis',
    client,
    async get(key) {
      return (await client.get(prefix + key).catch(failed('get'))) ?? undefined;
    },
    async set(key, value) {
      await client.set(prefix + key, value, 'EX', ttlSeconds).catch(failed('set'));
    },
    async del(key) {
      await client.del(prefix + key).catch(failed('del'));
    },
    async close() {
      if (client.status === 'end') return;
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** In-process TTL cache, bounded: past `maxEntries` the oldest entry goes. One copy per replica. */
export function createMemoryCache(opts: { ttlSeconds: number; maxEntries?: number }): Cache {
  const ttlMs = opts.ttlSeconds * 1000;
  const max = opts.maxEntries ?? 10_000;
  const map = new Map<string, { value: string; expires: number }>();
  return {
    kind: 'memory',
    async get(key) {
      const e = map.get(key);
      if (e === undefined) return undefined;
      if (e.expires <= Date.now()) {
        map.delete(key);
        return undefined;
      }
      return e.value;
    },
    async set(key, value) {
      map.delete(key); // re-insert at the end: Map order is the eviction order
      if (map.size >= max) map.delete(map.keys().next().value as string);
      map.set(key, { value, expires: Date.now() + ttlMs });
    },
    async del(key) {
      map.delete(key);
    },
    async close() {
      map.clear();
    },
  };
}
