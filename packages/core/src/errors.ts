/**
 * Errors shared by every Vigil package. Each carries a stable `code`; the `isX()` guards compare
 * the code, not the class, so they keep working when two copies of a package are installed.
 */

export const INVALID_OPTION = 'VIGIL_INVALID_OPTION';

/** A configuration mistake, thrown synchronously at construction; names the option at fault. */
export class VigilOptionError extends Error {
  readonly code = INVALID_OPTION;
  /** The option's path as the caller wrote it (`checks.db.timeoutMs`). */
  readonly option: string;
  constructor(option: string, expected: string, got: unknown) {
    super(`Invalid option "${option}": expected ${expected}, got ${describeValue(got)}`);
    this.name = 'VigilOptionError';
    this.option = option;
  }
}

/** Whether `e` carries the given Vigil error code (works across duplicated installs). */
export function hasErrorCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export function isVigilOptionError(e: unknown): e is VigilOptionError {
  return hasErrorCode(e, INVALID_OPTION);
}

/** A short description of a value for error messages: never the whole value (it may be large or secret). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v == null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'function') return 'a function';
  return `an ${typeof v}`;
}
