import diagnostics from 'node:diagnostics_channel';
import { type DbTrace, getTracingHook, LABEL_VALUES, noteDbQuery, type TracingHook } from '@vigil/core';
import type { DbMetrics } from './db.js';
import { SummaryCache } from './sql.js';

/**
 * Query timing for drivers that publish their calls on `diagnostics_channel` TracingChannels:
 * `mysql2` (3.20+: `mysql2:query`, `mysql2:execute`) and `ioredis` (5.11+: `ioredis:command`). No
 * driver object is patched; every connection and pool of the process is covered, and a process
 * without such a driver pays nothing.
 */

/** What mysql2 and ioredis put in a TracingChannel context (the same object for one call's events). */
interface DriverContext {
  /** mysql2: the SQL text (values inlined by `query()`). */
  query?: unknown;
  /** ioredis: the command name. */
  command?: unknown;
  database?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  [STATE]?: Call;
}

interface Call {
  readonly t0: number;
  readonly operation: string;
  readonly table: string;
  readonly hook: TracingHook | undefined;
  readonly span: DbTrace | undefined;
}

const STATE = Symbol('vigil.db.call');

/** Distinct Redis command labels kept; custom and module commands beyond it are `_OTHER`. */
const MAX_COMMANDS = 256;
const COMMAND = /^[a-z][a-z0-9_.|-]{0,39}$/i;

type Describe = (ctx: DriverContext) => { operation: string; table: string; text?: string | undefined };

function subscribe(
  db: DbMetrics,
  channels: readonly string[],
  system: string,
  describe: Describe,
): () => void {
  const start = (message: unknown) => {
    try {
      begin(message as DriverContext);
    } catch {
      // A channel subscriber that throws crashes the process: observing a query never does.
    }
  };
  const begin = (ctx: DriverContext) => {
    const { operation, table, text } = describe(ctx);
    // One property read when tracing is off; the span starts before the timer, so both cover the call.
    noteDbQuery();
    const hook = getTracingHook();
    const span = hook?.startDb({
      system,
      operation,
      table,
      text,
      namespace:
        typeof ctx.database === 'string' && ctx.database !== ''
          ? ctx.database
          : typeof ctx.database === 'number'
            ? String(ctx.database)
            : undefined,
      host: typeof ctx.serverAddress === 'string' ? ctx.serverAddress : undefined,
      port: typeof ctx.serverPort === 'number' ? ctx.serverPort : undefined,
    });
    ctx[STATE] = { t0: performance.now(), operation, table, hook, span };
  };
  // The callback or promise settled (`error` is set first when it failed).
  const settled = (message: unknown) => {
    try {
      end(message as DriverContext);
    } catch {
      // As above.
    }
  };
  const end = (ctx: DriverContext) => {
    const call = ctx[STATE];
    if (call === undefined) return;
    ctx[STATE] = undefined;
    const seconds = (performance.now() - call.t0) / 1000;
    const failed = ctx.error !== undefined && ctx.error !== null;
    if (call.span !== undefined) call.hook?.endDb(call.span, failed ? ctx.error : undefined);
    db.observe(
      call.operation,
      call.table,
      failed ? 'error' : 'success',
      seconds,
      call.span?.exemplar,
      system,
    );
  };
  const handlers = { start, asyncStart: settled };
  const traced = channels.map((name) => diagnostics.tracingChannel(name));
  for (const t of traced) t.subscribe(handlers as never);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const t of traced) t.unsubscribe(handlers as never);
  };
}

/**
 * Time every `mysql2` query and execute of the process: `database_query_duration_seconds` with
 * `system="mysql"`, operation and table from the SQL, and a database span under the active span.
 */
export function observeMysql2(db: DbMetrics): () => void {
  const cache = new SummaryCache();
  return subscribe(db, ['mysql2:query', 'mysql2:execute'], 'mysql', (ctx) => {
    const text = typeof ctx.query === 'string' ? ctx.query : undefined;
    const s = cache.get(text);
    return { operation: s.operation, table: s.table, text };
  });
}

/**
 * Time every `ioredis` command of the process: `database_query_duration_seconds` with
 * `system="redis"`, `operation` the command name (`GET`), `table` `unknown` (keys never become
 * labels), and a database span under the active span.
 */
export function observeIoredis(db: DbMetrics): () => void {
  const seen = new Map<string, string>();
  return subscribe(db, ['ioredis:command'], 'redis', (ctx) => {
    const name = typeof ctx.command === 'string' ? ctx.command : '';
    let operation = seen.get(name);
    if (operation === undefined) {
      operation =
        COMMAND.test(name) && seen.size < MAX_COMMANDS ? name.toUpperCase() : LABEL_VALUES.otherMethod;
      if (seen.size < MAX_COMMANDS) seen.set(name, operation);
    }
    return { operation, table: LABEL_VALUES.unknownSql };
  });
}
