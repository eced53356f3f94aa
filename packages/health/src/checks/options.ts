import { checkBoolean, checkKnownKeys, checkMs, checkObject, VigilOptionError } from '@vigil/core';
import type { CheckOptions } from '../types.js';

const SCHEDULING = ['timeoutMs', 'critical', 'cacheMs', 'intervalMs'] as const;

/**
 * Split a built-in check's options into the scheduling ones (validated here too, so a mistake is
 * reported where the check is created) and the check's own.
 */
export function splitOptions(
  where: string,
  v: unknown,
  own: readonly string[],
): { scheduling: CheckOptions; rest: Record<string, unknown> } {
  const o = checkObject(`${where}(options)`, v);
  checkKnownKeys(`${where}(options).`, o, [...SCHEDULING, 'liveness', ...own]);
  const scheduling: CheckOptions = {};
  const t = checkMs(`${where}(options).timeoutMs`, o.timeoutMs, 1);
  if (t !== undefined) scheduling.timeoutMs = t;
  const c = checkBoolean(`${where}(options).critical`, o.critical);
  if (c !== undefined) scheduling.critical = c;
  const cache = checkMs(`${where}(options).cacheMs`, o.cacheMs, 0);
  if (cache !== undefined) scheduling.cacheMs = cache;
  const i = checkMs(`${where}(options).intervalMs`, o.intervalMs, 1);
  if (i !== undefined) scheduling.intervalMs = i;
  const l = checkBoolean(`${where}(options).liveness`, o.liveness);
  if (l !== undefined) scheduling.liveness = l;
  const rest: Record<string, unknown> = {};
  for (const k of own) if (o[k] !== undefined) rest[k] = o[k];
  return { scheduling, rest };
}

/** Reject `liveness: true` on a dependency check at the place it is created. */
export function noLiveness(where: string, s: CheckOptions): void {
  if (s.liveness) {
    throw new VigilOptionError(
      `${where}(options).liveness`,
      'false for a dependency check (liveness failing on a dependency outage restarts every pod at once)',
      true,
    );
  }
}
