import { optionChecks } from '@vigil/metrics';

/**
 * Option validators: the ones @vigil/metrics defines for every Vigil package (each throws a
 * `VigilOptionError` naming the option; `undefined` passes through).
 */
export const { checkObject, checkBoolean, checkMs, checkNumber, checkPort, checkString, checkFunction } =
  optionChecks;

/** Unknown keys fail; `prefix` is prepended to the key as written (`"checks.db."`, or `""`). */
export function checkKnownKeys(prefix: string, v: Record<string, unknown>, known: readonly string[]): void {
  optionChecks.checkKnownKeys(prefix.endsWith('.') ? prefix.slice(0, -1) : prefix, v, known);
}
