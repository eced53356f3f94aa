import { LOG_DROP_REASONS, logLinesDropped, readLoggerStats } from '@vigil/catalog';
import type { Registry } from 'prom-client';
import { escapeHelp, FAST_WRITE, type FastWritable, register } from './internal/collectors.js';

/**
 * `vigil_log_lines_dropped_total{reason}`, read at scrape time from the process-wide record that
 * `@vigil/logger`'s loggers keep (`@vigil/catalog`'s logger-stats). Writes nothing (not even
 * HELP/TYPE) while no logger exists in the process.
 */
class LoggerStatsCollector implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  readonly help = logLinesDropped.help;
  constructor(readonly name: string) {}

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    const s = readLoggerStats();
    if (s === undefined) return;
    const d = defaults ? `,${defaults}` : '';
    const family = openMetrics ? this.name.replace(/_total$/, '') : this.name;
    out.push(`# HELP ${family} ${escapeHelp(this.help)}`, `# TYPE ${family} counter`);
    for (const reason of Object.values(LOG_DROP_REASONS)) {
      out.push(`${this.name}{reason="${reason}"${d}} ${s.dropped[reason] ?? 0}`);
    }
  }

  get() {
    const s = readLoggerStats();
    const values = s
      ? Object.values(LOG_DROP_REASONS).map((reason) => ({
          labels: { reason },
          value: s.dropped[reason] ?? 0,
        }))
      : [];
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/** Registers `vigil_log_lines_dropped_total` (empty while no logger exists). */
export function registerLoggerStats(registry: Registry, prefix: string): void {
  register(registry, new LoggerStatsCollector(prefix + logLinesDropped.name));
}
