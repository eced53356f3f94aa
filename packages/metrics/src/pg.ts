import { getTracingHook, noteDbQuery } from '@vigil/core';
import type { DbMetrics } from './db.js';
import { parseSql, SummaryCache } from './sql.js';

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
const ORIGINAL_CONNECT: unique symbol = Symbol.for('vigil.pg.originalConnect');

type Patched = PgClientLike & {
  [ORIGINAL]?: (...args: any[]) => any;
  database?: unknown;
  host?: unknown;
  port?: unknown;
};
type PatchedPool = PgPoolLike & {
  connect?: (...args: any[]) => any;
  [ORIGINAL_CONNECT]?: (...args: any[]) => any;
};

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
 *
 * With tracing started (`@vigil/tracing`), each query is also a database client span under the
 * active span, its trace an exemplar of the histogram, and callbacks (the query's and the pool's
 * `connect`) run in the caller's context rather than in whichever request's socket delivered them.
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
      // Tracing: one property read when off. The span starts before the timer, so both cover the query.
      noteDbQuery();
      const hook = getTracingHook();
      let span: ReturnType<NonNullable<typeof hook>['startDb']>;
      if (hook !== undefined) {
        const c = this as Patched;
        span = hook.startDb({
          system: 'postgresql',
          operation: summary.operation,
          table: summary.table,
          text: typeof text === 'string' ? text : undefined,
          namespace: typeof c?.database === 'string' ? c.database : undefined,
          host: typeof c?.host === 'string' ? c.host : undefined,
          port: typeof c?.port === 'number' ? c.port : undefined,
        });
      }
      const start = performance.now();
      const done = (ok: boolean, err?: unknown) => {
        const seconds = (performance.now() - start) / 1000;
        if (span !== undefined) hook?.endDb(span, ok ? undefined : (err ?? new Error('query failed')));
        db.observe(
          summary.operation,
          summary.table,
          ok ? 'success' : 'error',
          seconds,
          span?.exemplar,
          'postgresql',
        );
      };
      const last = args.length - 1;
      const cb = args[last];
      if (typeof cb === 'function') {
        const wrapped = function (this: unknown, err: unknown, ...rest: unknown[]) {
          done(!err, err);
          return cb.call(this, err, ...rest);
        };
        args[last] = hook === undefined ? wrapped : hook.bind(wrapped);
        return original.apply(this, args);
      }
      if (first && typeof first === 'object' && typeof first.callback === 'function') {
        const qcb = first.callback;
        const wrapped = function (this: unknown, err: unknown, ...rest: unknown[]) {
          done(!err, err);
          return qcb.call(this, err, ...rest);
        };
        first.callback = hook === undefined ? wrapped : hook.bind(wrapped);
        return original.apply(this, args);
      }
      let result: any;
      try {
        result = original.apply(this, args);
      } catch (err) {
        done(false, err);
        throw err;
      }
      if (result && typeof result.then === 'function') {
        return result.then(
          (r: unknown) => {
            done(true);
            return r;
          },
          (err: unknown) => {
            done(false, err);
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
    const pool = target as PatchedPool;
    const connect = pool.connect;
    if (typeof connect === 'function' && !pool[ORIGINAL_CONNECT]) {
      // pool.query() and pool.connect(cb) hand out clients from a callback that runs wherever a
      // client was released: with tracing, bind it to the caller so its queries nest correctly.
      pool[ORIGINAL_CONNECT] = connect;
      pool.connect = function vigilConnect(this: unknown, ...args: any[]) {
        const hook = getTracingHook();
        if (hook !== undefined && typeof args[0] === 'function') args[0] = hook.bind(args[0]);
        return connect.apply(this, args);
      };
    }
    return () => {
      (target.off ?? target.removeListener)?.call(target, 'connect', onConnect);
      if (pool[ORIGINAL_CONNECT]) {
        pool.connect = pool[ORIGINAL_CONNECT];
        delete pool[ORIGINAL_CONNECT];
      }
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
