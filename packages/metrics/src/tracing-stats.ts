import {
  SPAN_DROP_REASONS,
  tracingQueueSize,
  tracingSpansDropped,
  tracingSpansExported,
} from '@vigil/catalog';
import { getTracingHook } from '@vigil/core';
import type { Registry } from 'prom-client';
import { escapeHelp, FAST_WRITE, type FastWritable, register } from './internal/collectors.js';

/**
 * `vigil_tracing_*` families, read from the tracing hook at scrape time. Writes nothing (not even
 * HELP/TYPE) while tracing is not started, so a registry without tracing shows no empty families.
 */
class TracingStatsCollector implements FastWritable {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum';
  readonly help = tracingSpansDropped.help;
  constructor(
    readonly name: string,
    private readonly prefix: string,
  ) {}

  [FAST_WRITE](defaults: string, openMetrics: boolean, out: string[]): void {
    const s = getTracingHook()?.stats();
    if (s === undefined) return;
    const p = this.prefix;
    const d = defaults ? `,${defaults}` : '';
    const bare = defaults ? `{${defaults}}` : '';
    const exported = p + tracingSpansExported.name;
    const dropped = p + tracingSpansDropped.name;
    const queued = p + tracingQueueSize.name;
    const family = (n: string) => (openMetrics ? n.replace(/_total$/, '') : n);
    out.push(
      `# HELP ${family(exported)} ${escapeHelp(tracingSpansExported.help)}`,
      `# TYPE ${family(exported)} counter`,
      `${exported}${bare} ${s.exported}`,
      `# HELP ${family(dropped)} ${escapeHelp(tracingSpansDropped.help)}`,
      `# TYPE ${family(dropped)} counter`,
    );
    for (const reason of Object.values(SPAN_DROP_REASONS)) {
      out.push(`${dropped}{reason="${reason}"${d}} ${s.dropped[reason] ?? 0}`);
    }
    out.push(
      `# HELP ${queued} ${escapeHelp(tracingQueueSize.help)}`,
      `# TYPE ${queued} gauge`,
      `${queued}${bare} ${s.queued}`,
    );
  }

  get() {
    const s = getTracingHook()?.stats();
    const values = s
      ? Object.values(SPAN_DROP_REASONS).map((reason) => ({
          labels: { reason },
          value: s.dropped[reason] ?? 0,
        }))
      : [];
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/** Registers the `vigil_tracing_*` families (empty while tracing is off). */
export function registerTracingStats(registry: Registry, prefix: string): void {
  register(registry, new TracingStatsCollector(prefix + tracingSpansDropped.name, prefix));
}
