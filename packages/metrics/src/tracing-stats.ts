import {
  SPAN_DROP_REASONS,
  tracingQueueSize,
  tracingSpansDropped,
  tracingSpansExported,
} from '@vigil/catalog';
import { getTracingHook } from '@vigil/core';
import type { Instruments } from './instruments.js';
import type { Family } from './internal/families.js';

/**
 * `vigil_tracing_*` families, read from the tracing hook at scrape time. Write nothing (not even
 * HELP/TYPE) while tracing is not started, so a registry without tracing shows no empty families.
 */
export function registerTracingStats(ins: Instruments): void {
  const opts = { hideWhenEmpty: true };
  const exported = ins.instrument(tracingSpansExported, opts) as unknown as Family;
  const dropped = ins.instrument(tracingSpansDropped, opts) as unknown as Family;
  const queued = ins.instrument(tracingQueueSize, opts) as unknown as Family;
  const reasons = Object.values(SPAN_DROP_REASONS);
  // Mirrors of the hook's counters: their values are set, not incremented.
  const refresh = () => {
    const s = getTracingHook()?.stats();
    if (s === undefined) {
      exported.store.reset();
      dropped.store.reset();
      queued.store.reset();
      return;
    }
    exported.store.get([]).value = s.exported;
    for (const reason of reasons) dropped.store.get([reason]).value = s.dropped[reason] ?? 0;
    queued.store.get([]).value = s.queued;
  };
  for (const f of [exported, dropped, queued]) f.collect(refresh);
}
