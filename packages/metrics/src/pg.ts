import type { DbMetrics } from './db.js';
import { parseSql, type SqlSummary } from './sql.js';

/**
 * The parts of `pg`'s Client and Pool that the instrumentation touches. Structural, so Vigil does
 * not depend on `pg` or its types.
 */
export interface PgClientLike {
  query: (...args: any[]) => any;
}
export interface PgPoolLike {
  on(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  off?(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  removeListener?(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  query: (...args: any[]) => any;
}

const ORIGINAL: unique symbol = Symbol.for('vigil.pg.originalQuery');

type Patched = PgClientLike & { [ORIGINAL]?: (...args: any[]) => any };

/** Cache of parsed statements; bounded, since SQL text with inlined literals is unbounded. */
class SummaryCache {
  private readonly map = new Map<string, SqlSummary>();
  constructor(private readonly max = 2000) {}
  get(text: string): SqlSummary {
    let v = this.map.get(text);
    if (v === undefined) {
      v = parseSql(text);
      if (this.map.size < this.max) this.map.set(text, v);
    }
    return v;
  }
}

function isPool(x: PgClientLike | PgPoolLike): x is PgPoolLike {
  // pg.Pool has totalCount/idleCount and connect(); a Client has neither counter.
  return typeof (x as { totalCount?: unknown }).totalCount === 'number';
}

/**
 * Time every query of a `pg` Client or Pool. For a Pool, every client it creates (and every
 * client already in it) is instrumented, so `pool.query()` and `pool.connect()` + `client.query()`
 * are both timed, each query once. Returns a function that removes the instrumentation.
 *
 * `operation` and `table` come from the SQL text through a bounded parser; a statement it cannot
 * classify is labelled `unknown`. Streams (`client.query(new Cursor(...))`) pass through untimed.
 */
export function instrumentPgWith(db: DbMetrics, target: PgClientLike | PgPoolLike): () => void {
  const cache = new SummaryCache();
  const patched: Patched[] = [];

  const patch = (client: Patched) => {
    if (client[ORIGINAL]) return;
    const original = client.query;
    client[ORIGINAL] = original;
    client.query = function vigilQuery(this: unknown, ...args: any[]) {
      const first = args[0];
      if (first && typeof first === 'object' && typeof first.submit === 'function') {
        return original.apply(this, args);
      }
      const text: unknown = typeof first === 'string' ? first : first?.text;
      const summary = typeof text === 'string' ? cache.get(text) : parseSql(undefined);
      const start = performance.now();
      const done = (ok: boolean) =>
        db.observe(
          summary.operation,
          summary.table,
          ok ? 'success' : 'error',
          (performance.now() - start) / 1000,
        );
      const last = args.length - 1;
      const cb = args[last];
      if (typeof cb === 'function') {
        args[last] = function (this: unknown, err: unknown, ...rest: unknown[]) {
          done(!err);
          return cb.call(this, err, ...rest);
        };
        return original.apply(this, args);
      }
      if (first && typeof first === 'object' && typeof first.callback === 'function') {
        const qcb = first.callback;
        first.callback = function (this: unknown, err: unknown, ...rest: unknown[]) {
          done(!err);
          return qcb.call(this, err, ...rest);
        };
        return original.apply(this, args);
      }
      let result: any;
      try {
        result = original.apply(this, args);
      } catch (err) {
        done(false);
        throw err;
      }
      if (result && typeof result.then === 'function') {
        return result.then(
          (r: unknown) => {
            done(true);
            return r;
          },
          (err: unknown) => {
            done(false);
            throw err;
          },
        );
      }
      return result;
    };
    patched.push(client);
  };

  if (isPool(target)) {
    const onConnect = (client: PgClientLike) => patch(client as Patched);
    target.on('connect', onConnect);
    // Clients the pool already holds (pg keeps them in _clients).
    const existing = (target as { _clients?: unknown })._clients;
    if (Array.isArray(existing)) for (const c of existing) patch(c as Patched);
    return () => {
      (target.off ?? target.removeListener)?.call(target, 'connect', onConnect);
      unpatchAll(patched);
    };
  }
  patch(target as Patched);
  return () => unpatchAll(patched);
}

function unpatchAll(list: Patched[]): void {
  for (const c of list) {
    const original = c[ORIGINAL];
    if (original) {
      c.query = original;
      delete c[ORIGINAL];
    }
  }
  list.length = 0;
}
