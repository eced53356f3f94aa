/** Error codes are stable strings; guards compare `code`, so they work across duplicated installs. */
export const INVALID_OPTION = 'VIGIL_INVALID_OPTION';

export class VigilOptionError extends Error {
  readonly code = INVALID_OPTION;
  readonly option: string;
  constructor(option: string, expected: string, got: unknown) {
    super(`Invalid option "${option}": expected ${expected}, got ${describe(got)}`);
    this.name = 'VigilOptionError';
    this.option = option;
  }
}

export function isVigilOptionError(e: unknown): e is VigilOptionError {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === INVALID_OPTION;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v == null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'function') return 'a function';
  return `an ${typeof v}`;
}
