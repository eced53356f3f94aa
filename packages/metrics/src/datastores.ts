import diagnostics from 'node:diagnostics_channel';
import { type DbTrace, getTracingHook, LABEL_VALUES, noteDbQuery, type TracingHook } from '@vigil/core';
import type { DbMetrics } from './db.js';
import { SummaryCache } from './sql.js';

/**
 * Query timing for drivers that publish their calls on `diagnostics_channel` TracingChannels:
 * `mysql2` (3.20+: `mysql2:query`, `mysql2:execute`), `ioredis` (5.11+: `ioredis:command`) and
 * node-redis (`redis` 5.11+: `node-redis:command`, `node-redis:batch`). No
 * driver object is patched; every connection and pool of the process is covered, and a process
 * without such a driver pays nothing.
 */

/** What mysql2 and ioredis put in a TracingChannel context (the same object for one call's events). */
interface DriverContext {
  /** mysql2: the SQL text (values inlined by `query()`). */
  query?: unknown;
  /** ioredis, node-redis: the command name. */
  command?: unknown;
  /** node-redis batches: `MULTI` or `PIPELINE`. */
  batchMode?: unknown;
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

/** What a call is, or undefined for calls another channel already times. */
type Describe = (
  ctx: DriverContext,
) => { operation: string; table: string; text?: string | undefined } | undefined;

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
    const d = describe(ctx);
    if (d === undefined) return;
    const { operation, table, text } = d;
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

/** Bounds Redis command names: the first MAX_COMMANDS well-formed names, `_OTHER` after them. */
function commandNames(): (name: unknown) => string {
  const seen = new Map<string, string>();
  return (raw) => {
    const name = typeof raw === 'string' ? raw : '';
    let operation = seen.get(name);
    if (operation === undefined) {
      operation =
        COMMAND.test(name) && seen.size < MAX_COMMANDS ? name.toUpperCase() : LABEL_VALUES.otherMethod;
      if (seen.size < MAX_COMMANDS) seen.set(name, operation);
    }
    return operation;
  };
}

/**
 * Time every `ioredis` command of the process: `database_query_duration_seconds` with
 * `system="redis"`, `operation` the command name (`GET`), `table` `unknown` (keys never become
 * labels), and a database span under the active span.
 */
export function observeIoredis(db: DbMetrics): () => void {
  const name = commandNames();
  return subscribe(db, ['ioredis:command'], 'redis', (ctx) => ({
    operation: name(ctx.command),
    table: LABEL_VALUES.unknownSql,
  }));
}

/**
 * Time every node-redis (`redis`, `createClient`) command of the process, as `observeIoredis`
 * does. Pipelined commands are timed one by one (the driver publishes each); a `MULTI` transaction
 * is one call, `operation="MULTI"` (the driver publishes the queued commands only as a batch).
 */
export function observeRedis(db: DbMetrics): () => void {
  const name = commandNames();
  const unknown = LABEL_VALUES.unknownSql;
  return subscribe(db, ['node-redis:command', 'node-redis:batch'], 'redis', (ctx) => {
    if (ctx.command !== undefined) return { operation: name(ctx.command), table: unknown };
    // node-redis:batch: a pipeline's commands came one by one on node-redis:command already.
    return ctx.batchMode === 'MULTI' ? { operation: 'MULTI', table: unknown } : undefined;
  });
}
