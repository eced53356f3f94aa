import { getHeapStatistics } from 'node:v8';
import { checkNumber, VigilOptionError } from '@vigil/core';
import type { CheckOptions, HealthCheck } from '../types.js';
import { splitOptions } from './options.js';

export interface HeapCheckOptions extends CheckOptions {
  /** Warn when used heap / heap limit is above this. Default 0.85. */
  warnRatio?: number;
  /** Fail when used heap / heap limit is above this. Default 0.95. */
  failRatio?: number;
}

/** V8 heap use against its limit (`--max-old-space-size`). A check of the process itself. */
export function heapCheck(options?: HeapCheckOptions): HealthCheck {
  const { scheduling, rest } = splitOptions('heapCheck', options, ['warnRatio', 'failRatio']);
  const warnRatio = checkNumber('heapCheck(options).warnRatio', rest.warnRatio, 0, 1) ?? 0.85;
  const failRatio = checkNumber('heapCheck(options).failRatio', rest.failRatio, 0, 1) ?? 0.95;
  if (failRatio < warnRatio) {
    throw new VigilOptionError(
      'heapCheck(options).failRatio',
      `a value >= warnRatio (${warnRatio})`,
      failRatio,
    );
  }
  return {
    ...scheduling,
    componentType: 'system',
    check() {
      const s = getHeapStatistics();
      const ratio = s.used_heap_size / s.heap_size_limit;
      const observedValue = Math.round(ratio * 1000) / 1000;
      const status = ratio > failRatio ? 'fail' : ratio > warnRatio ? 'warn' : 'pass';
      return {
        status,
        output: `heap ${Math.round(ratio * 100)}% of limit`,
        observedValue,
        observedUnit: 'ratio',
      };
    },
  };
}
