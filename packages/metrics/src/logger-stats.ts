import { LOG_DROP_REASONS, logLinesDropped } from '@vigil/catalog';
import { readLoggerStats } from '@vigil/core';
import type { Instruments } from './instruments.js';
import type { Family } from './internal/families.js';

/**
 * `vigil_log_lines_dropped_total{reason}`, read at scrape time from the process-wide record that
 * `@vigil/logger`'s loggers keep (`@vigil/core`'s logger-stats). Writes nothing (not even
 * HELP/TYPE) while no logger exists in the process.
 */
export function registerLoggerStats(ins: Instruments): void {
  const dropped = ins.instrument(logLinesDropped, { hideWhenEmpty: true }) as unknown as Family;
  const reasons = Object.values(LOG_DROP_REASONS);
  // A mirror of the loggers' counters: its values are set, not incremented.
  dropped.collect(() => {
    const s = readLoggerStats();
    if (s === undefined) {
      dropped.store.reset();
      return;
    }
    for (const reason of reasons) dropped.store.get([reason]).value = s.dropped[reason] ?? 0;
  });
}
