/**
 * The process-wide record that `@vigil/logger` writes and `@vigil/metrics` reads: lines dropped by
 * reason, so that a scrape reports them without a reference to any logger (open loggers register
 * as process resources, which `@vigil/shutdown` flushes: see process-resources.ts). Kept
 * under a `Symbol.for` key so every copy of these packages (ESM and CommonJS builds, duplicated
 * installs) shares one record; the key's version suffix changes when the shape does. Nothing
 * exists until a logger is created.
 */
export const LOGGER_STATS: unique symbol = Symbol.for('vigil.logger.stats/1') as never;

/** The record: drops by reason. */
export interface LoggerStats {
  /**
   * Lines dropped since the process started, by reason (`buffer_full`, `write_failed`, `shutdown`:
   * `LOG_DROP_REASONS` in `@vigil/catalog`); a reason without drops may be absent.
   */
  readonly dropped: Record<string, number>;
}

/** The record, or undefined while no logger exists in this process (readers write no series then). */
export function readLoggerStats(): LoggerStats | undefined {
  return (globalThis as { [LOGGER_STATS]?: LoggerStats })[LOGGER_STATS];
}

/** The record, created on first use (by a logger). */
export function loggerStats(): LoggerStats {
  const g = globalThis as { [LOGGER_STATS]?: LoggerStats };
  let s = g[LOGGER_STATS];
  if (s === undefined) {
    s = { dropped: {} };
    g[LOGGER_STATS] = s;
  }
  return s;
}
