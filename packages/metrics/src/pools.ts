import { dbPoolConnections, dbPoolWaiting, POOL_CONNECTION_STATES } from '@vigil/catalog';
import { checkKnownKeys, checkName, checkObject, VigilOptionError } from '@vigil/core';
import type { Instruments } from './instruments.js';

export interface PoolOptions {
  /** The `pool` label: tells the pools of one service apart (`primary`, `replica`). Default `default`. */
  name?: string;
}

interface Counts {
  total: number;
  idle: number;
  waiting: number;
}

type Read = () => Counts;

/** A pg `Pool`: its public counters. */
interface PgPoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** A mysql2 pool (callback API; the promise API's `pool.pool` is one): its queues, read by length. */
interface Mysql2PoolQueues {
  readonly _allConnections: { readonly length: number };
  readonly _freeConnections: { readonly length: number };
  readonly _connectionQueue: { readonly length: number };
}

const isPg = (p: unknown): p is PgPoolCounts =>
  typeof (p as PgPoolCounts).totalCount === 'number' &&
  typeof (p as PgPoolCounts).idleCount === 'number' &&
  typeof (p as PgPoolCounts).waitingCount === 'number';

const isMysql2 = (p: unknown): p is Mysql2PoolQueues =>
  typeof p === 'object' &&
  p !== null &&
  typeof (p as Mysql2PoolQueues)._allConnections?.length === 'number' &&
  typeof (p as Mysql2PoolQueues)._freeConnections?.length === 'number' &&
  typeof (p as Mysql2PoolQueues)._connectionQueue?.length === 'number';

/** How to read a pool's counts, and its `system` label; undefined for what is not a known pool. */
function readerOf(pool: unknown): { system: string; read: Read } | undefined {
  if (typeof pool !== 'object' || pool === null) return undefined;
  if (isPg(pool)) {
    return {
      system: 'postgresql',
      read: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    };
  }
  // mysql2/promise wraps the callback pool as `.pool`.
  const core = isMysql2(pool) ? pool : (pool as { pool?: unknown }).pool;
  if (isMysql2(core)) {
    return {
      system: 'mysql',
      read: () => ({
        total: core._allConnections.length,
        idle: core._freeConnections.length,
        waiting: core._connectionQueue.length,
      }),
    };
  }
  return undefined;
}

export interface PoolGauges {
  /** Reports a pool's connections and waiting requests at every scrape; returns the undo. */
  add(pool: unknown, options: PoolOptions | undefined): () => void;
}

/**
 * `database_pool_connections{pool, system, state}` and `database_pool_waiting_requests{pool,
 * system}`, read from the pools at scrape time (nothing runs between scrapes). Pools given the
 * same name and system are summed.
 */
export function createPoolGauges(ins: Instruments): PoolGauges {
  const pools = new Map<string, { name: string; system: string; reads: Set<Read> }>();
  let stop: (() => void) | undefined;
  // Registered with the handle's other database metrics; nothing is written until a pool is added.
  const hidden = { hideWhenEmpty: true };
  ins.instrument(dbPoolConnections, hidden);
  ins.instrument(dbPoolWaiting, hidden);

  const start = () => {
    const conns = ins.instrument(dbPoolConnections, hidden);
    const waiting = ins.instrument(dbPoolWaiting, hidden);
    const { idle, used } = POOL_CONNECTION_STATES;
    const collect = () => {
      for (const { name, system, reads } of pools.values()) {
        const sum: Counts = { total: 0, idle: 0, waiting: 0 };
        for (const read of reads) {
          try {
            const c = read();
            sum.total += c.total;
            sum.idle += c.idle;
            sum.waiting += c.waiting;
          } catch {
            // A pool that cannot be read adds nothing; the scrape goes on.
          }
        }
        conns.labels(name, system, idle).set(sum.idle);
        conns.labels(name, system, used).set(Math.max(0, sum.total - sum.idle));
        waiting.labels(name, system).set(sum.waiting);
      }
    };
    const off = [conns.collect(collect), waiting.collect(collect)];
    stop = () => {
      for (const o of off) o();
      stop = undefined;
    };
    return { conns, waiting };
  };
  let gauges: ReturnType<typeof start> | undefined;

  return {
    add(pool, options) {
      const reader = readerOf(pool);
      if (reader === undefined) {
        throw new VigilOptionError(
          'instrumentPool(pool)',
          'a pg Pool or a mysql2 pool (callback or promise API)',
          pool,
        );
      }
      const input = checkObject('options', options);
      checkKnownKeys('', input, ['name']);
      const name = input.name === undefined ? 'default' : checkName('name', input.name);
      gauges ??= start();
      const key = `${reader.system}\u0000${name}`;
      let entry = pools.get(key);
      if (entry === undefined) {
        entry = { name, system: reader.system, reads: new Set() };
        pools.set(key, entry);
      }
      const read = reader.read;
      entry.reads.add(read);
      const e = entry;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        e.reads.delete(read);
        if (e.reads.size > 0) return;
        pools.delete(key);
        const g = gauges;
        if (g !== undefined) {
          for (const state of Object.values(POOL_CONNECTION_STATES)) g.conns.remove(name, e.system, state);
          g.waiting.remove(name, e.system);
        }
        if (pools.size === 0) {
          stop?.();
          gauges = undefined;
        }
      };
    },
  };
}
