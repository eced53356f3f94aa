/**
 * The process-wide record that `@vigil/logger` writes and `@vigil/metrics` (and `@vigil/shutdown`)
 * read: lines dropped by reason, and the open loggers' destinations, so that a scrape can report
 * drops and a shutdown can flush and close every logger without holding a reference to it. Kept
 * under a `Symbol.for` key so every copy of these packages (ESM and CommonJS builds, duplicated
 * installs) shares one record; the key's version suffix changes when the shape does. Nothing
 * exists until a logger is created.
 */
export const LOGGER_STATS: unique symbol = Symbol.for('vigil.logger.stats/1') as never;

/** A logger's destination as the record knows it. */
export interface LoggerDestinationHandle {
  /** Flushes (bounded by the logger's `flushTimeoutMs`) and releases it; never rejects. */
  close(): Promise<void>;
}

/** The record: drops by reason, and the destinations still open. */
export interface LoggerStats {
  /**
   * Lines dropped since the process started, by reason (`buffer_full`, `write_failed`, `shutdown`:
   * `LOG_DROP_REASONS` in `@vigil/catalog`); a reason without drops may be absent.
   */
  readonly dropped: Record<string, number>;
  /** Destinations of loggers not closed yet. */
  readonly open: Set<LoggerDestinationHandle>;
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
    s = { dropped: {}, open: new Set() };
    g[LOGGER_STATS] = s;
  }
  return s;
}

/**
 * Flushes and closes every open logger's destination: what a graceful shutdown calls after the
 * servers closed, before exit. Resolves within the largest `flushTimeoutMs` of those loggers
 * (1 s by default), never rejects.
 */
export async function closeAllLoggers(): Promise<void> {
  const s = readLoggerStats();
  if (s === undefined) return;
  await Promise.all([...s.open].map((d) => d.close().catch(() => undefined)));
}
